import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { findAttr } from '../../app/engine/onnx/attributes.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { rawBytes } from '../../app/engine/onnx/tensor.js';
import { agreement, dequantizeInt4Blob, modelBytes, quantizeInt4, quantizeInt4Weights, sqnr } from '../../app/engine/quantize/index.js';
import { countOps, fashion, fittedModels, rng, runModel, session, type Images } from './quant-fixtures.js';

let mlp: Model;
let cnn: Model;
let images: Images;
let mlpRef: Float32Array;

beforeAll(async () => {
  ({ mlp, cnn } = await fittedModels());
  images = fashion(1000);
  mlpRef = await runModel(mlp, images, [784]);
});

function randomWeights(K: number, N: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: K * N }, () => r.normal() * 0.1 + (r.uniform() < 0.01 ? 0.5 : 0));
}

describe('MatMulNBits packing', () => {
  it('symmetric: low nibble = even k, s = signed absmax / -8, no zero points', () => {
    // w[k] = k - 8 over one 16-block: the signed absmax is -8, so s = 1 and q = k.
    const w = Float32Array.from({ length: 16 }, (_, k) => k - 8);
    const q = quantizeInt4Weights(w, 16, 1, 16, true, 'rtn');
    expect(Array.from(q.scales)).toEqual([1]);
    expect(q.zeroPoints).toBeUndefined();
    expect(Array.from(q.packed)).toEqual([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
    expect(Array.from(dequantizeInt4Blob(q))).toEqual(Array.from(w));
  });

  it('asymmetric: zero points two blocks per byte per column, low nibble first, padded per column', () => {
    // K = 48 (3 blocks of 16), N = 2. Block b of column n spans [-z, 15 - z] with z = b + 1 + n:
    // s = 1 and zero point z.
    const K = 48;
    const N = 2;
    const w = new Float32Array(K * N);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const z = Math.floor(k / 16) + 1 + n;
        w[k * N + n] = (k % 16) - z; // 0 - z ... 15 - z
      }
    }
    const q = quantizeInt4Weights(w, K, N, 16, false, 'rtn');
    expect(Array.from(q.scales)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(q.blockZeroPoints)).toEqual([1, 2, 3, 2, 3, 4]);
    expect(Array.from(q.zeroPoints!)).toEqual([0x21, 0x03, 0x32, 0x04]);
    // Codes are k % 16 in every block: byte j = (2j) | (2j+1) << 4.
    expect(Array.from(q.packed.subarray(0, 8))).toEqual([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
    expect(Array.from(dequantizeInt4Blob(q))).toEqual(Array.from(w));
  });

  for (const symmetric of [true, false]) {
    for (const bs of [32, 64, 128]) {
      it(`TS unpacking equals the reference dequantization (K=300, N=20, block ${bs}, ${symmetric ? 'sym' : 'asym'})`, () => {
        const K = 300;
        const N = 20;
        const w = randomWeights(K, N, bs + (symmetric ? 1 : 0));
        for (const method of ['rtn', 'mse'] as const) {
          const q = quantizeInt4Weights(w, K, N, bs, symmetric, method);
          expect(q.packed.length).toBe(N * Math.ceil(K / bs) * (bs / 2));
          expect(dequantizeInt4Blob(q)).toEqual(q.dequantized);
          // Round to nearest: error at most half a step inside the range.
          let maxRel = 0;
          const kb = Math.ceil(K / bs);
          for (let k = 0; k < K; k++) {
            for (let n = 0; n < N; n++) {
              const s = Math.abs(q.scales[n * kb + Math.floor(k / bs)]!);
              if (method === 'rtn') maxRel = Math.max(maxRel, Math.abs(w[k * N + n]! - q.dequantized[k * N + n]!) / s);
            }
          }
          if (method === 'rtn') expect(maxRel).toBeLessThanOrEqual(symmetric ? 1.0001 : 0.5001);
        }
      });
    }
  }

  it('ORT MatMulNBits equals a float MatMul with the dequantized weights (1e-4 relative)', async () => {
    for (const [K, N, bs, symmetric] of [
      [784, 256, 32, false],
      [784, 256, 64, true],
      [300, 20, 128, false],
      [100, 7, 16, true],
    ] as const) {
      const w = randomWeights(K, N, K + N);
      const q = quantizeInt4Weights(w, K, N, bs, symmetric);
      const kb = Math.ceil(K / bs);
      // Model 1: MatMulNBits with our blob.
      const m1 = emptyModel(17);
      m1.opsetImports.push({ domain: 'com.microsoft', version: 1 });
      const b1 = new GraphBuilder(m1.graph);
      b1.input('a', DataType.FLOAT, [null, K]);
      const B = b1.initializer({ name: 'B', dataType: DataType.UINT8, dims: [N, kb, bs / 2], data: { kind: 'raw', bytes: q.packed } });
      const S = b1.constFloat('scales', q.scales, [N * kb]);
      const ins = [`a`, B, S];
      if (q.zeroPoints) ins.push(b1.initializer({ name: 'zp', dataType: DataType.UINT8, dims: [q.zeroPoints.length], data: { kind: 'raw', bytes: q.zeroPoints } }));
      b1.op('MatMulNBits', ins, { K, N, bits: 4, block_size: bs }, { domain: 'com.microsoft', output: 'y' });
      b1.output('y', DataType.FLOAT, [null, N]);
      // Model 2: float MatMul with the TS-dequantized weights.
      const m2 = emptyModel(17);
      const b2 = new GraphBuilder(m2.graph);
      b2.input('a', DataType.FLOAT, [null, K]);
      b2.op('MatMul', ['a', b2.constFloat('W', dequantizeInt4Blob(q), [K, N])], {}, { output: 'y' });
      b2.output('y', DataType.FLOAT, [null, N]);
      const r = rng(K);
      const a = Float32Array.from({ length: 8 * K }, () => r.normal());
      const run = async (m: Model): Promise<Float32Array> => {
        const s = await session(m);
        const out = await s.run({ a: new ort.Tensor('float32', a, [8, K]) });
        await s.release();
        return out.y!.data as Float32Array;
      };
      const y1 = await run(m1);
      const y2 = await run(m2);
      let scale = 0;
      for (const v of y2) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < y1.length; i++) expect(Math.abs(y1[i]! - y2[i]!)).toBeLessThanOrEqual(1e-4 * scale);
    }
  });
});

describe('quantizeInt4', () => {
  it('MLP: MatMulNBits for every layer, accurate enough, <= 0.16 of the float size', async () => {
    const { model, layers } = quantizeInt4(mlp, { blockSize: 64, symmetric: false });
    expect(countOps(model, 'MatMulNBits')).toBe(3);
    expect(countOps(model, 'Gemm')).toBe(0);
    expect(model.opsetImports).toContainEqual({ domain: 'com.microsoft', version: 1 });
    const n1 = model.graph.nodes.find((n) => n.opType === 'MatMulNBits')!;
    expect(n1.domain).toBe('com.microsoft');
    expect(findAttr(n1, 'K')).toMatchObject({ value: 784n });
    expect(findAttr(n1, 'N')).toMatchObject({ value: 256n });
    expect(findAttr(n1, 'bits')).toMatchObject({ value: 4n });
    expect(findAttr(n1, 'block_size')).toMatchObject({ value: 64n });
    const B = model.graph.initializers.find((t) => t.name === n1.inputs[1])!;
    expect(B.dims).toEqual([256, 13, 32]);
    expect(rawBytes(model.graph.initializers.find((t) => t.name === n1.inputs[3])!).length).toBe(256 * 7);
    expect(layers.every((l) => l.precision === 'int4')).toBe(true);
    const out = await runModel(model, images, [784]);
    // 4-bit block RTN gives ~20 dB per layer on Gaussian-like weights; three layers ~15 dB.
    expect(sqnr(mlpRef, out)).toBeGreaterThan(12);
    expect(agreement(mlpRef, out, 10)).toBeGreaterThan(0.9);
    expect(modelBytes(model) / modelBytes(mlp)).toBeLessThanOrEqual(0.16);
  });

  it('symmetric blocks, accuracy_level, excluded head; every block size runs', async () => {
    for (const blockSize of [32, 64, 128]) {
      const { model, layers } = quantizeInt4(mlp, { blockSize, symmetric: true, accuracyLevel: 4, excludeNodes: ['fc3'] });
      expect(layers.find((l) => l.name === 'fc3')).toMatchObject({ precision: 'float32' });
      const n = model.graph.nodes.find((x) => x.opType === 'MatMulNBits')!;
      expect(n.inputs).toHaveLength(3); // no zero points
      expect(findAttr(n, 'accuracy_level')).toMatchObject({ value: 4n });
      const out = await runModel(model, images, [784]);
      expect(sqnr(mlpRef, out)).toBeGreaterThan(10);
      expect(agreement(mlpRef, out, 10)).toBeGreaterThan(0.85);
    }
  });

  it('CNN with keepConvFloat: Conv stays float, Gemm layers become MatMulNBits', async () => {
    const { model, layers } = quantizeInt4(cnn, { blockSize: 32, symmetric: true, keepConvFloat: true });
    expect(countOps(model, 'Conv')).toBe(2);
    expect(countOps(model, 'MatMulNBits')).toBe(2);
    expect(layers.filter((l) => l.op === 'Conv').every((l) => l.precision === 'float32')).toBe(true);
    const ref = await runModel(cnn, images, [1, 28, 28]);
    const out = await runModel(model, images, [1, 28, 28]);
    expect(sqnr(ref, out)).toBeGreaterThan(10);
  });
});
