// Shared pieces of shape inference: value types, dimension arithmetic, broadcasting and the
// per-node context handed to op rules.
import { DataType, type Dim, type Graph, type Node } from '../ir.js';

export interface ValueType {
  elemType: DataType;
  shape: Dim[] | null;
}

/**
 * An element of a tracked small tensor value: a bigint for integer/bool tensors, a number for
 * float tensors, a string for a symbolic dimension (Shape of a [batch, ...] tensor), null unknown.
 */
export type Elem = bigint | number | string | null;

export class ShapeInferenceError extends Error {
  constructor(
    readonly node: Node,
    message: string,
  ) {
    super(`shape inference: ${node.opType} node '${node.name || node.outputs[0] || '?'}': ${message}`);
    this.name = 'ShapeInferenceError';
  }
}

/** Largest tensor whose values we track (shape arithmetic works on tiny tensors). */
export const MAX_TRACKED = 4096;

/** Highest rank we build a shape for (the codec refuses tensors of higher rank too). */
export const MAX_RANK = 64;

/**
 * A shape of `rank` unknown dims, e.g. the output of Reshape whose target is a 1-D tensor of
 * `rank` values. The rank comes from a declared dim of an untrusted file: a value like
 * 2147483648 must give "rank unknown", not a two-billion-entry array.
 */
export function unknownDims(rank: Dim | undefined): Dim[] | null {
  return typeof rank === 'number' && Number.isInteger(rank) && rank >= 0 && rank <= MAX_RANK ? new Array<Dim>(rank).fill(null) : null;
}

export function isIntType(t: DataType): boolean {
  return (
    t === DataType.INT64 ||
    t === DataType.INT32 ||
    t === DataType.INT16 ||
    t === DataType.INT8 ||
    t === DataType.UINT64 ||
    t === DataType.UINT32 ||
    t === DataType.UINT16 ||
    t === DataType.UINT8 ||
    t === DataType.BOOL
  );
}

export function isFloatType(t: DataType): boolean {
  return t === DataType.FLOAT || t === DataType.DOUBLE || t === DataType.FLOAT16 || t === DataType.BFLOAT16;
}

export function isStatic(shape: Dim[] | null): shape is number[] {
  return shape !== null && shape.every((d) => typeof d === 'number');
}

export function staticCount(shape: Dim[] | null): number | null {
  if (!isStatic(shape)) return null;
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Normalizes a possibly negative axis; throws via `fail` when out of range. */
export function normAxis(axis: number, rank: number, fail: (msg: string) => never): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Merges two descriptions of the same dimension (equality expected). */
export function mergeDim(a: Dim, b: Dim): Dim {
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a;
}

/** Two dims that must be equal: false only when they are definitely different. */
export function dimsCompatible(a: Dim, b: Dim): boolean {
  return !(typeof a === 'number' && typeof b === 'number' && a !== b);
}

/** Broadcast of two dims (numpy rules). Returns undefined when definitely incompatible. */
export function broadcastDim(a: Dim, b: Dim): Dim | undefined {
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') return a === b ? a : undefined;
  if (typeof a === 'number') return a; // a != 1: b must be 1 or a
  if (typeof b === 'number') return b;
  if (a === null) return b; // b symbolic: if a==1 result b, else a==b
  if (b === null) return a;
  return a; // two symbols: keep one
}

export function broadcastShapes(shapes: (Dim[] | null)[], fail: (msg: string) => never): Dim[] | null {
  if (shapes.some((s) => s === null)) {
    // Rank is at least the largest known rank but unknown in general.
    return null;
  }
  const ss = shapes as Dim[][];
  const rank = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of ss) {
      const j = i - (rank - s.length);
      if (j < 0) continue;
      const r = broadcastDim(d, s[j]!);
      if (r === undefined) fail(`cannot broadcast shapes ${ss.map(fmtShape).join(' and ')}`);
      d = r;
    }
    out.push(d);
  }
  return out;
}

export function fmtShape(s: Dim[] | null): string {
  if (s === null) return '[?]';
  return `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** Product of dims, keeping a single symbol when the rest multiply to 1. */
export function dimProduct(dims: Dim[]): Dim {
  let n = 1;
  const syms: Dim[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else syms.push(d);
  }
  if (n === 0) return 0;
  if (syms.length === 0) return n;
  if (syms.length === 1 && n === 1) return syms[0]!;
  return null;
}

/** Converts a tracked element to a dim. */
export function elemToDim(e: Elem): Dim {
  if (typeof e === 'bigint') return Number(e);
  if (typeof e === 'number') return Number.isInteger(e) ? e : null;
  return e;
}

export function dimToElem(d: Dim): Elem {
  return typeof d === 'number' ? BigInt(d) : d;
}

export function toNumber(e: Elem): number | null {
  if (typeof e === 'bigint') {
    if (e > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    if (e < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
    return Number(e);
  }
  if (typeof e === 'number') return e;
  return null;
}

/** Everything an op rule needs. */
export interface OpContext {
  node: Node;
  /** Opset of the node's domain. */
  opset: number;
  /** Inputs' types (undefined for omitted or unknown inputs). */
  type(i: number): ValueType | undefined;
  shape(i: number): Dim[] | null;
  elem(i: number): DataType;
  rank(i: number): number | null;
  has(i: number): boolean;
  /** Tracked values of input i (may contain symbolic/unknown elements). */
  value(i: number): Elem[] | undefined;
  /** Input i's values as numbers when all are known numerically. */
  numbers(i: number): number[] | undefined;
  /** Sets output i; a value is kept only when its element count matches the shape. */
  out(i: number, elemType: DataType, shape: Dim[] | null, value?: Elem[]): void;
  fail(msg: string): never;
  /** Infers a subgraph with the current scope's values visible. */
  subgraph(g: Graph, inputs: (ValueType | undefined)[]): (ValueType | undefined)[];
  /** Number of outputs the node declares (including omitted ''). */
  nOut: number;
}
