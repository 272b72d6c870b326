// Measuring a compressed model against its float original: logits over a data set (accuracy,
// top-1 agreement, SQNR of the logits) and a quick latency figure (median of timed runs, one
// session at a time, spinning off). Used by the sensitivity analysis, mixed precision and auto.
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../onnx/codec.js';
import { DataType, type Model } from '../onnx/ir.js';
import { checkAgainstModelInput, loadDataset, makeTestSplit, type Normalize, type Split } from '../data/index.js';
import { classifierInfo } from '../distill/teacher.js';
import { createSession } from '../runtime/session.js';
import { QuantizeError } from './common.js';
import type { CalibrationBatch } from './calibrate.js';
import { accuracy, agreement, sqnr } from './metrics.js';

/** Samples ready to feed one model input: x is [count, ...sampleShape] row-major. */
export interface EvalSet {
  inputName: string;
  x: Float32Array;
  /** Class per sample, or null when unlabelled (then only agreement/SQNR are measured). */
  y: Int32Array | null;
  count: number;
  /** Per-sample shape as the model takes it (batch excluded). */
  sampleShape: number[];
}

export interface EvalOptions {
  threads?: number;
  batchSize?: number;
}

function sampleSize(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** The first `n` samples of an eval set (or all of it). */
export function headOf(set: EvalSet, n: number): EvalSet {
  if (n >= set.count) return set;
  const size = sampleSize(set.sampleShape);
  return { ...set, x: set.x.subarray(0, n * size), y: set.y ? set.y.subarray(0, n) : null, count: n };
}

/** Samples [from, to) of an eval set. */
export function sliceOf(set: EvalSet, from: number, to: number): EvalSet {
  const size = sampleSize(set.sampleShape);
  const a = Math.max(0, Math.min(from, set.count));
  const b = Math.max(a, Math.min(to, set.count));
  return { ...set, x: set.x.subarray(a * size, b * size), y: set.y ? set.y.subarray(a, b) : null, count: b - a };
}

/** Calibration batches (a re-iterable source) over an eval set. */
export function calibrationBatches(set: EvalSet, batchSize = 64): () => Iterable<CalibrationBatch> {
  const size = sampleSize(set.sampleShape);
  return function* () {
    for (let s = 0; s < set.count; s += batchSize) {
      const n = Math.min(batchSize, set.count - s);
      yield { [set.inputName]: { data: set.x.slice(s * size, (s + n) * size), dims: [n, ...set.sampleShape] } };
    }
  };
}

/** Logits [count, classes] of a model over an eval set (CPU, batches of `batchSize`). */
export async function modelLogits(model: Model | Uint8Array, set: EvalSet, options: EvalOptions = {}): Promise<{ logits: Float32Array; classes: number }> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const { session } = await createSession(bytes, {
    device: 'cpu',
    threads: options.threads ?? 1,
  });
  try {
    const size = sampleSize(set.sampleShape);
    const bs = options.batchSize ?? 256;
    const outName = session.outputNames[0]!;
    let logits: Float32Array | null = null;
    let classes = 0;
    for (let s = 0; s < set.count; s += bs) {
      const n = Math.min(bs, set.count - s);
      const x = new ort.Tensor('float32', set.x.subarray(s * size, (s + n) * size), [n, ...set.sampleShape]);
      const out = (await session.run({ [set.inputName]: x }))[outName]!;
      const data = out.data as Float32Array;
      if (!logits) {
        classes = data.length / n;
        logits = new Float32Array(set.count * classes);
      }
      logits.set(data, s * classes);
    }
    if (!logits) throw new QuantizeError('evaluation data is empty');
    return { logits, classes };
  } finally {
    await session.release();
  }
}

export interface Comparison {
  /** Accuracy of the test model (null without labels). */
  accuracy: number | null;
  /** Top-1 agreement with the reference logits. */
  agreement: number;
  /** SQNR (dB) of the test logits against the reference logits. */
  sqnr: number;
}

export function compareLogits(ref: Float32Array, test: Float32Array, classes: number, labels: Int32Array | null): Comparison {
  return {
    accuracy: labels ? accuracy(test, labels, classes) : null,
    agreement: agreement(ref, test, classes),
    sqnr: sqnr(ref, test),
  };
}

/** Accuracy drop in points (percentage points); falls back to disagreement when unlabelled. */
export function dropPoints(refAccuracy: number | null, c: Comparison): number {
  if (refAccuracy !== null && c.accuracy !== null) return (refAccuracy - c.accuracy) * 100;
  return (1 - c.agreement) * 100;
}

export interface QuickLatencyOptions {
  threads?: number;
  /** Timed runs (default: as many as fit in `seconds`, at least 10). */
  seconds?: number;
  warmup?: number;
  /** Let idle intra-op threads spin (ORT's own default; off by default here: see SessionSettings.spinning). */
  spinning?: boolean;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Median latency (ms) of one model at each batch size: one session, spinning off, warm-up, then
 * timed runs for about `seconds` per batch size (at least 10 runs).
 */
export async function quickLatency(model: Model | Uint8Array, set: EvalSet, batchSizes: number[], options: QuickLatencyOptions = {}): Promise<Record<number, number>> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const { session } = await createSession(bytes, {
    device: 'cpu',
    threads: options.threads ?? 1,
    spinning: options.spinning ?? false,
  });
  const size = sampleSize(set.sampleShape);
  const out: Record<number, number> = {};
  try {
    for (const b of batchSizes) {
      const data = new Float32Array(b * size);
      for (let i = 0; i < b; i++) {
        const src = i % Math.max(1, set.count);
        data.set(set.x.subarray(src * size, (src + 1) * size), i * size);
      }
      const feeds = { [set.inputName]: new ort.Tensor('float32', data, [b, ...set.sampleShape]) };
      for (let i = 0; i < (options.warmup ?? 5); i++) await session.run(feeds);
      const times: number[] = [];
      const end = performance.now() + (options.seconds ?? 0.5) * 1000;
      while (times.length < 10 || performance.now() < end) {
        const t0 = performance.now();
        await session.run(feeds);
        times.push(performance.now() - t0);
        if (times.length >= 5000) break;
      }
      out[b] = median(times);
    }
  } finally {
    await session.release();
  }
  return out;
}

export interface DataForModel {
  /** Calibration / selection samples (the dataset's train split). */
  train: EvalSet;
  /** Reported figures (the dataset's own test split, or a seeded hold-out). */
  test: EvalSet;
  classes: number;
  source: string;
  testFrom: 'dataset' | 'seeded';
}

/**
 * Loads a DATASET for a classifier model: checks that its samples fit the model input (names the
 * input and both shapes when not) and returns train and test sets shaped for the model.
 */
export async function loadDataForModel(
  model: Model,
  path: string,
  options: { limit?: number; normalize?: Normalize; seed?: number; labelColumn?: string } = {},
): Promise<DataForModel> {
  const info = classifierInfo(path, new Uint8Array(0), model);
  const dataset = await loadDataset(path, {
    numClasses: info.classes,
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.normalize ? { normalize: options.normalize } : {}),
    ...(options.labelColumn ? { labelColumn: options.labelColumn } : {}),
  });
  const input = model.graph.inputs.find((i) => i.name === info.inputName)!;
  const elem = input.type?.kind === 'tensor' ? input.type.elemType : undefined;
  let fit;
  try {
    fit = checkAgainstModelInput(dataset, info.inputShape, { inputName: info.inputName, ...(elem !== undefined && elem !== DataType.FLOAT ? { elementType: `type ${elem}` } : {}) });
  } catch (e) {
    throw new QuantizeError(`data ${path} does not fit the model: ${(e as Error).message}`);
  }
  const plan = dataset.test ? { train: dataset.train, test: dataset.test, testFrom: 'dataset' as const } : (() => {
    const p = makeTestSplit(dataset.train, 0.2, options.seed ?? 1);
    return { train: p.train, test: p.test, testFrom: 'seeded' as const };
  })();
  const toSet = (s: Split): EvalSet => ({
    inputName: info.inputName,
    x: s.x,
    y: s.y.some((v) => v < 0) ? null : s.y,
    count: s.count,
    sampleShape: fit.modelSampleShape,
  });
  return { train: toSet(plan.train), test: toSet(plan.test), classes: info.classes, source: path, testFrom: plan.testFrom };
}
