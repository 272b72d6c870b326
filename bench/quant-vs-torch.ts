// Quantization benchmark: our int8/int4/fp16/mixed models on onnxruntime-node against the float
// model and against PyTorch's own int8 with the SAME weights (bench/torch_quant_ref.py).
//   cnn:         the sample teacher (cnn:32,64/256), full Fashion-MNIST test (10k), calibration on
//                the first 512 training images; PyTorch static int8, onednn engine.
//   transformer: bench/transformer-model.ts (21M parameters, random weights, 32 tokens);
//                PyTorch dynamic int8 on nn.Linear.
// Latency: median ms, one session at a time, spinning off (--spinning: on, ORT's own default; one
// session at a time, so no session's idle threads slow another), models interleaved for 2 rounds
// (best median kept), for each intra-op thread count asked. Usage:
//   npx tsx bench/quant-vs-torch.ts [cnn|transformer|all] [--threads 1,2] [--seconds 0.6] [--spinning]
// (The size/accuracy curve of mixed precision, and the distilled student: bench/quant-curve.ts.)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../app/engine/onnx/codec.js';
import { loadModel } from '../app/engine/onnx/io.js';
import type { Model } from '../app/engine/onnx/ir.js';
import {
  convertFp16,
  modelBytes,
  padFirstConvChannels,
  quantizeDynamic,
  quantizeInt4,
  quantizeMixed,
  quantizeStatic,
} from '../app/engine/quantize/index.js';
import { calibrationBatches, compareLogits, headOf, loadDataForModel, modelLogits, quickLatency, sliceOf, type EvalSet } from '../app/engine/quantize/evaluate.js';
import { buildTransformer, exportWeights, parameterCount, randomTokens, transformerDefaults } from './transformer-model.js';

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string', default: '1,2' }, seconds: { type: 'string' }, spinning: { type: 'boolean', default: false } } });
const part = positionals[0] ?? 'all';
const seconds = Number(flags.seconds ?? positionals[1] ?? 0.6);
const threadCounts = flags.threads.split(',').map(Number);
if (!['cnn', 'transformer', 'all'].includes(part) || threadCounts.some((t) => !Number.isInteger(t) || t < 1) || !(seconds > 0)) {
  console.error('usage: npx tsx bench/quant-vs-torch.ts [cnn|transformer|all] [--threads 1,2] [--seconds 0.6]');
  process.exit(2);
}
const OUT = process.env.QUANT_BENCH_OUT ?? join(tmpdir(), 'distillery-quant-bench');
mkdirSync(OUT, { recursive: true });
const PY = '/usr/bin/python3';

interface Variant {
  label: string;
  model: Model;
}

const fmt = (v: number, d = 2): string => v.toFixed(d);
const npy = (path: string): Float32Array => {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const data = buf.subarray(10 + headerLen);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
};

async function latencies(variants: Variant[], set: EvalSet | { feeds: (b: number) => Record<string, ort.Tensor> }, batches: number[], threads: number, rounds = 2): Promise<Map<string, Record<number, number>>> {
  const res = new Map<string, Record<number, number>>();
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      let m: Record<number, number>;
      if ('feeds' in set) m = await tokenLatency(v, set.feeds, batches, threads);
      else m = await quickLatency(v.model, set, batches, { threads, seconds, spinning: flags.spinning });
      const prev = res.get(v.label);
      res.set(v.label, prev ? Object.fromEntries(batches.map((b) => [b, Math.min(prev[b]!, m[b]!)])) : m);
    }
  }
  return res;
}

async function tokenLatency(v: Variant, feeds: (b: number) => Record<string, ort.Tensor>, batches: number[], threads: number): Promise<Record<number, number>> {
  const s = await ort.InferenceSession.create(encodeModel(v.model), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { 'intra_op.allow_spinning': flags.spinning ? '1' : '0' } },
  });
  const out: Record<number, number> = {};
  for (const b of batches) {
    const f = feeds(b);
    for (let i = 0; i < 3; i++) await s.run(f);
    const t: number[] = [];
    const end = performance.now() + seconds * 1000;
    while (t.length < 3 || performance.now() < end) {
      const t0 = performance.now();
      await s.run(f);
      t.push(performance.now() - t0);
      if (t.length > 2000) break;
    }
    t.sort((a, c) => a - c);
    out[b] = t[t.length >> 1]!;
  }
  await s.release();
  return out;
}

function torchRef(kind: string, base: string, threads: number, batches: number[]): { latencyMs: Record<string, number>; torch: string; engine: string } {
  const r = spawnSync(PY, ['bench/torch_quant_ref.py', kind, base, OUT, String(threads), batches.join(','), kind === 'cnn' ? '20' : '3'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function cnn(): Promise<void> {
  const teacher = await loadModel('resources/sample-teacher/fashion-cnn.onnx');
  const data = await loadDataForModel(teacher, '/usr/share/datasets/fashion-mnist', { limit: 10000 });
  const test = data.test;
  const calibSet = headOf(data.train, 512);
  const cal = calibrationBatches(calibSet, 64);
  const selection = sliceOf(data.train, 512, 2512);
  console.log(`\n## CNN (sample teacher, ${test.count} test images, calibration ${calibSet.count} images)`);
  const padded = padFirstConvChannels(teacher, 4).model;
  const variants: Variant[] = [
    { label: 'fp32', model: teacher },
    { label: 'int8 static minmax', model: (await quantizeStatic(teacher, cal)).model },
    { label: 'int8 static percentile', model: (await quantizeStatic(teacher, cal, { method: 'percentile' })).model },
    { label: 'int8 static, first conv padded to 4', model: (await quantizeStatic(padded, cal)).model },
    { label: 'int8 static, first conv float', model: (await quantizeStatic(teacher, cal, { firstConvFloat: true })).model },
    { label: 'int8 dynamic (Gemm only)', model: quantizeDynamic(teacher).model },
    { label: 'int4 Gemm (block 32) + fp32 conv', model: quantizeInt4(teacher, { blockSize: 32, symmetric: false, keepConvFloat: true }).model },
    { label: 'fp16', model: convertFp16(teacher).model },
  ];
  // Mixed precision under a 1-point budget (the whole size/accuracy curve: bench/quant-curve.ts).
  const t0 = Date.now();
  const mixed = await quantizeMixed(teacher, selection, { calibration: cal, int8Mode: 'static', padFirstConv: true, maxAccuracyDrop: 1 });
  console.log(`mixed precision (budget 1 pt): ${mixed.layers.map((l) => `${l.name}=${l.precision}`).join(' ')}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  variants.push({ label: 'mixed (budget 1 pt)', model: mixed.model });
  const ref = await modelLogits(teacher, test);
  const refAcc = compareLogits(ref.logits, ref.logits, 10, test.y).accuracy!;
  const floatSize = modelBytes(teacher);
  console.log(`float32 test accuracy ${fmt(refAcc * 100)} %`);

  // Accuracy of every variant on the test set.
  const quality = new Map<string, { acc: number; agr: number; sqnr: number }>();
  for (const v of variants) {
    const l = await modelLogits(v.model, test);
    const c = compareLogits(ref.logits, l.logits, 10, test.y);
    quality.set(v.label, { acc: c.accuracy!, agr: c.agreement, sqnr: c.sqnr });
  }
  // PyTorch with the same weights and calibration images.
  const base = `${OUT}/cnn`;
  exportWeights(teacher, base);
  writeFileSync(`${base}.calib.bin`, new Uint8Array(calibSet.x.slice().buffer));
  writeFileSync(`${base}.test.bin`, new Uint8Array(test.x.slice().buffer));
  const batches = [1, 32, 64];
  for (const threads of threadCounts) {
    const ours = await latencies(variants, test, batches, threads);
    const torch = torchRef('cnn', base, threads, [1, 64]);
    const tq = { fp32: npy(`${OUT}/torch-cnn-fp32.npy`), int8: npy(`${OUT}/torch-cnn-int8.npy`) };
    const f = ours.get('fp32')!;
    console.log(`\n### CNN, ${threads} thread(s), ORT spinning ${flags.spinning ? 'on' : 'off'} (ORT ${ort.env.versions.common}; PyTorch ${torch.torch}, engine ${torch.engine})`);
    console.log('| variant | size ratio | test acc. | drop (pts) | agreement | b1 ms | b32 ms | b64 ms | speed-up vs fp32 b1 / b32 / b64 |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const v of variants) {
      const q = quality.get(v.label)!;
      const l = ours.get(v.label)!;
      console.log(`| ${v.label} | ${fmt(modelBytes(v.model) / floatSize, 3)} | ${fmt(q.acc * 100)} % | ${fmt((refAcc - q.acc) * 100)} | ${fmt(q.agr * 100)} % | ${fmt(l[1]!, 3)} | ${fmt(l[32]!, 3)} | ${fmt(l[64]!, 3)} | ${batches.map((b) => fmt(f[b]! / l[b]!)).join(' / ')} |`);
    }
    for (const name of ['fp32', 'int8'] as const) {
      const c = compareLogits(ref.logits, tq[name], 10, test.y);
      console.log(`| PyTorch ${name}${name === 'int8' ? ' static (onednn)' : ''} | — | ${fmt(c.accuracy! * 100)} % | ${fmt((refAcc - c.accuracy!) * 100)} | ${fmt(c.agreement * 100)} % | ${fmt(torch.latencyMs[`${name}/b1`]!, 3)} | — | ${fmt(torch.latencyMs[`${name}/b64`]!, 3)} | ${fmt(f[1]! / torch.latencyMs[`${name}/b1`]!)} / — / ${fmt(f[64]! / torch.latencyMs[`${name}/b64`]!)} |`);
    }
    for (const ours8 of ['int8 static minmax', 'int8 static, first conv padded to 4', 'int8 static, first conv float']) {
      const l = ours.get(ours8)!;
      console.log(`ours "${ours8}" vs PyTorch int8: b1 ${fmt(torch.latencyMs['int8/b1']! / l[1]!)}x, b64 ${fmt(torch.latencyMs['int8/b64']! / l[64]!)}x (> 1: ours faster)`);
    }
  }
}

async function transformer(): Promise<void> {
  const spec = transformerDefaults;
  const model = buildTransformer(spec);
  console.log(`\n## Transformer (${(parameterCount(model) / 1e6).toFixed(1)}M parameters, ${spec.blocks} blocks, d=${spec.dim}, ${spec.heads} heads, ${spec.tokens} tokens, random weights)`);
  const n = 256;
  const tokens = randomTokens(n, spec);
  const feeds = (b: number) => ({ tokens: new ort.Tensor('int64', tokens.subarray(0, b * spec.tokens), [b, spec.tokens]) });
  const variants: Variant[] = [
    { label: 'fp32', model },
    { label: 'int8 dynamic (per tensor)', model: quantizeDynamic(model).model },
    { label: 'int8 dynamic (per channel)', model: quantizeDynamic(model, { perChannel: true }).model },
    // int4: MatMulNBits for the MatMuls, GatherBlockQuantized for the token embedding.
    { label: 'int4 (block 32)', model: quantizeInt4(model, { blockSize: 32, symmetric: false }).model },
    { label: 'int4 (block 32, accuracy_level 4)', model: quantizeInt4(model, { blockSize: 32, symmetric: false, accuracyLevel: 4 }).model },
    { label: 'int4 (block 32, symmetric)', model: quantizeInt4(model, { blockSize: 32, symmetric: true }).model },
    { label: 'int4 (block 64)', model: quantizeInt4(model, { blockSize: 64, symmetric: false }).model },
  ];
  const logitsOf = async (v: Variant): Promise<Float32Array> => {
    const s = await ort.InferenceSession.create(encodeModel(v.model), { intraOpNumThreads: 2 });
    const parts: Float32Array[] = [];
    for (let i = 0; i < n; i += 64) parts.push((await s.run({ tokens: new ort.Tensor('int64', tokens.subarray(i * spec.tokens, (i + 64) * spec.tokens), [64, spec.tokens]) })).logits!.data as Float32Array);
    await s.release();
    const out = new Float32Array(n * spec.classes);
    parts.forEach((p, i) => out.set(p, i * 64 * spec.classes));
    return out;
  };
  const ref = await logitsOf(variants[0]!);
  const q = new Map<string, { agr: number; sqnr: number }>();
  for (const v of variants) {
    const c = compareLogits(ref, await logitsOf(v), spec.classes, null);
    q.set(v.label, { agr: c.agreement, sqnr: c.sqnr });
  }
  const base = `${OUT}/transformer`;
  exportWeights(model, base, { spec });
  writeFileSync(`${base}.tokens.bin`, new Uint8Array(tokens.slice().buffer));
  const batches = [1, 64];
  const floatSize = modelBytes(model);
  for (const threads of threadCounts) {
    const ours = await latencies(variants, { feeds }, batches, threads, 1);
    const torch = torchRef('transformer', base, threads, batches);
    const tq = { fp32: npy(`${OUT}/torch-transformer-fp32.npy`), int8: npy(`${OUT}/torch-transformer-int8.npy`) };
    const f = ours.get('fp32')!;
    console.log(`\n### Transformer, ${threads} thread(s), ORT spinning ${flags.spinning ? 'on' : 'off'} (PyTorch ${torch.torch}, engine ${torch.engine})`);
    console.log('| variant | size ratio | agreement with fp32 | logits SQNR dB | b1 ms | b64 ms | speed-up vs our fp32 b1 / b64 |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const v of variants) {
      const l = ours.get(v.label)!;
      const qq = q.get(v.label)!;
      console.log(`| ${v.label} | ${fmt(modelBytes(v.model) / floatSize, 3)} | ${fmt(qq.agr * 100)} % | ${Number.isFinite(qq.sqnr) ? fmt(qq.sqnr, 1) : '∞'} | ${fmt(l[1]!, 2)} | ${fmt(l[64]!, 1)} | ${fmt(f[1]! / l[1]!)} / ${fmt(f[64]! / l[64]!)} |`);
    }
    for (const name of ['fp32', 'int8'] as const) {
      const c = compareLogits(ref, tq[name], spec.classes, null);
      console.log(`| PyTorch ${name}${name === 'int8' ? ' dynamic (Linear)' : ''} | — | ${fmt(c.agreement * 100)} % | ${fmt(c.sqnr, 1)} | ${fmt(torch.latencyMs[`${name}/b1`]!, 2)} | ${fmt(torch.latencyMs[`${name}/b64`]!, 1)} | ${fmt(f[1]! / torch.latencyMs[`${name}/b1`]!)} / ${fmt(f[64]! / torch.latencyMs[`${name}/b64`]!)} |`);
    }
    for (const ours8 of ['int8 dynamic (per tensor)', 'int8 dynamic (per channel)']) {
      const l = ours.get(ours8)!;
      console.log(`ours "${ours8}" vs PyTorch int8 dynamic: b1 ${fmt(torch.latencyMs['int8/b1']! / l[1]!)}x, b64 ${fmt(torch.latencyMs['int8/b64']! / l[64]!)}x (> 1: ours faster)`);
    }
  }
}

console.log(`CPU: ${cpus()[0]?.model} x${cpus().length}; onnxruntime-node ${ort.env.versions.common}; Node ${process.version}`);
if (part === 'cnn' || part === 'all') await cnn();
if (part === 'transformer' || part === 'all') await transformer();
