// Where the int8 CNN's time goes: ONNX Runtime's own profile of the sample teacher quantized
// (static int8, first conv float), per node type, at a given batch and thread count, after ORT's
// graph optimizations (the node names and types are those of the optimized graph it runs).
// Usage: npx tsx bench/quant-profile.ts [--batch 64] [--threads 2] [--runs 200] [--top 15]
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../app/engine/onnx/codec.js';
import { loadModel } from '../app/engine/onnx/io.js';
import { quantizeStatic } from '../app/engine/quantize/index.js';
import { calibrationBatches, headOf, loadDataForModel } from '../app/engine/quantize/evaluate.js';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '64' }, threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '200' }, top: { type: 'string', default: '15' } } });
const [B, threads, runs] = [Number(values.batch), Number(values.threads), Number(values.runs)];
const teacher = await loadModel('resources/sample-teacher/fashion-cnn.onnx');
const data = await loadDataForModel(teacher, 'resources/sample-data/fashion-mnist-small', { limit: 1000 });
const model = (await quantizeStatic(teacher, calibrationBatches(headOf(data.train, 512), 64), { firstConvFloat: true })).model;
const prefix = `quant-profile-${process.pid}`;
const session = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: threads, interOpNumThreads: 1, enableProfiling: true, profileFilePrefix: join(tmpdir(), prefix) });
const input = session.inputNames[0]!;
const x = new ort.Tensor('float32', new Float32Array(B * 784).map((_, i) => (i % 255) / 255), [B, 1, 28, 28]);
for (let i = 0; i < 20; i++) await session.run({ [input]: x });
const t0 = performance.now();
for (let i = 0; i < runs; i++) await session.run({ [input]: x });
const wall = (performance.now() - t0) / runs;
session.endProfiling();
await session.release();
const file = join(tmpdir(), readdirSync(tmpdir()).filter((f) => f.startsWith(prefix) && f.endsWith('.json')).sort().pop()!);
const events = JSON.parse(readFileSync(file, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
rmSync(file, { force: true });
const byOp = new Map<string, number>();
let total = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const op = `${e.args?.op_name ?? '?'} (${e.name.replace(/_kernel_time$/, '')})`;
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  total += e.dur;
}
const n = runs + 20;
console.log(`batch ${B}, ${threads} thread(s): ${wall.toFixed(3)} ms per run (wall, profiling on); kernels ${(total / n / 1000).toFixed(3)} ms`);
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${(us / n / 1000).toFixed(3).padStart(8)} ms  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${op}`);
