// Per-op shape and type rules. Each rule reads its inputs through an OpContext and sets its
// outputs; unknown inputs give unknown outputs (never an exception), definitely inconsistent
// static shapes throw a ShapeInferenceError naming the node.
import { attrFloats, attrInt, attrInts, attrString, attrTensor, findAttr } from '../attributes.js';
import { DataType, type Dim, type Graph, type Tensor } from '../ir.js';
import { bigintData, elementCount, floatData, rawByteLength } from '../tensor.js';
import {
  broadcastShapes,
  dimProduct,
  dimToElem,
  dimsCompatible,
  elemToDim,
  fmtShape,
  isStatic,
  MAX_TRACKED,
  unknownDims,
  mergeDim,
  normAxis,
  staticCount,
  type Elem,
  type OpContext,
  type ValueType,
} from './common.js';
import {
  binElem,
  broadcastMap,
  castElem,
  concatValues,
  gatherValues,
  pickValues,
  tileValues,
  transposeValues,
  unaryElem,
} from './values.js';

export type Rule = (c: OpContext) => void;

const UNKNOWN = DataType.UNDEFINED;

/** Values of a tensor as tracked elements, when small and numeric. */
export function tensorElems(t: Tensor): Elem[] | undefined {
  if (t.data.kind !== 'raw') return undefined;
  const n = elementCount(t.dims);
  if (n > MAX_TRACKED) return undefined;
  if (t.data.bytes.byteLength !== rawByteLength(t.dataType, t.dims)) return undefined;
  try {
    switch (t.dataType) {
      case DataType.FLOAT:
      case DataType.DOUBLE:
      case DataType.FLOAT16:
        return Array.from(floatData(t));
      case DataType.INT64:
      case DataType.INT32:
      case DataType.INT16:
      case DataType.INT8:
      case DataType.UINT64:
      case DataType.UINT32:
      case DataType.UINT16:
      case DataType.UINT8:
      case DataType.BOOL:
        return bigintData(t);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

// ---------- small helpers ----------

function same(c: OpContext, i = 0): void {
  c.out(0, c.elem(i), c.shape(i));
}

function sameWithValue(c: OpContext, op: string): void {
  const v = c.value(0);
  c.out(0, c.elem(0), c.shape(0), v?.map((e) => unaryElem(op, e)));
}

/** Axes from an attribute (before `sinceOpset`) or an input. 'none' = not given, null = unknown. */
function axesOf(c: OpContext, attr: string, input: number, sinceOpset: number): number[] | 'none' | null {
  if (c.opset < sinceOpset) {
    const a = attrInts(c.node, attr);
    return a ?? 'none';
  }
  if (!c.has(input)) return 'none';
  const v = c.numbers(input);
  return v ?? null;
}

function staticShapes(c: OpContext, idx: number[]): number[][] | undefined {
  const res: number[][] = [];
  for (const i of idx) {
    const s = c.shape(i);
    if (!isStatic(s)) return undefined;
    res.push(s);
  }
  return res;
}

function broadcastRule(outType: (c: OpContext) => DataType, op?: string, valueInputs?: number[]): Rule {
  return (c) => {
    const idx = valueInputs ?? c.node.inputs.map((_, i) => i).filter((i) => c.has(i));
    const shape = broadcastShapes(
      idx.map((i) => c.shape(i)),
      c.fail,
    );
    let value: Elem[] | undefined;
    if (op && isStatic(shape) && (staticCount(shape) ?? Infinity) <= MAX_TRACKED) {
      const vals = idx.map((i) => c.value(i));
      const shapes = staticShapes(c, idx);
      if (shapes && vals.every((v) => v !== undefined)) {
        const fmod = attrInt(c.node, 'fmod', 0) === 1;
        value = broadcastMap(vals as Elem[][], shapes, shape, (xs) => {
          if (op === 'Where') return xs[0] === null ? (xs[1] === xs[2] ? xs[1]! : null) : xs[0] === 0n ? xs[2]! : xs[1]!;
          let acc: Elem = xs[0]!;
          for (let k = 1; k < xs.length; k++) acc = binElem(op, acc, xs[k]!, { fmod });
          if (op === 'Mean') return null;
          return acc;
        });
      }
    }
    c.out(0, outType(c), shape, value);
  };
}

const firstType = (c: OpContext) => c.elem(0);
const boolType = () => DataType.BOOL;

function convDim(inp: Dim, k: number, s: number, d: number, pb: number, pe: number, autoPad: string): Dim {
  const ek = (k - 1) * d + 1;
  if (typeof inp !== 'number') {
    if (typeof inp === 'string' && ek === 1 && s === 1 && pb === 0 && pe === 0) return inp;
    if (typeof inp === 'string' && s === 1 && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) return inp;
    return null;
  }
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(inp / s);
  if (autoPad === 'VALID') return Math.floor((inp - ek) / s) + 1;
  return Math.floor((inp + pb + pe - ek) / s) + 1;
}

function spatialAttrs(c: OpContext, n: number) {
  const strides = attrInts(c.node, 'strides') ?? new Array<number>(n).fill(1);
  const dilations = attrInts(c.node, 'dilations') ?? new Array<number>(n).fill(1);
  const pads = attrInts(c.node, 'pads') ?? new Array<number>(2 * n).fill(0);
  const autoPad = attrString(c.node, 'auto_pad', 'NOTSET');
  return { strides, dilations, pads, autoPad };
}

/** Conv-like output: [N, outChannels, spatial...]. */
function convShape(c: OpContext, x: Dim[] | null, w: Dim[] | null): Dim[] | null {
  const kAttr = attrInts(c.node, 'kernel_shape');
  const rank = x?.length ?? w?.length ?? (kAttr ? kAttr.length + 2 : null);
  if (rank === null) return null;
  const n = rank - 2;
  if (x && w && x.length !== w.length) c.fail(`input rank ${x.length} and weight rank ${w.length} differ`);
  const group = attrInt(c.node, 'group', 1);
  if (x && w && typeof x[1] === 'number' && typeof w[1] === 'number' && x[1] !== w[1] * group) {
    c.fail(`input has ${x[1]} channels but weight expects ${w[1]} x group ${group}`);
  }
  const kernel = kAttr ?? (w ? w.slice(2) : null);
  const { strides, dilations, pads, autoPad } = spatialAttrs(c, n);
  const out: Dim[] = [x ? x[0]! : null, w ? w[0]! : null];
  for (let i = 0; i < n; i++) {
    const k = kernel?.[i];
    out.push(typeof k === 'number' && x ? convDim(x[i + 2]!, k, strides[i]!, dilations[i]!, pads[i]!, pads[i + n]!, autoPad) : null);
  }
  return out;
}

function poolRule(c: OpContext): void {
  const x = c.shape(0);
  const kernel = attrInts(c.node, 'kernel_shape');
  if (!x || !kernel) {
    c.out(0, c.elem(0), x ? x.map((d, i) => (i < 2 ? d : null)) : null);
    if (c.nOut > 1) c.out(1, DataType.INT64, x ? x.map((d, i) => (i < 2 ? d : null)) : null);
    return;
  }
  const n = x.length - 2;
  if (kernel.length !== n) c.fail(`kernel_shape has ${kernel.length} dims for ${n} spatial dims`);
  const { strides, dilations, pads, autoPad } = spatialAttrs(c, n);
  const ceil = attrInt(c.node, 'ceil_mode', 0) === 1;
  const out: Dim[] = [x[0]!, x[1]!];
  for (let i = 0; i < n; i++) {
    const inp = x[i + 2]!;
    const k = kernel[i]!;
    const s = strides[i]!;
    const d = dilations[i]!;
    const pb = pads[i]!;
    const pe = pads[i + n]!;
    if (ceil && typeof inp === 'number' && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') {
      const ek = (k - 1) * d + 1;
      const p = autoPad === 'VALID' ? 0 : pb + pe;
      let o = Math.ceil((inp + p - ek) / s) + 1;
      // The last window must start inside the input or the left padding.
      if ((o - 1) * s >= inp + (autoPad === 'VALID' ? 0 : pb)) o--;
      out.push(o);
    } else {
      out.push(convDim(inp, k, s, d, pb, pe, autoPad));
    }
  }
  c.out(0, c.elem(0), out);
  if (c.nOut > 1) c.out(1, DataType.INT64, out);
}

function globalPool(c: OpContext): void {
  const x = c.shape(0);
  c.out(0, c.elem(0), x ? x.map((d, i) => (i < 2 ? d : 1)) : null);
}

function convTranspose(c: OpContext, elemType: DataType): void {
  const x = c.shape(0);
  const w = c.shape(1);
  const kAttr = attrInts(c.node, 'kernel_shape');
  const rank = x?.length ?? w?.length ?? null;
  if (rank === null) return c.out(0, elemType, null);
  const n = rank - 2;
  const group = attrInt(c.node, 'group', 1);
  if (x && w && typeof x[1] === 'number' && typeof w[0] === 'number' && x[1] !== w[0]) {
    c.fail(`input has ${x[1]} channels but weight has ${w[0]}`);
  }
  const kernel = kAttr ?? (w ? w.slice(2) : null);
  const { strides, dilations, pads, autoPad } = spatialAttrs(c, n);
  const outPad = attrInts(c.node, 'output_padding') ?? new Array<number>(n).fill(0);
  const outShape = attrInts(c.node, 'output_shape');
  const m = w && typeof w[1] === 'number' ? w[1] * group : null;
  const out: Dim[] = [x ? x[0]! : null, m];
  for (let i = 0; i < n; i++) {
    if (outShape) {
      out.push(outShape.length === n ? outShape[i]! : outShape[i + 2]!);
      continue;
    }
    const inp = x ? x[i + 2]! : null;
    const k = kernel?.[i];
    if (typeof inp !== 'number' || typeof k !== 'number') {
      out.push(null);
      continue;
    }
    const s = strides[i]!;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      out.push(inp * s);
      continue;
    }
    const ek = (k - 1) * dilations[i]! + 1;
    const p = autoPad === 'VALID' ? 0 : pads[i]! + pads[i + n]!;
    out.push(s * (inp - 1) + outPad[i]! + ek - p);
  }
  c.out(0, elemType, out);
}

function matmulShape(c: OpContext, a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  if (a.length === 0 || b.length === 0) c.fail('MatMul inputs must not be scalars');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (!dimsCompatible(k1, k2)) c.fail(`inner dimensions differ: ${fmtShape(a)} x ${fmtShape(b)} (${k1} vs ${k2})`);
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)], c.fail)!;
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (b.length === 1) out.splice(out.length - 1, 1);
  if (a.length === 1) out.splice(out.length - (b.length === 1 ? 1 : 2), 1);
  return out;
}

function reduceRule(axesSince: number): Rule {
  return (c) => {
    const x = c.shape(0);
    const keep = attrInt(c.node, 'keepdims', 1) === 1;
    const noop = attrInt(c.node, 'noop_with_empty_axes', 0) === 1;
    const axes = axesOf(c, 'axes', 1, axesSince);
    const type = c.elem(0);
    if (axes === null) {
      c.out(0, type, keep && x ? x.map(() => null) : null);
      return;
    }
    if (axes === 'none' || axes.length === 0) {
      if (noop && c.opset >= axesSince) return c.out(0, type, x, c.value(0));
      const shape = x ? (keep ? x.map(() => 1) : []) : keep ? null : [];
      let value: Elem[] | undefined;
      const v = c.value(0);
      const op = { ReduceSum: 'Add', ReduceProd: 'Mul', ReduceMax: 'Max', ReduceMin: 'Min' }[c.node.opType];
      if (v && op && v.length > 0) value = [v.reduce((acc, e) => binElem(op, acc, e))];
      return c.out(0, type, shape, value);
    }
    if (!x) return c.out(0, type, null);
    const norm = new Set(axes.map((a) => normAxis(a, x.length, c.fail)));
    const out: Dim[] = [];
    x.forEach((d, i) => {
      if (!norm.has(i)) out.push(d);
      else if (keep) out.push(1);
    });
    let value: Elem[] | undefined;
    const v = c.value(0);
    const op = { ReduceSum: 'Add', ReduceProd: 'Mul', ReduceMax: 'Max', ReduceMin: 'Min' }[c.node.opType];
    if (v && op && x.length === 1 && v.length > 0) value = [v.reduce((acc, e) => binElem(op, acc, e))];
    c.out(0, type, out, value);
  };
}

function argRule(c: OpContext): void {
  const x = c.shape(0);
  const keep = attrInt(c.node, 'keepdims', 1) === 1;
  if (!x) return c.out(0, DataType.INT64, null);
  const axis = normAxis(attrInt(c.node, 'axis', 0), x.length, c.fail);
  const out = keep ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis);
  c.out(0, DataType.INT64, out);
}

function sliceDim(d: number, start: number, end: number, step: number): [number, number, number] {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
  } else {
    s = Math.min(Math.max(s, 0), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
  }
  const len = Math.max(0, Math.ceil((e - s) / step));
  return [s, len, step];
}

function sliceRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (c.opset < 10) {
    starts = attrInts(c.node, 'starts');
    ends = attrInts(c.node, 'ends');
    axes = attrInts(c.node, 'axes');
  } else {
    starts = c.numbers(1);
    ends = c.numbers(2);
    if (c.has(3)) {
      axes = c.numbers(3);
      if (!axes) return c.out(0, type, x ? x.map(() => null) : null);
    }
    if (c.has(4)) {
      steps = c.numbers(4);
      if (!steps) return c.out(0, type, x ? x.map(() => null) : null);
    }
  }
  if (!x) return c.out(0, type, null);
  if (!starts || !ends) {
    // Unknown bounds: the sliced axes become unknown (all of them when axes are unknown too).
    const unknownAxes = axes ? new Set(axes.map((a) => normAxis(a, x.length, c.fail))) : null;
    return c.out(0, type, x.map((d, i) => (unknownAxes && !unknownAxes.has(i) ? d : null)));
  }
  if (starts.length !== ends.length) c.fail(`starts has ${starts.length} entries, ends ${ends.length}`);
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.length, c.fail));
  const st = steps ?? starts.map(() => 1);
  if (st.some((s) => s === 0)) c.fail('slice step 0');
  const out: Dim[] = [...x];
  // Index lists are only needed to fold tracked (small) values; a declared dim of an untrusted
  // file may be 2^31, so never build them otherwise.
  const v = c.value(0);
  const track = !!v && isStatic(x) && (staticCount(x) ?? Infinity) <= MAX_TRACKED;
  const perAxis: (number[] | null)[] = x.map((d) => (track && typeof d === 'number' ? Array.from({ length: d }, (_, i) => i) : null));
  ax.forEach((a, k) => {
    const d = x[a]!;
    if (typeof d !== 'number') {
      const full = starts![k] === 0 && st[k] === 1 && ends![k]! >= 2 ** 31 - 1;
      out[a] = full ? d : null;
      return;
    }
    const [s, len, step] = sliceDim(d, starts![k]!, ends![k]!, st[k]!);
    out[a] = len;
    if (track) perAxis[a] = Array.from({ length: len }, (_, i) => s + i * step);
  });
  let value: Elem[] | undefined;
  if (v && track && perAxis.every((p) => p !== null)) value = pickValues(v, x, perAxis as number[][]);
  c.out(0, type, out, value);
}

function reshapeRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  let target: Elem[] | undefined;
  if (c.opset < 5) target = attrInts(c.node, 'shape')?.map((v) => BigInt(v));
  else target = c.value(1);
  if (!target) {
    const s1 = c.shape(1);
    return c.out(0, type, s1 && s1.length === 1 ? unknownDims(s1[0]) : null, undefined);
  }
  const allowzero = attrInt(c.node, 'allowzero', 0) === 1;
  let inferAt = -1;
  const out: Dim[] = target.map((e, i) => {
    if (e === 0n && !allowzero) {
      if (x && i >= x.length) c.fail(`shape entry ${i} is 0 (copy) but the input has rank ${x.length}`);
      return x ? x[i]! : null;
    }
    if (e === -1n) {
      if (inferAt >= 0) c.fail('more than one -1 in the target shape');
      inferAt = i;
      return null;
    }
    return elemToDim(e);
  });
  if (x) {
    // Cancel symbols and numbers between input and output to fill -1 / check consistency.
    const inSyms: string[] = [];
    let inNum = 1;
    let inUnknown = false;
    for (const d of x) {
      if (typeof d === 'number') inNum *= d;
      else if (typeof d === 'string') inSyms.push(d);
      else inUnknown = true;
    }
    let outNum = 1;
    let outUnknown = false;
    const outSyms: string[] = [];
    out.forEach((d, i) => {
      if (i === inferAt) return;
      if (typeof d === 'number') outNum *= d;
      else if (typeof d === 'string') outSyms.push(d);
      else outUnknown = true;
    });
    if (!inUnknown && !outUnknown) {
      const rest = [...inSyms];
      const outRest: string[] = [];
      for (const s of outSyms) {
        const j = rest.indexOf(s);
        if (j >= 0) rest.splice(j, 1);
        else outRest.push(s);
      }
      if (inferAt >= 0) {
        if (outRest.length === 0 && outNum !== 0) {
          if (rest.length === 0) {
            if (inNum % outNum !== 0) c.fail(`cannot reshape ${fmtShape(x)} to ${fmtShape(out)}`);
            out[inferAt] = inNum / outNum;
          } else if (rest.length === 1 && inNum === outNum) out[inferAt] = rest[0]!;
        }
      } else if (rest.length === 0 && outRest.length === 0 && inNum !== outNum) {
        c.fail(`cannot reshape ${fmtShape(x)} (${inNum} elements) to ${fmtShape(out)} (${outNum} elements)`);
      }
    }
  }
  c.out(0, type, out, c.value(0));
}

function splitRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  const n = c.nOut;
  if (!x) {
    for (let i = 0; i < n; i++) c.out(i, type, null);
    return;
  }
  const axis = normAxis(attrInt(c.node, 'axis', 0), x.length, c.fail);
  let sizes: number[] | undefined | null;
  if (c.opset < 13) sizes = attrInts(c.node, 'split');
  else if (c.has(1)) sizes = c.numbers(1) ?? null;
  const d = x[axis]!;
  if (sizes === undefined) {
    if (typeof d === 'number') {
      const numOut = c.opset >= 18 ? attrInt(c.node, 'num_outputs', n) : n;
      if (numOut !== n) c.fail(`num_outputs is ${numOut} but the node has ${n} outputs`);
      if (c.opset >= 18 && findAttr(c.node, 'num_outputs')) {
        const chunk = Math.ceil(d / numOut);
        sizes = Array.from({ length: numOut }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
      } else {
        if (d % numOut !== 0) c.fail(`dimension ${d} does not split evenly into ${numOut} outputs`);
        sizes = new Array<number>(numOut).fill(d / numOut);
      }
    }
  }
  if (sizes && typeof d === 'number' && sizes.reduce((a, b) => a + b, 0) !== d) {
    c.fail(`split sizes [${sizes.join(', ')}] do not add up to ${d}`);
  }
  const v = c.value(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    const size = sizes ? sizes[i] ?? null : null;
    const shape = x.map((dd, k) => (k === axis ? size : dd));
    const value = v && x.length === 1 && size !== null ? v.slice(off, off + size) : undefined;
    c.out(i, type, shape, value);
    if (size !== null) off += size;
  }
}

function concatRule(c: OpContext): void {
  const idx = c.node.inputs.map((_, i) => i).filter((i) => c.has(i));
  const shapes = idx.map((i) => c.shape(i));
  const type = idx.map((i) => c.elem(i)).find((t) => t !== UNKNOWN) ?? UNKNOWN;
  const known = shapes.filter((s): s is Dim[] => s !== null);
  if (known.length === 0) return c.out(0, type, null);
  const rank = known[0]!.length;
  for (const s of known) if (s.length !== rank) c.fail(`inputs have different ranks: ${known.map(fmtShape).join(', ')}`);
  const axis = normAxis(attrInt(c.node, 'axis', 0), rank, c.fail);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    if (i === axis) {
      if (known.length !== shapes.length) {
        out.push(null);
        continue;
      }
      let n = 0;
      const syms: Dim[] = [];
      for (const s of known) {
        const d = s[i]!;
        if (typeof d === 'number') n += d;
        else syms.push(d);
      }
      out.push(syms.length === 0 ? n : syms.length === 1 && n === 0 && syms[0] !== null ? syms[0]! : null);
    } else {
      let d: Dim = null;
      for (const s of known) {
        if (!dimsCompatible(d, s[i]!)) c.fail(`dimension ${i} differs between inputs: ${known.map(fmtShape).join(', ')}`);
        d = mergeDim(d, s[i]!);
      }
      out.push(d);
    }
  }
  let value: Elem[] | undefined;
  const vals = idx.map((i) => c.value(i));
  if (vals.every((v) => v !== undefined) && shapes.every((s) => isStatic(s))) {
    value = concatValues(vals as Elem[][], shapes as number[][], axis);
  }
  c.out(0, type, out, value);
}

function gatherRule(c: OpContext): void {
  const x = c.shape(0);
  const ind = c.shape(1);
  const type = c.elem(0);
  if (!x || !ind) return c.out(0, type, null);
  const axis = normAxis(attrInt(c.node, 'axis', 0), x.length, c.fail);
  const out = [...x.slice(0, axis), ...ind, ...x.slice(axis + 1)];
  let value: Elem[] | undefined;
  const v = c.value(0);
  const iv = c.value(1);
  if (v && iv && isStatic(x) && isStatic(ind)) {
    const iv2 = iv.map((e) => (typeof e === 'bigint' ? e : e));
    value = gatherValues(v, x, iv2, ind, axis);
  } else if (v && iv && x.length === 1 && isStatic(ind)) {
    // Shape values with symbolic entries: rank 1 data.
    value = iv.map((e) => {
      if (typeof e !== 'bigint') return null;
      let i = Number(e);
      if (i < 0) i += v.length;
      return v[i] ?? null;
    });
  }
  c.out(0, type, out, value);
}

function unsqueezeRule(c: OpContext): void {
  const x = c.shape(0);
  const axes = axesOf(c, 'axes', 1, 13);
  const type = c.elem(0);
  if (axes === 'none') c.fail('axes are required');
  if (!x || axes === null) return c.out(0, type, null, c.value(0));
  const r = x.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, r, c.fail)));
  if (norm.size !== axes.length) c.fail(`repeated axes [${axes.join(', ')}]`);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(norm.has(i) ? 1 : x[j++]!);
  c.out(0, type, out, c.value(0));
}

function squeezeRule(c: OpContext): void {
  const x = c.shape(0);
  const axes = axesOf(c, 'axes', 1, 13);
  const type = c.elem(0);
  if (!x || axes === null) return c.out(0, type, null, c.value(0));
  if (axes === 'none' || axes.length === 0) {
    if (x.some((d) => typeof d !== 'number')) return c.out(0, type, null, c.value(0));
    return c.out(0, type, x.filter((d) => d !== 1), c.value(0));
  }
  const norm = new Set(axes.map((a) => normAxis(a, x.length, c.fail)));
  for (const a of norm) if (typeof x[a] === 'number' && x[a] !== 1) c.fail(`cannot squeeze axis ${a} of size ${x[a]}`);
  c.out(0, type, x.filter((_, i) => !norm.has(i)), c.value(0));
}

function transposeRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  if (!x) return c.out(0, type, null);
  const perm = attrInts(c.node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
  if (perm.length !== x.length) c.fail(`perm has ${perm.length} entries for rank ${x.length}`);
  const v = c.value(0);
  c.out(0, type, perm.map((p) => x[normAxis(p, x.length, c.fail)]!), v && isStatic(x) ? transposeValues(v, x, perm) : undefined);
}

function expandRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  const target = c.value(1);
  if (!target) {
    const s1 = c.shape(1);
    const n = s1 && s1.length === 1 && typeof s1[0] === 'number' ? s1[0] : null;
    if (n === null || !x) return c.out(0, type, null);
    const r = Math.max(n, x.length);
    const out: Dim[] = [];
    for (let i = 0; i < r; i++) {
      const j = i - (r - x.length);
      const d = j >= 0 ? x[j]! : null;
      out.push(typeof d === 'number' && d !== 1 ? d : typeof d === 'string' ? d : null);
    }
    return c.out(0, type, out);
  }
  const shape = broadcastShapes([x, target.map(elemToDim)], c.fail);
  let value: Elem[] | undefined;
  const v = c.value(0);
  if (v && isStatic(shape) && isStatic(x) && (staticCount(shape) ?? Infinity) <= MAX_TRACKED) {
    value = broadcastMap([v], [x], shape, (xs) => xs[0]!);
  }
  c.out(0, type, shape, value);
}

function tileRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  const reps = c.numbers(1);
  if (!x) return c.out(0, type, null);
  if (!reps) return c.out(0, type, x.map(() => null));
  if (reps.length !== x.length) c.fail(`repeats has ${reps.length} entries for rank ${x.length}`);
  const out = x.map((d, i) => (reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i]! : null));
  const v = c.value(0);
  c.out(0, type, out, v && isStatic(x) && (staticCount(out) ?? Infinity) <= MAX_TRACKED ? tileValues(v, x, reps) : undefined);
}

function padRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  if (!x) return c.out(0, type, null);
  const pads = c.opset < 11 ? attrInts(c.node, 'pads') ?? attrInts(c.node, 'paddings') : c.numbers(1);
  if (!pads) return c.out(0, type, x.map(() => null));
  let axes = x.map((_, i) => i);
  if (c.opset >= 18 && c.has(3)) {
    const a = c.numbers(3);
    if (!a) return c.out(0, type, x.map(() => null));
    axes = a.map((v) => normAxis(v, x.length, c.fail));
  }
  const n = axes.length;
  if (pads.length !== 2 * n) c.fail(`pads has ${pads.length} entries, expected ${2 * n}`);
  const out = [...x];
  axes.forEach((a, k) => {
    const d = x[a]!;
    const p = pads[k]! + pads[k + n]!;
    out[a] = p === 0 ? d : typeof d === 'number' ? d + p : null;
  });
  c.out(0, type, out);
}

function constantRule(c: OpContext): void {
  const n = c.node;
  const t = attrTensor(n, 'value');
  if (t) return c.out(0, t.dataType, [...t.dims], tensorElems(t));
  const a = n.attributes[0];
  if (!a) c.fail('no value attribute');
  switch (a.type) {
    case 'float':
      return c.out(0, DataType.FLOAT, [], [a.value]);
    case 'floats':
      return c.out(0, DataType.FLOAT, [a.value.length], [...a.value]);
    case 'int':
      return c.out(0, DataType.INT64, [], [a.value]);
    case 'ints':
      return c.out(0, DataType.INT64, [a.value.length], [...a.value]);
    case 'string':
      return c.out(0, DataType.STRING, []);
    case 'strings':
      return c.out(0, DataType.STRING, [a.value.length]);
    case 'sparse_tensor':
      return c.out(0, a.value.values.dataType, [...a.value.dims]);
    default:
      c.fail(`unsupported attribute '${a.name}' (${a.type})`);
  }
}

function constantOfShapeRule(c: OpContext): void {
  const t = attrTensor(c.node, 'value');
  const type = t ? t.dataType : DataType.FLOAT;
  const fill = t ? tensorElems(t)?.[0] ?? null : 0;
  const shp = c.value(0);
  if (!shp) {
    const s0 = c.shape(0);
    return c.out(0, type, s0 ? unknownDims(s0[0]) : null);
  }
  const dims = shp.map(elemToDim);
  const n = staticCount(dims);
  c.out(0, type, dims, n !== null && n <= MAX_TRACKED ? new Array<Elem>(n).fill(fill) : undefined);
}

function rangeRule(c: OpContext): void {
  const type = c.elem(0);
  const s = c.value(0)?.[0];
  const l = c.value(1)?.[0];
  const d = c.value(2)?.[0];
  if (s === undefined || l === undefined || d === undefined || s === null || l === null || d === null || typeof s === 'string' || typeof l === 'string' || typeof d === 'string') {
    if (typeof l === 'string' && (s === 0n || s === 0) && (d === 1n || d === 1)) return c.out(0, type, [l]);
    return c.out(0, type, [null]);
  }
  const n = Math.max(0, Math.ceil((Number(l) - Number(s)) / Number(d)));
  let value: Elem[] | undefined;
  if (n <= MAX_TRACKED) {
    value = [];
    if (typeof s === 'bigint' && typeof d === 'bigint') for (let i = 0; i < n; i++) value.push(s + BigInt(i) * d);
    else for (let i = 0; i < n; i++) value.push(Number(s) + i * Number(d));
  }
  c.out(0, type, [n], value);
}

function flattenRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  if (!x) return c.out(0, type, null, c.value(0));
  const axisRaw = attrInt(c.node, 'axis', 1);
  const axis = axisRaw < 0 ? axisRaw + x.length : axisRaw;
  if (axis < 0 || axis > x.length) c.fail(`axis ${axisRaw} out of range for rank ${x.length}`);
  c.out(0, type, [dimProduct(x.slice(0, axis)), dimProduct(x.slice(axis))], c.value(0));
}

function shapeRule(c: OpContext): void {
  const x = c.shape(0);
  if (!x) return c.out(0, DataType.INT64, [null]);
  const r = x.length;
  let start = attrInt(c.node, 'start', 0);
  let end = attrInt(c.node, 'end', r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = Math.min(Math.max(start, 0), r);
  end = Math.min(Math.max(end, 0), r);
  const dims = x.slice(start, Math.max(start, end));
  c.out(0, DataType.INT64, [dims.length], dims.map(dimToElem));
}

function sizeRule(c: OpContext): void {
  const x = c.shape(0);
  const p = x ? dimProduct(x) : null;
  c.out(0, DataType.INT64, [], [p === null ? null : dimToElem(p)]);
}

function castRule(c: OpContext): void {
  const to = attrInt(c.node, 'to', UNKNOWN) as DataType;
  const v = c.value(0);
  c.out(0, to, c.shape(0), v?.map((e) => castElem(e, to)));
}

function dropoutRule(c: OpContext): void {
  c.out(0, c.elem(0), c.shape(0), c.value(0));
  if (c.nOut > 1) c.out(1, c.opset >= 10 ? DataType.BOOL : c.elem(0), c.shape(0));
}

function batchNormRule(c: OpContext): void {
  const x = c.shape(0);
  c.out(0, c.elem(0), x);
  const ch: Dim[] = [x && x.length > 1 ? x[1]! : (c.shape(1)?.[0] ?? null)];
  for (let i = 1; i < c.nOut; i++) c.out(i, c.elem(i >= 3 ? 4 : i + 2) || c.elem(0), ch);
}

function layerNormRule(c: OpContext): void {
  const x = c.shape(0);
  c.out(0, c.elem(0), x);
  if (c.nOut < 2) return;
  const stash = attrInt(c.node, 'stash_type', 1) as DataType;
  let stat: Dim[] | null = null;
  if (x) {
    const axis = normAxis(attrInt(c.node, 'axis', -1), x.length, c.fail);
    stat = x.map((d, i) => (i < axis ? d : 1));
  }
  for (let i = 1; i < c.nOut; i++) c.out(i, stash, stat);
}

function gemmRule(c: OpContext): void {
  const a = c.shape(0);
  const b = c.shape(1);
  const ta = attrInt(c.node, 'transA', 0) === 1;
  const tb = attrInt(c.node, 'transB', 0) === 1;
  if (a && a.length !== 2) c.fail(`A must be 2-D, got ${fmtShape(a)}`);
  if (b && b.length !== 2) c.fail(`B must be 2-D, got ${fmtShape(b)}`);
  const m = a ? a[ta ? 1 : 0]! : null;
  const k1 = a ? a[ta ? 0 : 1]! : null;
  const k2 = b ? b[tb ? 1 : 0]! : null;
  const n = b ? b[tb ? 0 : 1]! : null;
  if (!dimsCompatible(k1, k2)) c.fail(`inner dimensions differ (${k1} vs ${k2})`);
  let mm = m;
  let nn = n;
  const cs = c.has(2) ? c.shape(2) : null;
  if (cs && cs.length <= 2 && (m === null || n === null)) {
    // C broadcasts to [M, N]; a non-1 static dim pins the unknown one.
    const cm = cs.length === 2 ? cs[0]! : 1;
    const cn = cs.length >= 1 ? cs[cs.length - 1]! : 1;
    if (mm === null && typeof cm === 'number' && cm !== 1) mm = cm;
    if (nn === null && typeof cn === 'number' && cn !== 1) nn = cn;
  }
  c.out(0, c.elem(0), [mm, nn]);
}

function einsumRule(c: OpContext): void {
  const eq = attrString(c.node, 'equation', '').replace(/\s+/g, '');
  const type = c.elem(0);
  const [lhs, rhsRaw] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  const letters = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ell: Dim[] | null = [];
  for (let t = 0; t < terms.length; t++) {
    const s = c.shape(t);
    const term = terms[t]!;
    if (!s) {
      ell = term.includes('...') ? null : ell;
      for (const ch of term.replace('...', '')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
      continue;
    }
    const [pre, post] = term.includes('...') ? (term.split('...') as [string, string]) : [term, ''];
    const nEll = s.length - pre.length - post.length;
    if (nEll < 0 || (!term.includes('...') && nEll !== 0)) c.fail(`term '${term}' does not match input rank ${s.length}`);
    [...pre].forEach((ch, i) => {
      if (!dimsCompatible(letters.get(ch) ?? null, s[i]!)) c.fail(`label '${ch}' has sizes ${letters.get(ch)} and ${s[i]}`);
      letters.set(ch, mergeDim(letters.get(ch) ?? null, s[i]!) ?? null);
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
    });
    [...post].forEach((ch, i) => {
      const d = s[pre.length + nEll + i]!;
      const prev = letters.get(ch) ?? null;
      letters.set(ch, prev === 1 ? d : d === 1 ? prev : mergeDim(prev, d));
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
    });
    if (term.includes('...') && ell) ell = broadcastShapes([ell, s.slice(pre.length, pre.length + nEll)], c.fail);
  }
  let rhs = rhsRaw;
  if (rhs === undefined) {
    rhs = (lhs.includes('...') ? '...' : '') + [...counts.entries()].filter(([, n]) => n === 1).map(([ch]) => ch).sort().join('');
  }
  if (rhs.includes('...') && ell === null) return c.out(0, type, null);
  const out: Dim[] = [];
  const [rpre, rpost] = rhs.includes('...') ? (rhs.split('...') as [string, string]) : [rhs, ''];
  for (const ch of rpre) out.push(letters.get(ch) ?? null);
  if (rhs.includes('...')) out.push(...ell!);
  for (const ch of rpost) out.push(letters.get(ch) ?? null);
  c.out(0, type, out);
}

function rnnRule(gates: number, hasCell: boolean): Rule {
  return (c) => {
    const x = c.shape(0);
    const w = c.shape(1);
    const r = c.shape(2);
    const type = c.elem(0);
    const layout = attrInt(c.node, 'layout', 0);
    const dirs = attrString(c.node, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
    let hidden: Dim = attrInt(c.node, 'hidden_size') ?? null;
    if (hidden === null && r) hidden = r[2] ?? null;
    if (hidden === null && w && typeof w[1] === 'number') hidden = w[1] / gates;
    const seq = x ? x[layout === 0 ? 0 : 1]! : null;
    const batch = x ? x[layout === 0 ? 1 : 0]! : null;
    c.out(0, type, layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden]);
    const state = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
    if (c.nOut > 1) c.out(1, type, state);
    if (hasCell && c.nOut > 2) c.out(2, type, state);
  };
}

function resizeRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  if (!x) return c.out(0, type, null);
  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  if (c.node.opType === 'Upsample') {
    scales = c.opset < 9 ? attrFloats(c.node, 'scales') : c.numbers(1);
  } else if (c.opset < 11) {
    scales = c.numbers(1);
  } else {
    if (c.has(3)) sizes = c.numbers(3);
    if (c.has(2) && !sizes) {
      scales = c.numbers(2);
      if (scales && scales.length === 0) scales = undefined;
    }
  }
  const axesAttr = c.opset >= 18 ? attrInts(c.node, 'axes') : undefined;
  const axes = (axesAttr ?? x.map((_, i) => i)).map((a) => normAxis(a, x.length, c.fail));
  const out: Dim[] = [...x];
  if (sizes) {
    const policy = attrString(c.node, 'keep_aspect_ratio_policy', 'stretch');
    if (policy !== 'stretch' && axes.every((a) => typeof x[a] === 'number')) {
      const ratios = axes.map((a, k) => sizes![k]! / (x[a] as number));
      const sc = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((a) => (out[a] = Math.round(sc * (x[a] as number))));
    } else if (policy !== 'stretch') {
      axes.forEach((a) => (out[a] = null));
    } else axes.forEach((a, k) => (out[a] = sizes![k]!));
  } else if (scales) {
    axes.forEach((a, k) => {
      const d = x[a]!;
      const s = scales![k]!;
      out[a] = s === 1 ? d : typeof d === 'number' ? Math.floor(d * s + 1e-9) : null;
    });
  } else {
    axes.forEach((a) => (out[a] = null));
  }
  c.out(0, type, out);
}

function topkRule(c: OpContext): void {
  const x = c.shape(0);
  const type = c.elem(0);
  if (!x) {
    c.out(0, type, null);
    return c.out(1, DataType.INT64, null);
  }
  const axis = normAxis(attrInt(c.node, 'axis', -1), x.length, c.fail);
  const k = c.opset < 10 ? attrInt(c.node, 'k') ?? null : c.numbers(1)?.[0] ?? null;
  const out = x.map((d, i) => (i === axis ? k : d));
  c.out(0, type, out);
  c.out(1, DataType.INT64, out);
}

function oneHotRule(c: OpContext): void {
  const ind = c.shape(0);
  const type = c.elem(2);
  if (!ind) return c.out(0, type, null);
  const depthRaw = c.value(1)?.[0];
  const depth = depthRaw === undefined || depthRaw === null || typeof depthRaw === 'string' ? null : Math.trunc(Number(depthRaw));
  const axis = normAxis(attrInt(c.node, 'axis', -1), ind.length + 1, c.fail);
  const out = [...ind];
  out.splice(axis, 0, depth);
  c.out(0, type, out);
}

function gatherNDRule(c: OpContext): void {
  const x = c.shape(0);
  const ind = c.shape(1);
  const type = c.elem(0);
  if (!x || !ind) return c.out(0, type, null);
  const b = attrInt(c.node, 'batch_dims', 0);
  const last = ind[ind.length - 1];
  if (typeof last !== 'number') return c.out(0, type, null);
  c.out(0, type, [...ind.slice(0, -1), ...x.slice(b + last)]);
}

function depthToSpace(c: OpContext, up: boolean): void {
  const x = c.shape(0);
  const b = attrInt(c.node, 'blocksize', 1);
  const type = c.elem(0);
  if (!x) return c.out(0, type, null);
  const div = (d: Dim, k: number) => (typeof d === 'number' ? d / k : null);
  const mul = (d: Dim, k: number) => (typeof d === 'number' ? d * k : null);
  if (up) c.out(0, type, [x[0]!, div(x[1]!, b * b), ...x.slice(2).map((d) => mul(d, b))]);
  else c.out(0, type, [x[0]!, mul(x[1]!, b * b), ...x.slice(2).map((d) => div(d, b))]);
}

function quantizeRule(c: OpContext): void {
  let type: DataType = c.has(2) ? c.elem(2) : DataType.UINT8;
  const od = attrInt(c.node, 'output_dtype', 0);
  if (od) type = od as DataType;
  c.out(0, type, c.shape(0));
}

function dequantizeRule(c: OpContext): void {
  const od = attrInt(c.node, 'output_dtype', 0);
  c.out(0, od ? (od as DataType) : c.opset >= 19 || c.node.domain === 'com.microsoft' ? c.elem(1) || DataType.FLOAT : DataType.FLOAT, c.shape(0));
}

function mergeLoose(a: ValueType | undefined, b: ValueType | undefined): ValueType | undefined {
  if (!a) return b;
  if (!b) return a;
  const t = a.elemType || b.elemType;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { elemType: t, shape: null };
  return { elemType: t, shape: a.shape.map((d, i) => (d === b.shape![i] ? d : null)) };
}

function graphAttr(c: OpContext, name: string): Graph | undefined {
  const a = findAttr(c.node, name);
  return a && a.type === 'graph' ? a.value : undefined;
}

function ifRule(c: OpContext): void {
  const thenG = graphAttr(c, 'then_branch');
  const elseG = graphAttr(c, 'else_branch');
  const t = thenG ? c.subgraph(thenG, []) : [];
  const e = elseG ? c.subgraph(elseG, []) : [];
  const cond = c.value(0)?.[0];
  for (let i = 0; i < c.nOut; i++) {
    const v = typeof cond === 'bigint' ? (cond !== 0n ? t[i] : e[i]) : mergeLoose(t[i], e[i]);
    c.out(i, v?.elemType ?? UNKNOWN, v?.shape ?? null);
  }
}

function loopRule(c: OpContext): void {
  const body = graphAttr(c, 'body');
  const nCarried = c.node.inputs.length - 2;
  const carried: (ValueType | undefined)[] = [];
  for (let i = 0; i < nCarried; i++) carried.push(c.type(i + 2));
  const bodyIn: (ValueType | undefined)[] = [
    { elemType: DataType.INT64, shape: [] },
    { elemType: DataType.BOOL, shape: [] },
    ...carried.map((t) => (t ? { elemType: t.elemType, shape: t.shape } : undefined)),
  ];
  const res = body ? c.subgraph(body, bodyIn) : [];
  const m = c.value(0)?.[0];
  const trip: Dim = !c.has(1) && typeof m === 'bigint' ? Number(m) : null;
  for (let i = 0; i < c.nOut; i++) {
    if (i < nCarried) {
      const v = mergeLoose(carried[i], res[i + 1]);
      c.out(i, v?.elemType ?? UNKNOWN, v?.shape ?? null);
    } else {
      const v = res[i + 1];
      c.out(i, v?.elemType ?? UNKNOWN, v?.shape ? [trip, ...v.shape] : null);
    }
  }
}

function scanRule(c: OpContext): void {
  const body = graphAttr(c, 'body');
  const m = attrInt(c.node, 'num_scan_inputs', 0);
  const off = c.opset < 9 ? 1 : 0; // Scan-8 has sequence_lens first
  const nIn = c.node.inputs.length - off;
  const nState = nIn - m;
  const inAxes = attrInts(c.node, 'scan_input_axes') ?? new Array<number>(m).fill(0);
  const outAxes = attrInts(c.node, 'scan_output_axes');
  const bodyIn: (ValueType | undefined)[] = [];
  let seq: Dim = null;
  const batch: Dim = off ? (c.shape(1)?.[0] ?? null) : null;
  for (let i = 0; i < nIn; i++) {
    const t = c.type(i + off);
    if (i < nState || !t) {
      // Scan-8 states carry the batch axis outside the body.
      bodyIn.push(t && off && t.shape ? { elemType: t.elemType, shape: t.shape.slice(1) } : t);
      continue;
    }
    if (!t.shape) {
      bodyIn.push({ elemType: t.elemType, shape: null });
      continue;
    }
    const s = [...t.shape];
    if (off) s.shift();
    const ax = normAxis(inAxes[i - nState] ?? 0, s.length, c.fail);
    seq = mergeDim(seq, s[ax]!);
    s.splice(ax, 1);
    bodyIn.push({ elemType: t.elemType, shape: s });
  }
  const res = body ? c.subgraph(body, bodyIn) : [];
  for (let i = 0; i < c.nOut; i++) {
    const v = res[i];
    if (i < nState || !v?.shape) {
      c.out(i, v?.elemType ?? UNKNOWN, v?.shape ? (off ? [batch, ...v.shape] : v.shape) : null);
      continue;
    }
    const s = [...v.shape];
    if (off) s.unshift(batch);
    const ax = outAxes ? normAxis(outAxes[i - nState]!, s.length + 1, c.fail) : off;
    s.splice(ax, 0, seq);
    c.out(i, v.elemType, s);
  }
}

function lossRule(c: OpContext): void {
  const reduction = attrString(c.node, 'reduction', 'mean');
  const type = c.elem(0);
  c.out(0, type, reduction === 'none' ? c.shape(1) : []);
  if (c.nOut > 1) c.out(1, type, c.shape(0));
}

function likeRule(c: OpContext): void {
  const dt = attrInt(c.node, 'dtype');
  c.out(0, dt !== undefined ? (dt as DataType) : c.elem(0), c.shape(0));
}

function windowRule(c: OpContext): void {
  const size = c.numbers(0)?.[0] ?? null;
  c.out(0, attrInt(c.node, 'output_datatype', DataType.FLOAT) as DataType, [size]);
}

const UNARY = [
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Erf', 'Gelu', 'Softplus', 'Softsign',
  'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Mish', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan',
  'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Softmax', 'LogSoftmax', 'Hardmax', 'LpNormalization',
  'MeanVarianceNormalization', 'InstanceNormalization', 'LRN', 'Shrink', 'BitwiseNot', 'PRelu', 'Trilu', 'CumSum',
  'ReverseSequence', 'GroupNormalization', 'Clip', 'ScatterElements', 'Scatter', 'ScatterND', 'Binarizer',
];
const VALUE_UNARY = ['Identity', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Not'];
const ARITH = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod'];
const COMPARE = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'];
const BITWISE = ['BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor'];
const REDUCE = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp'];

export const ONNX_RULES = new Map<string, Rule>();
const R = ONNX_RULES;
for (const op of UNARY) R.set(op, (c) => same(c));
for (const op of VALUE_UNARY) R.set(op, (c) => sameWithValue(c, op));
for (const op of ARITH) R.set(op, broadcastRule(firstType, op));
for (const op of COMPARE) R.set(op, broadcastRule(boolType, op));
for (const op of BITWISE) R.set(op, broadcastRule(firstType));
for (const op of REDUCE) R.set(op, reduceRule(18));
R.set('ReduceSum', reduceRule(13));
R.set('IsNaN', (c) => c.out(0, DataType.BOOL, c.shape(0)));
R.set('IsInf', (c) => c.out(0, DataType.BOOL, c.shape(0)));
R.set('RegexFullMatch', (c) => c.out(0, DataType.BOOL, c.shape(0)));
R.set('Where', broadcastRule((c) => c.elem(1) || c.elem(2), 'Where', [0, 1, 2]));
R.set('Cast', castRule);
R.set('CastLike', (c) => {
  const to = c.elem(1);
  const v = c.value(0);
  c.out(0, to, c.shape(0), to ? v?.map((e) => castElem(e, to)) : undefined);
});
R.set('Dropout', dropoutRule);
R.set('MatMul', (c) => c.out(0, c.elem(0), matmulShape(c, c.shape(0), c.shape(1))));
R.set('MatMulInteger', (c) => c.out(0, DataType.INT32, matmulShape(c, c.shape(0), c.shape(1))));
R.set('QLinearMatMul', (c) => c.out(0, c.elem(7), matmulShape(c, c.shape(0), c.shape(3))));
R.set('Gemm', gemmRule);
R.set('Conv', (c) => c.out(0, c.elem(0), convShape(c, c.shape(0), c.shape(1))));
R.set('ConvInteger', (c) => c.out(0, DataType.INT32, convShape(c, c.shape(0), c.shape(1))));
R.set('QLinearConv', (c) => c.out(0, c.elem(7), convShape(c, c.shape(0), c.shape(3))));
R.set('ConvTranspose', (c) => convTranspose(c, c.elem(0)));
R.set('MaxPool', poolRule);
R.set('AveragePool', poolRule);
R.set('LpPool', poolRule);
R.set('GlobalAveragePool', globalPool);
R.set('GlobalMaxPool', globalPool);
R.set('GlobalLpPool', globalPool);
R.set('MaxUnpool', (c) => {
  const x = c.shape(0);
  const type = c.elem(0);
  if (c.has(2)) {
    const v = c.numbers(2);
    if (v) return c.out(0, type, v);
    const s = c.shape(2);
    return c.out(0, type, s ? unknownDims(s[0]) : null);
  }
  const kernel = attrInts(c.node, 'kernel_shape');
  if (!x || !kernel) return c.out(0, type, null);
  const n = x.length - 2;
  const { strides, pads } = spatialAttrs(c, n);
  c.out(0, type, [x[0]!, x[1]!, ...x.slice(2).map((d, i) => (typeof d === 'number' ? (d - 1) * strides[i]! + kernel[i]! - pads[i]! - pads[i + n]! : null))]);
});
R.set('BatchNormalization', batchNormRule);
R.set('LayerNormalization', layerNormRule);
R.set('Flatten', flattenRule);
R.set('Reshape', reshapeRule);
R.set('Transpose', transposeRule);
R.set('Squeeze', squeezeRule);
R.set('Unsqueeze', unsqueezeRule);
R.set('Concat', concatRule);
R.set('Split', splitRule);
R.set('Slice', sliceRule);
R.set('Gather', gatherRule);
R.set('GatherElements', (c) => c.out(0, c.elem(0), c.shape(1)));
R.set('GatherND', gatherNDRule);
R.set('Expand', expandRule);
R.set('Tile', tileRule);
R.set('Pad', padRule);
R.set('ArgMax', argRule);
R.set('ArgMin', argRule);
R.set('Shape', shapeRule);
R.set('Size', sizeRule);
R.set('Constant', constantRule);
R.set('ConstantOfShape', constantOfShapeRule);
R.set('Range', rangeRule);
R.set('OneHot', oneHotRule);
R.set('TopK', topkRule);
R.set('QuantizeLinear', quantizeRule);
R.set('DequantizeLinear', dequantizeRule);
R.set('DynamicQuantizeLinear', (c) => {
  c.out(0, DataType.UINT8, c.shape(0));
  c.out(1, DataType.FLOAT, []);
  c.out(2, DataType.UINT8, []);
});
R.set('If', ifRule);
R.set('Loop', loopRule);
R.set('Scan', scanRule);
R.set('Einsum', einsumRule);
R.set('RNN', rnnRule(1, false));
R.set('GRU', rnnRule(3, false));
R.set('LSTM', rnnRule(4, true));
R.set('Resize', resizeRule);
R.set('Upsample', resizeRule);
R.set('DepthToSpace', (c) => depthToSpace(c, true));
R.set('SpaceToDepth', (c) => depthToSpace(c, false));
R.set('NonZero', (c) => c.out(0, DataType.INT64, [c.rank(0), null]));
R.set('NonMaxSuppression', (c) => c.out(0, DataType.INT64, [null, 3]));
R.set('Det', (c) => {
  const x = c.shape(0);
  c.out(0, c.elem(0), x ? x.slice(0, -2) : null);
});
R.set('EyeLike', likeRule);
R.set('Bernoulli', likeRule);
R.set('RandomNormalLike', likeRule);
R.set('RandomUniformLike', likeRule);
R.set('RandomNormal', (c) => c.out(0, attrInt(c.node, 'dtype', DataType.FLOAT) as DataType, attrInts(c.node, 'shape') ?? null));
R.set('RandomUniform', (c) => c.out(0, attrInt(c.node, 'dtype', DataType.FLOAT) as DataType, attrInts(c.node, 'shape') ?? null));
R.set('Multinomial', (c) => c.out(0, attrInt(c.node, 'dtype', DataType.INT32) as DataType, [c.shape(0)?.[0] ?? null, attrInt(c.node, 'sample_size', 1)]));
R.set('HannWindow', windowRule);
R.set('HammingWindow', windowRule);
R.set('BlackmanWindow', windowRule);
R.set('SoftmaxCrossEntropyLoss', lossRule);
R.set('NegativeLogLikelihoodLoss', lossRule);
R.set('GridSample', (c) => {
  const x = c.shape(0);
  const g = c.shape(1);
  c.out(0, c.elem(0), x && g ? [x[0]!, x[1]!, ...g.slice(1, -1)] : null);
});
R.set('RoiAlign', (c) => {
  const x = c.shape(0);
  const rois = c.shape(1);
  c.out(0, c.elem(0), [rois?.[0] ?? null, x?.[1] ?? null, attrInt(c.node, 'output_height', 1), attrInt(c.node, 'output_width', 1)]);
});
R.set('MaxRoiPool', (c) => {
  const x = c.shape(0);
  const rois = c.shape(1);
  c.out(0, c.elem(0), [rois?.[0] ?? null, x?.[1] ?? null, ...(attrInts(c.node, 'pooled_shape') ?? [null, null])]);
});
R.set('AffineGrid', (c) => {
  const size = c.numbers(1);
  if (!size) return c.out(0, c.elem(0), null);
  c.out(0, c.elem(0), [size[0]!, ...size.slice(2), size.length - 2]);
});
R.set('CenterCropPad', (c) => {
  const x = c.shape(0);
  const shape = c.numbers(1);
  if (!x) return c.out(0, c.elem(0), null);
  const axes = (attrInts(c.node, 'axes') ?? x.map((_, i) => i)).map((a) => normAxis(a, x.length, c.fail));
  const out = [...x];
  axes.forEach((a, k) => (out[a] = shape ? shape[k]! : null));
  c.out(0, c.elem(0), out);
});
R.set('Compress', (c) => {
  const x = c.shape(0);
  const cond = c.value(1);
  const axisAttr = attrInt(c.node, 'axis');
  let n: Dim = null;
  if (cond && cond.every((e) => typeof e === 'bigint')) {
    const limit = axisAttr === undefined ? (x ? staticCount(x) : null) : x ? x[normAxis(axisAttr, x.length, c.fail)] : null;
    const lim = typeof limit === 'number' ? limit : cond.length;
    n = cond.slice(0, lim).filter((e) => e !== 0n).length;
  }
  if (axisAttr === undefined) return c.out(0, c.elem(0), [n]);
  if (!x) return c.out(0, c.elem(0), null);
  const a = normAxis(axisAttr, x.length, c.fail);
  c.out(0, c.elem(0), x.map((d, i) => (i === a ? n : d)));
});
R.set('Unique', (c) => {
  const x = c.shape(0);
  const axisAttr = attrInt(c.node, 'axis');
  if (axisAttr === undefined || !x) {
    c.out(0, c.elem(0), [null]);
    c.out(2, DataType.INT64, [x ? dimProduct(x) : null]);
  } else {
    const a = normAxis(axisAttr, x.length, c.fail);
    c.out(0, c.elem(0), x.map((d, i) => (i === a ? null : d)));
    c.out(2, DataType.INT64, [x[a]!]);
  }
  c.out(1, DataType.INT64, [null]);
  c.out(3, DataType.INT64, [null]);
});

R.set('DFT', (c) => {
  const x = c.shape(0);
  if (!x) return c.out(0, c.elem(0), null);
  let axis: number | null;
  if (c.opset < 20) axis = attrInt(c.node, 'axis', 1);
  else axis = c.has(2) ? c.numbers(2)?.[0] ?? null : -2;
  const out: Dim[] = [...x];
  out[out.length - 1] = 2;
  if (axis === null) return c.out(0, c.elem(0), out.map((d, i) => (i === out.length - 1 ? d : null)));
  const a = normAxis(axis, x.length, c.fail);
  let n: Dim = x[a]!;
  if (c.has(1)) n = c.numbers(1)?.[0] ?? null;
  if (attrInt(c.node, 'onesided', 0) === 1) n = typeof n === 'number' ? Math.floor(n / 2) + 1 : null;
  out[a] = n;
  c.out(0, c.elem(0), out);
});
R.set('STFT', (c) => {
  const x = c.shape(0);
  const step = c.numbers(1)?.[0] ?? null;
  const len = (c.has(3) ? c.numbers(3)?.[0] : undefined) ?? (c.has(2) ? c.shape(2)?.[0] : null) ?? null;
  const sig = x ? x[1]! : null;
  const frames = typeof sig === 'number' && typeof len === 'number' && step !== null ? Math.floor((sig - len) / step) + 1 : null;
  const bins = typeof len === 'number' ? (attrInt(c.node, 'onesided', 1) === 1 ? Math.floor(len / 2) + 1 : len) : null;
  c.out(0, c.elem(0), [x ? x[0]! : null, frames, bins, 2]);
});
R.set('MelWeightMatrix', (c) => {
  const bins = c.numbers(0)?.[0] ?? null;
  const dft = c.numbers(1)?.[0];
  c.out(0, attrInt(c.node, 'output_datatype', DataType.FLOAT) as DataType, [dft === undefined ? null : Math.floor(dft / 2) + 1, bins]);
});
R.set('StringNormalizer', (c) => {
  const x = c.shape(0);
  c.out(0, DataType.STRING, x ? x.map((d, i) => (i === x.length - 1 ? null : d)) : null);
});

// com.microsoft contrib ops commonly found in optimized or quantized models.
export const MS_RULES = new Map<string, Rule>();
const M = MS_RULES;
M.set('MatMulNBits', (c) => {
  const a = c.shape(0);
  const n = attrInt(c.node, 'N');
  const k = attrInt(c.node, 'K');
  if (a && typeof k === 'number' && typeof a[a.length - 1] === 'number' && a[a.length - 1] !== k) {
    c.fail(`A's last dimension ${a[a.length - 1]} differs from K=${k}`);
  }
  c.out(0, c.elem(0), a ? [...a.slice(0, -1), n ?? null] : null);
});
// Block-quantized lookup: data [..] packed along quantize_axis (uint8 holds 8/bits values per
// byte), gathered on gather_axis; the rows come out in the scales' type.
M.set('GatherBlockQuantized', (c) => {
  const data = c.shape(0);
  const ids = c.shape(1);
  if (!data || !ids) return c.out(0, c.elem(2), null);
  const gatherAxis = normAxis(attrInt(c.node, 'gather_axis', 0), data.length, c.fail);
  const quantizeAxis = normAxis(attrInt(c.node, 'quantize_axis', 1), data.length, c.fail);
  const bits = attrInt(c.node, 'bits', 4);
  if (bits !== 4 && bits !== 8) c.fail(`bits must be 4 or 8, got ${bits}`);
  const perByte = c.elem(0) === DataType.UINT8 ? 8 / bits : 1;
  const unpacked = data.map((d, i) => (i === quantizeAxis && typeof d === 'number' ? d * perByte : i === quantizeAxis ? null : d));
  c.out(0, c.elem(2), [...unpacked.slice(0, gatherAxis), ...ids, ...unpacked.slice(gatherAxis + 1)]);
});
for (const op of ['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'BiasAdd', 'QLinearSigmoid', 'QLinearLeakyRelu']) M.set(op, (c) => same(c));
M.set('FusedMatMul', (c) => {
  const t = (s: Dim[] | null, tr: boolean) => (s && tr && s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
  c.out(0, c.elem(0), matmulShape(c, t(c.shape(0), attrInt(c.node, 'transA', 0) === 1), t(c.shape(1), attrInt(c.node, 'transB', 0) === 1)));
});
M.set('MatMulIntegerToFloat', (c) => c.out(0, c.elem(2) || DataType.FLOAT, matmulShape(c, c.shape(0), c.shape(1))));
M.set('DynamicQuantizeMatMul', (c) => c.out(0, DataType.FLOAT, matmulShape(c, c.shape(0), c.shape(1))));
M.set('QLinearAdd', (c) => c.out(0, c.elem(0), broadcastShapes([c.shape(0), c.shape(3)], c.fail)));
M.set('QLinearMul', (c) => c.out(0, c.elem(0), broadcastShapes([c.shape(0), c.shape(3)], c.fail)));
M.set('QuantizeLinear', quantizeRule);
M.set('DequantizeLinear', dequantizeRule);
M.set('SkipLayerNormalization', (c) => {
  const x = c.shape(0);
  c.out(0, c.elem(0), x);
  const stat = x ? x.map((d, i) => (i < x.length - 1 ? d : 1)) : null;
  if (c.nOut > 1) c.out(1, DataType.FLOAT, stat);
  if (c.nOut > 2) c.out(2, DataType.FLOAT, stat);
  if (c.nOut > 3) c.out(3, c.elem(0), x);
});


