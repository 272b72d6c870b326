// Finite-difference checks of the autodiff rules with real ONNX Runtime sessions.
//
// A case builds a tiny forward graph from its inputs; the harness adds loss = Σ ReduceSum(Yᵢ·Rᵢ)
// with fixed random Rᵢ (so dL/dYᵢ = Rᵢ seeds the backward pass), builds the backward pass with
// buildBackward, runs it, and compares with central differences of the loss computed by running
// the forward model. DOUBLE graphs where ORT CPU has double kernels, FLOAT otherwise ('auto').
import { createRng } from '../../app/engine/data/prng.js';
import { appendFileSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { buildBackward, type GradShape } from '../../app/engine/training/autodiff.js';
import { probeShapes } from '../../app/engine/training/shape-probe.js';
import { encodeModel } from '../../app/engine/onnx/codec.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';

export function rng(seed: number): () => number {
  const r = createRng(seed); // the project's seeded stream (mulberry32)
  return () => r.next();
}

export function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export interface FeedSpec {
  dims: number[];
  /** 'float' inputs follow the case's dtype and can be differentiated; default 'float'. */
  type?: 'float' | 'int64' | 'bool';
  data?: ArrayLike<number>;
  /** Element generator for float inputs (default standard normal). */
  gen?: (r: () => number, i: number) => number;
}

export interface GradCase {
  name: string;
  opset?: number;
  inputs: Record<string, FeedSpec>;
  /** Inputs to differentiate (default: every float input). */
  wrt?: string[];
  /** Builds the forward graph on the declared inputs; returns the value(s) the loss is taken of. */
  build: (b: GraphBuilder, t: DataType, model: Model) => string | string[];
  dtype?: 'auto' | 'double' | 'float';
  eps?: number;
  /** Elements perturbed per wrt input (random subset when the input is larger). */
  sample?: number;
  seed?: number;
  /**
   * Instead of Σ Yᵢ·Rᵢ: build a scalar loss from the outputs and name the seed gradients
   * (forward values computed in the same graph, e.g. softmax(logits) − onehot).
   */
  customLoss?: (b: GraphBuilder, t: DataType, ys: string[]) => { loss: string; seeds: Array<[string, string]> };
  /** Edit the forward model (with loss) before the backward pass is built, e.g. decompose BN. */
  prepare?: (model: Model, shapes: Map<string, GradShape>) => void;
}

export interface GradResult {
  dtype: 'double' | 'float';
  /** max |analytic − fd| / max |fd| over all checked elements of all wrt inputs. */
  relErr: number;
  perInput: Record<string, { relErr: number; absErr: number; maxFd: number; checked: number }>;
  analytic: Record<string, Float64Array>;
  feeds: Record<string, ort.Tensor>;
  model: Model;
}

const sessionOpts: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'disabled',
};

export async function session(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model), sessionOpts);
}

function makeFeeds(c: GradCase, dtype: 'double' | 'float'): Record<string, ort.Tensor> {
  const r = rng(c.seed ?? 1234);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, spec] of Object.entries(c.inputs)) {
    const n = spec.dims.reduce((p, d) => p * d, 1);
    const type = spec.type ?? 'float';
    if (type === 'int64') {
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from(Array.from(spec.data!, (v) => BigInt(v))), spec.dims);
    } else if (type === 'bool') {
      feeds[name] = new ort.Tensor('bool', Uint8Array.from(spec.data!), spec.dims);
    } else {
      const vals = spec.data ? Array.from(spec.data) : Array.from({ length: n }, (_, i) => (spec.gen ? spec.gen(r, i) : normal(r)));
      feeds[name] = dtype === 'double' ? new ort.Tensor('float64', Float64Array.from(vals), spec.dims) : new ort.Tensor('float32', Float32Array.from(vals), spec.dims);
    }
  }
  return feeds;
}

function forwardModel(c: GradCase, t: DataType, rDims: number[][] | null): { model: Model; ys: string[]; seeds: Array<[string, string]> } {
  const model = emptyModel(c.opset ?? 18);
  const b = new GraphBuilder(model.graph);
  for (const [name, spec] of Object.entries(c.inputs)) {
    const type = spec.type ?? 'float';
    b.input(name, type === 'int64' ? DataType.INT64 : type === 'bool' ? DataType.BOOL : t, spec.dims);
  }
  const out = c.build(b, t, model);
  const ys = Array.isArray(out) ? out : [out];
  if (!rDims) {
    for (const y of ys) b.output(y, t, null);
    return { model, ys, seeds: [] };
  }
  if (c.customLoss) {
    const { loss, seeds } = c.customLoss(b, t, ys);
    b.op('Identity', [loss], {}, { output: 'loss' });
    b.output('loss', t, []);
    return { model, ys, seeds };
  }
  const single = ys.length === 1 ? { output: 'loss' } : {};
  const losses = ys.map((y, i) => {
    const r = b.input(`R${i}`, t, rDims[i]!);
    return b.op('ReduceSum', [b.op('Mul', [y, r])], { keepdims: 0 }, single);
  });
  if (ys.length > 1) b.op('Sum', losses, {}, { output: 'loss' });
  b.output('loss', t, []);
  return { model, ys, seeds: ys.map((y, i) => [y, `R${i}`]) };
}

function toF64(t: ort.Tensor): Float64Array {
  return Float64Array.from(t.data as Float32Array | Float64Array);
}

function isMissingKernel(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return /implementation|NOT_IMPLEMENTED|not implemented|Type Error|type.*not supported|Could not find/i.test(m);
}

async function attempt(c: GradCase, dtype: 'double' | 'float'): Promise<GradResult> {
  const t = dtype === 'double' ? DataType.DOUBLE : DataType.FLOAT;
  const feeds = makeFeeds(c, dtype);
  // 1. Output shapes, for the R inputs.
  const probe = forwardModel(c, t, null);
  const shapes0 = await probeShapes(probe.model, feeds);
  const rDims = probe.ys.map((y) => shapes0.get(y)!.dims);
  const r = rng((c.seed ?? 1234) + 99);
  if (!c.customLoss) rDims.forEach((d, i) => {
    const n = d.reduce((p, x) => p * x, 1);
    const vals = Array.from({ length: n }, () => normal(r));
    feeds[`R${i}`] = dtype === 'double' ? new ort.Tensor('float64', Float64Array.from(vals), d) : new ort.Tensor('float32', Float32Array.from(vals), d);
  });
  // 2. Forward with loss, prepared; shapes of everything.
  const { model, seeds } = forwardModel(c, t, rDims);
  if (c.prepare) c.prepare(model, await probeShapes(model, feeds));
  const shapes = await probeShapes(model, feeds);
  const fwdSession = await session(model);
  // 3. Backward.
  const bwd: Model = structuredClone(model);
  const b = new GraphBuilder(bwd.graph, 'grad_');
  const wrt = c.wrt ?? Object.entries(c.inputs).filter(([, s]) => (s.type ?? 'float') === 'float').map(([n]) => n);
  const grads = buildBackward({
    graph: bwd.graph,
    builder: b,
    opset: c.opset ?? 18,
    seeds: new Map(seeds),
    wrt,
    shape: (n) => {
      const s = shapes.get(n);
      if (!s) throw new Error(`no shape for ${n}`);
      return s;
    },
  });
  bwd.graph.outputs = wrt.map((w) => ({ name: grads.get(w)!, type: null }));
  const bwdSession = await session(bwd);
  const bout = await bwdSession.run(feeds);
  const analytic: Record<string, Float64Array> = {};
  for (const w of wrt) {
    const g = bout[grads.get(w)!]!;
    const want = (feeds[w] as ort.Tensor).dims;
    if (g.dims.length !== want.length || g.dims.some((d, i) => d !== want[i])) {
      throw new Error(`${c.name}: gradient of ${w} has dims [${g.dims}], input has [${want}]`);
    }
    analytic[w] = toF64(g);
  }
  // 4. Central differences.
  const eps = c.eps ?? (dtype === 'double' ? 1e-6 : 1e-2);
  const perInput: GradResult['perInput'] = {};
  let worstAbs = 0;
  const pick = rng((c.seed ?? 1234) + 7);
  const lossAt = async (): Promise<number> => Number((await fwdSession.run(feeds))['loss']!.data[0]);
  for (const w of wrt) {
    const data = feeds[w]!.data as Float32Array | Float64Array;
    const n = data.length;
    const sample = c.sample ?? 48;
    let idx = Array.from({ length: n }, (_, i) => i);
    if (n > sample) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(pick() * (i + 1));
        [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      }
      idx = idx.slice(0, sample);
    }
    let absErr = 0;
    let maxFd = 0;
    for (const i of idx) {
      const orig = data[i]!;
      data[i] = orig + eps;
      const lp = await lossAt();
      data[i] = orig - eps;
      const lm = await lossAt();
      data[i] = orig;
      const h = (orig + eps) - (orig - eps);
      const fd = (lp - lm) / (dtype === 'float' ? Math.fround(orig + eps) - Math.fround(orig - eps) : h);
      absErr = Math.max(absErr, Math.abs(fd - analytic[w]![i]!));
      maxFd = Math.max(maxFd, Math.abs(fd));
    }
    perInput[w] = { relErr: absErr / Math.max(maxFd, 1e-12), absErr, maxFd, checked: idx.length };
    worstAbs = Math.max(worstAbs, absErr / Math.max(maxFd, 1e-12));
  }
  await fwdSession.release();
  await bwdSession.release();
  const result: GradResult = { dtype, relErr: worstAbs, perInput, analytic, feeds, model: bwd };
  report(c.name, result);
  return result;
}

/** Runs a finite-difference check; 'auto' tries DOUBLE and falls back to FLOAT on missing kernels. */
export async function checkGradients(c: GradCase): Promise<GradResult> {
  const mode = c.dtype ?? 'auto';
  if (mode === 'float') return attempt(c, 'float');
  if (mode === 'double') return attempt(c, 'double');
  try {
    return await attempt(c, 'double');
  } catch (e) {
    if (!isMissingKernel(e)) throw e;
    return attempt(c, 'float');
  }
}

/** Appends one line per case to $GRAD_REPORT (JSON lines), for the error summary. */
export function report(name: string, r: Pick<GradResult, 'dtype' | 'relErr'>): void {
  const file = process.env['GRAD_REPORT'];
  if (file) appendFileSync(file, JSON.stringify({ name, dtype: r.dtype, relErr: r.relErr }) + '\n');
}

const FMNIST = '/usr/share/datasets/fashion-mnist';

/** n Fashion-MNIST training images (28×28, values in [0,1]) starting at `offset`, and their labels. */
export function fashionMnist(n: number, offset = 0): { images: Float32Array; labels: number[] } {
  const img = gunzipSync(readFileSync(`${FMNIST}/train-images-idx3-ubyte.gz`));
  const lab = gunzipSync(readFileSync(`${FMNIST}/train-labels-idx1-ubyte.gz`));
  const images = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) images[i] = img[16 + offset * 784 + i]! / 255;
  const labels = Array.from(lab.subarray(8 + offset, 8 + offset + n));
  return { images, labels };
}
