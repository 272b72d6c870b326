// The trainer with K steps per session.run (ONNX Loop) against one step per run, on the bundled
// Fashion-MNIST sample: same weights, same per-step losses, remainder groups, cancellation, and
// the exported model is the original inference graph; data-parallel workers against one session.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset, planSplits } from '../../app/engine/data/index.js';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { floatData } from '../../app/engine/onnx/tensor.js';
import { loadCheckpoint } from '../../app/engine/training/checkpoint.js';
import { train, TrainingCancelled, TrainingError, type TrainData, type TrainEvent } from '../../app/engine/training/trainer.js';
import { rng } from '../helpers/finite-diff.js';

const SAMPLE = 'resources/sample-data/fashion-mnist-small';

async function trainData(): Promise<TrainData> {
  const ds = await loadDataset(SAMPLE, { limit: 700 });
  const plan = planSplits(ds, { seed: 1 });
  const g = rng(2);
  const fake = (n: number) => Float32Array.from({ length: n * 10 }, () => 3 * g());
  return {
    train: plan.train,
    validation: plan.validation,
    classes: 10,
    teacherTrain: [fake(plan.train.count)],
    teacherValidation: [fake(plan.validation.count)],
  };
}

type Weights = Map<string, Float32Array>;
const weightsOf = (m: { graph: { initializers: Array<{ name: string }> } }): Weights =>
  new Map(m.graph.initializers.map((t) => [t.name, Float32Array.from(floatData(t as Parameters<typeof floatData>[0]))]));
const maxDiff = (a: Weights, b: Weights) => {
  let max = 0;
  for (const [k, w] of a) w.forEach((v, i) => (max = Math.max(max, Math.abs(v - b.get(k)![i]!))));
  return max;
};

/** Trains with a checkpoint and cancels right after `step`; returns how many steps it reported. */
async function cancelledAfter(student: Parameters<typeof train>[0], data: TrainData, config: Parameters<typeof train>[2], step: number): Promise<number> {
  const ac = new AbortController();
  let steps = 0;
  await expect(
    train(student, data, config, (e) => {
      if (e.kind !== 'step') return;
      steps++;
      if (e.step === step) ac.abort();
    }, ac.signal),
  ).rejects.toBeInstanceOf(TrainingCancelled);
  return steps;
}

describe('trainer: stepsPerRun', () => {
  it('K = 4 (with a shorter last run per epoch) gives the weights and losses of one step per run', async () => {
    const data = await trainData();
    const student = buildStudent({ template: parseTemplate('cnn:4,8/16'), sampleShape: [1, 28, 28], classes: 10, seed: 5 });
    const batchSize = 32;
    const stepsPerEpoch = Math.floor(data.train.count / batchSize);
    expect(stepsPerEpoch % 4).not.toBe(0);
    const runs: Array<{ losses: number[]; weights: Map<string, Float32Array> }> = [];
    for (const stepsPerRun of [1, 4]) {
      const losses: number[] = [];
      const r = await train(
        student,
        data,
        { epochs: 2, batchSize, lr: 2e-3, temperature: 4, alpha: 0.7, seed: 3, threads: 1, stepsPerRun, schedule: { kind: 'cosine', warmupSteps: 5 } },
        (e: TrainEvent) => {
          if (e.kind === 'step') losses.push(e.loss);
        },
      );
      expect(r.steps).toBe(2 * stepsPerEpoch);
      // The exported student is the original inference graph (MaxPool, Relu before it) with new weights.
      expect(r.model.graph.nodes.map((n) => n.opType)).toEqual(student.graph.nodes.map((n) => n.opType));
      expect(r.model.graph.nodes.every((n) => n.domain === '')).toBe(true);
      runs.push({ losses, weights: new Map(r.model.graph.initializers.map((t) => [t.name, Float32Array.from(floatData(t))])) });
    }
    expect(runs[1]!.losses.length).toBe(runs[0]!.losses.length);
    runs[1]!.losses.forEach((l, i) => expect(Math.abs(l - runs[0]!.losses[i]!)).toBeLessThan(1e-4));
    expect(runs[0]!.losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(runs[0]!.losses.slice(0, 5).reduce((a, b) => a + b) / 5);
    let max = 0;
    for (const [k, w] of runs[0]!.weights) {
      const u = runs[1]!.weights.get(k)!;
      for (let i = 0; i < w.length; i++) max = Math.max(max, Math.abs(w[i]! - u[i]!));
    }
    expect(max).toBeLessThan(1e-5);
  });

  it('cancellation stops between runs', async () => {
    const data = await trainData();
    const student = buildStudent({ template: parseTemplate('mlp:16'), sampleShape: [1, 28, 28], classes: 10, seed: 5 });
    const ac = new AbortController();
    let steps = 0;
    await expect(
      train(student, data, { epochs: 3, batchSize: 16, lr: 1e-3, temperature: 2, alpha: 0.5, seed: 1, threads: 1, stepsPerRun: 8 }, (e) => {
        if (e.kind === 'step' && ++steps === 8) ac.abort();
      }, ac.signal),
    ).rejects.toBeInstanceOf(TrainingCancelled);
    expect(steps).toBe(8);
  });
});

describe('trainer: data-parallel workers', () => {
  const student = buildStudent({ template: parseTemplate('cnn:4,8/16'), sampleShape: [1, 28, 28], classes: 10, seed: 5 });
  const config = { epochs: 2, batchSize: 32, lr: 2e-3, temperature: 4, alpha: 0.7, seed: 3, threads: 1, schedule: { kind: 'cosine' as const, warmupSteps: 5 } };

  it('workers: 2 gives the losses and weights of workers: 1 over 2 epochs; the export is the inference graph', async () => {
    const data = await trainData();
    const runs: Array<{ losses: number[]; weights: Map<string, Float32Array>; info: string[] }> = [];
    for (const workers of [1, 2]) {
      const losses: number[] = [];
      const info: string[] = [];
      const r = await train(student, data, { ...config, workers }, (e: TrainEvent) => {
        if (e.kind === 'step') losses.push(e.loss);
        if (e.kind === 'info') info.push(e.message);
      });
      expect(r.model.graph.nodes.map((n) => n.opType)).toEqual(student.graph.nodes.map((n) => n.opType));
      runs.push({ losses, weights: weightsOf(r.model), info });
    }
    expect(runs[1]!.info.some((m) => m.includes('2 worker threads'))).toBe(true);
    expect(runs[0]!.info.some((m) => m.includes('worker threads'))).toBe(false);
    expect(runs[1]!.losses.length).toBe(runs[0]!.losses.length);
    runs[1]!.losses.forEach((l, i) => expect(Math.abs(l - runs[0]!.losses[i]!)).toBeLessThan(1e-4));
    expect(maxDiff(runs[1]!.weights, runs[0]!.weights)).toBeLessThan(1e-4);
  });

  it('cancel and resume with workers: 2 end at the weights of an uninterrupted run', async () => {
    const data = await trainData();
    const dir = mkdtempSync(join(tmpdir(), 'distillery-dp-'));
    try {
      const full = await train(student, data, { ...config, workers: 2 });
      const checkpointPath = join(dir, 'ck.bin');
      // Cancellation acts between messages to the threads: after step 5 of the run of steps 5–8.
      expect(await cancelledAfter(student, data, { ...config, workers: 2, stepsPerRun: 4, checkpointPath }, 5)).toBe(8);
      const resumed = await train(student, data, { ...config, workers: 2, resumeFrom: checkpointPath });
      expect(resumed.steps).toBe(full.steps);
      expect(maxDiff(weightsOf(resumed.model), weightsOf(full.model))).toBeLessThan(1e-6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a checkpoint of a threaded run resumes in one session with its optimizer state', async () => {
    const data = await trainData();
    const dir = mkdtempSync(join(tmpdir(), 'distillery-dp-'));
    try {
      const full = await train(student, data, { ...config, workers: 2 });
      const checkpointPath = join(dir, 'ck.bin');
      await cancelledAfter(student, data, { ...config, workers: 2, checkpointPath }, 5);
      const info: string[] = [];
      const resumed = await train(student, data, { ...config, workers: 1, stepsPerRun: 1, resumeFrom: checkpointPath }, (e) => {
        if (e.kind === 'info') info.push(e.message);
      });
      expect(info.some((m) => m.includes('no optimizer state'))).toBe(false);
      expect(resumed.steps).toBe(full.steps);
      // The same run to float rounding (threads vs one session), not a restart of Adam.
      expect(maxDiff(weightsOf(resumed.model), weightsOf(full.model))).toBeLessThan(1e-4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses workers on a GPU and with feature matching, plainly', async () => {
    const data = await trainData();
    await expect(train(student, data, { ...config, workers: 2, device: 'webgpu' })).rejects.toThrow(/runs on the CPU only/);
    await expect(train(student, data, { ...config, workers: 2, featureMatch: { studentTensor: 'x', weight: 1 } })).rejects.toThrow(/feature matching/);
  });
});

describe('trainer: a non-finite loss stops the run and keeps the last good weights', () => {
  const student = buildStudent({ template: parseTemplate('cnn:4,8/16'), sampleShape: [1, 28, 28], classes: 10, seed: 5 });
  const config = { epochs: 1, batchSize: 32, lr: 2e-3, temperature: 4, alpha: 0.7, seed: 3, threads: 1 };
  const allFinite = (m: Weights) => [...m.values()].every((w) => w.every(Number.isFinite));

  it.each([
    { name: 'one step per run', run: { stepsPerRun: 1 } },
    { name: '4 steps per run (Loop)', run: { stepsPerRun: 4 } },
    { name: '2 data-parallel threads, one step per message', run: { workers: 2, stepsPerRun: 1 } },
    { name: '2 data-parallel threads, 8 steps per message', run: { workers: 2 } },
  ])('$name', async ({ run }) => {
    const data = await trainData();
    // A teacher gives NaN logits for one training image: the batch holding it has a NaN loss.
    data.teacherTrain[0]!.fill(Number.NaN, 250 * 10, 251 * 10);
    const dir = mkdtempSync(join(tmpdir(), 'distillery-nan-'));
    try {
      const checkpointPath = join(dir, 'ck.bin');
      const failure = await train(student, data, { ...config, ...run, checkpointPath }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(TrainingError);
      const [, at] = /the loss became NaN at step (\d+) \(epoch 1\); training stopped\. Try a lower learning rate .* The last good weights are in the checkpoint\./.exec((failure as Error).message) ?? [];
      expect(at, (failure as Error).message).toBeDefined();
      const failedStep = Number(at);
      // The bad batch is not the first of its run: the threads applied the run's earlier steps.
      if (run.stepsPerRun === undefined) expect((failedStep - 1) % 8).not.toBe(0);
      const ck = await loadCheckpoint(checkpointPath);
      expect(allFinite(ck.weights)).toBe(true);
      expect(ck.step).toBeLessThan(failedStep);
      if ('workers' in run || run.stepsPerRun === 1) {
        // Exactly the weights after the step before (threads stop applying at the bad step, even
        // inside a message of 8): a clean run stopped there (one step per message) has them too.
        expect(ck.step).toBe(failedStep - 1);
        const stoppedPath = join(dir, 'stopped.bin');
        await cancelledAfter(student, data, { ...config, ...run, stepsPerRun: 1, checkpointPath: stoppedPath }, failedStep - 1);
        const stopped = await loadCheckpoint(stoppedPath);
        expect(stopped.step).toBe(ck.step);
        expect(maxDiff(ck.weights, stopped.weights)).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
