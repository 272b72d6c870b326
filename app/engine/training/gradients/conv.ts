// Gradients of Conv (any stride/pad/dilation, grouped and depthwise), MaxPool, AveragePool and
// GlobalAveragePool, with standard ops (ConvTranspose, Conv, ScatterElements).
import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import type { Node } from '../../onnx/ir.js';
import type { GradContext, GradientRule } from '../autodiff.js';
import { UnsupportedGradientError } from './errors.js';
import { interleavedGradientOf, range, recordConvPatches, recordPoolForward } from './util.js';

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, per spatial axis. */
  padsBegin: number[];
  padsEnd: number[];
}

/** Resolved window geometry, auto_pad included. xs/ys: spatial dims of input and output. */
function windowOf(node: Node, kernel: number[], xs: number[], ys: number[]): Window {
  const n = kernel.length;
  const strides = attrInts(node, 'strides', new Array<number>(n).fill(1));
  const dilations = attrInts(node, 'dilations', new Array<number>(n).fill(1));
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let padsBegin: number[];
  let padsEnd: number[];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    padsBegin = [];
    padsEnd = [];
    for (let i = 0; i < n; i++) {
      const total = Math.max(0, (ys[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - xs[i]!);
      const small = Math.floor(total / 2);
      padsBegin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      padsEnd.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
  } else if (autoPad === 'VALID') {
    padsBegin = new Array<number>(n).fill(0);
    padsEnd = new Array<number>(n).fill(0);
  } else {
    const pads = attrInts(node, 'pads', new Array<number>(2 * n).fill(0));
    padsBegin = pads.slice(0, n);
    padsEnd = pads.slice(n);
  }
  return { kernel, strides, dilations, padsBegin, padsEnd };
}

/**
 * Attributes of a ConvTranspose that maps a [.., ys] gradient back onto [.., xs]: the same
 * window, with output_padding making up the rows a floor-mode forward dropped, and extra end
 * cropping for ceil-mode windows that run past the padded input.
 */
function transposeAttrs(w: Window, xs: number[], ys: number[]) {
  const outputPadding: number[] = [];
  const padsEnd = [...w.padsEnd];
  for (let i = 0; i < xs.length; i++) {
    const full = w.strides[i]! * (ys[i]! - 1) + (w.kernel[i]! - 1) * w.dilations[i]! + 1 - w.padsBegin[i]! - w.padsEnd[i]!;
    const diff = xs[i]! - full;
    if (diff >= 0) outputPadding.push(diff);
    else {
      outputPadding.push(0);
      padsEnd[i] = padsEnd[i]! - diff;
    }
  }
  return {
    strides: w.strides,
    dilations: w.dilations,
    pads: [...w.padsBegin, ...padsEnd],
    output_padding: outputPadding,
  };
}

const conv: GradientRule = (c: GradContext) => {
  const dy = c.gradOutputs[0]!;
  const [x, w, bias] = c.node.inputs as [string, string, string | undefined];
  const xDims = c.shape(x).dims;
  const wDims = c.shape(w).dims;
  const yDims = c.shape(c.node.outputs[0]!).dims;
  const sp = xDims.length - 2;
  const kernel = attrInts(c.node, 'kernel_shape', wDims.slice(2));
  const win = windowOf(c.node, kernel, xDims.slice(2), yDims.slice(2));
  const group = attrInt(c.node, 'group', 1);
  const out: (string | null)[] = [null, null, null];

  // dY interleaved from pooled pieces (2x2 pool right after this Conv) and no dX needed (first
  // layer): dW and dB straight from the pieces, the full-resolution dY is never built.
  const inter = c.convWeightGrad === 'patches' && !c.needsGrad(0) ? interleavedGradientOf(c.builder, dy) : undefined;
  if (inter && c.needsGrad(1) && piecesApply(xDims, yDims, kernel, win, group)) {
    if (c.firstConvPool) {
      out[1] = firstConvPool(c, x, w, bias, inter.pool, xDims, yDims, kernel, win);
      // Each window's gradient goes to one position: the pieces sum to the pool's dY.
      if (bias && c.needsGrad(2)) out[2] = c.reduceSum(inter.pool.dy, [0, 2, 3], false);
      return out;
    }
    out[1] = weightGradFromPieces(c, x, inter.pieces, xDims, yDims, kernel, win);
    if (bias && c.needsGrad(2)) out[2] = c.op('Sum', inter.pieces.map((g) => c.reduceSum(g, [0, 2, 3], false)));
    return out;
  }

  if (bias && c.needsGrad(2)) out[2] = c.reduceSum(dy, [0, ...range(sp, 2)], false);

  if (c.needsGrad(0)) {
    out[0] = c.op('ConvTranspose', [dy, w], {
      ...transposeAttrs(win, xDims.slice(2), yDims.slice(2)),
      group,
      kernel_shape: kernel,
    });
  }

  if (c.needsGrad(1) && c.convWeightGrad === 'patches' && patchesApply(xDims, yDims, kernel, win, group)) {
    out[1] = weightGradByPatches(c, x, dy, xDims, yDims, kernel, win);
  } else if (c.needsGrad(1)) {
    // dW by the "Conv trick": correlate X with dY, batch as the channel axis. Groups go into the
    // channel axis of the trick's input: Xr [Cg, g·N, ..] and dY^T [M, N, ..] with group=g.
    const [N, C] = xDims as [number, number];
    const Cg = C / group;
    let xr: string;
    if (group === 1) xr = c.transpose(x, [1, 0, ...range(sp, 2)]);
    else {
      const split = c.reshape(x, [N, group, Cg, ...xDims.slice(2)]);
      const t = c.transpose(split, [2, 1, 0, ...range(sp, 3)]);
      xr = c.reshape(t, [Cg, group * N, ...xDims.slice(2)]);
    }
    const dyT = c.transpose(dy, [1, 0, ...range(sp, 2)]);
    // Output spatial size of the trick: floor((X + pb + pe − s(Y−1) − 1)/d) + 1 ≥ k.
    const kOut: number[] = [];
    for (let i = 0; i < sp; i++) {
      kOut.push(Math.floor((xDims[2 + i]! + win.padsBegin[i]! + win.padsEnd[i]! - win.strides[i]! * (yDims[2 + i]! - 1) - 1) / win.dilations[i]!) + 1);
    }
    let dw = c.op('Conv', [xr, dyT], {
      strides: win.dilations,
      dilations: win.strides,
      pads: [...win.padsBegin, ...win.padsEnd],
      group,
      kernel_shape: yDims.slice(2),
    });
    if (kOut.some((k, i) => k !== kernel[i])) {
      dw = c.op('Slice', [dw, c.int64(new Array<number>(sp).fill(0)), c.int64(kernel), c.int64(range(sp, 2))]);
    }
    out[1] = c.transpose(dw, [1, 0, ...range(sp, 2)]);
  }
  return out;
};

/** Stride 1, group 1, 2-D; output = pooled input size × 2; padded input even and large enough. */
function piecesApply(xDims: number[], yDims: number[], kernel: number[], w: Window, group: number): boolean {
  if (xDims.length !== 4 || group !== 1) return false;
  if (w.strides.some((s) => s !== 1) || w.dilations.some((d) => d !== 1)) return false;
  for (let i = 0; i < 2; i++) {
    const padded = xDims[2 + i]! + w.padsBegin[i]! + w.padsEnd[i]!;
    if (padded % 2 !== 0 || yDims[2 + i]! % 2 !== 0) return false;
    if ((kernel[i]! >> 1) + yDims[2 + i]! / 2 > padded / 2) return false;
  }
  const [N, C] = xDims as [number, number];
  return N * C * kernel[0]! * kernel[1]! * yDims[2]! * yDims[3]! <= MAX_PATCH_ELEMENTS;
}

/**
 * Every 2x2 pool window's input rows for a conv feeding that pool (stride 1): with S =
 * SpaceToDepth(Xpad, 2), the taps of conv output (2u + a, 2v + b) are S's channel block
 * ((a+i)%2, (b+j)%2) at offset ((a+i)>>1, (b+j)>>1). One Gather of S's channel rows takes every
 * offset at once: R[n, p, (offset, block, c)], K columns. pick[(ab, col), (tap, c)] = 1 where col
 * holds tap (i, j) of channel c for window position ab = 2a + b.
 */
function windowRows(c: GradContext, x: string, xDims: number[], yDims: number[], kernel: number[], w: Window): { s2d: string; r: string; K: number; pick: string } {
  const [N, C] = xDims as [number, number];
  const [h, wd] = [yDims[2]! / 2, yDims[3]! / 2];
  const [kh, kw] = kernel as [number, number];
  const padded = w.padsBegin.some((p) => p !== 0) || w.padsEnd.some((p) => p !== 0);
  const xp = padded
    ? c.op('Pad', [x, c.int64([0, 0, w.padsBegin[0]!, w.padsBegin[1]!, 0, 0, w.padsEnd[0]!, w.padsEnd[1]!])])
    : x;
  const [Hs, Ws] = [(xDims[2]! + w.padsBegin[0]! + w.padsEnd[0]!) / 2, (xDims[3]! + w.padsBegin[1]! + w.padsEnd[1]!) / 2];
  const s2d = c.op('SpaceToDepth', [xp], { blocksize: 2 });
  // Offsets (dy, dx) a tap can need: (a + i) >> 1 for a ∈ {0, 1}, i < kh.
  const [Oy, Ox] = [(kh >> 1) + 1, (kw >> 1) + 1];
  const rows = c.transpose(c.reshape(s2d, [N, 4 * C, Hs * Ws]), [0, 2, 1]);
  const index: number[] = [];
  for (let u = 0; u < h; u++) for (let v = 0; v < wd; v++) for (let dy = 0; dy < Oy; dy++) for (let dx = 0; dx < Ox; dx++) index.push((u + dy) * Ws + v + dx);
  const K = Oy * Ox * 4 * C;
  const r = c.reshape(c.op('Gather', [rows, c.int64(index, [h * wd, Oy * Ox])], { axis: 1 }), [N, h * wd, K]);
  const pick = new Array<number>(4 * K * kh * kw * C).fill(0);
  for (let ab = 0; ab < 4; ab++) {
    const [a, b] = [ab >> 1, ab & 1];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const [oy, ox] = [a + i, b + j];
        const block = (oy % 2) * 2 + (ox % 2);
        for (let ch = 0; ch < C; ch++) {
          const col = (((oy >> 1) * Ox + (ox >> 1)) * 4 + block) * C + ch;
          pick[(ab * K + col) * (kh * kw * C) + (i * kw + j) * C + ch] = 1;
        }
      }
    }
  }
  return { s2d, r, K, pick: c.constant(pick, [4 * K, kh * kw * C], c.shape(x).elemType) };
}

/**
 * dW from the four pooled pieces g_ab of dY: dW[m,c,i,j] = Σ_ab Σ_n,u,v g_ab[n,m,u,v] ·
 * Xpad[n, c, 2u + a + i, 2v + b + j]. One batched MatMul of the stacked pieces with the window
 * rows R, summed over the batch, gives Q[(ab, m), (offset, block, c)]; the constant pick matrix
 * takes each (ab, tap) column of Q (1.5 → 0.7 ms at batch 128, where kh·kw Slices per piece were used).
 */
function weightGradFromPieces(c: GradContext, x: string, pieces: string[], xDims: number[], yDims: number[], kernel: number[], w: Window): string {
  return weightGradFromRows(c, pieces, windowRows(c, x, xDims, yDims, kernel, w), xDims, yDims, kernel);
}

function weightGradFromRows(c: GradContext, pieces: string[], rows: { r: string; K: number; pick: string }, xDims: number[], yDims: number[], kernel: number[]): string {
  const [N, C] = xDims as [number, number];
  const M = yDims[1]!;
  const [h, wd] = [yDims[2]! / 2, yDims[3]! / 2];
  const [kh, kw] = kernel as [number, number];
  const g = c.op('Concat', pieces.map((piece) => c.reshape(piece, [N, M, h * wd])), { axis: 1 });
  const q = c.reduceSum(c.op('MatMul', [g, rows.r]), [0], false); // [4·M, K], row ab·M + m
  const perM = c.reshape(c.transpose(c.reshape(q, [4, M, rows.K]), [1, 0, 2]), [M, 4 * rows.K]);
  return kernelMajorToOihw(c, c.op('MatMul', [perM, rows.pick]), M, C, kh, kw);
}

/**
 * The first conv (no dX needed) and the 2x2 pool after it as one Conv over S = SpaceToDepth(Xpad)
 * whose 4·M output channels are the conv at the four window positions, P[n, ab·M + m, u, v]
 * (weights Wp = pick · Wᵀ, kernel (kh/2 + 1)²); the pool is their maximum, each window's gradient
 * goes to the first position equal to it (the tie-safe pool rule's routing, on P itself), and dW
 * comes from those pieces and S's rows as in weightGradFromPieces. This replaces ORT's Conv at full
 * resolution, the pool and its three probes (−8 % per step for cnn:8,16/32 at batch 128, one
 * thread). Returns dW; lowerTrainingOps makes the pool node a Reshape of the maximum.
 */
function firstConvPool(c: GradContext, x: string, w: string, bias: string | undefined, pool: { y: string; dy: string }, xDims: number[], yDims: number[], kernel: number[], win: Window): string {
  const [N, C] = xDims as [number, number];
  const M = yDims[1]!;
  const [h, wd] = [yDims[2]! / 2, yDims[3]! / 2];
  const [kh, kw] = kernel as [number, number];
  const t = c.shape(x).elemType;
  const rows = windowRows(c, x, xDims, yDims, kernel, win);
  const { s2d, pick } = rows;
  const [Oy, Ox] = [(kh >> 1) + 1, (kw >> 1) + 1];
  const wk = c.reshape(c.transpose(w, [2, 3, 1, 0]), [kh * kw * C, M]); // Wᵀ, row (i·kw + j)·C + c
  // pick · Wᵀ: [(ab, (offset, block, c)), M] → Conv weights [(ab, m), (block, c), oy, ox].
  const wp = c.reshape(c.transpose(c.reshape(c.op('MatMul', [pick, wk]), [4, Oy, Ox, 4 * C, M]), [0, 4, 3, 1, 2]), [4 * M, 4 * C, Oy, Ox]);
  const pb = bias ? c.op('Concat', [bias, bias, bias, bias], { axis: 0 }) : undefined;
  const p = c.op('Conv', pb ? [s2d, wp, pb] : [s2d, wp], { kernel_shape: [Oy, Ox] });
  const pieces = c.builder.opN('Split', [p, c.int64([M, M, M, M])], { axis: 1 }, { outputs: 4 });
  const top = c.op('Max', pieces);
  recordPoolForward(c.builder, { y: pool.y, from: top, dims: [N, M, h, wd] });
  let rest = pool.dy;
  const routed: string[] = [];
  for (const piece of pieces.slice(0, 3)) {
    const g = c.op('Mul', [rest, c.cast(c.op('Equal', [piece, top]), t)]);
    routed.push(g);
    rest = c.op('Sub', [rest, g]);
  }
  routed.push(rest);
  return weightGradFromRows(c, routed, rows, xDims, yDims, kernel);
}

/** [M, (i·kw + j)·C + c] → [M, C, kh, kw]. */
function kernelMajorToOihw(c: GradContext, dw: string, M: number, C: number, kh: number, kw: number): string {
  const r = c.reshape(dw, [M, kh, kw, C]);
  return C === 1 ? c.reshape(r, [M, 1, kh, kw]) : c.transpose(r, [0, 3, 1, 2]);
}

/** Patch elements allowed for the patches form of dW (128 MB of float32). */
const MAX_PATCH_ELEMENTS = 1 << 25;

function patchesApply(xDims: number[], yDims: number[], kernel: number[], w: Window, group: number): boolean {
  if (xDims.length !== 4 || group !== 1) return false;
  if (w.strides.some((s) => s !== 1) || w.dilations.some((d) => d !== 1)) return false;
  const [N, C] = xDims as [number, number];
  const elements = N * C * kernel[0]! * kernel[1]! * yDims[2]! * yDims[3]!;
  return elements <= MAX_PATCH_ELEMENTS;
}

/**
 * dW[m, c, i, j] = Σ_n Σ_p dY[n, m, p] · Xpad[n, c, p + (i, j)] with explicit patches, built
 * transposed — Pᵀ[n, p, (i·kw + j)·C + c] — by one Gather of channel rows (measured 1.3 ms against
 * 1.8 for Pad + kh·kw Slices + Concat at [128, 8, 14, 14]), then one batched MatMul dY[n] · Pᵀ[n] and a
 * ReduceSum over the batch. Stride 1, dilation 1, group 1. The forward Conv reuses Pᵀ (rewrite.ts).
 */
function weightGradByPatches(c: GradContext, x: string, dy: string, xDims: number[], yDims: number[], kernel: number[], w: Window): string {
  const [N, C, H, Wd] = xDims as [number, number, number, number];
  const M = yDims[1]!;
  const [Ho, Wo] = [yDims[2]!, yDims[3]!];
  const [kh, kw] = kernel as [number, number];
  const dyr = c.reshape(dy, [N, M, Ho * Wo]);
  // Patches transposed, Pᵀ[n, p, (i·kw + j)·C + c], by one Gather of channel rows: X as
  // channels-last rows [N, H·W, C] plus one zero row (index H·W) that every tap in the padding
  // reads (cheaper than padding X: 2 % of the step).
  const rows = c.op('Concat', [c.transpose(c.reshape(x, [N, C, H * Wd]), [0, 2, 1]), c.zeros([N, 1, C], c.shape(x).elemType)], { axis: 1 });
  const index: number[] = [];
  for (let y = 0; y < Ho; y++) {
    for (let xo = 0; xo < Wo; xo++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const [r, q] = [y + i - w.padsBegin[0]!, xo + j - w.padsBegin[1]!];
          index.push(r >= 0 && r < H && q >= 0 && q < Wd ? r * Wd + q : H * Wd);
        }
      }
    }
  }
  const gathered = c.op('Gather', [rows, c.int64(index, [Ho * Wo, kh * kw])], { axis: 1 });
  const patchesT = c.reshape(gathered, [N, Ho * Wo, kh * kw * C]);
  recordConvPatches(c.builder, { conv: c.node, patchesT, yDims, kernel: [kh, kw], channels: C });
  return kernelMajorToOihw(c, c.reduceSum(c.op('MatMul', [dyr, patchesT]), [0], false), M, C, kh, kw);
}

/**
 * MaxPool: ScatterElements(zeros[N·C·H·W], Indices, dY, reduction='add'). Indices are flat
 * offsets over the whole NCHW tensor, one per window, so ties (flat image backgrounds) route each
 * output gradient to exactly one input. A node without an Indices output gets one.
 */
const maxPool: GradientRule = (c: GradContext) => {
  const dy = c.gradOutputs[0]!;
  const n = c.node;
  const x = n.inputs[0]!;
  const xs = c.shape(x);
  const total = xs.dims.reduce((p, d) => p * d, 1);
  if (attrInt(n, 'storage_order', 0) !== 0) {
    throw new UnsupportedGradientError(`MaxPool '${n.name}': storage_order=1 is not supported`);
  }
  if (!n.outputs[1]) n.outputs[1] = c.builder.fresh(`${n.outputs[0]}_indices`);
  const idx = c.reshape(n.outputs[1]!, [-1]);
  const flatDy = c.reshape(dy, [-1]);
  const zeros = c.zeros([total], xs.elemType);
  let scattered: string;
  if (c.opset >= 16) scattered = c.op('ScatterElements', [zeros, idx, flatDy], { axis: 0, reduction: 'add' });
  else {
    const kernel = attrInts(n, 'kernel_shape', []);
    const strides = attrInts(n, 'strides', kernel.map(() => 1));
    const dil = attrInts(n, 'dilations', kernel.map(() => 1));
    const overlapping = kernel.some((k, i) => strides[i]! < (k - 1) * dil[i]! + 1);
    if (overlapping) {
      throw new UnsupportedGradientError(`MaxPool '${n.name}': overlapping windows need ScatterElements reduction (opset 16+), model has ${c.opset}`);
    }
    scattered = c.op('ScatterElements', [zeros, idx, flatDy], { axis: 0 });
  }
  return [c.reshape(scattered, xs.dims)];
};

/** Per-output-position window sizes (the divisor AveragePool used), as a [1,1,..ys] constant. */
function countMap(w: Window, xs: number[], ys: number[], includePad: boolean): Float64Array {
  const perAxis = xs.map((x, i) =>
    range(ys[i]!).map((o) => {
      let cnt = 0;
      const start = o * w.strides[i]! - w.padsBegin[i]!;
      for (let k = 0; k < w.kernel[i]!; k++) {
        const p = start + k * w.dilations[i]!;
        if (includePad ? p >= -w.padsBegin[i]! && p < x + w.padsEnd[i]! : p >= 0 && p < x) cnt++;
      }
      return cnt;
    }),
  );
  const total = ys.reduce((p, d) => p * d, 1);
  const outArr = new Float64Array(total);
  for (let flat = 0; flat < total; flat++) {
    let rem = flat;
    let prod = 1;
    for (let i = ys.length - 1; i >= 0; i--) {
      prod *= perAxis[i]![rem % ys[i]!]!;
      rem = Math.floor(rem / ys[i]!);
    }
    outArr[flat] = prod;
  }
  return outArr;
}

/** AveragePool: depthwise ConvTranspose of dY / count with a ones kernel. */
const averagePool: GradientRule = (c: GradContext) => {
  const dy = c.gradOutputs[0]!;
  const n = c.node;
  const x = n.inputs[0]!;
  const xs = c.shape(x);
  const ys = c.shape(n.outputs[0]!).dims;
  const C = xs.dims[1]!;
  const kernel = attrInts(n, 'kernel_shape', []);
  const win = windowOf(n, kernel, xs.dims.slice(2), ys.slice(2));
  const includePad = attrInt(n, 'count_include_pad', 0) === 1;
  const counts = countMap(win, xs.dims.slice(2), ys.slice(2), includePad);
  const uniform = counts.every((v) => v === counts[0]);
  const scaled = uniform
    ? c.op('Mul', [dy, c.scalar(1 / counts[0]!, xs.elemType)])
    : c.op('Div', [dy, c.constant(counts, [1, 1, ...ys.slice(2)], xs.elemType)]);
  const kCount = kernel.reduce((p, k) => p * k, 1);
  const ones = c.constant(new Array<number>(C * kCount).fill(1), [C, 1, ...kernel], xs.elemType);
  return [
    c.op('ConvTranspose', [scaled, ones], {
      ...transposeAttrs(win, xs.dims.slice(2), ys.slice(2)),
      group: C,
      kernel_shape: kernel,
    }),
  ];
};

/** GlobalAveragePool: Expand(dY / (H·W), shape X). */
const globalAveragePool: GradientRule = (c: GradContext) => {
  const dy = c.gradOutputs[0]!;
  const xs = c.shape(c.node.inputs[0]!);
  const hw = xs.dims.slice(2).reduce((p, d) => p * d, 1);
  const scaled = c.op('Mul', [dy, c.scalar(1 / hw, xs.elemType)]);
  return [c.op('Expand', [scaled, c.int64(xs.dims)])];
};

export const convRules: Record<string, GradientRule> = {
  Conv: conv,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
};
