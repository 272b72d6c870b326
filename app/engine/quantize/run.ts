// One quantization run as the CLI and the job both do it: read data, quantize by the chosen
// method, save, then measure accuracy, agreement and latency against the float model and say
// plainly what was gained (or lost).
import { stat } from 'node:fs/promises';
import { saveModel } from '../onnx/io.js';
import { opsetVersion, type Model } from '../onnx/ir.js';
import { assertNotQuantized, QuantizeError, weightedNodes, type LayerReport } from './common.js';
import { quantizeDynamic } from './dynamic.js';
import { quantizeStatic } from './static.js';
import { quantizeInt4 } from './int4.js';
import { convertFp16 } from './fp16.js';
import type { CalibrationMethod } from './calibrate.js';
import { quantizeAuto, type AutoCandidate } from './auto.js';
import { calibrationBatches, compareLogits, dropPoints, headOf, loadDataForModel, modelLogits, quickLatency, sliceOf, type DataForModel, type EvalSet } from './evaluate.js';
import { quantizeMixed, type MixedObjective, type MixedResult } from './mixed.js';
import { firstConvHasFewChannels } from './pad-first-conv.js';

export const QUANTIZE_METHOD_NAMES = ['dynamic', 'static', 'int4', 'fp16', 'mixed', 'auto'] as const;
export type QuantizeMethodName = (typeof QUANTIZE_METHOD_NAMES)[number];

/** Lowest default-domain opset each method can work from (static raises 7..12 to 13 when safe). */
const MIN_OPSET: Record<QuantizeMethodName, number> = { dynamic: 11, static: 7, int4: 11, fp16: 7, mixed: 11, auto: 11 };

export interface QuantizeRunOptions {
  method: QuantizeMethodName;
  out: string;
  /** Calibration data (static, mixed, auto): its train split is used. */
  calib?: string;
  /** Evaluation data: accuracy before/after on its test split. */
  eval?: string;
  /** Largest accepted accuracy drop in points (mixed, auto). Default 1. */
  maxAccuracyDrop?: number;
  /** mixed: the smallest ('size', default) or the fastest ('latency': int8 / float32 layers only) plan within the budget. */
  objective?: MixedObjective;
  /** Per-channel weight scales: dynamic off unless true; static on unless false. */
  perChannel?: boolean;
  calibration?: CalibrationMethod;
  calibSamples?: number;
  blockSize?: number;
  symmetric?: boolean;
  /** int4: leave Conv layers float (only MatMul/Gemm become int4). */
  keepConvFloat?: boolean;
  normalize?: { mean: number; std: number };
  limit?: number;
  /** Threads for the latency figures. Default 1. */
  threads?: number;
}

/** Refuses, with the reason and the fix, models the method cannot work on. */
export function checkQuantizable(model: Model, modelPath: string, method: QuantizeMethodName): void {
  const v = opsetVersion(model, '') ?? 1;
  if (v < MIN_OPSET[method]) {
    throw new QuantizeError(
      `${modelPath} imports ONNX opset ${v}, which ${method} quantization does not support (needs ${MIN_OPSET[method]} or newer); re-export the model with opset 13 or newer (e.g. torch.onnx.export(..., opset_version=17))`,
    );
  }
  try {
    assertNotQuantized(model);
  } catch (e) {
    throw new QuantizeError(`${modelPath}: ${(e as Error).message}`);
  }
  if (method !== 'fp16' && weightedNodes(model).length === 0) {
    throw new QuantizeError(`${modelPath}: nothing to quantize: the model has no Conv, MatMul or Gemm with constant weights`);
  }
}

export interface QuantizeReport {
  method: string;
  output: string;
  sizeBytes: { before: number; after: number };
  accuracy: { before: number | null; after: number | null } | null;
  agreement: number | null;
  sqnr: number | null;
  latencyMs: { before: number | null; after: number | null };
  layers: Array<{ name: string; op: string; precision: string; note?: string }>;
  verdict: string;
  recommendation?: 'use-quantized' | 'keep-float';
  chosen?: string;
  candidates?: Array<Omit<AutoCandidate, 'layers'>>;
  mixed?: { maxAccuracyDrop: number; objective: MixedObjective; budgetMet: boolean; layers: MixedResult['layers']; path: Array<Omit<MixedResult['path'][number], 'plan'> & { plan: Record<string, string> }> };
  data?: { calibration: string | null; calibrationSamples: number; evaluation: string | null; evaluationSamples: number; agreementOn: 'evaluation' | 'calibration' | null };
}

/** Random inputs shaped like the model's input when no data was given (latency only). */
function syntheticSet(model: Model): EvalSet | null {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) return null;
  const t = inputs[0]!.type;
  if (t?.kind !== 'tensor' || !t.shape || t.shape.length < 1) return null;
  const sample = t.shape.slice(1);
  if (!sample.every((d): d is number => typeof d === 'number' && d > 0)) return null;
  const size = sample.reduce((a, d) => a * d, 1);
  const x = new Float32Array(4 * size);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = s / 4294967296;
  }
  return { inputName: inputs[0]!.name, x, y: null, count: 4, sampleShape: sample };
}

/** Everything `distillery quantize` and the quantize job do: quantize, save, measure, explain. */
export async function runQuantize(model: Model, modelPath: string, options: QuantizeRunOptions, stage: (m: string) => void = () => undefined): Promise<QuantizeReport> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && v !== null)) as Partial<QuantizeRunOptions>;
  const o = { calibration: 'minmax' as CalibrationMethod, calibSamples: 512, blockSize: 32, threads: 1, maxAccuracyDrop: 1, ...given } as QuantizeRunOptions &
    Required<Pick<QuantizeRunOptions, 'calibration' | 'calibSamples' | 'blockSize' | 'threads' | 'maxAccuracyDrop'>>;
  const method = o.method;
  const loadOpts = { ...(o.limit !== undefined ? { limit: o.limit as number } : {}), ...(o.normalize ? { normalize: o.normalize } : {}) };
  let calibData: DataForModel | null = null;
  let evalData: DataForModel | null = null;
  if (o.calib) {
    stage(`reading calibration data ${o.calib}`);
    calibData = await loadDataForModel(model, o.calib, loadOpts).catch((e) => {
      throw new QuantizeError(`--calib: ${(e as Error).message}`);
    });
  }
  if (o.eval) {
    stage(`reading evaluation data ${o.eval}`);
    evalData = o.eval === o.calib && calibData ? calibData : await loadDataForModel(model, o.eval, loadOpts).catch((e) => {
      throw new QuantizeError(`--eval: ${(e as Error).message}`);
    });
  }
  const calibSamples = Math.min(o.calibSamples as number, calibData?.train.count ?? 0);
  const calibSet = calibData ? headOf(calibData.train, calibSamples) : null;
  const calibration = calibSet ? calibrationBatches(calibSet, 64) : undefined;
  const evalSet = evalData?.test ?? null;
  const budget = o.maxAccuracyDrop as number;
  // Samples the mixed search decides on: train samples after the calibration ones when labelled.
  const selection = (() => {
    if (calibData && calibData.train.y && calibData.train.count - calibSamples >= 200) return sliceOf(calibData.train, calibSamples, calibSamples + 2000);
    return evalSet ?? calibSet;
  })();

  let result: { model: Model; layers: LayerReport[] };
  let extra: Partial<QuantizeReport> = {};
  stage(`quantizing (${method})`);
  const perChannelStatic = o.perChannel !== false;
  switch (method) {
    case 'dynamic':
      result = quantizeDynamic(model, { perChannel: o.perChannel === true });
      break;
    case 'static':
      // A first Conv over the raw image (≤ 4 channels) stays float: in int8 it made the whole
      // model slower than float at batch 64 with 2 threads (docs/BENCHMARKS.md).
      result = await quantizeStatic(model, calibration!, { method: o.calibration as CalibrationMethod, perChannel: perChannelStatic, firstConvFloat: firstConvHasFewChannels(model) });
      break;
    case 'int4':
      result = quantizeInt4(model, { blockSize: o.blockSize, symmetric: o.symmetric === true, keepConvFloat: o.keepConvFloat === true });
      break;
    case 'fp16':
      result = convertFp16(model);
      break;
    case 'mixed': {
      if (!selection) throw new QuantizeError('mixed precision needs labelled data to measure sensitivity: add --calib DATASET or --eval DATASET');
      const r = await quantizeMixed(model, selection, {
        maxAccuracyDrop: budget,
        objective: o.objective ?? 'size',
        calibration: calibration!,
        int8Mode: 'static',
        padFirstConv: true,
        static: { method: o.calibration as CalibrationMethod, perChannel: perChannelStatic },
        int4: { blockSize: o.blockSize, symmetric: o.symmetric === true },
        onStep: (s) => stage(`mixed: ${s.changed ? `${s.changed.layer} ${s.changed.from} → ${s.changed.to}` : 'all layers at their lowest precision'}: ${(s.sizeBytes / 1024).toFixed(0)} KB, drop ${s.accuracyDrop.toFixed(2)} points`),
      });
      result = { model: r.model, layers: r.reportLayers };
      extra = {
        mixed: {
          maxAccuracyDrop: budget,
          objective: o.objective ?? 'size',
          budgetMet: r.budgetMet,
          layers: r.layers,
          path: r.path.map((p) => ({ ...p })),
        },
      };
      break;
    }
    case 'auto': {
      const set = evalSet ?? selection!;
      const r = await quantizeAuto(model, {
        maxAccuracyDrop: budget,
        ...(calibration ? { calibration } : {}),
        evalSet: set,
        ...(selection && selection !== set ? { selectionSet: selection } : {}),
        int4: { blockSize: o.blockSize, symmetric: o.symmetric === true },
        threads: o.threads,
        onProgress: stage,
      });
      result = { model: r.model, layers: r.chosen.layers };
      extra = {
        recommendation: r.recommendation,
        chosen: r.chosen.id,
        verdict: r.verdict,
        candidates: r.candidates.map(({ layers: _l, ...c }) => c),
      };
      break;
    }
  }

  stage(`writing ${o.out}`);
  await saveModel(result.model, o.out);
  const before = (await stat(modelPath)).size;
  const after = (await stat(o.out)).size;

  // Accuracy, agreement (evaluation data, else calibration data) and batch-1 latency.
  stage('measuring');
  const agreementSet = evalSet ?? calibSet;
  let accuracy: QuantizeReport['accuracy'] = null;
  let agreement: number | null = null;
  let sqnrDb: number | null = null;
  let drop: number | null = null;
  if (agreementSet) {
    const ref = await modelLogits(model, agreementSet);
    const q = await modelLogits(result.model, agreementSet);
    const c = compareLogits(ref.logits, q.logits, ref.classes, agreementSet.y);
    agreement = c.agreement;
    sqnrDb = Number.isFinite(c.sqnr) ? c.sqnr : null;
    if (evalSet && evalSet.y) {
      const refAcc = compareLogits(ref.logits, ref.logits, ref.classes, evalSet.y).accuracy;
      accuracy = { before: refAcc, after: c.accuracy };
      drop = dropPoints(refAcc, c);
    }
  }
  const timingSet = agreementSet ?? syntheticSet(model);
  let latency: QuantizeReport['latencyMs'] = { before: null, after: null };
  if (timingSet) {
    const threads = o.threads as number;
    const lb: number[] = [];
    const la: number[] = [];
    for (let r = 0; r < 2; r++) {
      lb.push((await quickLatency(model, timingSet, [1], { threads, seconds: 0.5 }))[1]!);
      la.push((await quickLatency(result.model, timingSet, [1], { threads, seconds: 0.5 }))[1]!);
    }
    latency = { before: Math.min(...lb), after: Math.min(...la) };
  }
  const verdict = extra.verdict ?? plainVerdict(method, before, after, latency, drop, budget);
  return {
    method,
    output: o.out,
    sizeBytes: { before, after },
    accuracy,
    agreement,
    sqnr: sqnrDb,
    latencyMs: latency,
    layers: result.layers.map((l) => ({ name: l.name, op: l.op, precision: l.precision, ...(l.note ? { note: l.note } : {}) })),
    verdict,
    ...extra,
    data: {
      calibration: o.calib ?? null,
      calibrationSamples: calibSet?.count ?? 0,
      evaluation: o.eval ?? null,
      evaluationSamples: evalSet?.count ?? 0,
      agreementOn: evalSet ? 'evaluation' : calibSet ? 'calibration' : null,
    },
  };
}

function plainVerdict(method: QuantizeMethodName, before: number, after: number, lat: QuantizeReport['latencyMs'], drop: number | null, budget: number): string {
  const parts: string[] = [];
  parts.push(`${(before / after).toFixed(2)}x smaller`);
  if (lat.before !== null && lat.after !== null) {
    const r = lat.before / lat.after;
    parts.push(r >= 1 ? `${r.toFixed(2)}x faster at batch 1` : `SLOWER than the float model at batch 1 (${(1 / r).toFixed(2)}x its latency)`);
  }
  if (drop !== null) parts.push(`accuracy ${drop >= 0 ? '-' : '+'}${Math.abs(drop).toFixed(2)} points`);
  let s = `${method}: ${parts.join(', ')}.`;
  if (lat.before !== null && lat.after !== null && lat.after > lat.before) s += ' Keep the float model if speed matters.';
  if ((method === 'mixed') && drop !== null && drop > budget) s += ` The ${budget}-point budget was met on the selection data but not on the evaluation data.`;
  return s;
}

