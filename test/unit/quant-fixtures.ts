// Shared fixtures for the quantization tests and bench: seeded He-initialized float models built
// with GraphBuilder, Fashion-MNIST images read straight from the IDX gz files, and ORT helpers.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../../app/engine/onnx/codec.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { floatTensor } from '../../app/engine/onnx/tensor.js';
import type { CalibrationBatch } from '../../app/engine/quantize/calibrate.js';

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** mulberry32 with a Box–Muller normal. */
export function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

function he(r: ReturnType<typeof rng>, count: number, fanIn: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  return Float32Array.from({ length: count }, () => r.normal() * std);
}

function bias(r: ReturnType<typeof rng>, count: number): Float32Array {
  return Float32Array.from({ length: count }, () => (r.uniform() - 0.5) * 0.1);
}

/** MLP 784 → 256 → 128 → 10 with Gemm layers (transB=1, 0, 1 to cover both layouts). */
export function buildMlp(seed = 1, opset = 17): Model {
  const r = rng(seed);
  const m = emptyModel(opset, 'mlp');
  const b = new GraphBuilder(m.graph);
  b.input('x', DataType.FLOAT, ['N', 784]);
  const w1 = b.constFloat('fc1.weight', he(r, 256 * 784, 784), [256, 784]);
  const b1 = b.constFloat('fc1.bias', bias(r, 256), [256]);
  const h1 = b.op('Relu', [b.op('Gemm', ['x', w1, b1], { transB: 1 }, { name: 'fc1' })], {}, { name: 'relu1' });
  const w2 = b.constFloat('fc2.weight', he(r, 256 * 128, 256), [256, 128]);
  const b2 = b.constFloat('fc2.bias', bias(r, 128), [128]);
  const h2 = b.op('Relu', [b.op('Gemm', [h1, w2, b2], {}, { name: 'fc2' })], {}, { name: 'relu2' });
  const w3 = b.constFloat('fc3.weight', he(r, 10 * 128, 128), [10, 128]);
  const b3 = b.constFloat('fc3.bias', bias(r, 10), [10]);
  b.op('Gemm', [h2, w3, b3], { transB: 1 }, { name: 'fc3', output: 'logits' });
  b.output('logits', DataType.FLOAT, ['N', 10]);
  return m;
}

/** CNN 1x28x28 → Conv8 → Relu → MaxPool → Conv16 → Relu → MaxPool → Flatten → Gemm32 → Relu → Gemm10. */
export function buildCnn(seed = 2, opset = 17): Model {
  const r = rng(seed);
  const m = emptyModel(opset, 'cnn');
  const b = new GraphBuilder(m.graph);
  b.input('x', DataType.FLOAT, ['N', 1, 28, 28]);
  const conv = (x: string, cin: number, cout: number, name: string): string => {
    const w = b.constFloat(`${name}.weight`, he(r, cout * cin * 9, cin * 9), [cout, cin, 3, 3]);
    const bb = b.constFloat(`${name}.bias`, bias(r, cout), [cout]);
    const y = b.op('Conv', [x, w, bb], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name });
    const a = b.op('Relu', [y], {}, { name: `${name}_relu` });
    return b.op('MaxPool', [a], { kernel_shape: [2, 2], strides: [2, 2] }, { name: `${name}_pool` });
  };
  const p1 = conv('x', 1, 8, 'conv1');
  const p2 = conv(p1, 8, 16, 'conv2');
  const f = b.op('Flatten', [p2], { axis: 1 }, { name: 'flatten' });
  const w1 = b.constFloat('fc1.weight', he(r, 32 * 784, 784), [32, 784]);
  const b1 = b.constFloat('fc1.bias', bias(r, 32), [32]);
  const h = b.op('Relu', [b.op('Gemm', [f, w1, b1], { transB: 1 }, { name: 'fc1' })], {}, { name: 'fc1_relu' });
  const w2 = b.constFloat('fc2.weight', he(r, 10 * 32, 32), [10, 32]);
  const b2 = b.constFloat('fc2.bias', bias(r, 10), [10]);
  b.op('Gemm', [h, w2, b2], { transB: 1 }, { name: 'fc2', output: 'logits' });
  b.output('logits', DataType.FLOAT, ['N', 10]);
  return m;
}

export interface Images {
  x: Float32Array;
  y: Int32Array;
  count: number;
}

const cache = new Map<string, Images>();

/** The first `count` images of a Fashion-MNIST split, scaled to [0, 1]. */
export function fashion(count: number, split: 'train' | 't10k' = 't10k'): Images {
  const key = `${split}:${count}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const img = gunzipSync(readFileSync(`${FASHION_DIR}/${split}-images-idx3-ubyte.gz`));
  const lab = gunzipSync(readFileSync(`${FASHION_DIR}/${split}-labels-idx1-ubyte.gz`));
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new Error('not IDX image/label files');
  const n = Math.min(count, img.readUInt32BE(4));
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) x[i] = img[16 + i]! / 255;
  const y = Int32Array.from(lab.subarray(8, 8 + n));
  const out = { x, y, count: n };
  cache.set(key, out);
  return out;
}

/** Calibration batches over images [from, from + count), shaped for the model input. */
export function* imageBatches(images: Images, batch: number, sampleShape: number[], from = 0, count = images.count - from): Generator<CalibrationBatch> {
  for (let i = from; i < from + count; i += batch) {
    const n = Math.min(batch, from + count - i);
    yield { x: { data: images.x.slice(i * 784, (i + n) * 784), dims: [n, ...sampleShape] } };
  }
}

export async function session(model: Model, options: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1, ...options });
}

/** Runs `model` on images in one batch and returns the first output. */
export async function runModel(model: Model, images: Images, sampleShape: number[], options: ort.InferenceSession.SessionOptions = {}): Promise<Float32Array> {
  const s = await session(model, options);
  try {
    const feeds = { x: new ort.Tensor('float32', images.x, [images.count, ...sampleShape]) };
    const out = await s.run(feeds);
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

export function opTypes(model: Model): string[] {
  return model.graph.nodes.map((n) => n.opType);
}

export function countOps(model: Model, op: string): number {
  return model.graph.nodes.filter((n) => n.opType === op).length;
}

/**
 * Replaces the last Gemm's weights (transB=1, [classes, d]) by a ridge-regression readout fitted on
 * `images`: the He-initialized layers stay random features, but the logits become those of a real
 * classifier, so top-1 agreement measures more than near-ties of a random net.
 */
export async function fitReadout(model: Model, images: Images, sampleShape: number[], classes = 10, lambda = 1e-2): Promise<Model> {
  const g = model.graph;
  const last = g.nodes[g.nodes.length - 1]!;
  if (last.opType !== 'Gemm') throw new Error('fitReadout: the last node must be a Gemm');
  const feat = last.inputs[0]!;
  const probe = structuredClone(model);
  probe.graph.outputs.push({ name: feat, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } });
  const s = await session(probe);
  const out = await s.run({ x: new ort.Tensor('float32', images.x, [images.count, ...sampleShape]) }, [feat]);
  await s.release();
  const H = out[feat]!.data as Float32Array;
  const n = images.count;
  const d = H.length / n;
  const D = d + 1; // bias column
  const A = new Float64Array(D * D);
  const B = new Float64Array(D * classes);
  for (let r = 0; r < n; r++) {
    const row = (j: number): number => (j < d ? H[r * d + j]! : 1);
    for (let i = 0; i < D; i++) {
      const hi = row(i);
      for (let j = 0; j < D; j++) A[i * D + j]! += hi * row(j);
      B[i * classes + images.y[r]!]! += hi;
    }
  }
  for (let i = 0; i < d; i++) A[i * D + i]! += lambda * n;
  // Cholesky solve A X = B.
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = A[i * D + j]!;
      for (let k = 0; k < j; k++) sum -= L[i * D + k]! * L[j * D + k]!;
      L[i * D + j] = i === j ? Math.sqrt(sum) : sum / L[j * D + j]!;
    }
  }
  const X = new Float64Array(D * classes);
  for (let c = 0; c < classes; c++) {
    const y = new Float64Array(D);
    for (let i = 0; i < D; i++) {
      let sum = B[i * classes + c]!;
      for (let k = 0; k < i; k++) sum -= L[i * D + k]! * y[k]!;
      y[i] = sum / L[i * D + i]!;
    }
    for (let i = D - 1; i >= 0; i--) {
      let sum = y[i]!;
      for (let k = i + 1; k < D; k++) sum -= L[k * D + i]! * X[k * classes + c]!;
      X[i * classes + c] = sum / L[i * D + i]!;
    }
  }
  const W = new Float32Array(classes * d);
  const bias = new Float32Array(classes);
  for (let c = 0; c < classes; c++) {
    for (let j = 0; j < d; j++) W[c * d + j] = X[j * classes + c]!;
    bias[c] = X[d * classes + c]!;
  }
  const fitted = structuredClone(model);
  const lastNode = fitted.graph.nodes[fitted.graph.nodes.length - 1]!;
  fitted.graph.initializers = fitted.graph.initializers.map((t) =>
    t.name === lastNode.inputs[1] ? floatTensor(t.name, [classes, d], W) : t.name === lastNode.inputs[2] ? floatTensor(t.name, [classes], bias) : t,
  );
  return fitted;
}

/** The MLP and CNN fixtures with fitted readouts (cached per process). */
let fitted: { mlp: Model; cnn: Model } | undefined;
export async function fittedModels(): Promise<{ mlp: Model; cnn: Model }> {
  if (!fitted) {
    const train = fashion(3000, 'train');
    fitted = { mlp: await fitReadout(buildMlp(), train, [784]), cnn: await fitReadout(buildCnn(), train, [1, 28, 28]) };
  }
  return fitted;
}
