// Streaming calibration of activation ranges. The chosen tensors become extra graph outputs of a
// copy of the model, batches run through ONNX Runtime one at a time, and each tensor keeps only a
// fixed-size summary: its running min/max (minmax) or a histogram of at most `bins` counts that
// is re-binned (adjacent bins merged) when the range grows (percentile, entropy). No activation
// is ever stored, so memory does not depend on the number or size of calibration batches.
import type * as ort from 'onnxruntime-node';
import { makeAttr } from '../onnx/attributes.js';
import { encodeModel } from '../onnx/codec.js';
import { DataType, type Dim, type Model } from '../onnx/ir.js';
import { createSession } from '../runtime/session.js';
import { toOrtTensor } from '../runtime/tensors.js';
import { cloneModel, QuantizeError } from './common.js';

/** A float tensor for calibration: row-major data and its shape (an ort.Tensor of float32 fits too). */
export interface CalibrationTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** One batch: a tensor for every model input, keyed by input name. */
export type CalibrationBatch = Record<string, CalibrationTensor>;

type BatchIterable = AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>;

/** Batches as an (async) iterable, or a function returning one (called once). */
export type CalibrationSource = BatchIterable | (() => BatchIterable);

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

export interface TensorRange {
  min: number;
  max: number;
}

export interface CalibrationOptions {
  method?: CalibrationMethod;
  /** Percentile kept for method 'percentile' (default 99.999): (100 − p)/2 % is cut from each tail. */
  percentile?: number;
  /** Histogram size for percentile/entropy (default 2048, as ORT). */
  bins?: number;
  /** Quantized levels the entropy method compares against (default 256: u8; ORT uses 128 for s8). */
  quantizedBins?: number;
  /** Stop after this many batches. */
  maxBatches?: number;
  /** Intra-op threads for the calibration session (default: all cores). */
  threads?: number;
}

export interface CalibrationResult {
  ranges: Map<string, TensorRange>;
  batches: number;
  samples: number;
  /** Numbers held by all collectors after the last batch (constant across batches). */
  stateSize: number;
}

/** A fixed-size running summary of one tensor's values. */
export interface RangeCollector {
  /** Adds a batch of values (NaN and ±Infinity are ignored). */
  add(values: ArrayLike<number>): void;
  /** Adds a batch known only by its min and max (minmax collectors). */
  addRange(min: number, max: number): void;
  /** The calibrated range, or undefined when nothing finite was seen. */
  range(): TensorRange | undefined;
  /** How many numbers the collector keeps: it never grows with the data. */
  stateSize(): number;
}

export class MinMaxCollector implements RangeCollector {
  private lo = Infinity;
  private hi = -Infinity;

  add(values: ArrayLike<number>): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo && v !== -Infinity) lo = v;
      if (v > hi && v !== Infinity) hi = v;
    }
    this.lo = lo;
    this.hi = hi;
  }

  addRange(min: number, max: number): void {
    if (Number.isFinite(min) && min < this.lo) this.lo = min;
    if (Number.isFinite(max) && max > this.hi) this.hi = max;
  }

  range(): TensorRange | undefined {
    return this.lo <= this.hi ? { min: this.lo, max: this.hi } : undefined;
  }

  stateSize(): number {
    return 2;
  }
}

/**
 * A histogram on a grid aligned to multiples of the bin width w, with at most `bins` bins.
 * When a value falls outside, w doubles (bin g merges into floor(g/2)) until the whole range fits,
 * so re-binning is exact: counts never get smeared.
 */
export class HistogramCollector implements RangeCollector {
  readonly counts: Float64Array;
  /** Grid index of bins[0]: bin i covers [(origin+i)·w, (origin+i+1)·w). */
  private origin = 0;
  private width = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private total = 0;

  constructor(
    readonly bins = 2048,
    readonly method: 'percentile' | 'entropy' = 'percentile',
    readonly percentile = 99.999,
    readonly quantizedBins = 256,
  ) {
    if (!Number.isInteger(bins) || bins < 16) throw new QuantizeError(`histogram bins must be an integer >= 16 (got ${bins})`);
    if (!(percentile > 0 && percentile <= 100)) throw new QuantizeError(`percentile must be in (0, 100] (got ${percentile})`);
    this.counts = new Float64Array(bins);
  }

  get binWidth(): number {
    return this.width;
  }

  get count(): number {
    return this.total;
  }

  add(values: ArrayLike<number>): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo && v !== -Infinity) lo = v;
      if (v > hi && v !== Infinity) hi = v;
    }
    if (!(lo <= hi)) return;
    this.cover(lo, hi);
    const { counts, origin, bins } = this;
    const inv = 1 / this.width;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      let b = Math.floor(v * inv) - origin;
      if (b < 0) b = 0;
      else if (b >= bins) b = bins - 1;
      counts[b]!++;
      this.total++;
    }
  }

  addRange(min: number, max: number): void {
    // Only endpoints are known: count them so the range is kept.
    this.add([min, max]);
  }

  /** Grows the grid so [lo, hi] fits. */
  private cover(lo: number, hi: number): void {
    const newLo = Math.min(lo, this.lo);
    const newHi = Math.max(hi, this.hi);
    if (this.width === 0) {
      const span = newHi - newLo;
      this.width = span > 0 ? span / (this.bins - 1) : Math.max(Math.abs(newHi), 1e-30) / this.bins;
      this.origin = Math.floor(newLo / this.width);
      while (Math.floor(newHi / this.width) - this.origin >= this.bins) this.width *= 2, (this.origin = Math.floor(newLo / this.width));
      this.lo = newLo;
      this.hi = newHi;
      return;
    }
    this.lo = newLo;
    this.hi = newHi;
    const fits = (w: number, o: number): boolean => Math.floor(newLo / w) >= o && Math.floor(newHi / w) - o < this.bins;
    if (fits(this.width, this.origin)) return;
    let factor = 1;
    let w = this.width;
    let o = Math.floor(newLo / w);
    while (Math.floor(newHi / w) - o >= this.bins) {
      factor *= 2;
      w = this.width * factor;
      o = Math.floor(newLo / w);
    }
    const merged = new Float64Array(this.bins);
    for (let i = 0; i < this.bins; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      let j = Math.floor((this.origin + i) / factor) - o;
      if (j < 0) j = 0;
      else if (j >= this.bins) j = this.bins - 1;
      merged[j]! += c;
    }
    this.counts.set(merged);
    this.width = w;
    this.origin = o;
  }

  range(): TensorRange | undefined {
    if (this.total === 0) return undefined;
    return this.method === 'entropy' ? this.entropyRange() : this.percentileRange();
  }

  private edge(i: number): number {
    return (this.origin + i) * this.width;
  }

  /** Cuts (100 − p)/2 % of the values from each tail. */
  percentileRange(): TensorRange {
    const cut = ((100 - this.percentile) / 200) * this.total;
    let acc = 0;
    let loBin = 0;
    for (let i = 0; i < this.bins; i++) {
      acc += this.counts[i]!;
      if (acc > cut) {
        loBin = i;
        break;
      }
    }
    acc = 0;
    let hiBin = this.bins - 1;
    for (let i = this.bins - 1; i >= 0; i--) {
      acc += this.counts[i]!;
      if (acc > cut) {
        hiBin = i;
        break;
      }
    }
    const min = Math.max(this.lo, Math.min(this.edge(loBin), this.hi));
    const max = Math.min(this.hi, Math.max(this.edge(hiBin + 1), this.lo));
    return { min: Math.min(min, max), max };
  }

  /**
   * The KL-divergence-optimal clipping range (the TensorRT method, as in ORT's
   * get_entropy_threshold), adapted to u8 activations: a tensor that is never negative (a ReLU
   * output) searches [0, t] against `quantizedBins` levels; a two-sided tensor searches a
   * symmetric [−t, t]. The grid is aligned to 0, so re-reading the histogram this way is exact.
   * The result is clipped to the observed range.
   */
  entropyRange(): TensorRange {
    const w = this.width;
    const nq = this.quantizedBins;
    if (this.lo >= 0) {
      const G = Math.max(1, Math.ceil(this.hi / w - 1e-9));
      if (G <= nq) return { min: this.lo, max: this.hi };
      const hist = new Float64Array(G);
      for (let i = 0; i < this.bins; i++) {
        const c = this.counts[i]!;
        if (c !== 0) hist[Math.min(G - 1, Math.max(0, this.origin + i))]! += c;
      }
      // Exact zeros (ReLU) are represented exactly by the zero point: ignore the spike, as
      // pytorch-quantization does (bins[0] = bins[1]), or it pulls the threshold down.
      hist[0] = Math.min(hist[0]!, hist[1]!);
      const best = bestSlice(hist, nq, (i) => [0, i]);
      return { min: this.lo, max: Math.min(this.hi, best * w) };
    }
    const amax = Math.max(Math.abs(this.lo), Math.abs(this.hi));
    const G = Math.max(1, Math.ceil(amax / w - 1e-9));
    const half = Math.floor(nq / 2);
    if (G <= half) return { min: this.lo, max: this.hi };
    const nb = 2 * G;
    const hist = new Float64Array(nb);
    for (let i = 0; i < this.bins; i++) {
      const c = this.counts[i]!;
      if (c !== 0) hist[Math.min(nb - 1, Math.max(0, this.origin + i + G))]! += c;
    }
    hist[G] = Math.min(hist[G]!, Math.max(hist[G - 1]!, hist[G + 1] ?? 0));
    // Candidate i covers bins [G − i, G + i): thresholds ±i·w.
    const best = bestSlice(hist, nq, (i) => (i * 2 >= nq && i <= G ? [G - i, G + i] : undefined), G);
    const thr = best * w;
    return { min: Math.max(this.lo, -thr), max: Math.min(this.hi, thr) };
  }

  stateSize(): number {
    return this.bins + 5;
  }
}

/**
 * Tries slices [a, b) = slice(i) for i = 1..maxI (undefined: skip) of `hist`: the reference P is
 * the slice with the mass outside added to its end bins, Q the slice merged into nq bins and
 * spread back over P's non-empty bins. Returns the i with the least KL(P‖Q).
 */
function bestSlice(hist: Float64Array, nq: number, slice: (i: number) => [number, number] | undefined, maxI = hist.length): number {
  const nb = hist.length;
  const prefix = new Float64Array(nb + 1);
  for (let i = 0; i < nb; i++) prefix[i + 1] = prefix[i]! + hist[i]!;
  const p = new Float64Array(nb);
  const q = new Float64Array(nb);
  let bestKl = Infinity;
  let bestI = maxI;
  for (let i = 1; i <= maxI; i++) {
    const s = slice(i);
    if (!s) continue;
    const [start, end] = s;
    const len = end - start;
    if (len < nq) continue;
    for (let k = 0; k < len; k++) p[k] = hist[start + k]!;
    p[0]! += prefix[start]!;
    p[len - 1]! += prefix[nb]! - prefix[end]!;
    q.fill(0, 0, len);
    for (let j = 0; j < nq; j++) {
      const a = Math.floor((j * len) / nq);
      const b = Math.floor(((j + 1) * len) / nq);
      let sum = 0;
      let nonzero = 0;
      for (let k = a; k < b; k++) {
        sum += hist[start + k]!;
        if (p[k]! !== 0) nonzero++;
      }
      if (nonzero === 0) continue;
      const v = sum / nonzero;
      for (let k = a; k < b; k++) if (p[k]! !== 0) q[k] = v;
    }
    const kl = klDivergence(p, q, len);
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  return bestI;
}

/** KL(P‖Q) of two count vectors after normalizing and smoothing zeros (eps 1e-4, as ORT). */
function klDivergence(p: Float64Array, q: Float64Array, len: number): number {
  const ps = smooth(p, len);
  const qs = smooth(q, len);
  if (!ps || !qs) return Infinity;
  let kl = 0;
  for (let k = 0; k < len; k++) {
    const a = ps[k]!;
    if (a > 0) kl += a * Math.log(a / qs[k]!);
  }
  return kl;
}

function smooth(v: Float64Array, len: number, eps = 1e-4): Float64Array | undefined {
  let sum = 0;
  let zeros = 0;
  for (let k = 0; k < len; k++) {
    sum += v[k]!;
    if (v[k] === 0) zeros++;
  }
  const nonzeros = len - zeros;
  if (nonzeros === 0 || sum <= 0) return undefined;
  const eps1 = (eps * zeros) / nonzeros;
  const out = new Float64Array(len);
  for (let k = 0; k < len; k++) out[k] = v[k] === 0 ? eps : v[k]! / sum - eps1;
  return out;
}

export function makeCollector(method: CalibrationMethod, options: CalibrationOptions = {}): RangeCollector {
  if (method === 'minmax') return new MinMaxCollector();
  if (method === 'percentile' || method === 'entropy') {
    return new HistogramCollector(options.bins ?? 2048, method, options.percentile ?? 99.999, options.quantizedBins ?? 256);
  }
  throw new QuantizeError(`unknown calibration method '${String(method)}' (expected minmax, percentile or entropy)`);
}

function fmt(dims: readonly Dim[]): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** The model's real inputs (graph inputs that are not initializers) with their declared shapes. */
export function modelInputs(model: Model): Array<{ name: string; elemType: DataType; shape: Dim[] | null }> {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs
    .filter((i) => !inits.has(i.name))
    .map((i) => ({
      name: i.name,
      elemType: i.type?.kind === 'tensor' ? i.type.elemType : DataType.UNDEFINED,
      shape: i.type?.kind === 'tensor' ? i.type.shape : null,
    }));
}

/** Throws a QuantizeError naming the input and both shapes when a batch does not fit the model. */
export function checkBatch(model: Model, batch: CalibrationBatch, index: number): void {
  const inputs = modelInputs(model);
  const known = new Set(inputs.map((i) => i.name));
  for (const key of Object.keys(batch)) {
    if (!known.has(key)) {
      throw new QuantizeError(`calibration batch ${index}: '${key}' is not an input of the model (inputs: ${inputs.map((i) => i.name).join(', ')})`);
    }
  }
  for (const inp of inputs) {
    const t = batch[inp.name];
    if (!t) throw new QuantizeError(`calibration batch ${index}: no data for model input '${inp.name}'`);
    if (inp.elemType !== DataType.FLOAT) {
      throw new QuantizeError(`calibration batch ${index}: model input '${inp.name}' is not float32; only float inputs can be calibrated`);
    }
    if (!(t.data instanceof Float32Array)) {
      throw new QuantizeError(`calibration batch ${index}: input '${inp.name}' must be a Float32Array`);
    }
    let n = 1;
    for (const d of t.dims) {
      if (!Number.isInteger(d) || d < 0) throw new QuantizeError(`calibration batch ${index}: input '${inp.name}' has an invalid shape ${fmt(t.dims)}`);
      n *= d;
    }
    if (n !== t.data.length) {
      throw new QuantizeError(`calibration batch ${index}: input '${inp.name}' has ${t.data.length} values but shape ${fmt(t.dims)} needs ${n}`);
    }
    const want = inp.shape;
    if (want) {
      const mismatch = want.length !== t.dims.length || want.some((d, i) => typeof d === 'number' && d !== t.dims[i]);
      if (mismatch) {
        throw new QuantizeError(`calibration batch ${index}: input '${inp.name}' has shape ${fmt(t.dims)} but the model expects ${fmt(want)}`);
      }
    }
  }
}

function batchSize(batch: CalibrationBatch): number {
  const first = Object.values(batch)[0];
  return first && first.dims.length > 0 ? first.dims[0]! : 1;
}

/**
 * Runs the calibration batches through a copy of `model` that outputs the given float tensors
 * and returns one range per tensor. Streaming: batches are consumed one at a time and dropped.
 */
export async function calibrate(
  model: Model,
  tensors: readonly string[],
  source: CalibrationSource,
  options: CalibrationOptions = {},
): Promise<CalibrationResult> {
  const method = options.method ?? 'minmax';
  const collectors = new Map<string, RangeCollector>();
  for (const t of tensors) collectors.set(t, makeCollector(method, options));

  // For minmax only two scalars per tensor need to leave the session: reduce in the graph.
  const cal = cloneModel(model);
  const g = cal.graph;
  const fetch = new Map<string, { min?: string; max?: string; full?: string }>();
  const existingOutputs = new Set(g.outputs.map((o) => o.name));
  let k = 0;
  for (const t of tensors) {
    if (method === 'minmax') {
      const mn = `__calib_min_${k}`;
      const mx = `__calib_max_${k++}`;
      g.nodes.push({ name: `${mn}_node`, opType: 'ReduceMin', domain: '', inputs: [t], outputs: [mn], attributes: [makeAttr('keepdims', 0)] });
      g.nodes.push({ name: `${mx}_node`, opType: 'ReduceMax', domain: '', inputs: [t], outputs: [mx], attributes: [makeAttr('keepdims', 0)] });
      g.outputs.push({ name: mn, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [] } });
      g.outputs.push({ name: mx, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [] } });
      fetch.set(t, { min: mn, max: mx });
    } else {
      if (!existingOutputs.has(t)) g.outputs.push({ name: t, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } });
      fetch.set(t, { full: t });
    }
  }
  const outputNames = [...new Set([...fetch.values()].flatMap((f) => [f.min, f.max, f.full].filter((x): x is string => !!x)))];

  const { session } = await createSession(encodeModel(cal), {
    device: 'cpu',
    graphOptimization: 'basic',
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  let batches = 0;
  let samples = 0;
  try {
    const iterable = typeof source === 'function' ? source() : source;
    for await (const batch of iterable as AsyncIterable<CalibrationBatch>) {
      if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
      checkBatch(model, batch, batches);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(batch)) feeds[name] = toOrtTensor(t.data, t.dims);
      const out = await session.run(feeds, outputNames);
      for (const [t, f] of fetch) {
        const c = collectors.get(t)!;
        if (f.full) c.add(out[f.full]!.data as Float32Array);
        else c.addRange((out[f.min!]!.data as Float32Array)[0]!, (out[f.max!]!.data as Float32Array)[0]!);
      }
      batches++;
      samples += batchSize(batch);
    }
  } finally {
    await session.release();
  }
  if (batches === 0) throw new QuantizeError('calibration data is empty: static quantization needs at least one batch');
  const ranges = new Map<string, TensorRange>();
  let stateSize = 0;
  for (const [t, c] of collectors) {
    stateSize += c.stateSize();
    const r = c.range();
    if (r) ranges.set(t, r);
  }
  return { ranges, batches, samples, stateSize };
}
