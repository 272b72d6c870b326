// Weight-only int4 for Conv (int4-conv.ts): the ONNX int4 packing checked against ORT's own
// DequantizeLinear, the opset upgrade to 21, and quantizeInt4 on a CNN run in ORT.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { attrInt, findAttr } from '../../app/engine/onnx/attributes.js';
import { GraphBuilder, NameScope, sortGraph } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, opsetVersion, type Model } from '../../app/engine/onnx/ir.js';
import { agreement, modelBytes, quantizeInt4, sqnr } from '../../app/engine/quantize/index.js';
import {
  addConvDequantize,
  dequantizeInt4ConvWeight,
  opset21Blocker,
  packInt4,
  quantizeConvWeightInt4,
  unpackInt4,
  upgradeOpsetTo21,
} from '../../app/engine/quantize/int4-conv.js';
import { buildCnn, countOps, fashion, fitReadout, fittedModels, rng, runModel, session, type Images } from './quant-fixtures.js';

let cnn: Model;
let images: Images;
let cnnRef: Float32Array;

beforeAll(async () => {
  ({ cnn } = await fittedModels());
  images = fashion(1000);
  cnnRef = await runModel(cnn, images, [1, 28, 28]);
});

function convWeights(dims: number[], seed: number): Float32Array {
  const r = rng(seed);
  const n = dims.reduce((a, d) => a * d, 1);
  return Float32Array.from({ length: n }, () => r.normal() * 0.2 + (r.uniform() < 0.02 ? 0.6 : 0));
}

/** ORT's DequantizeLinear (+ Reshape) of our packed weight, as a one-output model. */
async function ortDequantize(weight: ReturnType<typeof quantizeConvWeightInt4>): Promise<Float32Array> {
  const m = emptyModel(21);
  m.irVersion = 10;
  const b = new GraphBuilder(m.graph);
  b.input('unused', DataType.FLOAT, [1]);
  const { output, nodes } = addConvDequantize(m.graph, new NameScope(m.graph), 'w', weight);
  m.graph.nodes.push(...nodes);
  b.op('Identity', [output], {}, { output: 'y' });
  b.output('y', DataType.FLOAT, null);
  const s = await session(m);
  try {
    const out = await s.run({ unused: new ort.Tensor('float32', new Float32Array(1), [1]) });
    expect(out.y!.dims).toEqual(weight.dims);
    return out.y!.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe('ONNX int4 packing', () => {
  it('two values per byte, the first in the low nibble; INT4 is two\'s complement', () => {
    const packed = packInt4([1, 2, 3, -8, -1]);
    expect(Array.from(packed)).toEqual([0x21, 0x83, 0x0f]);
    expect([0, 1, 2, 3, 4].map((i) => unpackInt4(packed, i, true))).toEqual([1, 2, 3, -8, -1]);
    expect([0, 1, 2, 3, 4].map((i) => unpackInt4(packed, i, false))).toEqual([1, 2, 3, 8, 15]);
  });

  it('per channel (C·kh·kw ≤ block): 4-D weight, one scale and zero point per output channel', () => {
    // Channel m holds taps from -z to 15 - z (z = 3 + m): scale 1, zero point z, every code exact.
    const taps = [0, 2, 4, 6, 8, 10, 12, 14, 15];
    const w = Float32Array.from({ length: 2 * 9 }, (_, i) => taps[i % 9]! - 3 - Math.floor(i / 9));
    const q = quantizeConvWeightInt4(w, [2, 1, 3, 3], 32, false, 'rtn');
    expect(q.blockSize).toBeUndefined();
    expect(q.dataType).toBe(DataType.UINT4);
    expect(q.scales.length).toBe(2);
    expect(q.packed.length).toBe(9);
    expect(Array.from(q.scales)).toEqual([1, 1]);
    expect(Array.from(q.zeroPoints!)).toEqual([0x43]);
    expect(Array.from(q.dequantized)).toEqual(Array.from(w));
    expect(Array.from(dequantizeInt4ConvWeight(q))).toEqual(Array.from(q.dequantized));
  });

  for (const symmetric of [false, true]) {
    for (const [dims, block] of [
      [[16, 1, 3, 3], 32], // K = 9 < block: per channel
      [[32, 16, 3, 3], 32], // K = 144: 4 full blocks + 1 of 16
      [[7, 3, 3, 3], 16], // K = 27, odd element count (189): last byte half-filled
      [[8, 5, 1, 1], 64], // 1x1 conv
    ] as const) {
      it(`ORT's DequantizeLinear of our bytes equals the TypeScript dequantization exactly (${dims.join('x')}, block ${block}, ${symmetric ? 'symmetric INT4' : 'asymmetric UINT4'})`, async () => {
        const w = convWeights([...dims], dims[0] * 100 + block);
        for (const method of ['rtn', 'mse'] as const) {
          const q = quantizeConvWeightInt4(w, dims, block, symmetric, method);
          const ts = dequantizeInt4ConvWeight(q);
          expect(ts).toEqual(q.dequantized);
          expect(await ortDequantize(q)).toEqual(ts);
          // Every code within the 4-bit range of its type, error within one step of each scale.
          const K = w.length / dims[0];
          const bs = q.blockSize ?? K;
          const kb = Math.ceil(K / bs);
          for (let i = 0; i < w.length; i++) {
            const v = unpackInt4(q.packed, i, symmetric);
            expect(v).toBeGreaterThanOrEqual(symmetric ? -8 : 0);
            expect(v).toBeLessThanOrEqual(symmetric ? 7 : 15);
            const s = Math.abs(q.scales[Math.floor(i / K) * kb + Math.floor((i % K) / bs)]!);
            if (method === 'rtn') expect(Math.abs(w[i]! - ts[i]!)).toBeLessThanOrEqual(s * (symmetric ? 1.0001 : 0.5001));
          }
        }
      });
    }
  }

  it('a Conv reading our int4 weight equals a float Conv with the TS-dequantized weight (1e-5 relative)', async () => {
    const dims = [16, 8, 3, 3];
    const q = quantizeConvWeightInt4(convWeights(dims, 7), dims, 32, false);
    const build = (int4: boolean): Model => {
      const m = emptyModel(21);
      m.irVersion = 10;
      const b = new GraphBuilder(m.graph);
      b.input('x', DataType.FLOAT, ['N', 8, 10, 10]);
      let w = 'w';
      if (int4) {
        const added = addConvDequantize(m.graph, new NameScope(m.graph), 'w', q);
        m.graph.nodes.push(...added.nodes);
        w = added.output;
      } else {
        b.constFloat('w', dequantizeInt4ConvWeight(q), dims);
      }
      b.op('Conv', ['x', w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { output: 'y' });
      b.output('y', DataType.FLOAT, null);
      return m;
    };
    const r = rng(3);
    const x = Float32Array.from({ length: 4 * 8 * 100 }, () => r.normal());
    const run = async (m: Model): Promise<Float32Array> => {
      const s = await session(m);
      const out = await s.run({ x: new ort.Tensor('float32', x, [4, 8, 10, 10]) });
      await s.release();
      return out.y!.data as Float32Array;
    };
    const [a, b] = [await run(build(true)), await run(build(false))];
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * scale);
  });
});

describe('opset 21 for int4 Conv weights', () => {
  it('moves Reduce axes from attribute to input; the upgraded model computes the same', async () => {
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    b.input('x', DataType.FLOAT, ['N', 3, 4, 4]);
    const mean = b.op('ReduceMean', ['x'], { axes: [2, 3], keepdims: 0 }, { name: 'gap' });
    b.op('ReduceMax', [mean], { axes: [1] }, { output: 'y' });
    b.output('y', DataType.FLOAT, null);
    const up = structuredClone(m);
    upgradeOpsetTo21(up);
    expect(opsetVersion(up, '')).toBe(21);
    expect(up.irVersion).toBe(10);
    const gap = up.graph.nodes.find((n) => n.name === 'gap')!;
    expect(findAttr(gap, 'axes')).toBeUndefined();
    expect(gap.inputs).toHaveLength(2);
    const x = Float32Array.from({ length: 2 * 48 }, (_, i) => Math.sin(i));
    const run = async (model: Model): Promise<Float32Array> => {
      const s = await session(model);
      const out = await s.run({ x: new ort.Tensor('float32', x, [2, 3, 4, 4]) });
      await s.release();
      return out.y!.data as Float32Array;
    };
    expect(await run(up)).toEqual(await run(m));
  });

  it('raises an opset-11 CNN through 13 to 21; an op that changed before 13 blocks it', async () => {
    const old = await fitReadout(buildCnn(2, 11), fashion(3000, 'train'), [1, 28, 28]);
    const { model, layers } = quantizeInt4(old, { blockSize: 32, symmetric: false });
    expect(opsetVersion(model, '')).toBe(21);
    expect(layers.every((l) => l.precision === 'int4')).toBe(true);
    const ref = await runModel(old, images, [1, 28, 28]);
    expect(sqnr(ref, await runModel(model, images, [1, 28, 28]))).toBeGreaterThan(10);
    const squeeze = buildCnn(2, 11);
    new GraphBuilder(squeeze.graph).op('Squeeze', ['logits'], { axes: [0] }, { output: 'squeezed' });
    expect(opset21Blocker(squeeze)).toMatch(/^int4 Conv weights need ONNX opset 21, but the model imports opset 11 and uses Squeeze/);
  });

  it('refuses ops whose meaning changed since 13: convs stay float, MatMul/Gemm still int4', async () => {
    const m = structuredClone(cnn);
    m.opsetImports = [{ domain: '', version: 18 }];
    const b = new GraphBuilder(m.graph);
    // A GroupNormalization (opset-18 form) after the head blocks the upgrade.
    const out = m.graph.outputs[0]!.name;
    m.graph.nodes.find((n) => n.outputs[0] === out)!.outputs[0] = 'pre';
    const s = b.constFloat('gn.scale', [1, 1], [2]);
    const bias = b.constFloat('gn.bias', [0, 0], [2]);
    const r = b.op('Reshape', ['pre', b.constInt64('gn.shape', [-1, 10, 1])], {});
    const gn = b.op('GroupNormalization', [r, s, bias], { num_groups: 2 });
    b.op('Reshape', [gn, b.constInt64('gn.back', [-1, 10])], {}, { output: out });
    expect(opset21Blocker(m)).toMatch(/opset 21.*GroupNormalization/);
    const { model, layers } = quantizeInt4(m, { blockSize: 32, symmetric: false });
    expect(opsetVersion(model, '')).toBe(18);
    expect(layers.filter((l) => l.op === 'Conv').map((l) => [l.precision, l.note])).toEqual([
      ['float32', expect.stringMatching(/^Conv stays float: int4 Conv weights need ONNX opset 21.*GroupNormalization/)],
      ['float32', expect.stringMatching(/GroupNormalization/)],
    ]);
    expect(countOps(model, 'MatMulNBits')).toBe(2);
    // With only convs to quantize, the reason is the error.
    const convOnly = structuredClone(m);
    expect(() => quantizeInt4(convOnly, { blockSize: 32, symmetric: false, excludeNodes: ['fc1', 'fc2'] })).toThrow(/nothing to quantize to int4: int4 Conv weights need ONNX opset 21/);
  });
});

describe('quantizeInt4 with convolutions', () => {
  it('CNN: Conv weights int4 through DequantizeLinear, opset 21, runs close to float and smaller than with float convs', async () => {
    const { model, layers } = quantizeInt4(cnn, { blockSize: 32, symmetric: false });
    expect(opsetVersion(model, '')).toBe(21);
    expect(model.irVersion).toBe(10);
    expect(layers.map((l) => `${l.name}:${l.precision}`)).toEqual(['conv1:int4', 'conv2:int4', 'fc1:int4', 'fc2:int4']);
    expect(layers[0]!.note).toMatch(/one scale per output channel/); // K = 9
    expect(layers[1]!.note).toMatch(/block 32/); // K = 72
    expect(countOps(model, 'Conv')).toBe(2);
    const dqs = model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear');
    expect(dqs).toHaveLength(2);
    const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
    expect(dqs.map((n) => inits.get(n.inputs[0]!)!.dataType)).toEqual([DataType.UINT4, DataType.UINT4]);
    expect(dqs.map((n) => inits.get(n.inputs[0]!)!.dims)).toEqual([[8, 1, 3, 3], [16, 72]]);
    expect(dqs.map((n) => attrInt(n, 'block_size') ?? null)).toEqual([null, 32]);
    // No float Conv weight is left.
    expect(model.graph.initializers.some((t) => t.name === 'conv1.weight' || t.name === 'conv2.weight')).toBe(false);
    // Every layer at 4 bits on this random-feature CNN (small logit margins): measured 11.6 dB,
    // 81 % agreement (conv2 alone 14.1 dB; wrong packing gives ~0 dB and ~10 %).
    const out = await runModel(model, images, [1, 28, 28]);
    expect(sqnr(cnnRef, out)).toBeGreaterThan(10);
    expect(agreement(cnnRef, out, 10)).toBeGreaterThan(0.75);

    const kept = quantizeInt4(cnn, { blockSize: 32, symmetric: false, keepConvFloat: true });
    expect(opsetVersion(kept.model, '')).toBe(17); // no upgrade when no Conv needs it
    expect(countOps(kept.model, 'DequantizeLinear')).toBe(0);
    expect(kept.layers.filter((l) => l.op === 'Conv').every((l) => l.precision === 'float32' && /kept float/.test(l.note ?? ''))).toBe(true);
    // 1,224 conv weights: 4,896 bytes as float32; int4 takes 612, plus 56 scales, zero points, the
    // DequantizeLinear/Reshape nodes and their tensor names (1.5 KB in all).
    expect(modelBytes(kept.model) - modelBytes(model)).toBeGreaterThan(0.6 * 4 * (8 * 9 + 16 * 72));
  });

  it('symmetric convs are INT4 without zero points; a shared weight is stored once', async () => {
    const m = structuredClone(cnn);
    const b = new GraphBuilder(m.graph);
    // A second Conv reading conv2's weight: same shape (16, 8, 3, 3) on conv2's input.
    const conv2 = m.graph.nodes.find((n) => n.name === 'conv2')!;
    const twin = b.op('Conv', [conv2.inputs[0]!, conv2.inputs[1]!, conv2.inputs[2]!], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv2_twin' });
    const sum = b.op('Add', [conv2.outputs[0]!, twin], {});
    for (const n of m.graph.nodes) if (n.name === 'conv2_relu') n.inputs[0] = sum;
    sortGraph(m.graph);
    const { model, layers } = quantizeInt4(m, { blockSize: 64, symmetric: true });
    expect(layers.filter((l) => l.op === 'Conv').every((l) => l.precision === 'int4')).toBe(true);
    const dqs = model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear');
    expect(dqs).toHaveLength(2);
    expect(dqs.every((n) => n.inputs.length === 2)).toBe(true);
    const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
    expect(dqs.every((n) => inits.get(n.inputs[0]!)!.dataType === DataType.INT4)).toBe(true);
    const ref = await runModel(m, images, [1, 28, 28]);
    const out = await runModel(model, images, [1, 28, 28]);
    expect(sqnr(ref, out)).toBeGreaterThan(10);
  });
});
