// Train-step speed: Distillery's ONNX train step (onnxruntime-node) against PyTorch on the same
// model, batch, data, optimizer and loss (bench/torch_train_ref.py).
//   models:   cnn:8,16/32 and mlp:128 (students.ts templates, same initial weights on both sides)
//   data:     the first 16 batches of full Fashion-MNIST (/usr/share/datasets/fashion-mnist),
//             teacher = the bundled sample teacher (soft targets at T=4)
//   step:     KD loss (alpha 0.9, T 4) + Adam (lr 1e-3, no weight decay), batch 128
//   variants: naive  = the plain autodiff step (MaxPool Indices + ScatterElements, dW by Conv)
//             fast   = the training rewrites (ReLU behind the pool, pool gradient without Indices,
//                      dW by patches; first conv's dW straight from the pooled pieces)
//             loopK-fast = fast, K steps fused in one ONNX Loop per session.run
//             (also: patches, swap, swap+patches = single rewrites)
//             dp = data-parallel (trainer's `workers`): the batch split over `threads` worker
//                  threads, each a 1-thread session of the fast gradient graph; gradients
//                  exchanged in shared memory and the same update applied in every thread; 8
//                  batches per message, as the trainer sends them (threads >= 2 only)
//   PyTorch:  'torch' = PyTorch as installed (Debian's build: BLAS_INFO=generic, so nn.Linear runs
//             on the reference BLAS), 'torch-dnnl' = the same with every Linear computed as a 1x1
//             Conv (oneDNN), the fair baseline; ratios are against torch-dnnl.
//   Timing:   wall ms/step and process CPU ms/step (robust on a shared machine).
// Every measurement is its own child process (one ORT session or one PyTorch per process);
// variants are interleaved round by round and the median over rounds is reported.
// Usage: npx tsx bench/train-vs-torch.ts [--models cnn:8,16/32,mlp:128] [--threads 1,2]
//          [--variants naive,fast,loop8-fast] [--rounds 5] [--steps 64] [--json out.json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadDataset } from '../app/engine/data/index.js';
import { buildStudent, parseTemplate } from '../app/engine/distill/students.js';
import { encodeModel } from '../app/engine/onnx/codec.js';
import { loadModel } from '../app/engine/onnx/io.js';
import type { Model } from '../app/engine/onnx/ir.js';
import { floatData } from '../app/engine/onnx/tensor.js';
import { createSession } from '../app/engine/runtime/index.js';
import { probeShapes } from '../app/engine/training/shape-probe.js';
import { DataParallel } from '../app/engine/training/data-parallel.js';
import { buildTrainLoop, buildTrainStep } from '../app/engine/training/train-step.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');
const DATA = '/usr/share/datasets/fashion-mnist';
const TEACHER = join(ROOT, 'resources/sample-teacher/fashion-cnn.onnx');
const DIR = process.env.TRAIN_BENCH_DIR ?? join(tmpdir(), 'distillery-train-bench');
const B = 128;
const NB = 16;
const C = 10;
const T = 4;
const ALPHA = 0.9;
const LR = 1e-3;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const safe = (m: string) => m.replace(/[^a-z0-9]+/gi, '_');

function studentOf(template: string): Model {
  return buildStudent({ template: parseTemplate(template), sampleShape: [1, 28, 28], classes: C, seed: 42 });
}

export function weightShapes(m: Model): Array<[string, number[]]> {
  return m.graph.initializers.map((t) => [t.name, t.dims]);
}

async function prepare(models: string[]): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  if (existsSync(join(DIR, 'x.f32'))) return;
  const ds = await loadDataset(DATA);
  const n = NB * B;
  const x = ds.train.x.subarray(0, n * 784);
  const y = ds.train.y.subarray(0, n);
  const onehot = new Float32Array(n * C);
  for (let i = 0; i < n; i++) onehot[i * C + y[i]!] = 1;
  const teacher = await createSession(encodeModel(await loadModel(TEACHER)), { device: 'cpu', threads: 2 });
  const probs = new Float32Array(n * C);
  for (let k = 0; k < NB; k++) {
    const out = await teacher.session.run({ [teacher.session.inputNames[0]!]: new ort.Tensor('float32', x.slice(k * B * 784, (k + 1) * B * 784), [B, 1, 28, 28]) });
    const logits = out[teacher.session.outputNames[0]!]!.data as Float32Array;
    for (let i = 0; i < B; i++) {
      let mx = -Infinity;
      for (let c = 0; c < C; c++) mx = Math.max(mx, logits[i * C + c]! / T);
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(logits[i * C + c]! / T - mx);
      for (let c = 0; c < C; c++) probs[(k * B + i) * C + c] = Math.exp(logits[i * C + c]! / T - mx) / s;
    }
  }
  await teacher.session.release();
  writeFileSync(join(DIR, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  writeFileSync(join(DIR, 'probs.f32'), Buffer.from(probs.buffer));
  writeFileSync(join(DIR, 'onehot.f32'), Buffer.from(onehot.buffer));
  for (const m of models) {
    const s = studentOf(m);
    const parts = s.graph.initializers.map((t) => Float32Array.from(floatData(t)));
    writeFileSync(join(DIR, `w_${safe(m)}.f32`), Buffer.concat(parts.map((p) => Buffer.from(p.buffer))));
  }
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Wall and process CPU time per step of `run(firstStep)`, K steps a call, after the warm-up steps. */
async function timeRuns(run: (firstStep: number) => Promise<void>, K: number, steps: number, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i += K) await run(i);
  const runs = Math.max(1, Math.round(steps / K));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) await run(i * K);
  const c = process.cpuUsage(c0);
  return { msPerStep: (performance.now() - t0) / (runs * K), cpuMsPerStep: (c.user + c.system) / 1000 / (runs * K) };
}

/** Child: time data-parallel steps (threads workers). Prints {"msPerStep"}. */
async function childDataParallel(template: string, threads: number, steps: number, warmup: number): Promise<void> {
  const student = studentOf(template);
  const x = readF32(join(DIR, 'x.f32'));
  const probs = readF32(join(DIR, 'probs.f32'));
  const onehot = readF32(join(DIR, 'onehot.f32'));
  const trainable = student.graph.initializers.map((t) => t.name);
  const optimizer = { kind: 'adamw' as const, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const dp = await DataParallel.open({ student, trainable, inputName: student.graph.inputs[0]!.name, sampleShape: [1, 28, 28], batchSize: B, workers: threads, optimizer });
  const weights = new Map<string, Float32Array>(trainable.map((n) => [n, Float32Array.from(floatData(student.graph.initializers.find((t) => t.name === n)!))]));
  const state = new Map<string, Float32Array>();
  for (const p of dp.apply.params) for (const st of p.state) state.set(st.input, new Float32Array(weights.get(p.name)!.length));
  await dp.load({ weights, state });
  // As the trainer does: 8 batches per message to the threads (stepsPerRun).
  const K = 8;
  let t = 0;
  const run = async (k: number): Promise<void> => {
    const js = Array.from({ length: K }, (_, i) => (k + i) % NB);
    await dp.steps(
      js.map((j) => ({ x: x.subarray(j * B * 784, (j + 1) * B * 784), teacherProbs: probs.subarray(j * B * C, (j + 1) * B * C), labels: onehot.subarray(j * B * C, (j + 1) * B * C), temperature: T, alpha: ALPHA })),
      js.map((_, i) => ({ lr: LR, bc1: 1 - 0.9 ** (t + i + 1), bc2: 1 - 0.999 ** (t + i + 1) })),
    );
    t += K;
  };
  const timing = await timeRuns(run, K, steps, warmup);
  await dp.close();
  console.log(JSON.stringify(timing));
}

/** Child: time our step. Prints {"msPerStep"}. */
async function childOurs(template: string, variant: string, threads: number, steps: number, warmup: number): Promise<void> {
  if (variant === 'dp') return childDataParallel(template, threads, steps, warmup);
  const student = studentOf(template);
  const x = readF32(join(DIR, 'x.f32'));
  const probs = readF32(join(DIR, 'probs.f32'));
  const onehot = readF32(join(DIR, 'onehot.f32'));
  const input = student.graph.inputs[0]!.name;
  const shapes = await probeShapes(student, { [input]: new ort.Tensor('float32', new Float32Array(B * 784), [B, 1, 28, 28]) });
  const base = variant.replace(/^loop\d+-?/, '') || 'fast';
  const fast = VARIANTS[base];
  if (fast === undefined) throw new Error(`unknown variant ${variant}`);
  const step = buildTrainStep({
    student,
    batchSize: B,
    optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
    shape: (n) => shapes.get(n)!,
    fast,
  });
  const K = variant.startsWith('loop') ? Number(/^loop(\d+)/.exec(variant)![1]) : 1;
  const graph = K > 1 ? buildTrainLoop(step) : null;
  const model = graph ? graph.model : step.model;
  const { session } = await createSession(encodeModel(model), { device: 'cpu', threads, spinning: process.env.TRAIN_SPIN === '1' });
  const f32 = (a: Float32Array, dims: number[]) => new ort.Tensor('float32', a, dims);
  const state = new Map<string, ort.Tensor>();
  for (const p of step.params) {
    const w = student.graph.initializers.find((t) => t.name === p.name)!;
    state.set(p.name, f32(Float32Array.from(floatData(w)), p.dims));
    for (const s of p.state) state.set(s.input, f32(new Float32Array(p.dims.reduce((a, d) => a * d, 1)), p.dims));
  }
  let t = 0;
  const run = async (k0: number): Promise<void> => {
    const feeds: Record<string, ort.Tensor> = {};
    if (graph) {
      const idx = Array.from({ length: K }, (_, i) => (k0 + i) % NB);
      const stack = (src: Float32Array, per: number) => {
        const out = new Float32Array(K * per);
        idx.forEach((j, i) => out.set(src.subarray(j * per, (j + 1) * per), i * per));
        return out;
      };
      const lrs = new Float32Array(K).fill(LR);
      const bc1 = Float32Array.from(idx.map((_, i) => 1 - 0.9 ** (t + i + 1)));
      const bc2 = Float32Array.from(idx.map((_, i) => 1 - 0.999 ** (t + i + 1)));
      Object.assign(feeds, {
        [graph.feeds.input]: f32(stack(x, B * 784), [K, B, 1, 28, 28]),
        [graph.feeds.teacherProbs]: f32(stack(probs, B * C), [K, B, C]),
        [graph.feeds.labels]: f32(stack(onehot, B * C), [K, B, C]),
        [graph.feeds.lr]: f32(lrs, [K]),
        [graph.feeds.bc1]: f32(bc1, [K]),
        [graph.feeds.bc2]: f32(bc2, [K]),
        [graph.feeds.temperature]: f32(Float32Array.of(T), []),
        [graph.feeds.alpha]: f32(Float32Array.of(ALPHA), []),
      });
    } else {
      const j = k0 % NB;
      Object.assign(feeds, {
        [step.inputName]: f32(x.slice(j * B * 784, (j + 1) * B * 784), [B, 1, 28, 28]),
        [step.feeds.teacherProbs]: f32(probs.slice(j * B * C, (j + 1) * B * C), [B, C]),
        [step.feeds.labels]: f32(onehot.slice(j * B * C, (j + 1) * B * C), [B, C]),
        [step.feeds.lr]: f32(Float32Array.of(LR), []),
        [step.feeds.bc1]: f32(Float32Array.of(1 - 0.9 ** (t + 1)), []),
        [step.feeds.bc2]: f32(Float32Array.of(1 - 0.999 ** (t + 1)), []),
        [step.feeds.temperature]: f32(Float32Array.of(T), []),
        [step.feeds.alpha]: f32(Float32Array.of(ALPHA), []),
      });
    }
    for (const [k, v] of state) feeds[graph ? graph.inputOf.get(k)! : k] = v;
    const out = await session.run(feeds);
    for (const p of step.params) {
      state.set(p.name, out[graph ? graph.outputOf.get(p.name)! : p.output]!);
      for (const s of p.state) state.set(s.input, out[graph ? graph.outputOf.get(s.input)! : s.output]!);
    }
    t += K;
  };
  const timing = await timeRuns(run, K, steps, warmup);
  await session.release();
  console.log(JSON.stringify(timing));
}

function childTorch(template: string, linear: 'blas' | 'dnnl', threads: number, steps: number, warmup: number): Timing {
  const m = studentOf(template);
  const spec = {
    template,
    threads,
    batchSize: B,
    batches: NB,
    classes: C,
    sampleShape: [1, 28, 28],
    xFile: join(DIR, 'x.f32'),
    probsFile: join(DIR, 'probs.f32'),
    onehotFile: join(DIR, 'onehot.f32'),
    weightsFile: join(DIR, `w_${safe(template)}.f32`),
    weightShapes: weightShapes(m),
    lr: LR,
    weightDecay: 0,
    linear,
    temperature: T,
    alpha: ALPHA,
    steps,
    warmup,
  };
  const specPath = join(DIR, `spec_${safe(template)}_${threads}_${linear}.json`);
  writeFileSync(specPath, JSON.stringify(spec));
  const r = spawnSync('/usr/bin/python3', [join(HERE, 'torch_train_ref.py'), 'bench', specPath], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Timing;
}

interface Timing {
  msPerStep: number;
  cpuMsPerStep: number;
}

function runOurs(template: string, variant: string, threads: number, steps: number, warmup: number): Timing {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', template, variant, String(threads), String(steps), String(warmup)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`child failed (${template} ${variant}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Timing;
}

const TORCH = ['torch', 'torch-dnnl'];
/** Step variants: which training rewrites are on. loopK-<variant> runs K steps per Loop. */
const VARIANTS: Record<string, boolean | { pool?: boolean; reluSwap?: boolean; convPatches?: boolean }> = {
  naive: false,
  patches: { convPatches: true },
  swap: { reluSwap: true },
  'swap+patches': { reluSwap: true, convPatches: true },
  fast: true,
};
const LABEL: Record<string, string> = {
  torch: 'PyTorch 1.13 as installed (Linear on reference BLAS)',
  'torch-dnnl': 'PyTorch 1.13, Linear as 1x1 Conv (oneDNN)',
};

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--child');
  if (ci >= 0) {
    const [template, variant, threads, steps, warmup] = process.argv.slice(ci + 1);
    await childOurs(template!, variant!, Number(threads), Number(steps), Number(warmup));
    return;
  }
  const models = arg('models', 'cnn:8,16/32,mlp:128').split(/,(?=[a-z]+:)/);
  const threads = arg('threads', '1,2').split(',').map(Number);
  const variants = arg('variants', 'naive,fast,loop8-fast').split(',');
  const rounds = Number(arg('rounds', '5'));
  const steps = Number(arg('steps', '64'));
  const warmup = 16;
  await prepare(models);
  const results = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const push = (k: string, v: Timing) => {
    results.set(k, [...(results.get(k) ?? []), v.msPerStep]);
    cpu.set(k, [...(cpu.get(k) ?? []), v.cpuMsPerStep]);
  };
  for (let r = 0; r < rounds; r++) {
    for (const m of models) {
      for (const th of threads) {
        // Alternate the order every round so drift does not favour one side.
        const all = [...TORCH, ...variants.filter((v) => v !== 'dp' || th >= 2)];
        const order = r % 2 ? all.reverse() : all;
        for (const v of order) {
          const ms = v.startsWith('torch') ? childTorch(m, v === 'torch' ? 'blas' : 'dnnl', th, steps, warmup) : runOurs(m, v, th, steps, warmup);
          push(`${m}|${th}|${v}`, ms);
          process.stderr.write(`round ${r + 1} ${m} threads=${th} ${v}: ${ms.msPerStep.toFixed(2)} ms/step, CPU ${ms.cpuMsPerStep.toFixed(2)} ms/step\n`);
        }
      }
    }
  }
  const rows: string[] = [];
  rows.push('| model | threads | variant | wall ms/step (median) | min–max | CPU ms/step (median) | samples/s (wall) | throughput vs PyTorch oneDNN (wall) | vs PyTorch oneDNN (CPU time) |');
  rows.push('|---|---|---|---|---|---|---|---|---|');
  const json: Record<string, unknown>[] = [];
  for (const m of models) {
    for (const th of threads) {
      const torch = median(results.get(`${m}|${th}|torch-dnnl`)!);
      const torchCpu = median(cpu.get(`${m}|${th}|torch-dnnl`)!);
      for (const v of [...TORCH, ...variants]) {
        const all = results.get(`${m}|${th}|${v}`);
        if (!all) continue; // dp at 1 thread
        const med = median(all);
        const ratio = torch / med;
        const cpuMed = median(cpu.get(`${m}|${th}|${v}`)!);
        rows.push(
          `| ${m} | ${th} | ${LABEL[v] ?? v} | ${med.toFixed(2)} | ${Math.min(...all).toFixed(2)}–${Math.max(...all).toFixed(2)} | ${cpuMed.toFixed(2)} | ${Math.round((B * 1000) / med)} | ${ratio.toFixed(2)}x | ${(torchCpu / cpuMed).toFixed(2)}x |`,
        );
        json.push({ model: m, threads: th, variant: v, msMedian: med, all, cpuMedian: cpuMed, cpuAll: cpu.get(`${m}|${th}|${v}`), ratioVsTorch: ratio, cpuRatioVsTorch: torchCpu / cpuMed });
      }
    }
  }
  console.log(rows.join('\n'));
  const out = arg('json', '');
  if (out) writeFileSync(out, JSON.stringify(json, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
