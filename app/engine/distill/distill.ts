// The whole distillation run: teachers + data → a trained, evaluated, saved student.
// The CLI, the job workers and the tests all call this one function.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  batches,
  checkAgainstModelInput,
  concatSplits,
  keepLabelsPerClass,
  loadDataset,
  planSplits,
  type LoadedDataset,
  type Normalize,
  type Split,
} from '../data/index.js';
import { decodeModelFile, saveModel } from '../onnx/io.js';
import type { Model } from '../onnx/ir.js';
import { encodeModel } from '../onnx/codec.js';
import { createSession, DeviceLostError, plannedDevice, type DeviceRequest } from '../runtime/index.js';
import type { DeviceLoss } from '../training/train-sessions.js';
import { ensembleProbabilities, evaluateLogits } from '../training/metrics.js';
import { train, type TrainConfig, type TrainEvent, type EpochRecord } from '../training/trainer.js';
import { buildStudent, formatTemplate, parseTemplate, templateParameters } from './students.js';
import { classifierInfo, teacherFeatures, teacherLogits, type TeacherInfo } from './teacher.js';
import { chooseWorkers, type WorkersRequest } from './workers.js';
import { augmentPreset, augmentSplit, type AugmentPreset } from '../data/augment.js';

export interface DistillOptions {
  teachers: string[];
  data: string;
  /** A template (mlp:…, cnn:…/F) or a path to a student .onnx file. Default: sized to a quarter of the teacher. */
  student?: string;
  unlabeled?: string;
  labelsPerClass?: number;
  normalize?: Normalize;
  labelColumn?: string;
  seed?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  temperature?: number;
  alpha?: number;
  device?: DeviceRequest;
  threads?: number;
  /** Data-parallel training threads, 1..8 (TrainConfig.workers; above 1 training runs on the CPU), or 'auto' (the default: chooseWorkers). */
  workers?: WorkersRequest;
  out: string;
  cacheDir?: string;
  checkpointPath?: string;
  resumeFrom?: string;
  patience?: number;
  /** Read at most this many samples per split (quick runs and tests). */
  limit?: number;
  /** Extra shifted (and optionally mirrored) views of each training image, labelled by the teacher. */
  augment?: AugmentPreset;
  /** Views per image with augment (default 4, the original included). */
  augmentViews?: number;
  /** Also match a student tensor to a teacher tensor (MSE through a learned projection). */
  featureMatch?: { teacherTensor: string; studentTensor: string; weight: number };
}

export type DistillEvent = TrainEvent | { kind: 'stage'; stage: 'data' | 'teacher' | 'student' | 'train' | 'evaluate' | 'save'; message: string };

export interface ModelSummary {
  path: string;
  parameters: number;
  sizeBytes: number;
}

export interface DistillResult {
  /** Where the run ended: the CPU after any GPU failure. */
  device: string;
  /** Where training ran (ended, after a mid-training fallback): what `samplesPerSecond` measured. */
  trainedOn: string;
  fallbackReason?: string;
  /** Set when the GPU stopped responding mid-run and the rest ran on the CPU. */
  deviceLoss?: DeviceLoss;
  /** Data-parallel training threads used (1 = one session). */
  workers: number;
  student: ModelSummary & { template?: string };
  teacher: { paths: string[]; testAccuracy: number | null; parameters: number };
  metrics: {
    testAccuracy: number | null;
    agreement: number | null;
    kl: number | null;
    samplesPerSecond: number;
    bestEpoch: number;
    epochs: Array<Pick<EpochRecord, 'epoch' | 'loss' | 'seconds'> & { valAccuracy: number | null; agreement: number | null; kl: number | null }>;
  };
  data: { source: string; fingerprint: string; classes: string[]; train: number; validation: number; test: number; labelled: number; testFrom: string };
  config: Record<string, unknown>;
}

export const distillDefaults = { epochs: 5, batchSize: 64, lr: 3e-3, temperature: 4, alpha: 0.9, seed: 42 };

export function parameterCount(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers) if (t.dataType === 1) n += t.dims.reduce((a, d) => a * d, 1);
  return n;
}

async function loadTeacher(path: string): Promise<TeacherInfo> {
  const bytes = new Uint8Array(await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot read the teacher model (${e.code ?? e.message})`);
  }));
  const model = await decodeModelFile(path, bytes);
  return classifierInfo(path, bytes, model);
}

/** Chooses a student template for image or feature data, aiming at about `fraction` of the teacher's parameters. */
export function proposeStudent(sampleShape: number[], classes: number, teacherParams: number, fraction = 0.25): string {
  const candidates = sampleShape.length === 3
    ? ['cnn:4,8/16', 'cnn:8,16/32', 'cnn:16,32/64', 'cnn:16,32/128', 'cnn:32,64/128', 'cnn:32,64/256']
    : ['mlp:16', 'mlp:32', 'mlp:64', 'mlp:128', 'mlp:256', 'mlp:512,256'];
  const target = teacherParams * fraction;
  let best = candidates[0]!;
  for (const c of candidates) if (templateParameters(parseTemplate(c), sampleShape, classes) <= target) best = c;
  return best;
}

async function logitsOf(model: Model, split: Split, classes: number, device: DeviceRequest, threads?: number): Promise<Float32Array> {
  const { session } = await createSession(encodeModel(model), { device, threads });
  try {
    const out = new Float32Array(split.count * classes);
    const inputName = session.inputNames[0]!;
    for (const b of batches(split, 256)) {
      const r = await session.run({ [inputName]: new ort.Tensor('float32', b.x, [b.size, ...split.sampleShape]) });
      out.set(r[session.outputNames[0]!]!.data as Float32Array, b.indices[0]! * classes);
    }
    return out;
  } finally {
    await session.release();
  }
}

export async function distill(o: DistillOptions, onEvent: (e: DistillEvent) => void = () => undefined, signal?: AbortSignal): Promise<DistillResult> {
  const cfg = { ...distillDefaults, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as DistillOptions & typeof distillDefaults;
  if (cfg.alpha < 0 || cfg.alpha > 1) throw new Error(`--alpha must be between 0 and 1, got ${cfg.alpha}`);
  if (!(cfg.temperature > 0)) throw new Error(`--temperature must be positive, got ${cfg.temperature}`);
  if (o.teachers.length === 0 && cfg.alpha > 0) throw new Error('distillation needs a teacher (--teacher T.onnx), or use --alpha 0 to train on labels alone');
  if (o.augmentViews !== undefined && !(Number.isInteger(o.augmentViews) && o.augmentViews >= 2 && o.augmentViews <= 32)) {
    throw new Error(`--augment-views must be a whole number from 2 to 32, got ${o.augmentViews}`);
  }
  const requested = checkWorkers(cfg.workers ?? 'auto', cfg.device, o.featureMatch !== undefined);

  onEvent({ kind: 'stage', stage: 'teacher', message: `loading ${o.teachers.length} teacher model(s)` });
  const teachers = await Promise.all(o.teachers.map(loadTeacher));
  const classes = teachers[0]?.classes;
  for (const t of teachers) {
    if (t.classes !== classes) throw new Error(`teachers disagree on the number of classes: ${teachers[0]!.path} has ${classes}, ${t.path} has ${t.classes}`);
  }

  onEvent({ kind: 'stage', stage: 'data', message: `reading ${o.data}` });
  const dataset: LoadedDataset = await loadDataset(o.data, { normalize: o.normalize, labelColumn: o.labelColumn, numClasses: classes, limit: o.limit });
  const numClasses = classes ?? dataset.classes.length;
  for (const t of teachers) checkAgainstModelInput(dataset, t.inputShape, { inputName: `${t.inputName}' of teacher '${t.path}` });
  const plan = planSplits(dataset, { seed: cfg.seed });
  let trainSplit = plan.train;
  if (o.labelsPerClass !== undefined) trainSplit = keepLabelsPerClass(trainSplit, o.labelsPerClass, cfg.seed);
  let unlabeledKey = '';
  if (o.unlabeled) {
    const extra = await loadDataset(o.unlabeled, { normalize: o.normalize, limit: o.limit });
    if (extra.sampleShape.join('x') !== dataset.sampleShape.join('x')) {
      throw new Error(`--unlabeled data has samples of shape [${extra.sampleShape}] but --data has [${dataset.sampleShape}]`);
    }
    const pool = extra.test ? concatSplits(extra.train, extra.test) : extra.train;
    trainSplit = concatSplits(trainSplit, { ...pool, y: new Int32Array(pool.count).fill(-1) });
    unlabeledKey = extra.fingerprint;
  }
  const augment = augmentPreset(o.augment ?? 'none', o.augmentViews ?? 4, cfg.seed);
  if (augment.views > 1) {
    if (teachers.length === 0) throw new Error('augmentation needs a teacher to label the new views; drop --augment or add --teacher');
    trainSplit = augmentSplit(trainSplit, augment);
  }
  const labelled = trainSplit.y.reduce((n, v) => n + (v >= 0 ? 1 : 0), 0);
  if (cfg.alpha < 1 && labelled === 0) throw new Error('the training data has no labels; use --alpha 1 to learn from the teacher alone');

  onEvent({ kind: 'stage', stage: 'teacher', message: 'computing teacher outputs (cached after the first run)' });
  const keyBase = `${dataset.fingerprint}|seed${cfg.seed}|lpc${o.labelsPerClass ?? ''}|unl${unlabeledKey}|aug${JSON.stringify(augment)}`;
  // A GPU lost outside training (the trainer has its own fallback): the pass is repeated, and the
  // device being marked lost sends it, and every later session of this run, to the CPU.
  let passLoss: DeviceLoss | undefined;
  const onCpuIfLost = async <T>(what: string, pass: () => Promise<T>): Promise<T> =>
    pass().catch((e: unknown) => {
      if (!(e instanceof DeviceLostError)) throw e;
      if (!passLoss) {
        passLoss = { device: e.device, step: 0, reason: e.reason, during: what, message: `The GPU (${e.device}) stopped responding while ${what}; continuing on the CPU.` };
        onEvent({ kind: 'fallback', to: 'cpu', ...passLoss });
      }
      return pass();
    });
  const run = async (t: TeacherInfo, split: Split, name: string) =>
    onCpuIfLost("computing the teacher's outputs", async () => (await teacherLogits(t, split, { cacheDir: o.cacheDir, splitKey: `${keyBase}|${name}`, device: cfg.device, threads: cfg.threads })).logits);
  const teacherTrain = await Promise.all(teachers.map((t) => run(t, trainSplit, 'train')));
  const teacherVal = await Promise.all(teachers.map((t) => run(t, plan.validation, 'validation')));
  const teacherTest = await Promise.all(teachers.map((t) => run(t, plan.test, 'test')));
  let features: { values: Float32Array; size: number } | undefined;
  if (o.featureMatch) {
    if (teachers.length === 0) throw new Error('feature matching needs a teacher');
    onEvent({ kind: 'stage', stage: 'teacher', message: `reading the teacher's '${o.featureMatch.teacherTensor}' features` });
    const fm = o.featureMatch;
    features = await onCpuIfLost("reading the teacher's features", () => teacherFeatures(teachers[0]!, trainSplit, fm.teacherTensor, { cacheDir: o.cacheDir, splitKey: `${keyBase}|train`, device: cfg.device, threads: cfg.threads }));
  }

  onEvent({ kind: 'stage', stage: 'student', message: 'building the student' });
  const teacherParams = teachers.length ? Math.max(...teachers.map((t) => parameterCount(t.model))) : 0;
  const spec = o.student ?? proposeStudent(dataset.sampleShape, numClasses, teacherParams || 1e6);
  let student: Model;
  let template: string | undefined;
  if (/^(mlp|cnn):/i.test(spec)) {
    template = formatTemplate(parseTemplate(spec));
    student = buildStudent({ template: parseTemplate(spec), sampleShape: dataset.sampleShape, classes: numClasses, seed: cfg.seed });
  } else {
    const bytes = new Uint8Array(await readFile(spec));
    student = await decodeModelFile(spec, bytes);
    const info = classifierInfo(spec, bytes, student);
    if (info.classes !== numClasses) throw new Error(`student ${spec} has ${info.classes} outputs but the data has ${numClasses} classes`);
    checkAgainstModelInput(dataset, info.inputShape, { inputName: info.inputName });
  }

  onEvent({ kind: 'stage', stage: 'train', message: `training ${template ?? spec} for ${cfg.epochs} epochs` });
  // 'auto' threads follow where 'auto' would train: the CPU when there is no usable GPU.
  const plannedTrainDevice = requested === 'auto' && cfg.device === 'auto' ? await plannedDevice('auto') : cfg.device;
  const { workers, reason } = chooseWorkers({ request: requested, student, device: plannedTrainDevice, threads: cfg.threads, batchSize: cfg.batchSize, featureMatch: o.featureMatch !== undefined });
  if (reason) onEvent({ kind: 'info', message: reason });
  // Worker threads split batches over CPU cores, so 'auto' trains on the CPU (the teacher passes above may not).
  if (workers > 1 && (cfg.device ?? 'cpu') !== 'cpu') onEvent({ kind: 'info', message: `training on the CPU: ${workers} workers split each batch over CPU threads` });
  const trainConfig: TrainConfig = {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    lr: cfg.lr,
    temperature: cfg.temperature,
    alpha: cfg.alpha,
    seed: cfg.seed,
    // Warm up for 50 steps, or a tenth of a short run.
    schedule: { kind: 'cosine', warmupSteps: Math.min(50, Math.ceil((Math.floor(trainSplit.count / cfg.batchSize) * cfg.epochs) / 10)), minFactor: 0.05 },
    clipNorm: 5,
    device: workers > 1 ? 'cpu' : cfg.device,
    threads: cfg.threads,
    workers,
    patience: cfg.patience,
    checkpointPath: o.checkpointPath,
    checkpointEvery: 200,
    resumeFrom: o.resumeFrom,
    ...(o.featureMatch ? { featureMatch: { studentTensor: o.featureMatch.studentTensor, weight: o.featureMatch.weight } } : {}),
  };
  const result = await train(student, { train: trainSplit, validation: plan.validation, classes: numClasses, teacherTrain, teacherValidation: teacherVal, ...(features ? { teacherFeatures: features } : {}) }, trainConfig, onEvent, signal);

  onEvent({ kind: 'stage', stage: 'evaluate', message: 'measuring the student on the test split' });
  const studentTest = await onCpuIfLost('measuring the student', () => logitsOf(result.model, plan.test, numClasses, cfg.device ?? 'cpu', cfg.threads));
  const metrics = evaluateLogits(studentTest, plan.test.y, teacherTest, numClasses);
  const teacherAcc = teachers.length ? evaluateLogits(ensembleProbabilities(teacherTest, numClasses), plan.test.y, [], numClasses).accuracy : null;

  onEvent({ kind: 'stage', stage: 'save', message: `writing ${o.out}` });
  result.model.metadataProps.push({ key: 'distillery.student', value: template ?? spec }, { key: 'distillery.teachers', value: teachers.map((t) => t.sha256).join(',') });
  await saveModel(result.model, o.out);
  const size = (await stat(o.out)).size;

  const deviceLoss = result.deviceLoss ?? passLoss;
  return {
    device: deviceLoss ? 'cpu' : result.device,
    trainedOn: result.device,
    fallbackReason: deviceLoss?.message ?? result.fallbackReason,
    ...(deviceLoss ? { deviceLoss } : {}),
    workers,
    student: { path: o.out, parameters: parameterCount(result.model), sizeBytes: size, template },
    teacher: { paths: o.teachers, testAccuracy: teacherAcc, parameters: teacherParams },
    metrics: {
      testAccuracy: metrics.accuracy,
      agreement: metrics.agreement,
      kl: metrics.kl,
      samplesPerSecond: result.samplesPerSecond,
      bestEpoch: result.bestEpoch,
      epochs: result.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, valAccuracy: e.accuracy, agreement: e.agreement, kl: e.kl, seconds: e.seconds })),
    },
    data: {
      source: dataset.source,
      fingerprint: dataset.fingerprint,
      classes: dataset.classes,
      train: trainSplit.count,
      validation: plan.validation.count,
      test: plan.test.count,
      labelled,
      testFrom: plan.testFrom,
    },
    config: { ...trainConfig, student: template ?? spec, teachers: o.teachers, data: o.data, unlabeled: o.unlabeled, labelsPerClass: o.labelsPerClass, augment },
  };
}

/** The data-parallel worker count, or a plain error for values and combinations that cannot run. */
function checkWorkers(workers: WorkersRequest, device: DeviceRequest | undefined, featureMatch: boolean): WorkersRequest {
  if (workers === 'auto') return workers;
  if (!Number.isInteger(workers) || workers < 1 || workers > 8) throw new Error(`--workers must be a whole number from 1 to 8 or 'auto', got ${workers}`);
  if (workers === 1) return 1;
  if (device !== undefined && device !== 'cpu' && device !== 'auto') {
    throw new Error(`--workers ${workers} trains on CPU threads only; use --device cpu (or auto), or --workers 1 to train on ${device}`);
  }
  if (featureMatch) throw new Error(`--feature-match trains in one session; use --workers 1 (got ${workers})`);
  return workers;
}

export const cachePathFor = (dataDir: string): string => join(dataDir, 'cache', 'teacher-logits');
