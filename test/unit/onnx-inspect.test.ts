import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../app/engine/onnx/codec.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { checkRunnable, inspectModel, parseOrtError, typeString } from '../../app/engine/onnx/inspect.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { floatTensor, int64Tensor, rawTensor } from '../../app/engine/onnx/tensor.js';

const ROOT = '/usr/share/libonnx-testdata/data';

/** [batch,1,28,28] → Conv 8@3x3 pad 1 → Relu → MaxPool 2 → Flatten → Gemm 10, plus a MatMulNBits-style op. */
function cnn(): Model {
  const m = emptyModel(17);
  m.metadataProps.push({ key: 'author', value: 'test' });
  const b = new GraphBuilder(m.graph);
  const x = b.input('image', DataType.FLOAT, ['batch', 1, 28, 28]);
  const w = b.initializer(floatTensor('conv.w', [8, 1, 3, 3], new Float32Array(72)));
  const bias = b.initializer(floatTensor('conv.b', [8], new Float32Array(8)));
  const c = b.op('Conv', [x, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const r = b.op('Relu', [c]);
  const p = b.op('MaxPool', [r], { kernel_shape: [2, 2], strides: [2, 2] });
  const f = b.op('Flatten', [p], { axis: 1 });
  const fw = b.initializer(floatTensor('fc.w', [10, 8 * 14 * 14], new Float32Array(10 * 8 * 14 * 14)));
  const fb = b.initializer(floatTensor('fc.b', [10], new Float32Array(10)));
  const g = b.op('Gemm', [f, fw, fb], { transB: 1 });
  b.constInt64('shape', [1, 10]); // int64: not a weight
  b.output(g, DataType.FLOAT, ['batch', 10]);
  return m;
}

describe('inspectModel', () => {
  it('summarizes inputs, outputs, parameters, ops, FLOPs and metadata', () => {
    const s = inspectModel(cnn(), { sizeBytes: 1234 });
    expect(s.irVersion).toBe(8);
    expect(s.opsetImports).toEqual({ 'ai.onnx': 17 });
    expect(s.producer).toEqual({ name: 'distillery', version: '0.1.0' });
    expect(s.inputs).toEqual([{ name: 'image', type: 'float32', shape: ['batch', 1, 28, 28] }]);
    expect(s.outputs).toEqual([{ name: s.outputs[0]!.name, type: 'float32', shape: ['batch', 10] }]);
    expect(s.parameters).toBe(72 + 8 + 15680 + 10);
    expect(s.sizeBytes).toBe(1234);
    expect(s.ops).toEqual({ Conv: 1, Flatten: 1, Gemm: 1, MaxPool: 1, Relu: 1 });
    const conv = 2 * (8 * 28 * 28) * 1 * 9 + 8 * 28 * 28;
    const gemm = 2 * 1568 * 10 + 10;
    expect(s.flops).toBe(conv + gemm);
    expect(s.flopsUnknownNodes).toBe(0);
    expect(s.metadata).toEqual({ author: 'test' });
    expect(s.unsupportedOps).toEqual([]);
  });

  it('counts ops inside subgraphs and prefixes non-default domains', () => {
    const m = cnn();
    const then = emptyModel().graph;
    then.nodes.push({ name: 'q', opType: 'MatMulNBits', domain: 'com.microsoft', inputs: ['a'], outputs: ['b'], attributes: [] });
    then.nodes.push({ name: 'r', opType: 'Relu', domain: 'ai.onnx', inputs: ['b'], outputs: ['c'], attributes: [] });
    m.graph.nodes.push({ name: 'if', opType: 'If', domain: '', inputs: ['cond'], outputs: ['z'], attributes: [{ name: 'then_branch', type: 'graph', value: then }] });
    const s = inspectModel(m, { sizeBytes: 0 });
    expect(s.ops['com.microsoft.MatMulNBits']).toBe(1);
    expect(s.ops.Relu).toBe(2);
    expect(s.ops.If).toBe(1);
    expect(Object.keys(s.ops)[0]).toBe('Relu'); // most frequent first
  });

  it('uses MatMul batch dims (symbolic = 1) and counts quantized weights as parameters', () => {
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', DataType.FLOAT, ['batch', 'seq', 64]);
    const w = b.initializer(rawTensor('w', DataType.INT8, [64, 32], new Uint8Array(2048)));
    const ws = b.constFloat('s', [0.1]);
    const dq = b.op('DequantizeLinear', [w, ws]);
    b.output(b.op('MatMul', [x, dq]), DataType.FLOAT, null);
    const s = inspectModel(m, { sizeBytes: 0 });
    expect(s.flops).toBe(2 * 64 * 32); // batch and seq count as 1
    expect(s.parameters).toBe(2048 + 1);
  });

  it('prefers shapes from shape inference when given, and reports nodes it cannot estimate', () => {
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', DataType.FLOAT, null);
    const w = b.initializer(floatTensor('w', [16, 8], new Float32Array(128)));
    b.output(b.op('MatMul', [x, w]), DataType.FLOAT, null);
    expect(inspectModel(m, { sizeBytes: 0 })).toMatchObject({ flops: 0, flopsUnknownNodes: 1 });
    const shapes = new Map([['x', { elemType: DataType.FLOAT as number, shape: [4, 16] }]]);
    expect(inspectModel(m, { sizeBytes: 0, shapes })).toMatchObject({ flops: 2 * 4 * 16 * 8, flopsUnknownNodes: 0 });
  });

  it('propagates shapes through Reshape with a constant shape', () => {
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', DataType.FLOAT, [2, 3, 4]);
    const shape = b.initializer(int64Tensor('shape', [2], [-1, 12]));
    const r = b.op('Reshape', [x, shape]);
    const w = b.initializer(floatTensor('w', [12, 5], new Float32Array(60)));
    b.output(b.op('MatMul', [r, w]), DataType.FLOAT, null);
    expect(inspectModel(m, { sizeBytes: 0 }).flops).toBe(2 * 2 * 12 * 5);
  });

  it('names types readably', () => {
    expect(typeString({ kind: 'tensor', elemType: DataType.DOUBLE, shape: null })).toBe('float64');
    expect(typeString({ kind: 'tensor', elemType: DataType.FLOAT16, shape: null })).toBe('float16');
    expect(typeString({ kind: 'sequence', elem: { kind: 'tensor', elemType: DataType.INT64, shape: null } })).toBe('sequence<int64>');
    expect(typeString({ kind: 'map', keyType: DataType.STRING, value: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } })).toBe('map<string,float32>');
  });

  it('inspects the whole ONNX test suite; FLOPs known for nearly all MatMul/Gemm/Conv nodes', () => {
    let computeNodes = 0;
    let unknown = 0;
    for (const suite of ['node', 'pytorch-converted', 'pytorch-operator']) {
      for (const t of readdirSync(join(ROOT, suite))) {
        const file = join(ROOT, suite, t, 'model.onnx');
        const s = inspectModel(decodeModel(readFileSync(file)), { sizeBytes: statSync(file).size });
        expect(s.flops).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(s.flops)).toBe(true);
        for (const op of ['MatMul', 'Gemm', 'Conv', 'ConvTranspose']) computeNodes += s.ops[op] ?? 0;
        unknown += s.flopsUnknownNodes;
      }
    }
    expect(computeNodes).toBeGreaterThan(60);
    expect(unknown / computeNodes).toBeLessThan(0.05);
  });

  it('computes the Conv FLOPs of a PyTorch export exactly', () => {
    const file = join(ROOT, 'pytorch-converted', 'test_Conv2d', 'model.onnx');
    const s = inspectModel(decodeModel(readFileSync(file)), { sizeBytes: 0 });
    // out [2,4,5,4] = 160 values, each 3 in-channels × 3×2 kernel MACs, plus bias
    expect(s.flops).toBe(2 * 160 * 3 * 6 + 160);
    expect(s.parameters).toBe(76);
  });
});

describe('checkRunnable', () => {
  function withOp(opType: string, domain: string, version = 1): Uint8Array {
    const m = emptyModel(17);
    if (domain) m.opsetImports.push({ domain, version });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', DataType.FLOAT, [2]);
    b.output(b.op(opType, [x], {}, { domain, name: 'the_node' }), DataType.FLOAT, [2]);
    return encodeModel(m);
  }

  it('accepts a model ORT can run', async () => {
    expect(await checkRunnable(withOp('Relu', ''))).toEqual({ ok: true });
  });

  it('names an unknown op of the default domain', async () => {
    const r = await checkRunnable(withOp('FancyOp', ''));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.unsupported).toEqual([{ opType: 'FancyOp', domain: '', node: 'the_node', reason: expect.stringMatching(/does not exist in opset 17/) }]);
  });

  it('names an op of an unknown custom domain', async () => {
    const r = await checkRunnable(withOp('Magic', 'com.example'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.unsupported).toMatchObject([{ opType: 'Magic', domain: 'com.example' }]);
  });

  it('names ops ORT has no kernel for (a real PyTorch export with opset 6)', async () => {
    const r = await checkRunnable(readFileSync(join(ROOT, 'pytorch-converted', 'test_PReLU_1d', 'model.onnx')));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.unsupported[0]).toMatchObject({ opType: 'PRelu', domain: '', reason: expect.stringMatching(/no CPU kernel for PRelu/) });
  });

  it('parses ORT error messages', () => {
    expect(parseOrtError("Could not find an implementation for Add(6) node with name 'n3'")).toEqual([
      { opType: 'Add', domain: '', node: 'n3', reason: 'ONNX Runtime has no CPU kernel for Add (opset 6) with these input types' },
    ]);
    expect(parseOrtError('Fatal error: ai.onnx.preview.training:Momentum(-1) is not a registered function/op')).toMatchObject([
      { opType: 'Momentum', domain: 'ai.onnx.preview.training' },
    ]);
    expect(parseOrtError('something else entirely')).toEqual([]);
  });
});

describe('inspectFile', () => {
  it('uses the shape inference module for FLOPs behind ops the local propagation does not know', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { inspectFile } = await import('../../app/engine/onnx/inspect.js');
    const { saveModel } = await import('../../app/engine/onnx/io.js');
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', DataType.FLOAT, [2, 3, 32]);
    const starts = b.constInt64('starts', [0]);
    const ends = b.constInt64('ends', [16]);
    const axes = b.constInt64('axes', [2]);
    const sliced = b.op('Slice', [x, starts, ends, axes]); // [2, 3, 16]
    const w = b.initializer(floatTensor('w', [16, 8], new Float32Array(128)));
    b.output(b.op('MatMul', [sliced, w]), DataType.FLOAT, null);
    expect(inspectModel(m, { sizeBytes: 0 }).flopsUnknownNodes).toBe(1); // declared shapes alone are not enough
    const file = join(mkdtempSync(join(tmpdir(), 'distillery-inspect-')), 'slice.onnx');
    await saveModel(m, file);
    const { summary } = await inspectFile(file, { runCheck: false });
    expect(summary.flopsUnknownNodes).toBe(0);
    expect(summary.flops).toBe(2 * 6 * 16 * 8);
    expect(summary.sizeBytes).toBe(statSync(file).size);
    expect(summary.runChecked).toBe(false);
  });
});
