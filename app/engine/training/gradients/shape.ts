// Gradients of shape and indexing ops: Reshape family, Transpose, Concat/Split, Slice, Pad,
// Gather/GatherElements, Expand, Tile, ReduceSum/ReduceMean.
import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { DataType } from '../../onnx/ir.js';
import type { GradContext, GradientRule } from '../autodiff.js';
import { UnsupportedGradientError } from './errors.js';
import { invertPerm, normAxis, range } from './util.js';

function dy0(c: GradContext): string {
  return c.gradOutputs[0]!;
}

/** Reshape / Flatten / Squeeze / Unsqueeze: dX = Reshape(dY, shape X). Other inputs: none. */
const reshapeLike: GradientRule = (c) => [c.reshape(dy0(c), c.shape(c.node.inputs[0]!).dims), null];

const transpose: GradientRule = (c) => {
  const rank = c.shape(c.node.inputs[0]!).dims.length;
  const perm = attrInts(c.node, 'perm', range(rank).reverse());
  return [c.transpose(dy0(c), invertPerm(perm))];
};

const concat: GradientRule = (c) => {
  const dy = dy0(c);
  const rank = c.shape(c.node.outputs[0]!).dims.length;
  const axis = normAxis(attrInt(c.node, 'axis', 0), rank);
  const ins = c.node.inputs;
  const sizes = ins.map((i) => c.shape(i).dims[axis]!);
  if (ins.length === 1) return [dy];
  const parts = c.builder.opN('Split', [dy, c.int64(sizes)], { axis }, { outputs: ins.length });
  return ins.map((_, i) => (c.needsGrad(i) ? parts[i]! : null));
};

const split: GradientRule = (c) => {
  const outs = c.node.outputs;
  const rank = c.shape(c.node.inputs[0]!).dims.length;
  const axis = normAxis(attrInt(c.node, 'axis', 0), rank);
  const t = c.shape(c.node.inputs[0]!).elemType;
  const parts = outs.map((o, i) => c.gradOutputs[i] ?? c.zeros(c.shape(o).dims, t));
  return [parts.length === 1 ? parts[0]! : c.op('Concat', parts, { axis }), null];
};

/**
 * Slice. When starts/ends/axes/steps are known and every step is 1: Pad(dY) with the cut sizes.
 * Otherwise: slice a Range over the flat positions of X with the node's own inputs, and
 * ScatterElements dY into zeros at those positions (a slice never repeats a position).
 */
const slice: GradientRule = (c) => {
  const dy = dy0(c);
  const [x, startsN, endsN, axesN, stepsN] = c.node.inputs as [string, string, string, string?, string?];
  const xs = c.shape(x);
  const rank = xs.dims.length;
  const starts = c.constInts(startsN);
  const ends = c.constInts(endsN);
  const axes = axesN ? c.constInts(axesN) : range(starts?.length ?? 0);
  const steps = stepsN ? c.constInts(stepsN) : starts?.map(() => 1);
  if (starts && ends && axes && steps && steps.every((s) => s === 1)) {
    const before = new Array<number>(rank).fill(0);
    const after = new Array<number>(rank).fill(0);
    let empty = false;
    axes.forEach((a0, k) => {
      const a = normAxis(a0, rank);
      const d = xs.dims[a]!;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      const s = clamp(starts[k]!);
      const e = clamp(ends[k]!);
      if (e <= s) empty = true;
      before[a] = s;
      after[a] = d - e;
    });
    if (empty) return [c.zeros(xs.dims, xs.elemType), null, null, null, null];
    if (before.every((v) => v === 0) && after.every((v) => v === 0)) return [dy, null, null, null, null];
    return [c.op('Pad', [dy, c.int64([...before, ...after])]), null, null, null, null];
  }
  const total = xs.dims.reduce((p, d) => p * d, 1);
  const positions = c.reshape(c.op('Range', [c.int64([0], []), c.int64([total], []), c.int64([1], [])]), xs.dims);
  const picked = c.op('Slice', [positions, ...c.node.inputs.slice(1)]);
  const scattered = c.op('ScatterElements', [c.zeros([total], xs.elemType), c.reshape(picked, [-1]), c.reshape(dy, [-1])], { axis: 0 });
  return [c.reshape(scattered, xs.dims), null, null, null, null];
};

/** Pad (constant mode): the gradient is the slice of dY that covers X (negative pads: pad back). */
const pad: GradientRule = (c) => {
  const mode = attrString(c.node, 'mode', 'constant');
  if (mode !== 'constant') throw new UnsupportedGradientError(`Pad '${c.node.name}': no gradient for mode='${mode}'`);
  const x = c.node.inputs[0]!;
  const xs = c.shape(x);
  const rank = xs.dims.length;
  const padsV = c.constInts(c.node.inputs[1]!);
  if (!padsV) throw new UnsupportedGradientError(`Pad '${c.node.name}': pads are not constant`);
  const axesV = c.node.inputs[3] ? c.constInts(c.node.inputs[3]) : range(rank);
  if (!axesV) throw new UnsupportedGradientError(`Pad '${c.node.name}': axes are not constant`);
  const n = axesV.length;
  const before = new Array<number>(rank).fill(0);
  const after = new Array<number>(rank).fill(0);
  axesV.forEach((a0, k) => {
    const a = normAxis(a0, rank);
    before[a] = padsV[k]!;
    after[a] = padsV[k + n]!;
  });
  // Undo by padding with the negated amounts (Pad accepts negative pads, which crop).
  return [c.op('Pad', [dy0(c), c.int64([...before.map((v) => -v), ...after.map((v) => -v)])]), null, null, null];
};

/**
 * Gather(data, indices, axis): scatter-add dY into zeros shaped like data. Axis 0: ScatterND with
 * int64 indices [.., 1]; other axes: move the axis to the front first.
 */
const gather: GradientRule = (c) => {
  const dy = dy0(c);
  const [data, indices] = c.node.inputs as [string, string];
  const ds = c.shape(data);
  const is = c.shape(indices);
  const r = ds.dims.length;
  const q = is.dims.length;
  const axis = normAxis(attrInt(c.node, 'axis', 0), r);
  let idx = is.elemType === DataType.INT64 ? indices : c.cast(indices, DataType.INT64);
  // Negative indices count from the end.
  const dAxis = ds.dims[axis]!;
  idx = c.op('Where', [c.op('Less', [idx, c.int64([0], [])]), c.op('Add', [idx, c.int64([dAxis], [])]), idx]);
  if (c.opset < 16) {
    // No scatter reduction before opset 16: dData = OneHot(idx, V)ᵀ · dY (axis 0 only).
    if (axis !== 0) throw new UnsupportedGradientError(`Gather '${c.node.name}': axis ${axis} needs ScatterND reduction (opset 16+)`);
    const nIdx = is.dims.reduce((p, d) => p * d, 1);
    const rest = ds.dims.slice(1).reduce((p, d) => p * d, 1);
    const oneHot = c.op('OneHot', [c.reshape(idx, [nIdx]), c.int64([dAxis], []), c.constant([0, 1], [2], DataType.FLOAT)], { axis: -1 });
    const oh = ds.elemType === DataType.FLOAT ? oneHot : c.cast(oneHot, ds.elemType);
    const g = c.op('MatMul', [c.transpose(oh, [1, 0]), c.reshape(dy, [nIdx, rest])]);
    return [c.reshape(g, ds.dims), null];
  }
  const idxNd = c.reshape(idx, [...is.dims, 1]);
  if (axis === 0) {
    return [c.op('ScatterND', [c.zeros(ds.dims, ds.elemType), idxNd, dy], { reduction: 'add' }), null];
  }
  // Y dims: data[:axis] + idx + data[axis+1:]; bring the idx block to the front.
  const perm = [...range(q, axis), ...range(axis), ...range(r - axis - 1, axis + q)];
  const dyT = c.transpose(dy, perm);
  const movedDims = [ds.dims[axis]!, ...ds.dims.slice(0, axis), ...ds.dims.slice(axis + 1)];
  const scattered = c.op('ScatterND', [c.zeros(movedDims, ds.elemType), idxNd, dyT], { reduction: 'add' });
  // moved axes: [axis, 0..axis-1, axis+1..]; invert.
  const movedPerm = [axis, ...range(axis), ...range(r - axis - 1, axis + 1)];
  return [c.transpose(scattered, invertPerm(movedPerm)), null];
};

const gatherElements: GradientRule = (c) => {
  const [data, indices] = c.node.inputs as [string, string];
  const ds = c.shape(data);
  const axis = normAxis(attrInt(c.node, 'axis', 0), ds.dims.length);
  if (c.opset < 16) throw new UnsupportedGradientError(`GatherElements '${c.node.name}': the scatter-add gradient needs opset 16+`);
  return [c.op('ScatterElements', [c.zeros(ds.dims, ds.elemType), indices, dy0(c)], { axis, reduction: 'add' }), null];
};

const expand: GradientRule = (c) => {
  const x = c.node.inputs[0]!;
  return [c.reduceToShape(dy0(c), c.shape(c.node.outputs[0]!).dims, c.shape(x).dims), null];
};

/** Tile: view dY as [r0, d0, r1, d1, ..] and sum the repeat axes. */
const tile: GradientRule = (c) => {
  const x = c.node.inputs[0]!;
  const xd = c.shape(x).dims;
  const yd = c.shape(c.node.outputs[0]!).dims;
  const reps = yd.map((d, i) => d / xd[i]!);
  if (reps.every((r) => r === 1)) return [dy0(c), null];
  const split = c.reshape(dy0(c), reps.flatMap((r, i) => [r, xd[i]!]));
  return [c.reduceSum(split, range(xd.length).map((i) => 2 * i), false), null];
};

/** ReduceSum / ReduceMean: Expand(Reshape(dY, keepdims shape), shape X) (÷ count for the mean). */
function reduceRule(isMean: boolean): GradientRule {
  return (c) => {
    const x = c.node.inputs[0]!;
    const xs = c.shape(x);
    const rank = xs.dims.length;
    const keep = attrInt(c.node, 'keepdims', 1) === 1;
    const axesFromInput = c.node.opType === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
    let axes: number[] | undefined;
    if (axesFromInput) {
      const name = c.node.inputs[1];
      axes = name ? c.constInts(name) : [];
      if (!axes) {
        if (!keep) throw new UnsupportedGradientError(`${c.node.opType} '${c.node.name}': axes are not constant`);
        // keepdims=1: the reduced axes are where the output has 1 and the input does not (or either).
        const yd = c.shape(c.node.outputs[0]!).dims;
        axes = range(rank).filter((a) => yd[a] === 1);
      }
    } else axes = attrInts(c.node, 'axes', []);
    if (axes.length === 0) axes = attrInt(c.node, 'noop_with_empty_axes', 0) ? [] : range(rank);
    const ax = axes.map((a) => normAxis(a, rank));
    if (ax.length === 0) return [dy0(c), null];
    const kept = xs.dims.map((d, i) => (ax.includes(i) ? 1 : d));
    let g = keep ? dy0(c) : c.reshape(dy0(c), kept);
    if (isMean) {
      const count = ax.reduce((p, a) => p * xs.dims[a]!, 1);
      g = c.op('Mul', [g, c.scalar(1 / count, xs.elemType)]);
    }
    return [c.op('Expand', [g, c.int64(xs.dims)]), null];
  };
}

export const shapeRules: Record<string, GradientRule> = {
  Reshape: reshapeLike,
  Flatten: reshapeLike,
  Squeeze: reshapeLike,
  Unsqueeze: reshapeLike,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Pad: pad,
  Gather: gather,
  GatherElements: gatherElements,
  Expand: expand,
  Tile: tile,
  ReduceSum: reduceRule(false),
  ReduceMean: reduceRule(true),
};
