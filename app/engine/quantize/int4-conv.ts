// Weight-only int4 for Conv: the weight is stored as 4-bit integers with float scales and read
// through an ONNX DequantizeLinear into the unchanged float Conv (compute stays float32; the file
// shrinks). int4/uint4 tensors need DequantizeLinear-21, so the model's opset is raised to 21
// when it is lower (upgradeOpsetTo21).
//
// Scales: one per block of `blockSize` consecutive weights of an output channel along the flattened
// C·kh·kw axis (DequantizeLinear `block_size` on the weight stored as [M, C·kh·kw], a Reshape back
// to 4-D), or one per output channel (axis 0) when C·kh·kw ≤ blockSize. Why blocks: measured on the
// logits with only the second conv int4 (10,000 Fashion-MNIST test images), blocks of 32 against
// one scale per channel: sample teacher 33.0 vs 31.4 dB SQNR, 99.33 vs 99.29 % agreement; distilled
// student 29.9 vs 28.2 dB, 98.97 vs 98.70 %; for +0.8 KB on the student's 414.6 KB.
//
// ONNX layout: INT4/UINT4 tensors are row-major, two values per byte, the first in the low nibble
// (an odd count pads the last byte). Symmetric: INT4 codes q − 8 (two's complement nibbles, scale
// = signed absmax / −8), no zero point. Asymmetric: UINT4 codes with a UINT4 zero point per scale.
import { attrInts, makeAttr } from '../onnx/attributes.js';
import { NameScope } from '../onnx/graph.js';
import { DataType, opsetVersion, type Graph, type Model, type Node } from '../onnx/ir.js';
import { elementCount, floatTensor, int64Tensor, rawTensor } from '../onnx/tensor.js';
import { isOnnx, QuantizeError, transpose2d } from './common.js';
import { quantizeInt4Codes } from './int4-codes.js';
import { upgradeOpsetTo13 } from './static.js';

export interface Int4ConvWeight {
  /** The Conv weight's shape [M, C/group, kh, kw]. */
  dims: number[];
  /** INT4 (symmetric) or UINT4 (asymmetric). */
  dataType: typeof DataType.INT4 | typeof DataType.UINT4;
  /** Block length along the flattened C·kh·kw axis; undefined: one scale per output channel. */
  blockSize?: number;
  /** ONNX int4 payload of the weight: row-major, two codes per byte, low nibble first. */
  packed: Uint8Array;
  /** Per channel: [M]; blocked: [M, ⌈K/blockSize⌉]. */
  scales: Float32Array;
  /** UINT4 zero points, one per scale, packed like the weight (asymmetric only). */
  zeroPoints?: Uint8Array;
  /** The weight as DequantizeLinear will produce it, [M, C/group, kh, kw]. */
  dequantized: Float32Array;
}

/** Packs 4-bit values (only the low 4 bits of each are kept) two per byte, the first in the low nibble. */
export function packInt4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1]! |= (values[i]! & 0x0f) << ((i & 1) * 4);
  return out;
}

/** The i-th 4-bit value of a packed INT4 (signed) or UINT4 payload. */
export function unpackInt4(bytes: Uint8Array, i: number, signed: boolean): number {
  const v = (bytes[i >> 1]! >> ((i & 1) * 4)) & 0x0f;
  return signed && v >= 8 ? v - 16 : v;
}

/**
 * Quantizes a float Conv weight [M, C/group, kh, kw] to int4 in blocks of `blockSize` along
 * C·kh·kw (method as quantizeInt4Weights: 'mse' searches the clipping range per block, 'rtn'
 * plain min/max).
 */
export function quantizeConvWeightInt4(w: Float32Array, dims: readonly number[], blockSize: number, symmetric: boolean, method: 'rtn' | 'mse' = 'mse'): Int4ConvWeight {
  if (dims.length < 3) throw new QuantizeError(`int4 Conv: weight shape [${dims.join(', ')}] is not [M, C, k...]`);
  const M = dims[0]!;
  const K = elementCount(dims) / M;
  const bs = Math.min(blockSize, K);
  // quantizeInt4Codes blocks along K of a [K, N] weight: the transpose puts each output channel in a column.
  const q = quantizeInt4Codes(transpose2d(w, M, K), K, M, bs, symmetric, method);
  const kPad = Math.ceil(K / bs) * bs;
  const codes = new Uint8Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) codes[m * K + k] = symmetric ? q.codes[m * kPad + k]! - 8 : q.codes[m * kPad + k]!;
  }
  const out: Int4ConvWeight = {
    dims: [...dims],
    dataType: symmetric ? DataType.INT4 : DataType.UINT4,
    packed: packInt4(codes),
    scales: q.scales,
    dequantized: transpose2d(q.dequantized, K, M),
  };
  if (bs < K) out.blockSize = bs;
  if (!symmetric) out.zeroPoints = packInt4(q.blockZeroPoints);
  return out;
}

/** TypeScript DequantizeLinear of a packed int4 Conv weight: (q − zero point) · scale, [M, C/group, kh, kw]. */
export function dequantizeInt4ConvWeight(t: Pick<Int4ConvWeight, 'dims' | 'dataType' | 'packed' | 'scales' | 'zeroPoints' | 'blockSize'>): Float32Array {
  const M = t.dims[0]!;
  const K = elementCount(t.dims) / M;
  const bs = t.blockSize ?? K;
  const kb = Math.ceil(K / bs);
  const signed = t.dataType === DataType.INT4;
  if (t.packed.length !== Math.ceil((M * K) / 2)) throw new QuantizeError(`int4 Conv weight: ${t.packed.length} bytes, expected ${Math.ceil((M * K) / 2)}`);
  if (t.scales.length !== M * kb) throw new QuantizeError(`int4 Conv weight: ${t.scales.length} scales, expected ${M * kb}`);
  const out = new Float32Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      const s = m * kb + Math.floor(k / bs);
      const zp = t.zeroPoints ? unpackInt4(t.zeroPoints, s, signed) : 0;
      out[m * K + k] = Math.fround((unpackInt4(t.packed, m * K + k, signed) - zp) * t.scales[s]!);
    }
  }
  return out;
}

/**
 * Adds the int4 weight, its scales (and zero points) to the graph's initializers; returns the
 * DequantizeLinear (+ Reshape when blocked) nodes that turn them back into the float weight
 * `weightName` held, and the name of that float weight. Needs opset 21 or newer.
 */
export function addConvDequantize(graph: Graph, names: NameScope, weightName: string, q: Int4ConvWeight): { output: string; nodes: Node[] } {
  const M = q.dims[0]!;
  const K = elementCount(q.dims) / M;
  const stored = q.blockSize ? [M, K] : q.dims;
  const scaleDims = q.blockSize ? [M, Math.ceil(K / q.blockSize)] : [M];
  const w = names.fresh(`${weightName}_int4`);
  const s = names.fresh(`${weightName}_scale`);
  graph.initializers.push(rawTensor(w, q.dataType, stored, q.packed));
  graph.initializers.push(floatTensor(s, scaleDims, q.scales));
  const inputs = [w, s];
  if (q.zeroPoints) {
    const zp = names.fresh(`${weightName}_zero_point`);
    graph.initializers.push(rawTensor(zp, DataType.UINT4, scaleDims, q.zeroPoints));
    inputs.push(zp);
  }
  const out = names.fresh(`${weightName}_dequantized`);
  const attributes = q.blockSize ? [makeAttr('axis', 1), makeAttr('block_size', q.blockSize)] : [makeAttr('axis', 0)];
  const nodes: Node[] = [{ name: names.fresh(`${weightName}_DequantizeLinear`), opType: 'DequantizeLinear', domain: '', inputs, outputs: [out], attributes }];
  if (!q.blockSize) return { output: out, nodes };
  const shape = names.fresh(`${weightName}_shape`);
  const reshaped = names.fresh(`${weightName}_dequantized_${q.dims.length}d`);
  graph.initializers.push(int64Tensor(shape, [q.dims.length], q.dims));
  nodes.push({ name: names.fresh(`${weightName}_Reshape`), opType: 'Reshape', domain: '', inputs: [out, shape], outputs: [reshaped], attributes: [] });
  return { output: reshaped, nodes };
}

// Ops whose inference definition changed between opsets 13 and 21 (ONNX Changelog: 16 RoiAlign's
// default coordinates, 18/21 GroupNormalization's scale shape, 20 GridSample's mode names and
// DFT's axis input) that upgradeOpsetTo21 does not rewrite: the model keeps its opset and its
// convolutions stay float.
const CHANGED_AFTER_13 = new Set(['GroupNormalization', 'GridSample', 'RoiAlign', 'DFT']);
// Reduce ops that took `axes` as an attribute before opset 18 (ReduceSum moved at 13) and as an input since.
const AXES_TO_INPUT = new Set(['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare']);

/** Why the model's opset cannot be raised to 21 for int4 Conv weights, or null when it can (or is already). */
export function opset21Blocker(model: Model): string | null {
  const v = opsetVersion(model, '') ?? 1;
  if (v >= 21) return null;
  const why = 'int4 Conv weights need ONNX opset 21';
  // Subgraphs (If/Loop/Scan bodies) are not rewritten, so a model with them keeps its opset.
  const changed = [...new Set(model.graph.nodes.filter((n) => isOnnx(n) && (CHANGED_AFTER_13.has(n.opType) || n.attributes.some((a) => a.type === 'graph' || a.type === 'graphs'))).map((n) => n.opType))];
  if (changed.length > 0) return `${why}, and the model (opset ${v}) uses ${changed.join(', ')}, which the upgrade from opset ${v} does not handle; re-export the model at opset 21 or newer`;
  if (v < 13) {
    try {
      // Only the opset imports and the IR version are written: a shallow copy keeps the model as it is.
      upgradeOpsetTo13({ ...model, opsetImports: model.opsetImports.map((o) => ({ ...o })) }, why);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return null;
}

/**
 * Raises the default-domain opset import to 21 (and the IR version to 10) when lower: opsets
 * below 13 go through upgradeOpsetTo13's checks, Reduce ops get their `axes` attribute as an
 * input (opset 18). Throws a QuantizeError, leaving the model unchanged, when an op's meaning
 * changed in between (opset21Blocker).
 */
export function upgradeOpsetTo21(model: Model): void {
  if ((opsetVersion(model, '') ?? 1) >= 21) return;
  const blocker = opset21Blocker(model);
  if (blocker) throw new QuantizeError(blocker);
  const names = new NameScope(model.graph);
  for (const n of model.graph.nodes) {
    const axes = isOnnx(n) && AXES_TO_INPUT.has(n.opType) ? attrInts(n, 'axes') : undefined;
    if (!axes) continue;
    const name = names.fresh(`${n.name || n.opType}_axes`);
    model.graph.initializers.push(int64Tensor(name, [axes.length], axes));
    n.inputs = [n.inputs[0]!, name];
    n.attributes = n.attributes.filter((a) => a.name !== 'axes');
  }
  for (const o of model.opsetImports) if (o.domain === '' || o.domain === 'ai.onnx') o.version = 21;
  if (!model.opsetImports.some((o) => o.domain === '' || o.domain === 'ai.onnx')) model.opsetImports.push({ domain: '', version: 21 });
  if (model.irVersion < 10) model.irVersion = 10;
}
