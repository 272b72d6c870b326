// Automatic choice of a quantization method: build every applicable variant, measure it against
// the float model on this machine (accuracy / agreement on evaluation data, latency at batch 1
// and 32 with one session at a time and spinning off), and pick the fastest within the accuracy
// budget (smaller size breaks near-ties). When every variant within budget is slower than the
// float model the result says so and recommends keeping float.
import type { Model } from '../onnx/ir.js';
import type { CalibrationMethod, CalibrationSource } from './calibrate.js';
import { modelBytes, QuantizeError, weightedNodes, type LayerReport } from './common.js';
import { quantizeDynamic } from './dynamic.js';
import { compareLogits, dropPoints, modelLogits, quickLatency, type EvalSet } from './evaluate.js';
import { convertFp16 } from './fp16.js';
import { quantizeInt4 } from './int4.js';
import { quantizeMixed, weightedLayers, nameWeightedNodes } from './mixed.js';
import { padFirstConvChannels } from './pad-first-conv.js';
import { quantizeStatic } from './static.js';

export interface AutoOptions {
  /** Largest accepted accuracy drop in points (default 1). */
  maxAccuracyDrop?: number;
  /** Needed for static int8 and mixed precision. */
  calibration?: CalibrationSource;
  /** Reported accuracy / agreement / latency inputs. */
  evalSet: EvalSet;
  /** Data the mixed-precision search decides on (default: evalSet). */
  selectionSet?: EvalSet;
  /** Calibration methods to try for static int8 (default minmax and percentile). */
  calibrationMethods?: CalibrationMethod[];
  int4?: { blockSize?: number; symmetric?: boolean };
  /** Threads for the latency runs (default 1). */
  threads?: number;
  /** Batch sizes timed (default [1, 32]). */
  batchSizes?: number[];
  /** Seconds of timed runs per model, batch size and round (default 0.4). */
  seconds?: number;
  /** Timing rounds over all models (best median kept; default 2). */
  rounds?: number;
  /** Skip some candidates by id. */
  skip?: string[];
  onProgress?: (message: string) => void;
}

export interface AutoCandidate {
  id: string;
  label: string;
  method: 'dynamic' | 'static' | 'int4' | 'fp16' | 'mixed';
  sizeBytes: number;
  accuracy: number | null;
  /** Points (or disagreement points without labels). */
  accuracyDrop: number;
  agreement: number;
  sqnr: number;
  /** Median ms per batch size. */
  latencyMs: Record<number, number>;
  /** float latency / this latency per batch size (> 1: faster). */
  speedup: Record<number, number>;
  withinBudget: boolean;
  note?: string;
  layers: LayerReport[];
}

export interface AutoResult {
  model: Model;
  chosen: AutoCandidate;
  float: { sizeBytes: number; accuracy: number | null; latencyMs: Record<number, number> };
  candidates: AutoCandidate[];
  failed: Array<{ id: string; error: string }>;
  recommendation: 'use-quantized' | 'keep-float';
  verdict: string;
}

interface Built {
  id: string;
  label: string;
  method: AutoCandidate['method'];
  model: Model;
  layers: LayerReport[];
  note?: string;
}

const geo = (v: number[]): number => Math.exp(v.reduce((a, x) => a + Math.log(x), 0) / v.length);

/** Share of weighted parameters held by MatMul/Gemm and embedding tables (int4 is tried when ≥ 0.5). */
export function matmulShare(model: Model): number {
  const layers = weightedLayers(nameWeightedNodes(model));
  const total = layers.reduce((a, l) => a + l.params, 0);
  const mm = layers.filter((l) => l.op !== 'Conv').reduce((a, l) => a + l.params, 0);
  return total === 0 ? 0 : mm / total;
}

export async function quantizeAuto(model: Model, options: AutoOptions): Promise<AutoResult> {
  if (weightedNodes(model).length === 0) throw new QuantizeError('nothing to quantize: no MatMul/Gemm/Conv with constant weights found in the model');
  const budget = options.maxAccuracyDrop ?? 1;
  const batchSizes = options.batchSizes ?? [1, 32];
  const threads = options.threads ?? 1;
  const say = options.onProgress ?? (() => {});
  const skip = new Set(options.skip ?? []);
  const hasConv = weightedNodes(model).some((n) => n.opType === 'Conv');
  const hasMatMul = weightedNodes(model).some((n) => n.opType !== 'Conv');
  const cal = options.calibration;
  const built: Built[] = [];
  const failed: AutoResult['failed'] = [];
  const attempt = async (id: string, label: string, method: Built['method'], f: () => Promise<Omit<Built, 'id' | 'label' | 'method'>>): Promise<void> => {
    if (skip.has(id)) return;
    say(`building ${label}`);
    try {
      built.push({ id, label, method, ...(await f()) });
    } catch (e) {
      failed.push({ id, error: (e as Error).message });
    }
  };

  if (hasMatMul) await attempt('dynamic', 'int8 dynamic', 'dynamic', async () => quantizeDynamic(model));
  if (cal) {
    for (const method of options.calibrationMethods ?? (['minmax', 'percentile'] as CalibrationMethod[])) {
      await attempt(`static-${method}`, `int8 static (${method})`, 'static', async () => quantizeStatic(model, cal, { method }));
    }
    if (hasConv) {
      const padded = padFirstConvChannels(model, 4);
      if (padded.conv) {
        await attempt('static-padded', `int8 static (minmax), first conv padded ${padded.channelsBefore}→4 channels`, 'static', async () => ({
          ...(await quantizeStatic(padded.model, cal, { method: 'minmax' })),
          note: `first Conv '${padded.conv}' input channels zero-padded ${padded.channelsBefore} → 4 (exact)`,
        }));
        await attempt('static-first-float', 'int8 static (minmax), first conv float', 'static', async () => ({
          ...(await quantizeStatic(model, cal, { method: 'minmax', firstConvFloat: true })),
          note: 'first Conv (and its pool) float, the rest int8',
        }));
      }
    }
  }
  if (hasMatMul && matmulShare(model) >= 0.5) {
    const bs = options.int4?.blockSize ?? 32;
    // Convs stay float: auto ranks by speed, and int4 Conv weights only shrink the file (their
    // DequantizeLinear keeps ORT off its fast Conv kernels; docs/BENCHMARKS.md).
    await attempt('int4', `int4 MatMul/Gemm weights and embedding tables (block ${bs})`, 'int4', async () => quantizeInt4(model, { blockSize: bs, symmetric: options.int4?.symmetric ?? false, keepConvFloat: true }));
  }
  await attempt('fp16', 'float16', 'fp16', async () => convertFp16(model));
  await attempt('mixed', 'mixed precision', 'mixed', async () => {
    const r = await quantizeMixed(model, options.selectionSet ?? options.evalSet, {
      maxAccuracyDrop: budget,
      ...(cal ? { calibration: cal, int8Mode: 'static' as const, padFirstConv: true } : { int8Mode: 'dynamic' as const }),
      ...(options.int4 ? { int4: options.int4 } : {}),
    });
    return { model: r.model, layers: r.reportLayers, note: `per-layer: ${r.layers.map((l) => `${l.name}=${l.precision}`).join(', ')}` };
  });
  if (built.length === 0) throw new QuantizeError(`no quantization method worked on this model: ${failed.map((f) => `${f.id}: ${f.error}`).join('; ')}`);

  // Accuracy and agreement against the float model.
  say('evaluating accuracy');
  const set = options.evalSet;
  const ref = await modelLogits(model, set);
  const refAcc = set.y ? compareLogits(ref.logits, ref.logits, ref.classes, set.y).accuracy : null;
  const quality = new Map<string, { accuracy: number | null; accuracyDrop: number; agreement: number; sqnr: number }>();
  for (const b of built) {
    const { logits } = await modelLogits(b.model, set);
    const c = compareLogits(ref.logits, logits, ref.classes, set.y);
    quality.set(b.id, { accuracy: c.accuracy, agreement: c.agreement, sqnr: c.sqnr, accuracyDrop: dropPoints(refAcc, c) });
  }

  // Latency: all models, one session at a time, a few rounds; the best median per model counts.
  const timed: Array<{ id: string; model: Model }> = [{ id: '__float', model }, ...built.map((b) => ({ id: b.id, model: b.model }))];
  const lat = new Map<string, Record<number, number>>();
  for (let r = 0; r < (options.rounds ?? 2); r++) {
    for (const t of timed) {
      say(`timing ${t.id === '__float' ? 'float32' : t.id} (round ${r + 1})`);
      const m = await quickLatency(t.model, set, batchSizes, { threads, seconds: options.seconds ?? 0.4 });
      const prev = lat.get(t.id);
      lat.set(t.id, prev ? Object.fromEntries(batchSizes.map((b) => [b, Math.min(prev[b]!, m[b]!)])) : m);
    }
  }
  const floatLat = lat.get('__float')!;
  const candidates: AutoCandidate[] = built.map((b) => {
    const q = quality.get(b.id)!;
    const l = lat.get(b.id)!;
    return {
      id: b.id,
      label: b.label,
      method: b.method,
      sizeBytes: modelBytes(b.model),
      ...q,
      latencyMs: l,
      speedup: Object.fromEntries(batchSizes.map((bs) => [bs, floatLat[bs]! / l[bs]!])),
      withinBudget: q.accuracyDrop <= budget,
      ...(b.note ? { note: b.note } : {}),
      layers: b.layers,
    };
  });
  const score = (c: AutoCandidate): number => geo(batchSizes.map((b) => c.speedup[b]!));
  const ranked = [...candidates].filter((c) => c.withinBudget).sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    if (Math.abs(sa - sb) / Math.max(sa, sb) < 0.03) return a.sizeBytes - b.sizeBytes;
    return sb - sa;
  });
  const floatSize = modelBytes(model);
  const fmtX = (v: number): string => `${v.toFixed(2)}x`;
  const describe = (c: AutoCandidate): string =>
    `${c.label}: ${batchSizes.map((b) => `${fmtX(c.speedup[b]!)} the float speed at batch ${b}`).join(', ')}, ${fmtX(floatSize / c.sizeBytes)} smaller, accuracy ${c.accuracyDrop >= 0 ? '-' : '+'}${Math.abs(c.accuracyDrop).toFixed(2)} points`;
  let chosen: AutoCandidate;
  let recommendation: AutoResult['recommendation'];
  let verdict: string;
  if (ranked.length === 0) {
    chosen = [...candidates].sort((a, b) => a.accuracyDrop - b.accuracyDrop)[0]!;
    recommendation = 'keep-float';
    verdict = `No quantized variant stays within the ${budget}-point accuracy budget (closest: ${describe(chosen)}); keep the float model.`;
  } else {
    const fastest = ranked[0]!;
    if (geo(batchSizes.map((b) => fastest.speedup[b]!)) > 1) {
      chosen = fastest;
      recommendation = 'use-quantized';
      verdict = `Chosen ${describe(chosen)}.`;
      if (chosen.speedup[batchSizes[0]!]! < 1 || batchSizes.some((b) => chosen.speedup[b]! < 1)) {
        verdict += ` Note: slower than float at batch ${batchSizes.filter((b) => chosen.speedup[b]! < 1).join(', ')}.`;
      }
    } else {
      chosen = [...ranked].sort((a, b) => a.sizeBytes - b.sizeBytes)[0]!;
      recommendation = 'keep-float';
      verdict = `Every quantized variant within budget is slower than the float model on this machine (best: ${describe(fastest)}); keep the float model if speed matters. The smallest within budget is returned: ${describe(chosen)}.`;
    }
  }
  const chosenModel = built.find((b) => b.id === chosen.id)!.model;
  return {
    model: chosenModel,
    chosen,
    float: { sizeBytes: floatSize, accuracy: refAcc, latencyMs: floatLat },
    candidates,
    failed,
    recommendation,
    verdict,
  };
}
