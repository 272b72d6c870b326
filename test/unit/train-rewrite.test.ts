// Training rewrites (app/engine/training/rewrite.ts) and the patches form of the Conv weight
// gradient: exact routing on real images (ties!) and agreement with the FD-tested plain rules.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, pruneUnused } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { buildBackward, type GradShape } from '../../app/engine/training/autodiff.js';
import { lowerTrainingOps, rewriteForTraining } from '../../app/engine/training/rewrite.js';
import { probeShapes } from '../../app/engine/training/shape-probe.js';
import { fashionMnist, normal, rng, session } from '../helpers/finite-diff.js';

/** X → [Relu] → MaxPool 2x2/2 → Y; returns dX for a random positive dY, with or without the rewrites. */
async function poolGrad(images: Float32Array, n: number, withRelu: boolean, rewrite: boolean) {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph);
  b.input('X', DataType.FLOAT, [n, 1, 28, 28]);
  const a = withRelu ? b.op('Relu', ['X']) : 'X';
  const y = b.op('MaxPool', [a], { kernel_shape: [2, 2], strides: [2, 2] });
  m.graph.outputs = [{ name: y, type: null }];
  const xT = new ort.Tensor('float32', images, [n, 1, 28, 28]);
  const shapes = await probeShapes(m, { X: xT });
  let shape = (v: string): GradShape => shapes.get(v)!;
  if (rewrite) {
    const r = rewriteForTraining(m.graph, shape, (base) => b.fresh(base));
    expect(r.pools).toBe(1);
    expect(r.reluSwaps).toBe(withRelu ? 1 : 0);
    const base = shape;
    shape = (v) => r.shapes.get(v) ?? base(v);
  }
  b.input('dY', DataType.FLOAT, [n, 1, 14, 14]);
  const grads = buildBackward({ graph: m.graph, builder: b, opset: 17, seeds: new Map([[y, 'dY']]), wrt: ['X'], shape });
  if (rewrite) lowerTrainingOps(m.graph, b);
  m.graph.outputs = [{ name: y, type: null }, { name: grads.get('X')!, type: null }];
  const g = rng(9);
  const dY = Float32Array.from({ length: n * 196 }, () => 0.5 + g());
  const out = await (await session(m)).run({ X: xT, dY: new ort.Tensor('float32', dY, [n, 1, 14, 14]) });
  return { y: out[y]!.data as Float32Array, dX: out[grads.get('X')!]!.data as Float32Array, dY };
}

/** Reference: each window's dY goes to its first (row-major) maximum; times ReLU'(max) when withRelu. */
function reference(images: Float32Array, n: number, dY: Float32Array, withRelu: boolean): { y: Float32Array; dX: Float32Array; ties: number } {
  const dX = new Float32Array(n * 784);
  const y = new Float32Array(n * 196);
  let ties = 0;
  for (let img = 0; img < n; img++) {
    for (let oy = 0; oy < 14; oy++) {
      for (let ox = 0; ox < 14; ox++) {
        const pos = [0, 1, 2, 3].map((k) => img * 784 + (2 * oy + (k >> 1)) * 28 + 2 * ox + (k & 1));
        const vals = pos.map((p) => images[p]!);
        const mx = Math.max(...vals);
        if (vals.filter((v) => v === mx).length > 1) ties++;
        const o = img * 196 + oy * 14 + ox;
        y[o] = withRelu ? Math.max(mx, 0) : mx;
        if (!withRelu || mx > 0) dX[pos[vals.indexOf(mx)]!] = dY[o]!;
      }
    }
  }
  return { y, dX, ties };
}

describe('MaxPool 2x2 rewrite (tie-safe gradient without Indices) on real Fashion-MNIST images', () => {
  const n = 4;
  it('without ReLU: every window routes its gradient to exactly one maximum (flat backgrounds tie)', async () => {
    const { images } = fashionMnist(n, 20);
    const ref = reference(images, n, new Float32Array(0), false);
    expect(ref.ties).toBeGreaterThan(100);
    const got = await poolGrad(images, n, false, true);
    const want = reference(images, n, got.dY, false);
    expect(Array.from(got.y)).toEqual(Array.from(want.y));
    expect(Array.from(got.dX)).toEqual(Array.from(want.dX));
    // Same as the generic MaxPool rule (ScatterElements over ORT's Indices).
    const plain = await poolGrad(images, n, false, false);
    expect(Array.from(got.dX)).toEqual(Array.from(plain.dX));
  });

  it('ReLU moved behind the pool: same output and gradient as Relu → MaxPool, ties at positive values too', async () => {
    const { images } = fashionMnist(n, 40);
    // Shift so that windows straddle zero; quantise so that positive values tie as well.
    const shifted = images.map((v) => Math.round((v - 0.3) * 8) / 8);
    const got = await poolGrad(shifted, n, true, true);
    const want = reference(shifted, n, got.dY, true);
    expect(want.ties).toBeGreaterThan(200);
    // (+ 0: ORT's Relu keeps the sign of -0, which the reference does not; the values are equal.)
    expect(Array.from(got.y, (v) => v + 0)).toEqual(Array.from(want.y));
    expect(Array.from(got.dX)).toEqual(Array.from(want.dX));
    const plain = await poolGrad(shifted, n, true, false);
    expect(Array.from(got.dX)).toEqual(Array.from(plain.dX));
  });

  it('leaves pools it cannot handle alone (odd size, overlapping, padded)', async () => {
    for (const [dims, attrs] of [
      [[1, 2, 7, 7], { kernel_shape: [2, 2], strides: [2, 2] }],
      [[1, 2, 8, 8], { kernel_shape: [3, 3], strides: [2, 2] }],
      [[1, 2, 8, 8], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] }],
    ] as Array<[number[], Record<string, number[]>]>) {
      const m = emptyModel(17);
      const b = new GraphBuilder(m.graph);
      b.input('X', DataType.FLOAT, dims);
      b.op('MaxPool', ['X'], attrs);
      const r = rewriteForTraining(m.graph, () => ({ elemType: DataType.FLOAT, dims }), (s) => b.fresh(s));
      expect(r.pools).toBe(0);
      expect(m.graph.nodes[0]!.opType).toBe('MaxPool');
    }
  });
});

describe("Conv dW by patches equals the plain rule's dW (dX unchanged); the forward from the same patches equals Conv", () => {
  const cases: Array<[string, number[], number[], Record<string, number[] | number | string>, boolean?]> = [
    ['3x3 pad 1 (student conv1)', [8, 1, 28, 28], [8, 1, 3, 3], { pads: [1, 1, 1, 1] }],
    ['3x3 pad 1 (student conv2)', [8, 8, 14, 14], [16, 8, 3, 3], { pads: [1, 1, 1, 1] }],
    ['3x3 pad 1 with bias', [4, 3, 10, 12], [5, 3, 3, 3], { pads: [1, 1, 1, 1] }, true],
    ['3x3 no pad', [2, 3, 6, 6], [4, 3, 3, 3], {}],
    ['2x4 kernel asymmetric pads', [2, 2, 9, 10], [3, 2, 2, 4], { pads: [0, 1, 2, 0] }],
    ['1x1', [2, 5, 4, 4], [3, 5, 1, 1], {}],
    ['SAME_UPPER', [1, 2, 7, 7], [2, 2, 3, 3], { auto_pad: 'SAME_UPPER' }],
    ['5x5 pad 2 with bias-free 2 channels', [2, 2, 8, 8], [3, 2, 5, 5], { pads: [2, 2, 2, 2] }],
    ['stride 2 (falls back to the plain rules)', [2, 2, 8, 8], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ];
  for (const [name, xd, wd, attrs, withBias] of cases) {
    it(name, async () => {
      const grads: Float32Array[] = [];
      const dxs: Float32Array[] = [];
      const ys: Float32Array[] = [];
      const patchable = !('strides' in attrs);
      for (const mode of ['conv', 'patches'] as const) {
        const m: Model = emptyModel(17);
        const b = new GraphBuilder(m.graph);
        b.input('X', DataType.FLOAT, xd);
        b.input('W', DataType.FLOAT, wd);
        if (withBias) b.input('B', DataType.FLOAT, [wd[0]!]);
        const y = b.op('Conv', withBias ? ['X', 'W', 'B'] : ['X', 'W'], attrs);
        m.graph.outputs = [{ name: y, type: null }];
        const g = rng(5);
        const feeds = {
          X: new ort.Tensor('float32', Float32Array.from({ length: xd.reduce((p, d) => p * d, 1) }, () => normal(g)), xd),
          W: new ort.Tensor('float32', Float32Array.from({ length: wd.reduce((p, d) => p * d, 1) }, () => normal(g)), wd),
          ...(withBias ? { B: new ort.Tensor('float32', Float32Array.from({ length: wd[0]! }, () => normal(g)), [wd[0]!]) } : {}),
        };
        const shapes = await probeShapes(m, feeds);
        const yd = shapes.get(y)!.dims;
        b.input('dY', DataType.FLOAT, yd);
        const out = buildBackward({
          graph: m.graph, builder: b, opset: 17, seeds: new Map([[y, 'dY']]), wrt: ['W', 'X'],
          shape: (v) => shapes.get(v)!, convWeightGrad: mode,
        });
        if (mode === 'patches' && patchable) expect(m.graph.nodes.some((n) => n.opType === 'MatMul')).toBe(true);
        // Rewrite 3: the forward Conv becomes a MatMul over the dW patches (patches mode only).
        lowerTrainingOps(m.graph, b, { convForwardFromPatches: true });
        expect(m.graph.nodes.some((n) => n.opType === 'Conv' && n.outputs[0] === y)).toBe(mode === 'conv' || !patchable);
        m.graph.outputs = [{ name: out.get('W')!, type: null }, { name: out.get('X')!, type: null }, { name: y, type: null }];
        const dY = new ort.Tensor('float32', Float32Array.from({ length: yd.reduce((p, d) => p * d, 1) }, () => normal(g)), yd);
        const r = await (await session(m)).run({ ...feeds, dY });
        grads.push(r[out.get('W')!]!.data as Float32Array);
        dxs.push(r[out.get('X')!]!.data as Float32Array);
        ys.push(r[y]!.data as Float32Array);
      }
      const yScale = Math.max(...ys[0]!.map(Math.abs));
      expect(Math.max(...ys[0]!.map((v, i) => Math.abs(v - ys[1]![i]!))) / yScale).toBeLessThan(1e-5);
      const dxScale = Math.max(...dxs[0]!.map(Math.abs));
      expect(Math.max(...dxs[0]!.map((v, i) => Math.abs(v - dxs[1]![i]!))) / dxScale).toBeLessThan(1e-5);
      const scale = Math.max(...grads[0]!.map(Math.abs));
      const err = Math.max(...grads[0]!.map((v, i) => Math.abs(v - grads[1]![i]!))) / scale;
      expect(err).toBeLessThan(1e-5);
    });
  }
});

describe("first-layer Conv + pool from window pieces equals the plain rules (output, dW, dB)", () => {
  // Conv → MaxPool 2x2 with no dX needed (a first layer). 'pieces': the pool rewrite hands the conv
  // rule the four pooled pieces and dW comes from SpaceToDepth rows of X; 'firstConvPool': conv and
  // pool themselves are recomputed from those rows (gradients/conv.ts) and the pool node redirected.
  const cases: Array<[string, number[], number[], Record<string, number[]>]> = [
    ['1 channel, 3x3 pad 1 (student conv1)', [6, 1, 12, 12], [4, 1, 3, 3], { pads: [1, 1, 1, 1] }],
    ['3 channels, 3x3 pad 1', [4, 3, 8, 10], [5, 3, 3, 3], { pads: [1, 1, 1, 1] }],
    ['2 channels, 5x5 pad 2', [3, 2, 12, 8], [3, 2, 5, 5], { pads: [2, 2, 2, 2] }],
    ['1 channel, 3x3 no pad', [2, 1, 10, 10], [2, 1, 3, 3], {}],
  ];
  for (const [name, xd, wd, attrs] of cases) {
    it(name, async () => {
      const results: Array<{ y: Float32Array; dW: Float32Array; dB: Float32Array }> = [];
      for (const mode of ['plain', 'pieces', 'firstConvPool'] as const) {
        const m: Model = emptyModel(17);
        const b = new GraphBuilder(m.graph);
        b.input('X', DataType.FLOAT, xd);
        b.input('W', DataType.FLOAT, wd);
        b.input('B', DataType.FLOAT, [wd[0]!]);
        const y = b.op('Conv', ['X', 'W', 'B'], attrs);
        const p = b.op('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
        m.graph.outputs = [{ name: p, type: null }];
        const g = rng(11);
        // Real images for X (flat backgrounds make pool windows tie).
        const { images } = fashionMnist(xd[0]! * xd[1]!);
        const xData = new Float32Array(xd.reduce((q, d) => q * d, 1));
        for (let k = 0; k < xd[0]! * xd[1]!; k++) for (let r = 0; r < xd[2]!; r++) for (let col = 0; col < xd[3]!; col++) xData[(k * xd[2]! + r) * xd[3]! + col] = images[k * 784 + r * 28 + col]!;
        const feeds = {
          X: new ort.Tensor('float32', xData, xd),
          W: new ort.Tensor('float32', Float32Array.from({ length: wd.reduce((q, d) => q * d, 1) }, () => normal(g)), wd),
          B: new ort.Tensor('float32', Float32Array.from({ length: wd[0]! }, () => 0.1 * normal(g)), [wd[0]!]),
        };
        const shapes = await probeShapes(m, feeds);
        let shape = (v: string): GradShape => shapes.get(v)!;
        if (mode !== 'plain') {
          const rw = rewriteForTraining(m.graph, shape, (base) => b.fresh(base), { reluSwap: false });
          expect(rw.pools).toBe(1);
          const base = shape;
          shape = (v) => rw.shapes.get(v) ?? base(v);
        }
        const pd = shapes.get(p)!.dims;
        b.input('dP', DataType.FLOAT, pd);
        const out = buildBackward({ graph: m.graph, builder: b, opset: 17, seeds: new Map([[p, 'dP']]), wrt: ['W', 'B'], shape, convWeightGrad: mode === 'plain' ? 'conv' : 'patches', firstConvPool: mode === 'firstConvPool' });
        if (mode !== 'plain') {
          expect(m.graph.nodes.some((n) => n.opType === 'SpaceToDepth')).toBe(true);
          lowerTrainingOps(m.graph, b);
        }
        m.graph.outputs = [p, out.get('W')!, out.get('B')!].map((name) => ({ name, type: null }));
        pruneUnused(m.graph);
        // 'firstConvPool' leaves no full-resolution Conv, pool or probe.
        if (mode === 'firstConvPool') expect(m.graph.nodes.filter((n) => n.opType === 'MaxPool' || (n.opType === 'Conv' && n.inputs[0] === 'X'))).toEqual([]);
        const dP = new ort.Tensor('float32', Float32Array.from({ length: pd.reduce((q, d) => q * d, 1) }, () => normal(g)), pd);
        const r = await (await session(m)).run({ ...feeds, dP });
        results.push({ y: r[p]!.data as Float32Array, dW: r[out.get('W')!]!.data as Float32Array, dB: r[out.get('B')!]!.data as Float32Array });
      }
      const rel = (a: Float32Array, ref: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - ref[i]!))) / Math.max(...ref.map(Math.abs));
      for (const other of results.slice(1)) {
        expect(rel(other.y, results[0]!.y)).toBeLessThan(1e-6);
        expect(rel(other.dW, results[0]!.dW)).toBeLessThan(1e-5);
        expect(rel(other.dB, results[0]!.dB)).toBeLessThan(1e-5);
      }
    });
  }
});
