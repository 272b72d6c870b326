// Small helpers shared by the gradient rules: typed constants and opset-aware op forms.
import { DataType, type Node, type Tensor } from '../../onnx/ir.js';
import type { GraphBuilder } from '../../onnx/graph.js';
import { elementCount, rawTensor } from '../../onnx/tensor.js';

/** True for the floating-point element types gradients flow through. */
export function isFloatType(t: DataType | undefined): boolean {
  return t === DataType.FLOAT || t === DataType.DOUBLE || t === DataType.FLOAT16 || t === DataType.BFLOAT16;
}

function bf16Bits(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/** A tensor of `elemType` (FLOAT, DOUBLE, FLOAT16, BFLOAT16) holding `values`. */
export function typedTensor(name: string, elemType: DataType, values: ArrayLike<number>, dims: number[]): Tensor {
  if (values.length !== elementCount(dims)) throw new Error(`typedTensor '${name}': ${values.length} values for [${dims}]`);
  let bytes: Uint8Array;
  switch (elemType) {
    case DataType.FLOAT:
      bytes = new Uint8Array(Float32Array.from(values).buffer);
      break;
    case DataType.DOUBLE:
      bytes = new Uint8Array(Float64Array.from(values).buffer);
      break;
    case DataType.FLOAT16: {
      const h = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) h[i] = halfBits(values[i]!);
      bytes = new Uint8Array(h.buffer);
      break;
    }
    case DataType.BFLOAT16: {
      const h = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) h[i] = bf16Bits(values[i]!);
      bytes = new Uint8Array(h.buffer);
      break;
    }
    default:
      throw new Error(`typedTensor '${name}': unsupported element type ${elemType}`);
  }
  return rawTensor(name, elemType, dims, bytes);
}

function halfBits(v: number): number {
  // Local copy of the round-to-nearest-even conversion (tensor.ts has it too, exported there).
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && half & 1) ? 1 : 0));
}

/** Adds a typed constant initializer and returns its name. */
export function typedConst(b: GraphBuilder, elemType: DataType, values: ArrayLike<number>, dims: number[], base = 'const'): string {
  return b.initializer(typedTensor(b.prefix + base, elemType, values, dims));
}

/** Static row-major strides. */
export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function range(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => i + start);
}

export function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Inverse of a permutation. */
export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * Gradients that a rule produced by interleaving pooled-resolution pieces (the 2x2 pool rule of
 * training/rewrite.ts): full-resolution gradient name → its four pieces [N, C, H/2, W/2] for
 * window positions (0,0), (0,1), (1,0), (1,1), and the pool they came from (its output y and the
 * gradient dy flowing into y). A consumer's rule (Conv dW) may use the pieces, or the pool itself,
 * and skip the interleave; the unused interleave is then pruned. Keyed per graph builder.
 */
export interface InterleavedGradient {
  pieces: string[];
  pool: { y: string; dy: string };
}

const interleaved = new WeakMap<object, Map<string, InterleavedGradient>>();

export function recordInterleaved(builder: object, full: string, entry: InterleavedGradient): void {
  let m = interleaved.get(builder);
  if (!m) interleaved.set(builder, (m = new Map()));
  m.set(full, entry);
}

export function interleavedGradientOf(builder: object, full: string): InterleavedGradient | undefined {
  return interleaved.get(builder)?.get(full);
}

/**
 * Pools whose forward a rule recomputed from values it built anyway (the first conv's window
 * pieces, gradients/conv.ts): lowerTrainingOps makes the pool node Reshape(from, dims), so the
 * forward and the gradient's routing read the same numbers. Keyed per graph builder.
 */
export interface PoolForward {
  y: string;
  from: string;
  dims: number[];
}

/** Notes that gradient rules leave for lowerTrainingOps, one list per graph builder. */
function perBuilderList<T>(): { record: (builder: object, entry: T) => void; of: (builder: object) => T[] } {
  const lists = new WeakMap<object, T[]>();
  return {
    record(builder, entry) {
      let list = lists.get(builder);
      if (!list) lists.set(builder, (list = []));
      list.push(entry);
    },
    of: (builder) => lists.get(builder) ?? [],
  };
}

const poolForwards = perBuilderList<PoolForward>();
export const recordPoolForward = poolForwards.record;
export const poolForwardsOf = poolForwards.of;

/**
 * Convs whose dW rule built explicit patches of their input (gradients/conv.ts): the forward Conv
 * can read the same patches as one MatMul (lowerTrainingOps), instead of ORT's Conv plus its
 * layout reorders. Keyed per graph builder.
 */
export interface ConvPatches {
  conv: Node;
  /** Patches transposed: [N, Ho·Wo, kh·kw·C], column (i·kw + j)·C + c. */
  patchesT: string;
  /** Output dims [N, M, Ho, Wo] and kernel [kh, kw]; C = input channels. */
  yDims: number[];
  kernel: [number, number];
  channels: number;
}

const patchesOf = perBuilderList<ConvPatches>();
export const recordConvPatches = patchesOf.record;
export const convPatches = patchesOf.of;
