// Data-parallel steps (gradient slices in real worker threads, summed, then the apply graph)
// against the single-graph train step on the same weights and real Fashion-MNIST batches:
// 2 and 3 workers (uneven slices), and batches where one slice has no labelled sample.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { encodeModel } from '../../app/engine/onnx/codec.js';
import type { Model } from '../../app/engine/onnx/ir.js';
import { floatData } from '../../app/engine/onnx/tensor.js';
import { DataParallel, sliceSizes } from '../../app/engine/training/data-parallel.js';
import { GradWorkers } from '../../app/engine/training/grad-workers.js';
import { probeShapes, shapeLookup } from '../../app/engine/training/shape-probe.js';
import { buildTrainStep, defaultAdamW, type OptimizerConfig } from '../../app/engine/training/train-step.js';
import { fashionMnist, rng } from '../helpers/finite-diff.js';

const B = 32;
const C = 10;
const STEPS = 2;
const T = 4;
const ALPHA = 0.7;
const LRS = [1e-3, 2e-3];
const bc = (beta: number, t: number) => 1 - beta ** t;

type Weights = Map<string, Float32Array>;
interface Batch {
  x: Float32Array;
  probs: Float32Array;
  onehot: Float32Array;
}

function makeBatches(unlabelledRows: (row: number) => boolean): Batch[] {
  const { images, labels } = fashionMnist(STEPS * B, 1000);
  const g = rng(11);
  const out: Batch[] = [];
  for (let k = 0; k < STEPS; k++) {
    const probs = new Float32Array(B * C);
    const onehot = new Float32Array(B * C);
    for (let i = 0; i < B; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += probs[i * C + c] = Math.exp(3 * g());
      for (let c = 0; c < C; c++) probs[i * C + c]! /= s;
      if (!unlabelledRows(i)) onehot[i * C + labels[k * B + i]!] = 1;
    }
    out.push({ x: images.slice(k * B * 784, (k + 1) * B * 784), probs, onehot });
  }
  return out;
}

const f32 = (a: Float32Array, dims: number[]) => new ort.Tensor('float32', a, dims);
const initial = (student: Model, name: string) => Float32Array.from(floatData(student.graph.initializers.find((t) => t.name === name)!));

async function singleGraph(student: Model, data: Batch[], optimizer: OptimizerConfig): Promise<{ weights: Weights; losses: number[] }> {
  const input = student.graph.inputs[0]!.name;
  const shapes = await probeShapes(student, { [input]: f32(new Float32Array(B * 784), [B, 1, 28, 28]) });
  const step = buildTrainStep({ student, batchSize: B, shape: shapeLookup(shapes), clipNorm: 1, optimizer });
  const session = await ort.InferenceSession.create(encodeModel(step.model), { intraOpNumThreads: 1 });
  const state = new Map<string, ort.Tensor>();
  for (const p of step.params) {
    state.set(p.name, f32(initial(student, p.name), p.dims));
    for (const s of p.state) state.set(s.input, f32(new Float32Array(p.dims.reduce((a, d) => a * d, 1)), p.dims));
  }
  const losses: number[] = [];
  for (let k = 0; k < STEPS; k++) {
    const out = await session.run({
      ...Object.fromEntries(state),
      [step.inputName]: f32(data[k]!.x, [B, 1, 28, 28]),
      [step.feeds.teacherProbs]: f32(data[k]!.probs, [B, C]),
      [step.feeds.labels]: f32(data[k]!.onehot, [B, C]),
      [step.feeds.lr]: f32(Float32Array.of(LRS[k]!), []),
      [step.feeds.bc1]: f32(Float32Array.of(bc(0.9, k + 1)), []),
      [step.feeds.bc2]: f32(Float32Array.of(bc(0.999, k + 1)), []),
      [step.feeds.temperature]: f32(Float32Array.of(T), []),
      [step.feeds.alpha]: f32(Float32Array.of(ALPHA), []),
    });
    for (const p of step.params) {
      state.set(p.name, out[p.output]!);
      for (const s of p.state) state.set(s.input, out[s.output]!);
    }
    losses.push((out[step.outputs.loss]!.data as Float32Array)[0]!);
  }
  await session.release();
  return { weights: new Map(step.params.map((p) => [p.name, state.get(p.name)!.data as Float32Array])), losses };
}

async function dataParallel(student: Model, data: Batch[], workers: number, optimizer: OptimizerConfig): Promise<{ weights: Weights; losses: number[]; replicas: Weights[] }> {
  const trainable = student.graph.initializers.map((t) => t.name);
  const dp = await DataParallel.open({ student, trainable, inputName: student.graph.inputs[0]!.name, sampleShape: [1, 28, 28], batchSize: B, workers, clipNorm: 1, optimizer });
  try {
    const weights: Weights = new Map(trainable.map((n) => [n, initial(student, n)]));
    const state = new Map<string, Float32Array>();
    for (const p of dp.apply.params) for (const s of p.state) state.set(s.input, new Float32Array(weights.get(p.name)!.length));
    await dp.load({ weights, state });
    const losses: number[] = [];
    for (let k = 0; k < STEPS; k++) {
      const r = await dp.step({ x: data[k]!.x, teacherProbs: data[k]!.probs, labels: data[k]!.onehot, temperature: T, alpha: ALPHA }, { lr: LRS[k]!, bc1: bc(0.9, k + 1), bc2: bc(0.999, k + 1) });
      expect(r.applied).toBe(true);
      losses.push(r.loss);
    }
    const replicas = (await dp.snapshots()).map((r) => r.weights);
    return { weights: (await dp.snapshot()).weights, losses, replicas };
  } finally {
    await dp.close();
  }
}

function maxDiff(a: Weights, b: Weights): { max: number; where: string } {
  let max = 0;
  let where = '';
  for (const [k, v] of a) {
    const u = b.get(k)!;
    for (let i = 0; i < v.length; i++) {
      const d = Math.abs(v[i]! - u[i]!);
      if (d > max) [max, where] = [d, `${k}[${i}]`];
    }
  }
  return { max, where };
}

describe('sliceSizes', () => {
  it('cuts a batch into contiguous slices, the first ones one longer', () => {
    expect(sliceSizes(32, 2)).toEqual([16, 16]);
    expect(sliceSizes(32, 3)).toEqual([11, 11, 10]);
  });
});

describe.each(['cnn:8,16/32', 'mlp:64'])('data-parallel step %s against the single-graph step', (template) => {
  const student = buildStudent({ template: parseTemplate(template), sampleShape: [1, 28, 28], classes: C, seed: 3 });
  // Every 5th row unlabelled; in the second case the whole first slice of 3 (rows 0..10) too.
  const cases = [
    { name: '2 workers', workers: 2, unlabelled: (i: number) => i % 5 === 3 },
    { name: '3 workers, uneven slices', workers: 3, unlabelled: (i: number) => i % 5 === 3 },
    { name: '3 workers, first slice unlabelled', workers: 3, unlabelled: (i: number) => i < 11 || i % 5 === 3 },
  ];
  // SGD's update is linear in the gradient, so it checks the summed gradients tightly (measured
  // ≤ 1.5e-8). Adam divides by √v: where a gradient is near 0 (|g| ~ eps, e.g. border pixels) the
  // summation order's rounding moves the update by up to a few 1e-6 (measured 3.5e-6, lr 2e-3).
  const optimizers: Array<{ label: string; optimizer: OptimizerConfig; tol: number }> = [
    { label: 'AdamW', optimizer: defaultAdamW, tol: 1e-5 },
    { label: 'SGD', optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 }, tol: 1e-7 },
  ];
  const all = optimizers.flatMap((o) => cases.map((c) => ({ ...c, ...o })));
  it.each(all)('$name, $label: same weights and losses after 2 steps', async ({ workers, unlabelled, optimizer, tol }) => {
    const data = makeBatches(unlabelled);
    const [one, dp] = [await singleGraph(student, data, optimizer), await dataParallel(student, data, workers, optimizer)];
    const d = maxDiff(dp.weights, one.weights);
    expect(d.max, d.where).toBeLessThan(tol);
    // Every thread holds bit-identical weights (same sums in the same order, same update).
    for (const r of dp.replicas.slice(1)) expect(maxDiff(r, dp.replicas[0]!).max).toBe(0);
    expect(dp.replicas).toHaveLength(workers);
    // The weights moved (the comparison is not between two untouched copies).
    expect(maxDiff(one.weights, new Map([...one.weights.keys()].map((n) => [n, initial(student, n)]))).max).toBeGreaterThan(1e-4);
    dp.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i]!)).toBeLessThan(1e-5));
  });
});

describe('GradWorkers', () => {
  it('a thread that cannot open its sessions fails with a plain message', async () => {
    const junk = new Uint8Array([1, 2, 3]);
    await expect(GradWorkers.start({ gradModels: [junk], applyModel: junk, params: [], groups: [], lossOutputs: ['a', 'b', 'c'], applyFeeds: { lr: 'lr', bc1: 'bc1', bc2: 'bc2' } })).rejects.toThrow(
      /training worker thread 1 could not start its ONNX Runtime sessions/,
    );
  });

  it('a thread failing mid-step releases the other from the exchange: the step fails with its reason, nothing hangs', async () => {
    const student = buildStudent({ template: parseTemplate('mlp:16'), sampleShape: [1, 28, 28], classes: C, seed: 3 });
    const trainable = student.graph.initializers.map((t) => t.name);
    process.env.DISTILLERY_FAULT_GRAD_THREAD_FAIL_AT = '2';
    const dp = await DataParallel.open({ student, trainable, inputName: student.graph.inputs[0]!.name, sampleShape: [1, 28, 28], batchSize: B, workers: 2 }).finally(() => delete process.env.DISTILLERY_FAULT_GRAD_THREAD_FAIL_AT);
    try {
      const weights: Weights = new Map(trainable.map((n) => [n, initial(student, n)]));
      const state = new Map(dp.apply.params.flatMap((p) => p.state.map((st) => [st.input, new Float32Array(weights.get(p.name)!.length)] as const)));
      await dp.load({ weights, state });
      const [batch] = makeBatches(() => false);
      const step = () => dp.step({ x: batch!.x, teacherProbs: batch!.probs, labels: batch!.onehot, temperature: T, alpha: ALPHA }, { lr: 1e-3, bc1: 0.1, bc2: 0.001 });
      expect((await step()).applied).toBe(true);
      await expect(step()).rejects.toThrow(/training worker thread 2 failed \(injected fault at step 2 .*\); training stopped/);
      await expect(step()).rejects.toThrow(/training worker thread 2 failed/);
    } finally {
      await dp.close();
    }
  });
});
