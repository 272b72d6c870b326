// Run by train-webgpu.test.ts in a child process whose environment has the lavapipe variables.
// Trains the same student for a few steps on WebGPU and on the CPU (same data, seed, recipe) and
// prints one JSON line: devices, per-step losses, validation accuracies, seconds.
import { loadDataset, planSplits } from '../../app/engine/data/index.js';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { train, type TrainEvent } from '../../app/engine/training/trainer.js';

const template = process.env.TRAIN_TEMPLATE ?? 'cnn:8,16/32';
const stepsPerRun = Number(process.env.TRAIN_STEPS_PER_RUN ?? 1);
const limit = Number(process.env.TRAIN_LIMIT ?? 900);
const ds = await loadDataset('resources/sample-data/fashion-mnist-small', { limit });
const plan = planSplits(ds, { seed: 1 });
const data = { train: plan.train, validation: plan.validation, classes: 10, teacherTrain: [], teacherValidation: [] };
const student = buildStudent({ template: parseTemplate(template), sampleShape: [1, 28, 28], classes: 10, seed: 7 });
const out: Record<string, unknown> = { template, stepsPerRun, train: plan.train.count };
for (const device of ['webgpu', 'cpu'] as const) {
  const losses: number[] = [];
  const t0 = performance.now();
  const r = await train(
    student,
    data,
    { epochs: 2, batchSize: 32, lr: 3e-3, temperature: 1, alpha: 0, seed: 3, threads: 1, device, stepsPerRun },
    (e: TrainEvent) => {
      if (e.kind === 'step') losses.push(e.loss);
    },
  );
  out[device] = {
    device: r.device,
    fallbackReason: r.fallbackReason ?? null,
    losses,
    valAccuracy: r.epochs.map((e) => e.accuracy),
    seconds: (performance.now() - t0) / 1000,
  };
}
console.log(JSON.stringify(out));
