// Latency of float vs int8 (static QDQ, dynamic) vs int4 on the quantization test models.
// One intra-op thread, spinning off, models interleaved round by round so drift hits all alike.
// Usage: npx tsx bench/quant-bench.ts [runsPerRound=20] [rounds=10]
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../app/engine/onnx/codec.js';
import type { Model } from '../app/engine/onnx/ir.js';
import { convertFp16, modelBytes, quantizeDynamic, quantizeInt4, quantizeStatic } from '../app/engine/quantize/index.js';
import { fashion, fittedModels, imageBatches } from '../test/unit/quant-fixtures.js';

const runs = Number(process.argv[2] ?? 20);
const rounds = Number(process.argv[3] ?? 10);

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function open(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { 'session.intra_op.allow_spinning': '0' },
  });
}

async function bench(name: string, variants: Array<{ label: string; model: Model }>, shape: number[]): Promise<void> {
  const images = fashion(64);
  const sessions = await Promise.all(variants.map((v) => open(v.model)));
  const baseBytes = modelBytes(variants[0]!.model);
  for (const batch of [1, 32]) {
    const x = new ort.Tensor('float32', images.x.slice(0, batch * 784), [batch, ...shape]);
    const times = variants.map(() => [] as number[]);
    for (const s of sessions) for (let i = 0; i < 5; i++) await s.run({ x }); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (let v = 0; v < sessions.length; v++) {
        for (let i = 0; i < runs; i++) {
          const t0 = process.hrtime.bigint();
          await sessions[v]!.run({ x });
          times[v]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }
    }
    const base = median(times[0]!);
    for (let v = 0; v < variants.length; v++) {
      const m = median(times[v]!);
      console.log(
        `${name.padEnd(4)} batch ${String(batch).padStart(2)}  ${variants[v]!.label.padEnd(26)} ${m.toFixed(3).padStart(8)} ms  speed-up x${(base / m).toFixed(2)}  size ${(modelBytes(variants[v]!.model) / baseBytes).toFixed(3)}`,
      );
    }
  }
  for (const s of sessions) await s.release();
}

const { mlp, cnn } = await fittedModels();
const calib = fashion(500, 'train');
const cnnShape = [1, 28, 28];
const staticCnn = (await quantizeStatic(cnn, () => imageBatches(calib, 50, cnnShape))).model;
const staticCnnFirst = (await quantizeStatic(cnn, () => imageBatches(calib, 50, cnnShape), { firstConvFloat: true })).model;
const staticMlp = (await quantizeStatic(mlp, () => imageBatches(calib, 100, [784]))).model;
console.log(`onnxruntime-node ${ort.env.versions.common}, 1 thread, median of ${runs * rounds} runs`);
await bench('cnn', [
  { label: 'float32', model: cnn },
  { label: 'int8 static (QDQ)', model: staticCnn },
  { label: 'int8 static, 1st conv fp32', model: staticCnnFirst },
  { label: 'int8 dynamic (per chan.)', model: quantizeDynamic(cnn, { perChannel: true }).model },
  { label: 'fp16', model: convertFp16(cnn).model },
], cnnShape);
await bench('mlp', [
  { label: 'float32', model: mlp },
  { label: 'int8 static (QDQ)', model: staticMlp },
  { label: 'int8 dynamic', model: quantizeDynamic(mlp).model },
  { label: 'int8 dynamic (per chan.)', model: quantizeDynamic(mlp, { perChannel: true }).model },
  { label: 'int4 block 32', model: quantizeInt4(mlp, { blockSize: 32, symmetric: true }).model },
  { label: 'fp16', model: convertFp16(mlp).model },
], [784]);
