// Run by ep-fallback.test.ts in a child process with the lavapipe variables and
// DISTILLERY_FAULT_EP_LOST_AFTER set; prints one JSON line. EP_CHILD_MODE:
//   train  (default) a shape error on a WebGPU session (must not count as a lost device; it is
//          run 1 of the count), then training on WebGPU until the injected loss moves it to the
//          CPU, a new WebGPU session (must open on the CPU), and the same training on the CPU
//          alone as the reference.
//   second training on WebGPU with DISTILLERY_FAULT_EP_DEVICE=all: the CPU fails too after the
//          move; the error is printed.
//   bench  one benchmark on WebGPU (in this process) losing its device mid-measurement.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { benchmarkModel } from '../../app/engine/bench/index.js';
import { loadDataset, planSplits } from '../../app/engine/data/index.js';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { saveModel } from '../../app/engine/onnx/io.js';
import { createSession, DeviceLostError, probeModelBytes } from '../../app/engine/runtime/index.js';
import { train, type TrainEvent } from '../../app/engine/training/trainer.js';

const mode = process.env.EP_CHILD_MODE ?? 'train';
const ds = await loadDataset('resources/sample-data/fashion-mnist-small', { limit: 600 });
const plan = planSplits(ds, { seed: 1 });
const data = { train: plan.train, validation: plan.validation, classes: 10, teacherTrain: [], teacherValidation: [] };
const student = buildStudent({ template: parseTemplate('mlp:32'), sampleShape: [1, 28, 28], classes: 10, seed: 7 });
const config = { epochs: 2, batchSize: 32, lr: 3e-3, temperature: 1, alpha: 0, seed: 3, threads: 1, stepsPerRun: 1 };

async function run(device: 'webgpu' | 'cpu') {
  const losses: number[] = [];
  const events: TrainEvent[] = [];
  const r = await train(student, data, { ...config, device }, (e) => {
    if (e.kind === 'step') losses.push(e.loss);
    else events.push(e);
  });
  return {
    device: r.device,
    fallbackReason: r.fallbackReason ?? null,
    deviceLoss: r.deviceLoss ?? null,
    losses,
    fallbacks: events.filter((e) => e.kind === 'fallback'),
    valAccuracy: r.epochs.map((e) => e.accuracy),
  };
}

const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: Error) => ({ name: e.constructor.name, message: e.message }));

if (mode === 'second') {
  console.log(JSON.stringify({ error: await errorOf(run('webgpu')) }));
} else if (mode === 'bench') {
  const model = join(tmpdir(), `ep-fallback-${process.pid}.onnx`);
  await saveModel(student, model);
  const error = await errorOf(benchmarkModel(model, { device: 'webgpu', threads: 1, isolate: false, batchSizes: [1], latency: { warmup: 2, minRuns: 10, maxRuns: 40 } }));
  rmSync(model, { force: true });
  console.log(JSON.stringify({ model, error }));
} else {
  const probe = await createSession(probeModelBytes(), { device: 'webgpu', threads: 1 });
  let shapeError: { message: string; deviceLost: boolean } | null = null;
  try {
    await probe.session.run({ x: new ort.Tensor('float32', new Float32Array(6), [6]), y: new ort.Tensor('float32', new Float32Array(6), [6]) });
  } catch (e) {
    shapeError = { message: (e as Error).message, deviceLost: e instanceof DeviceLostError };
  }
  await probe.session.release();
  const webgpu = await run('webgpu');
  const after = await createSession(probeModelBytes(), { device: 'webgpu', threads: 1 });
  await after.session.release();
  const cpu = await run('cpu');
  console.log(JSON.stringify({ probeDevice: probe.device, shapeError, webgpu, cpu, afterLoss: { device: after.device, fallbackReason: after.fallbackReason ?? null } }));
}
