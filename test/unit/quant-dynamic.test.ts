import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../app/engine/onnx/codec.js';
import { DataType } from '../../app/engine/onnx/ir.js';
import { agreement, gemmToMatMul, modelBytes, quantizeDynamic, sqnr } from '../../app/engine/quantize/index.js';
import { buildCnn, countOps, fashion, fittedModels, runModel, session, type Images } from './quant-fixtures.js';
import type { Model } from '../../app/engine/onnx/ir.js';
import * as ort from 'onnxruntime-node';
import { buildTransformer, randomTokens } from '../../bench/transformer-model.js';

let mlp: Model;
let cnn: Model;
let images: Images;
let mlpRef: Float32Array;
let cnnRef: Float32Array;
const dir = mkdtempSync(join(tmpdir(), 'quant-dyn-'));

beforeAll(async () => {
  ({ mlp, cnn } = await fittedModels());
  images = fashion(1000);
  mlpRef = await runModel(mlp, images, [784]);
  cnnRef = await runModel(cnn, images, [1, 28, 28]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Op types after ORT's extended optimizations (where the int8 fusions happen). */
async function fusedOps(model: Model, name: string): Promise<string[]> {
  const path = join(dir, `${name}.onnx`);
  const s = await session(model, { graphOptimizationLevel: 'extended', optimizedModelFilePath: path });
  await s.release();
  return decodeModel(readFileSync(path)).graph.nodes.map((n) => n.opType);
}

describe('gemmToMatMul', () => {
  it('rewrites Gemm (transB=1 and 0) into MatMul + Add with identical outputs', async () => {
    const m = structuredClone(mlp);
    gemmToMatMul(m);
    expect(countOps(m, 'Gemm')).toBe(0);
    expect(countOps(m, 'MatMul')).toBe(3);
    expect(countOps(m, 'Add')).toBe(3);
    const out = await runModel(m, images, [784]);
    expect(sqnr(mlpRef, out)).toBeGreaterThan(100);
  });
});

describe('quantizeDynamic', () => {
  it('MLP per tensor: DynamicQuantizeLinear + MatMulInteger, accurate, 4x smaller, fused by ORT', async () => {
    const before = encodeModel(mlp);
    const { model, layers } = quantizeDynamic(mlp);
    expect(Buffer.compare(encodeModel(mlp), before)).toBe(0); // pure
    expect(countOps(model, 'Gemm')).toBe(0);
    expect(countOps(model, 'DynamicQuantizeLinear')).toBe(3);
    expect(countOps(model, 'MatMulInteger')).toBe(3);
    expect(layers.map((l) => [l.name, l.op, l.precision])).toEqual([
      ['fc1', 'Gemm', 'int8'],
      ['fc2', 'Gemm', 'int8'],
      ['fc3', 'Gemm', 'int8'],
    ]);
    const wq = model.graph.initializers.filter((t) => t.dataType === DataType.INT8 && t.dims.length === 2);
    expect(wq.map((t) => t.dims)).toEqual([[784, 256], [256, 128], [128, 10]]);
    const out = await runModel(model, images, [784]);
    // 8-bit weights and activations: each layer ~40 dB; three layers and ReLU keep > 25 dB.
    expect(sqnr(mlpRef, out)).toBeGreaterThan(25);
    expect(agreement(mlpRef, out, 10)).toBeGreaterThan(0.95);
    // int8 weights are 1/4 of float; biases and scales add < 2 %.
    expect(modelBytes(model) / modelBytes(mlp)).toBeLessThanOrEqual(0.27);
    const fused = await fusedOps(model, 'mlp-dyn');
    expect(fused.filter((o) => o === 'DynamicQuantizeMatMul')).toHaveLength(3);
    expect(fused).not.toContain('MatMulInteger');
  });

  it('MLP per channel: scales per column of B (one zero point 0), at least as accurate', async () => {
    const per = quantizeDynamic(mlp, { perChannel: true });
    const tensor = quantizeDynamic(mlp);
    const mmi = per.model.graph.nodes.find((n) => n.opType === 'MatMulInteger')!;
    const zp = per.model.graph.initializers.find((t) => t.name === mmi.inputs[3])!;
    expect(zp.dims).toEqual([]);
    const dql = per.model.graph.nodes.find((n) => n.outputs[0] === mmi.inputs[0])!;
    const scaleMul = per.model.graph.nodes.find((n) => n.opType === 'Mul' && n.inputs[0] === dql.outputs[1])!;
    expect(per.model.graph.initializers.find((t) => t.name === scaleMul.inputs[1])!.dims).toEqual([256]);
    const a = await runModel(per.model, images, [784]);
    const b = await runModel(tensor.model, images, [784]);
    expect(sqnr(mlpRef, a)).toBeGreaterThan(sqnr(mlpRef, b));
    expect(agreement(mlpRef, a, 10)).toBeGreaterThan(0.95);
    expect(await fusedOps(per.model, 'mlp-dyn-pc')).toContain('DynamicQuantizeMatMul');
  });

  it('reduceRange keeps weights in [-64, 64]', async () => {
    const { model } = quantizeDynamic(mlp, { reduceRange: true });
    for (const t of model.graph.initializers.filter((t) => t.dataType === DataType.INT8 && t.dims.length === 2)) {
      const b = t.data.kind === 'raw' ? t.data.bytes : new Uint8Array();
      const v = new Int8Array(b.buffer, b.byteOffset, b.byteLength);
      expect(v.reduce((m, x) => Math.max(m, Math.abs(x)), 0)).toBe(64);
      expect(v.reduce((m, x) => Math.min(m, x), 127)).toBeGreaterThanOrEqual(-64);
    }
    const out = await runModel(model, images, [784]);
    expect(sqnr(mlpRef, out)).toBeGreaterThan(20);
  });

  it('CNN: Conv stays float (reported), the Gemms become int8', async () => {
    const { model, layers } = quantizeDynamic(cnn, { perChannel: true });
    expect(countOps(model, 'Conv')).toBe(2);
    expect(layers.filter((l) => l.op === 'Conv').every((l) => l.precision === 'float32' && /static/.test(l.note ?? ''))).toBe(true);
    expect(layers.filter((l) => l.precision === 'int8').map((l) => l.name)).toEqual(['fc1', 'fc2']);
    const out = await runModel(model, images, [1, 28, 28]);
    expect(sqnr(cnnRef, out)).toBeGreaterThan(25);
    expect(agreement(cnnRef, out, 10)).toBeGreaterThan(0.95);
  });

  it('transformer block (3-D activations, one LayerNorm feeding Q/K/V): every weight MatMul fuses, bias and GELU included', async () => {
    const spec = { vocab: 64, dim: 64, heads: 4, mlp: 128, blocks: 1, tokens: 8 };
    const model = buildTransformer(spec);
    const tokens = new ort.Tensor('int64', randomTokens(16, spec), [16, spec.tokens]);
    const logits = async (m: Model): Promise<Float32Array> => {
      const s = await session(m);
      const out = (await s.run({ tokens })).logits!.data as Float32Array;
      await s.release();
      return out;
    };
    const ref = await logits(model);
    for (const perChannel of [false, true]) {
      const q = quantizeDynamic(model, { perChannel });
      expect(q.layers.filter((l) => l.precision === 'int8')).toHaveLength(8); // q k v o up down head + the embedding
      const fused = await fusedOps(q.model, `transformer-dyn-${perChannel}`);
      // ORT merges the three identical DynamicQuantizeLinear of the LayerNorm output (CSE): Q/K/V run
      // as one DynamicQuantizeLinear + three MatMulIntegerToFloat, the others as DynamicQuantizeMatMul;
      // the bias Adds are folded into both.
      expect(fused.filter((o) => o === 'MatMulIntegerToFloat')).toHaveLength(3);
      expect(fused.filter((o) => o === 'DynamicQuantizeLinear')).toHaveLength(1);
      expect(fused.filter((o) => o === 'DynamicQuantizeMatMul')).toHaveLength(4);
      expect(fused).not.toContain('MatMulInteger');
      // The only Cast left is the int8 embedding rows' (every MatMul's is fused away).
      expect(fused.filter((o) => o === 'Cast')).toHaveLength(1);
      // Only the residual adds (and the position embedding) are left as Add nodes.
      expect(fused.filter((o) => o === 'Add').length).toBeLessThanOrEqual(2);
      expect(fused).toContain('Gelu');
      expect(sqnr(ref, await logits(q.model))).toBeGreaterThan(25);
    }
  });

  it('leaves an unfitted random CNN runnable too', async () => {
    const m = buildCnn(7);
    const ref = await runModel(m, images, [1, 28, 28]);
    const out = await runModel(quantizeDynamic(m).model, images, [1, 28, 28]);
    expect(sqnr(ref, out)).toBeGreaterThan(25);
  });
});
