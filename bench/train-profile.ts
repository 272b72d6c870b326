// ORT profile of one train-step variant, aggregated by op type (where a step spends its time).
// Usage: [B=128] npx tsx bench/train-profile.ts [cnn:8,16/32] [naive|fast|grad] [steps=40] [threads=1]
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildStudent, parseTemplate } from '../app/engine/distill/students.js';
import { encodeModel } from '../app/engine/onnx/codec.js';
import { floatData } from '../app/engine/onnx/tensor.js';
import { probeShapes } from '../app/engine/training/shape-probe.js';
import { buildGradStep, buildTrainStep } from '../app/engine/training/train-step.js';
import { fashionMnistBatch } from './train-data.js';

const [template = 'cnn:8,16/32', variant = 'fast', stepsArg = '40', threadsArg = '1'] = process.argv.slice(2);
const B = Number(process.env.B ?? 128);
const student = buildStudent({ template: parseTemplate(template), sampleShape: [1, 28, 28], classes: 10, seed: 42 });
const input = student.graph.inputs[0]!.name;
const shapes = await probeShapes(student, { [input]: new ort.Tensor('float32', new Float32Array(B * 784), [B, 1, 28, 28]) });
// 'grad': the gradient graph a data-parallel thread runs (no optimizer update).
const step = buildTrainStep({ student, batchSize: B, shape: (n) => shapes.get(n)!, fast: variant !== 'naive' });
const grad = variant === 'grad' ? buildGradStep({ student, batchSize: B, shape: (n) => shapes.get(n)!, fast: true }) : undefined;
const session = await ort.InferenceSession.create(encodeModel(grad?.model ?? step.model), {
  intraOpNumThreads: Number(threadsArg),
  interOpNumThreads: 1,
  enableProfiling: true,
  profileFilePrefix: join(tmpdir(), `train-profile-${variant}`),
});
const { x, probs, onehot } = fashionMnistBatch(B);
const f32 = (a: Float32Array, dims: number[]) => new ort.Tensor('float32', a, dims);
const feeds: Record<string, ort.Tensor> = {
  [step.inputName]: f32(x, [B, 1, 28, 28]),
  [step.feeds.teacherProbs]: f32(probs, [B, 10]),
  [step.feeds.labels]: f32(onehot, [B, 10]),
  [step.feeds.lr]: f32(Float32Array.of(1e-3), []),
  [step.feeds.bc1]: f32(Float32Array.of(0.1), []),
  [step.feeds.bc2]: f32(Float32Array.of(0.001), []),
  [step.feeds.temperature]: f32(Float32Array.of(4), []),
  [step.feeds.alpha]: f32(Float32Array.of(0.9), []),
};
for (const p of step.params) {
  feeds[p.name] = f32(Float32Array.from(floatData(student.graph.initializers.find((t) => t.name === p.name)!)), p.dims);
  for (const s of p.state) feeds[s.input] = f32(new Float32Array(p.dims.reduce((a, d) => a * d, 1)), p.dims);
}
if (grad) {
  for (const k of [step.feeds.lr, step.feeds.bc1, step.feeds.bc2, ...step.params.flatMap((p) => p.state.map((s) => s.input))]) delete feeds[k];
  feeds[grad.feeds.invBatch] = f32(Float32Array.of(1 / B), []);
  feeds[grad.feeds.nLabelled] = f32(Float32Array.of(B), []);
}
const steps = Number(stepsArg);
for (let i = 0; i < steps; i++) await session.run(feeds);
session.endProfiling();
await session.release();
const prefix = `train-profile-${variant}`;
const file = join(tmpdir(), readdirSync(tmpdir()).filter((f) => f.startsWith(prefix) && f.endsWith('.json')).sort().pop()!);
const events = JSON.parse(readFileSync(file, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
rmSync(file, { force: true });
const byOp = new Map<string, number>();
const byNode = new Map<string, number>();
let total = 0;
let runs = 0;
for (const e of events) {
  if (e.cat === 'Session' && e.name === 'model_run') {
    total += e.dur;
    runs++;
  }
  if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args?.op_name) {
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
    const key = `${e.args.op_name} ${e.name.replace(/_kernel_time$/, '')} ${JSON.stringify((e.args as { output_type_shape?: unknown }).output_type_shape ?? '')}`;
    byNode.set(key, (byNode.get(key) ?? 0) + e.dur);
  }
}
const nodeTotal = [...byOp.values()].reduce((a, b) => a + b, 0);
const kernelsPerRun = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).length / runs;
console.log(`${template} ${variant}: ${(total / runs / 1000).toFixed(2)} ms per run (${runs} runs, incl. first), kernels ${(nodeTotal / runs / 1000).toFixed(2)} ms in ${kernelsPerRun.toFixed(0)} nodes (graph: ${step.model.graph.nodes.length})`);
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 18)) {
  console.log(`  ${op.padEnd(22)} ${(us / runs / 1000).toFixed(3)} ms  ${((100 * us) / nodeTotal).toFixed(1)} %`);
}
if (process.env.PROFILE_COUNTS) {
  const counts = new Map<string, number>();
  for (const e of events) if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args?.op_name) counts.set(e.args.op_name, (counts.get(e.args.op_name) ?? 0) + 1 / runs);
  console.log('  nodes per run by op:', [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '));
}
if (process.env.PROFILE_NODES) {
  for (const [k, us] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_NODES))) console.log(`    ${(us / runs / 1000).toFixed(3)} ms  ${k.slice(0, 150)}`);
}
