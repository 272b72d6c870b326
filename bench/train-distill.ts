// Distillation quality and cost on full Fashion-MNIST (/usr/share/datasets/fashion-mnist) with
// the bundled teacher (resources/sample-teacher/fashion-cnn.onnx, cnn:32,64/256).
// Every run is its own child process, so maxRSS is that run's peak memory.
//
//   npx tsx bench/train-distill.ts run TEMPLATE ALPHA [EPOCHS=5] [LABELS_PER_CLASS]
//        distill() (the product pipeline, default recipe: batch 64, lr 3e-3, cosine, clip 5,
//        AdamW) → JSON: test accuracy, agreement, s/epoch, maxRSS
//   npx tsx bench/train-distill.ts labels-only TEMPLATE LABELS_PER_CLASS STEPS
//        train() on the labelled subset alone (alpha 0), same recipe, STEPS steps
//   npx tsx bench/train-distill.ts torch TEMPLATE ALPHA [EPOCHS=5]
//        the same run (same split, student init, batch order, schedule, clipping, AdamW, KD loss)
//        in PyTorch (bench/torch_train_ref.py distill) and in ours via train() → both accuracies
//   npx tsx bench/train-distill.ts all      everything for docs/BENCHMARKS.md (≈ 30 min)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { batches, keepLabelsPerClass, loadDataset, planSplits, type Split } from '../app/engine/data/index.js';
import { deriveSeed } from '../app/engine/data/prng.js';
import { subset } from '../app/engine/data/split.js';
import { distill, distillDefaults } from '../app/engine/distill/distill.js';
import { buildStudent, parseTemplate } from '../app/engine/distill/students.js';
import { classifierInfo, teacherLogits } from '../app/engine/distill/teacher.js';
import { encodeModel } from '../app/engine/onnx/codec.js';
import { decodeModelFile } from '../app/engine/onnx/io.js';
import type { Model } from '../app/engine/onnx/ir.js';
import { floatData } from '../app/engine/onnx/tensor.js';
import { createSession } from '../app/engine/runtime/index.js';
import { evaluateLogits, softTargets } from '../app/engine/training/metrics.js';
import { train, type TrainConfig } from '../app/engine/training/trainer.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');
const DATA = '/usr/share/datasets/fashion-mnist';
const TEACHER = join(ROOT, 'resources/sample-teacher/fashion-cnn.onnx');
const WORK = process.env.TRAIN_BENCH_DIR ?? join(tmpdir(), 'distillery-train-distill');
const CACHE = join(WORK, 'cache');
const THREADS = Number(process.env.TRAIN_THREADS ?? 1);
mkdirSync(CACHE, { recursive: true });

const recipe = (epochs: number, alpha: number): TrainConfig => ({
  // The recipe distill() uses (app/engine/distill/distill.ts).
  epochs,
  batchSize: distillDefaults.batchSize,
  lr: distillDefaults.lr,
  temperature: distillDefaults.temperature,
  alpha,
  seed: distillDefaults.seed,
  schedule: { kind: 'cosine', warmupSteps: 50, minFactor: 0.05 },
  clipNorm: 5,
  threads: THREADS,
});

function done(result: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...result, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

async function runDistill(template: string, alpha: number, epochs: number, labelsPerClass?: number): Promise<void> {
  const device = (process.env.TRAIN_DEVICE ?? 'cpu') as 'cpu' | 'webgpu';
  const t0 = performance.now();
  const r = await distill({
    teachers: [TEACHER],
    data: DATA,
    student: template,
    alpha,
    epochs,
    labelsPerClass,
    threads: THREADS,
    device,
    out: join(WORK, `student-${template.replace(/[^a-z0-9]+/gi, '_')}-${alpha}.onnx`),
    cacheDir: CACHE,
    ...(process.env.TRAIN_LIMIT ? { limit: Number(process.env.TRAIN_LIMIT) } : {}),
  });
  const secs = r.metrics.epochs.map((e) => e.seconds);
  done({
    template, alpha, epochs, labelsPerClass: labelsPerClass ?? null, device: r.device,
    testAccuracy: r.metrics.testAccuracy, agreement: r.metrics.agreement, teacherAccuracy: r.teacher.testAccuracy,
    bestEpoch: r.metrics.bestEpoch, secondsPerEpoch: secs.reduce((a, b) => a + b, 0) / secs.length, epochSeconds: secs,
    losses: r.metrics.epochs.map((e) => e.loss), samplesPerSecond: r.metrics.samplesPerSecond,
    train: r.data.train, labelled: r.data.labelled, totalSeconds: (performance.now() - t0) / 1000,
  });
}

/** The split, teacher logits and student of distill() with default seed. */
async function setup(labelsPerClass?: number) {
  const ds = await loadDataset(DATA);
  const plan = planSplits(ds, { seed: distillDefaults.seed });
  let trainSplit = plan.train;
  if (labelsPerClass !== undefined) trainSplit = keepLabelsPerClass(trainSplit, labelsPerClass, distillDefaults.seed);
  const bytes = new Uint8Array(readFileSync(TEACHER));
  const teacher = classifierInfo(TEACHER, bytes, await decodeModelFile(TEACHER, bytes));
  const key = `${ds.fingerprint}|seed${distillDefaults.seed}|lpc${labelsPerClass ?? ''}|unl`;
  const run = async (s: Split, name: string) => (await teacherLogits(teacher, s, { cacheDir: CACHE, splitKey: `${key}|${name}`, device: 'cpu', threads: THREADS })).logits;
  return { plan, trainSplit, teacherTrain: await run(trainSplit, 'train'), teacherVal: await run(plan.validation, 'validation'), teacherTest: await run(plan.test, 'test') };
}

async function testMetrics(model: Model, test: Split, teacherTest: Float32Array) {
  const { session } = await createSession(encodeModel(model), { device: 'cpu', threads: THREADS });
  const out = new Float32Array(test.count * 10);
  for (const b of batches(test, 500)) {
    const r = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', b.x, [b.size, ...test.sampleShape]) });
    out.set(r[session.outputNames[0]!]!.data as Float32Array, b.indices[0]! * 10);
  }
  await session.release();
  return evaluateLogits(out, test.y, [teacherTest], 10);
}

async function labelsOnly(template: string, labelsPerClass: number, steps: number): Promise<void> {
  const s = await setup(labelsPerClass);
  const idx: number[] = [];
  s.trainSplit.y.forEach((v, i) => v >= 0 && idx.push(i));
  const labelled = subset(s.trainSplit, idx);
  const cfg = recipe(1, 0);
  const perEpoch = Math.floor(labelled.count / cfg.batchSize);
  cfg.epochs = Math.ceil(steps / perEpoch);
  const student = buildStudent({ template: parseTemplate(template), sampleShape: [1, 28, 28], classes: 10, seed: distillDefaults.seed });
  const t0 = performance.now();
  const r = await train(student, { train: labelled, validation: s.plan.validation, classes: 10, teacherTrain: [], teacherValidation: [s.teacherVal] }, cfg);
  const m = await testMetrics(r.model, s.plan.test, s.teacherTest);
  done({ template, labelled: labelled.count, steps: r.steps, epochs: cfg.epochs, bestEpoch: r.bestEpoch, testAccuracy: m.accuracy, agreement: m.agreement, seconds: (performance.now() - t0) / 1000 });
}

async function vsTorch(template: string, alpha: number, epochs: number): Promise<void> {
  const s = await setup();
  const cfg = recipe(epochs, alpha);
  const B = cfg.batchSize;
  const student = buildStudent({ template: parseTemplate(template), sampleShape: [1, 28, 28], classes: 10, seed: distillDefaults.seed });
  // Ours: train() with the same recipe (it returns the best epoch by validation accuracy).
  const t0 = performance.now();
  const r = await train(student, { train: s.trainSplit, validation: s.plan.validation, classes: 10, teacherTrain: [s.teacherTrain], teacherValidation: [s.teacherVal] }, cfg);
  const oursSeconds = (performance.now() - t0) / 1000;
  const ours = await testMetrics(r.model, s.plan.test, s.teacherTest);
  // PyTorch: same init, same batch order (the trainer's shuffles), same soft targets.
  const dir = join(WORK, `torch-${template.replace(/[^a-z0-9]+/gi, '_')}-${alpha}`);
  mkdirSync(dir, { recursive: true });
  const order: number[] = [];
  for (let e = 0; e < epochs; e++) {
    for (const b of batches(s.trainSplit, B, { shuffle: true, seed: deriveSeed(cfg.seed, `epoch${e}`), dropLast: true })) order.push(...b.indices);
  }
  const all = Int32Array.from({ length: s.trainSplit.count }, (_, i) => i);
  const f = (n: string) => join(dir, n);
  writeFileSync(f('order.i32'), Int32Array.from(order));
  writeFileSync(f('x.f32'), s.trainSplit.x);
  writeFileSync(f('y.i32'), s.trainSplit.y);
  writeFileSync(f('p.f32'), softTargets([s.teacherTrain], all, 10, cfg.temperature));
  writeFileSync(f('tx.f32'), s.plan.test.x);
  writeFileSync(f('ty.i32'), s.plan.test.y);
  writeFileSync(f('tt.f32'), s.teacherTest);
  writeFileSync(f('w.f32'), Buffer.concat(student.graph.initializers.map((t) => Buffer.from(Float32Array.from(floatData(t)).buffer))));
  const spec = {
    template, threads: THREADS, batchSize: B, classes: 10, sampleShape: [1, 28, 28],
    trainX: f('x.f32'), trainY: f('y.i32'), trainProbs: f('p.f32'), testX: f('tx.f32'), testY: f('ty.i32'), testTeacherLogits: f('tt.f32'),
    orderFile: f('order.i32'), weightsFile: f('w.f32'), weightShapes: student.graph.initializers.map((t) => [t.name, t.dims]),
    lr: cfg.lr, weightDecay: 1e-4, temperature: cfg.temperature, alpha, warmupSteps: 50, minFactor: 0.05, clipNorm: 5, linear: 'dnnl',
  };
  writeFileSync(f('spec.json'), JSON.stringify(spec));
  const py = spawnSync('/usr/bin/python3', [join(HERE, 'torch_train_ref.py'), 'distill', f('spec.json')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (py.status !== 0) throw new Error(py.stderr);
  const torch = JSON.parse(py.stdout.trim().split('\n').pop()!) as { testAccuracy: number; agreement: number; seconds: number };
  done({
    template, alpha, epochs, steps: r.steps,
    ours: { testAccuracy: ours.accuracy, agreement: ours.agreement, bestEpoch: r.bestEpoch, lastEpochValAccuracy: r.epochs.at(-1)?.accuracy, seconds: oursSeconds },
    torch,
  });
}

function child(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  process.stderr.write(`${args.join(' ')} → ${line}\n`);
  return JSON.parse(line) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'run') return runDistill(a[0]!, Number(a[1]), Number(a[2] ?? 5), a[3] ? Number(a[3]) : undefined);
  if (cmd === 'labels-only') return labelsOnly(a[0]!, Number(a[1]), Number(a[2]));
  if (cmd === 'torch') return vsTorch(a[0]!, Number(a[1]), Number(a[2] ?? 5));
  if (cmd === 'all') {
    const results: Record<string, unknown>[] = [];
    for (const t of ['cnn:8,16/32', 'mlp:128']) for (const alpha of [0.9, 0]) results.push(child(['run', t, String(alpha)]));
    const scarce = child(['run', 'cnn:8,16/32', '0.9', '5', '100']);
    results.push(scarce);
    const steps = 5 * Math.floor((scarce['train'] as number) / distillDefaults.batchSize);
    results.push(child(['labels-only', 'cnn:8,16/32', '100', String(steps)]));
    for (const t of ['cnn:8,16/32', 'mlp:128']) results.push(child(['torch', t, '0.9']));
    for (const t of ['cnn:4,8/16', 'cnn:16,32/64']) results.push(child(['run', t, '0.9']));
    writeFileSync(join(WORK, 'results.json'), JSON.stringify(results, null, 2));
    console.log(JSON.stringify(results, null, 2));
    return;
  }
  throw new Error('usage: train-distill.ts run|labels-only|torch|all ...');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
