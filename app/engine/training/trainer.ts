// Runs a training loop on ONNX Runtime: one train-step session (forward + loss + backward +
// optimizer) and one forward session for evaluation, both fed the current weights as inputs,
// so no model is re-serialised during training.
import * as ort from 'onnxruntime-node';
import { batchCount, batches } from '../data/batches.js';
import { deriveSeed } from '../data/prng.js';
import { sampleSize, type Split } from '../data/split.js';
import { encodeModel } from '../onnx/codec.js';
import { DataType, type Model } from '../onnx/ir.js';
import { floatData, floatTensor } from '../onnx/tensor.js';
import type { DeviceRequest } from '../runtime/index.js';
import type { Device } from '../runtime/providers.js';
import { TrainSessions, type DeviceLoss } from './train-sessions.js';
import { DataParallel } from './data-parallel.js';
import { probeShapes } from './shape-probe.js';
import { buildTrainLoop, buildTrainStep, cloneModel, type OptimizerConfig, type ParamSlot, type TrainStepGraph } from './train-step.js';
import type { Batch } from '../data/batches.js';
import { learningRate, type LrSchedule } from './schedule.js';
import { evaluateLogits, softTargets, type EvalMetrics } from './metrics.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  temperature: number;
  /** Weight of the distillation term; 1 = teacher only (no labels needed), 0 = labels only. */
  alpha: number;
  seed: number;
  optimizer?: OptimizerConfig;
  schedule?: LrSchedule;
  clipNorm?: number;
  /** Stop when the validation score has not improved for this many epochs. */
  patience?: number;
  device?: DeviceRequest;
  threads?: number;
  /** Save a checkpoint every this many steps (and at every epoch end) when checkpointPath is set. */
  checkpointEvery?: number;
  checkpointPath?: string;
  /** Resume from this checkpoint file. */
  resumeFrom?: string;
  /**
   * Train steps fused into one session.run (an ONNX Loop over K stacked batches; with worker
   * threads, K batches per message to the threads); default 8. 1 = one step per run. Results
   * are the same either way (to float rounding); progress events still come once per step,
   * cancellation and checkpoints are honoured between runs.
   */
  stepsPerRun?: number;
  /** Match a student tensor to teacher features (TrainData.teacherFeatures) through a learned projection. */
  featureMatch?: { studentTensor: string; weight: number };
  /** Use the training graph rewrites (faster pooling, dW by patches); default true. */
  fast?: boolean;
  /**
   * Data-parallel worker threads (CPU only): each batch is split over this many threads with one
   * 1-thread ONNX Runtime session each, and their gradients are summed (same result as one
   * session to float rounding); they get `stepsPerRun` batches per message. Default 1 (one
   * session; the distill service chooses, app/engine/distill/workers.ts): 2 workers make
   * cnn:8,16/32 1.5x faster on 2 cores, mlp:128 slower (its update and copies dominate a short
   * step; docs/BENCHMARKS.md).
   */
  workers?: number;
}

export interface TrainData {
  train: Split;
  validation: Split;
  classes: number;
  /** Teacher logits for every train / validation sample, one array per teacher ([count × classes]). */
  teacherTrain: Float32Array[];
  /** Teacher features for every train sample ([count × size]), for feature matching. */
  teacherFeatures?: { values: Float32Array; size: number };
  teacherValidation: Float32Array[];
}

export interface StepProgress {
  kind: 'step';
  epoch: number;
  step: number;
  totalSteps: number;
  loss: number;
  samplesPerSecond: number;
  etaSeconds: number;
}

export interface EpochRecord extends EvalMetrics {
  epoch: number;
  loss: number;
  lossKd: number;
  lossCe: number;
  seconds: number;
  lr: number;
}

export type TrainEvent =
  | StepProgress
  | ({ kind: 'epoch' } & EpochRecord)
  | { kind: 'info'; message: string }
  /** The GPU failed mid-run; training continues on the CPU from the same weights. */
  | ({ kind: 'fallback'; to: 'cpu' } & DeviceLoss);

export interface TrainResult {
  /** The best student (by validation score) as an inference model. */
  model: Model;
  epochs: EpochRecord[];
  bestEpoch: number;
  /** Where training ended: the CPU after a mid-run fallback. */
  device: Device;
  fallbackReason?: string;
  /** Set when the GPU stopped responding mid-run and training moved to the CPU. */
  deviceLoss?: DeviceLoss;
  samplesPerSecond: number;
  stoppedEarly: boolean;
  steps: number;
}

export class TrainingError extends Error {}
export class TrainingCancelled extends Error {
  constructor() {
    super('training was cancelled');
  }
}

/** A float32 weight set keyed by initializer name. */
export type Weights = Map<string, Float32Array>;

function weightsOf(model: Model, names: string[]): Weights {
  const map: Weights = new Map();
  for (const name of names) {
    const t = model.graph.initializers.find((i) => i.name === name)!;
    map.set(name, Float32Array.from(floatData(t)));
  }
  return map;
}

/** The inference model with the given weights written into its initializers. */
export function withWeights(model: Model, weights: Weights): Model {
  const out = cloneModel(model);
  out.graph.initializers = out.graph.initializers.map((t) => {
    const w = weights.get(t.name);
    return w ? floatTensor(t.name, t.dims, Float32Array.from(w)) : t;
  });
  return out;
}

/** The forward graph with trainable weights as inputs, for evaluation with live weights. */
function forwardWithWeightInputs(student: Model, names: string[]): Model {
  const m = cloneModel(student);
  const set = new Set(names);
  const moved = m.graph.initializers.filter((t) => set.has(t.name));
  m.graph.initializers = m.graph.initializers.filter((t) => !set.has(t.name));
  m.graph.inputs = m.graph.inputs.filter((i) => !set.has(i.name));
  for (const t of moved) m.graph.inputs.push({ name: t.name, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: t.dims } });
  return m;
}

export async function train(
  student: Model,
  data: TrainData,
  config: TrainConfig,
  onEvent: (e: TrainEvent) => void = () => undefined,
  signal?: AbortSignal,
): Promise<TrainResult> {
  const { batchSize } = config;
  if (data.train.count < batchSize) {
    throw new TrainingError(`the training split has ${data.train.count} samples, fewer than one batch of ${batchSize}; lower the batch size`);
  }
  if (data.teacherTrain.length === 0 && config.alpha > 0) throw new TrainingError('distillation (alpha > 0) needs at least one teacher');
  const inputName = student.graph.inputs.find((i) => !student.graph.initializers.some((t) => t.name === i.name))!.name;
  const sampleShape = data.train.sampleShape;
  const trainable = student.graph.initializers.filter((t) => t.dataType === DataType.FLOAT).map((t) => t.name);

  // Static shapes of every forward value at this batch size, read off one real run.
  const probeInput = new ort.Tensor('float32', new Float32Array(batchSize * sampleSize(sampleShape)), [batchSize, ...sampleShape]);
  const shapes = await probeShapes(student, { [inputName]: probeInput });
  const step: TrainStepGraph = buildTrainStep({
    student,
    trainable,
    batchSize,
    optimizer: config.optimizer,
    clipNorm: config.clipNorm,
    inputName,
    fast: config.fast ?? true,
    ...(config.featureMatch
      ? { featureMatch: { studentTensor: config.featureMatch.studentTensor, weight: config.featureMatch.weight, teacherSize: data.teacherFeatures?.size ?? 0, seed: config.seed } }
      : {}),
    shape: (name) => {
      const s = shapes.get(name);
      if (!s) throw new TrainingError(`internal: no shape known for value '${name}'`);
      return s;
    },
  });
  if (step.classes !== data.classes) {
    throw new TrainingError(`the student has ${step.classes} outputs but the data has ${data.classes} classes`);
  }

  if (config.featureMatch && !data.teacherFeatures) throw new TrainingError('feature matching needs the teacher features of every training sample');
  const workers = workerCount(config);
  // Feature matching feeds one more per-step tensor; it runs one step per session.run. Data-parallel
  // threads take stepsPerRun batches per message.
  const stepsPerRun = config.featureMatch ? 1 : (config.stepsPerRun ?? 8);
  if (!Number.isInteger(stepsPerRun) || stepsPerRun < 1) throw new TrainingError(`stepsPerRun must be a whole number >= 1, got ${stepsPerRun}`);
  const loop = stepsPerRun > 1 && workers === 1 ? buildTrainLoop(step) : null;
  const dp = workers > 1
    ? await DataParallel.open({ student, trainable, inputName, sampleShape, batchSize, workers, optimizer: config.optimizer, clipNorm: config.clipNorm, fast: config.fast ?? true })
    : null;
  try {
    const sessions = await TrainSessions.open(
      { train: encodeModel(dp ? dp.apply.model : loop ? loop.model : step.model), eval: encodeModel(forwardWithWeightInputs(student, trainable)) },
      config.device ?? 'cpu',
      config.threads,
    );
    if (dp) onEvent({ kind: 'info', message: `training on ${workers} worker threads (batch slices of ${Math.floor(batchSize / workers)}–${Math.ceil(batchSize / workers)})` });
    // The weights and optimizer state the sessions read and write. In data-parallel mode the threads
    // hold them (the 'train' session is not run) and these slots name them for checkpoints.
    const slots: ParamSlot[] = dp ? dp.apply.params : step.params;
    if (sessions.startFallbackReason) onEvent({ kind: 'info', message: sessions.startFallbackReason });
    const onFallback = (loss: DeviceLoss) => onEvent({ kind: 'fallback', to: 'cpu', ...loss });

    // Live state: weights and optimizer moments as ORT tensors, swapped for the outputs each step.
    let weights = weightsOf(student, trainable);
    const state = new Map<string, ort.Tensor>();
    const tensor = (arr: Float32Array, dims: number[]) => new ort.Tensor('float32', arr, dims);
    let params = new Map<string, ort.Tensor>(slots.map((p) => [p.name, tensor(weights.get(p.name) ?? step.extraParams.get(p.name)!, p.dims)]));
    for (const p of slots) for (const s of p.state) state.set(s.input, tensor(new Float32Array(p.dims.reduce((a, d) => a * d, 1)), p.dims));

    const stepsPerEpoch = batchCount(data.train.count, batchSize, true);
    const totalSteps = stepsPerEpoch * config.epochs;
    let globalStep = 0;
    let startEpoch = 0;
    const epochs: EpochRecord[] = [];
    let best: { score: number; epoch: number; weights: Weights } | null = null;

    if (config.resumeFrom) {
      const ck = await loadCheckpoint(config.resumeFrom);
      // Optimizer state by its name without the graph's prefix: a run on worker threads names it
      // 'apply/…', one session 'train/…', and a resume may choose differently from the first run.
      const bare = (name: string) => name.replace(/^(train|apply)\//, '');
      const savedState = new Map([...ck.state].map(([k, v]) => [bare(k), v]));
      const missing: string[] = [];
      for (const p of slots) {
        const w = ck.weights.get(p.name);
        if (!w || w.length !== params.get(p.name)!.size) throw new TrainingError(`checkpoint ${config.resumeFrom} does not match this student (weight '${p.name}')`);
        params.set(p.name, tensor(w, p.dims));
        for (const s of p.state) {
          const v = savedState.get(bare(s.input));
          if (v && v.length === w.length) state.set(s.input, tensor(v, p.dims));
          else missing.push(bare(s.input));
        }
      }
      if (missing.length) onEvent({ kind: 'info', message: `the checkpoint has no optimizer state for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}; it starts from zero` });
      globalStep = ck.step;
      startEpoch = ck.epoch;
      epochs.push(...(ck.history as EpochRecord[]));
      if (ck.best) best = { score: ck.best.score, epoch: ck.best.epoch, weights: ck.best.weights };
      onEvent({ kind: 'info', message: `resumed from step ${ck.step} (epoch ${ck.epoch + 1})` });
    }

    const opt = config.optimizer ?? { kind: 'adamw', beta1: 0.9, beta2: 0.999 };
    const beta1 = opt.kind === 'adamw' ? opt.beta1 : 0;
    const beta2 = opt.kind === 'adamw' ? opt.beta2 : 0;
    const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);
    const classes = data.classes;
    const started = performance.now();
    let trainedSamples = 0;
    let stoppedEarly = false;
    let lastCheckpointAt = globalStep;

    const snapshot = (): Checkpoint => ({
      step: globalStep,
      epoch: Math.floor(globalStep / stepsPerEpoch),
      weights: new Map([...params].map(([k, t]) => [k, t.data as Float32Array])),
      state: new Map([...state].map(([k, t]) => [k, t.data as Float32Array])),
      history: epochs,
      best: best ?? undefined,
    });

    /** Data-parallel: the threads' weights and optimizer state into params/state. */
    const pullWeights = async (): Promise<void> => {
      if (!dp) return;
      const r = await dp.snapshot();
      params = new Map(slots.map((p) => [p.name, tensor(r.weights.get(p.name)!, p.dims)]));
      for (const p of slots) for (const s of p.state) state.set(s.input, tensor(r.state.get(s.input)!, p.dims));
    };
    await dp?.load({ weights: new Map([...params].map(([k, t]) => [k, t.data as Float32Array])), state: new Map([...state].map(([k, t]) => [k, t.data as Float32Array])) });

    for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let kdSum = 0;
      let ceSum = 0;
      let count = 0;
      let lr = config.lr;
      const skip = globalStep - epoch * stepsPerEpoch; // batches of this epoch already done (resume)
      let index = 0;
      // One session.run per group of up to stepsPerRun batches.
      const runGroup = async (group: Batch[]): Promise<void> => {
        const K = group.length;
        const t0 = globalStep + 1;
        const lrs = group.map((_, i) => learningRate(config.schedule ?? { kind: 'constant' }, config.lr, globalStep + i, totalSteps));
        const bc1 = lrs.map((_, i) => (opt.kind === 'adamw' ? 1 - beta1 ** (t0 + i) : 1));
        const bc2 = lrs.map((_, i) => (opt.kind === 'adamw' ? 1 - beta2 ** (t0 + i) : 1));
        const per = sampleSize(sampleShape);
        const xs = new Float32Array(K * batchSize * per);
        const probs = new Float32Array(K * batchSize * classes);
        const labels = new Float32Array(K * batchSize * classes);
        group.forEach((batch, i) => {
          xs.set(batch.x, i * batchSize * per);
          if (data.teacherTrain.length) probs.set(softTargets(data.teacherTrain, batch.indices, classes, config.temperature), i * batchSize * classes);
          labels.set(oneHot(batch.y, classes), i * batchSize * classes);
        });
        let losses: Float32Array;
        let kds: Float32Array;
        let ces: Float32Array;
        if (dp) {
          // The threads hold the weights; params/state here are refreshed by pullWeights().
          const at = (a: Float32Array, i: number, n: number) => a.subarray(i * batchSize * n, (i + 1) * batchSize * n);
          const slices = group.map((_, i) => ({ x: at(xs, i, per), teacherProbs: at(probs, i, classes), labels: at(labels, i, classes), temperature: config.temperature, alpha: config.alpha }));
          const results = await dp.steps(slices, lrs.map((l, i) => ({ lr: l, bc1: bc1[i]!, bc2: bc2[i]! }))).catch((err: unknown) => {
            // The threads are gone: the last checkpoint written stays the one to resume from.
            throw new TrainingError((err as Error).message, { cause: err });
          });
          // A non-finite loss ends the results (its update and the later batches skipped).
          [losses, kds, ces] = [Float32Array.from(results, (r) => r.loss), Float32Array.from(results, (r) => r.lossKd), Float32Array.from(results, (r) => r.lossCe)];
          if (results.some((r) => !r.applied)) await pullWeights();
        } else {
          const feeds: Record<string, ort.Tensor> = {};
          if (loop) {
            Object.assign(feeds, {
              [loop.feeds.input]: tensor(xs, [K, batchSize, ...sampleShape]),
              [loop.feeds.teacherProbs]: tensor(probs, [K, batchSize, classes]),
              [loop.feeds.labels]: tensor(labels, [K, batchSize, classes]),
              [loop.feeds.lr]: tensor(Float32Array.from(lrs), [K]),
              [loop.feeds.bc1]: tensor(Float32Array.from(bc1), [K]),
              [loop.feeds.bc2]: tensor(Float32Array.from(bc2), [K]),
              [loop.feeds.temperature]: scalar(config.temperature),
              [loop.feeds.alpha]: scalar(config.alpha),
            });
            for (const [k, v] of params) feeds[loop.inputOf.get(k)!] = v;
            for (const [k, v] of state) feeds[loop.inputOf.get(k)!] = v;
          } else {
            Object.assign(feeds, {
              [step.inputName]: tensor(xs, [batchSize, ...sampleShape]),
              [step.feeds.teacherProbs]: tensor(probs, [batchSize, classes]),
              [step.feeds.labels]: tensor(labels, [batchSize, classes]),
              [step.feeds.lr]: scalar(lrs[0]!),
              [step.feeds.temperature]: scalar(config.temperature),
              [step.feeds.alpha]: scalar(config.alpha),
              [step.feeds.bc1]: scalar(bc1[0]!),
              [step.feeds.bc2]: scalar(bc2[0]!),
            });
            for (const [k, v] of params) feeds[k] = v;
            for (const [k, v] of state) feeds[k] = v;
            if (step.teacherFeatures && data.teacherFeatures) {
              const { values, size } = data.teacherFeatures;
              const f = new Float32Array(batchSize * size);
              group[0]!.indices.forEach((row, i) => f.set(values.subarray(row * size, (row + 1) * size), i * size));
              feeds[step.teacherFeatures] = tensor(f, [batchSize, size]);
            }
          }
          const out = await sessions.run('train', feeds, t0, onFallback).catch(async (err: unknown) => {
            // params/state still hold the weights before this run: keep them for a resume.
            if (config.checkpointPath) await saveCheckpoint(config.checkpointPath, snapshot());
            throw err;
          });
          const outputs = loop ? loop.outputs : step.outputs;
          [losses, kds, ces] = [out[outputs.loss]!.data as Float32Array, out[outputs.lossKd]!.data as Float32Array, out[outputs.lossCe]!.data as Float32Array];
          if (losses.every(Number.isFinite)) {
            const nextParams = new Map<string, ort.Tensor>();
            for (const p of slots) {
              nextParams.set(p.name, out[loop ? loop.outputOf.get(p.name)! : p.output]!);
              for (const s of p.state) state.set(s.input, out[loop ? loop.outputOf.get(s.input)! : s.output]!);
            }
            params = nextParams;
          }
        }
        const bad = losses.findIndex((l) => !Number.isFinite(l));
        // Steps whose update stands: all of them, or before a non-finite loss only those the threads
        // applied one by one (one session's run keeps the weights from before the whole run).
        const kept = bad < 0 ? K : dp ? bad : 0;
        for (let i = 0; i < kept; i++) {
          lossSum += losses[i]!;
          kdSum += kds[i]!;
          ceSum += ces[i]!;
          count++;
          globalStep++;
          trainedSamples += batchSize;
          const elapsed = (performance.now() - started) / 1000;
          const sps = trainedSamples / Math.max(elapsed, 1e-9);
          onEvent({ kind: 'step', epoch, step: globalStep, totalSteps, loss: losses[i]!, samplesPerSecond: sps, etaSeconds: ((totalSteps - globalStep) * batchSize) / sps });
        }
        if (bad >= 0) {
          // params/state (pulled from the threads) hold the weights after the last kept step: that is what the checkpoint keeps.
          if (config.checkpointPath) await saveCheckpoint(config.checkpointPath, snapshot());
          throw new TrainingError(
            `the loss became ${losses[bad]} at step ${t0 + bad} (epoch ${epoch + 1}); training stopped. Try a lower learning rate (now ${lrs[bad]}) or gradient clipping.` +
              (config.checkpointPath ? ' The last good weights are in the checkpoint.' : ''),
          );
        }
        lr = lrs[K - 1]!;
        if (config.checkpointPath && config.checkpointEvery && globalStep - lastCheckpointAt >= config.checkpointEvery) {
          await pullWeights();
          await saveCheckpoint(config.checkpointPath, snapshot());
          lastCheckpointAt = globalStep;
        }
      };
      let group: Batch[] = [];
      for (const batch of batches(data.train, batchSize, { shuffle: true, seed: deriveSeed(config.seed, `epoch${epoch}`), dropLast: true })) {
        if (index++ < skip) continue;
        if (signal?.aborted) {
          if (config.checkpointPath) await pullWeights().then(() => saveCheckpoint(config.checkpointPath!, snapshot()));
          throw new TrainingCancelled();
        }
        group.push(batch);
        if (group.length === stepsPerRun) {
          await runGroup(group);
          group = [];
        }
      }
      if (group.length) {
        if (signal?.aborted) {
          if (config.checkpointPath) await pullWeights().then(() => saveCheckpoint(config.checkpointPath!, snapshot()));
          throw new TrainingCancelled();
        }
        await runGroup(group);
      }

      await pullWeights();
      weights = new Map([...params].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
      const metrics = await evaluate((feeds) => sessions.run('eval', feeds, globalStep, onFallback), inputName, student.graph.outputs[0]!.name, weights, { params: slots, extraParams: step.extraParams }, data.validation, data.teacherValidation, classes);
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: lossSum / Math.max(count, 1),
        lossKd: kdSum / Math.max(count, 1),
        lossCe: ceSum / Math.max(count, 1),
        seconds: (performance.now() - epochStart) / 1000,
        lr,
        ...metrics,
      };
      epochs.push(record);
      onEvent({ kind: 'epoch', ...record });
      // Score: accuracy where the validation split has labels, else agreement with the teacher.
      const score = metrics.accuracy ?? metrics.agreement ?? -metrics.kl!;
      if (!best || score > best.score) best = { score, epoch: epoch + 1, weights };
      if (config.checkpointPath) {
        await saveCheckpoint(config.checkpointPath, snapshot());
        lastCheckpointAt = globalStep;
      }
      if (config.patience !== undefined && epoch + 1 - best.epoch >= config.patience && epoch + 1 < config.epochs) {
        stoppedEarly = true;
        onEvent({ kind: 'info', message: `stopping early: no improvement for ${config.patience} epochs` });
        break;
      }
    }

    await sessions.release();
    const elapsed = (performance.now() - started) / 1000;
    return {
      model: withWeights(student, best!.weights),
      epochs,
      bestEpoch: best!.epoch,
      device: sessions.device,
      fallbackReason: sessions.loss?.message ?? sessions.startFallbackReason,
      ...(sessions.loss ? { deviceLoss: sessions.loss } : {}),
      samplesPerSecond: trainedSamples / Math.max(elapsed, 1e-9),
      stoppedEarly,
      steps: globalStep,
    };
  } finally {
    await dp?.close();
  }
}

/** Data-parallel worker threads for this run (see TrainConfig.workers); refuses combinations that cannot work. */
function workerCount(config: TrainConfig): number {
  const cpu = (config.device ?? 'cpu') === 'cpu';
  const n = config.workers ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new TrainingError(`workers must be a whole number >= 1, got ${n}`);
  if (n > 1 && !cpu) throw new TrainingError(`data-parallel training (workers ${n}) runs on the CPU only; choose device 'cpu' or workers 1`);
  if (n > 1 && config.featureMatch) throw new TrainingError(`feature matching runs in one session; set workers to 1 (got ${n})`);
  if (n > config.batchSize) throw new TrainingError(`a batch of ${config.batchSize} cannot be split over ${n} workers; lower workers or raise the batch size`);
  return n;
}

function oneHot(y: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(y.length * classes);
  for (let i = 0; i < y.length; i++) if (y[i]! >= 0) out[i * classes + y[i]!] = 1;
  return out;
}

async function evaluate(
  run: (feeds: Record<string, ort.Tensor>) => Promise<ort.InferenceSession.ReturnType>,
  inputName: string,
  outputName: string,
  weights: Weights,
  step: Pick<TrainStepGraph, 'params' | 'extraParams'>,
  split: Split,
  teacher: Float32Array[],
  classes: number,
): Promise<EvalMetrics> {
  const logits = new Float32Array(split.count * classes);
  const feedsBase: Record<string, ort.Tensor> = {};
  // Only the student's own weights: trained extras (the feature projection) are not inputs here.
  for (const p of step.params) if (!step.extraParams.has(p.name)) feedsBase[p.name] = new ort.Tensor('float32', weights.get(p.name)!, p.dims);
  const evalBatch = 256;
  for (const batch of batches(split, evalBatch)) {
    const out = await run({ ...feedsBase, [inputName]: new ort.Tensor('float32', batch.x, [batch.size, ...split.sampleShape]) });
    logits.set(out[outputName]!.data as Float32Array, batch.indices[0]! * classes);
  }
  return evaluateLogits(logits, split.y, teacher, classes);
}
