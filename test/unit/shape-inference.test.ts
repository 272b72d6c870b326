// Shape inference on hand-built graphs: a CNN, an MLP, PyTorch-style shape arithmetic,
// symbolic dims, opset differences, multi-output ops, subgraphs and error reporting.
import { describe, expect, it } from 'vitest';
import { makeAttr } from '../../app/engine/onnx/attributes.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyGraph, emptyModel, type Dim, type Model } from '../../app/engine/onnx/ir.js';
import { inferGraph, inferShapes, ShapeInferenceError } from '../../app/engine/onnx/shape-inference.js';
import { floatTensor, int64Tensor } from '../../app/engine/onnx/tensor.js';

const F = DataType.FLOAT;

function model(opset = 17) {
  const m = emptyModel(opset);
  return { m, b: new GraphBuilder(m.graph) };
}

function zeros(n: number) {
  return new Array<number>(n).fill(0);
}

function weight(b: GraphBuilder, name: string, dims: number[]) {
  return b.initializer(floatTensor(name, dims, zeros(dims.reduce((a, c) => a * c, 1))));
}

function shapeOf(m: Model, name: string, opts?: Parameters<typeof inferShapes>[1]) {
  return inferShapes(m, opts).types.get(name)?.shape;
}

describe('inferShapes: small networks', () => {
  it('CNN (cnn:8,16/32) keeps the symbolic batch through Conv, MaxPool, Flatten and Gemm', () => {
    const { m, b } = model();
    const x = b.input('x', F, ['batch', 1, 28, 28]);
    let h = x;
    let cin = 1;
    for (const c of [8, 16]) {
      h = b.op('Conv', [h, weight(b, 'w', [c, cin, 3, 3]), weight(b, 'bias', [c])], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
      h = b.op('Relu', [h]);
      h = b.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
      cin = c;
    }
    const flat = b.op('Flatten', [h], { axis: 1 });
    const fc1 = b.op('Gemm', [flat, weight(b, 'fc1', [32, 784]), weight(b, 'fc1b', [32])], { transB: 1 });
    const r = b.op('Relu', [fc1]);
    const logits = b.op('Gemm', [r, weight(b, 'fc2', [10, 32]), weight(b, 'fc2b', [10])], { transB: 1 });
    const res = inferShapes(m);
    expect(res.unknownOps).toEqual([]);
    expect(res.types.get(flat)).toEqual({ elemType: F, shape: ['batch', 784] });
    expect(res.types.get(logits)).toEqual({ elemType: F, shape: ['batch', 10] });
    // Fixing the batch gives fully static shapes.
    expect(shapeOf(m, logits, { inputShapes: { x: [32, 1, 28, 28] } })).toEqual([32, 10]);
  });

  it('MLP with MatMul + Add keeps batch and broadcasts the bias', () => {
    const { m, b } = model(13);
    const x = b.input('x', F, ['N', 784]);
    const h = b.op('Relu', [b.op('Add', [b.op('MatMul', [x, weight(b, 'w1', [784, 128])]), weight(b, 'b1', [128])])]);
    const y = b.op('Add', [b.op('MatMul', [h, weight(b, 'w2', [128, 10])]), weight(b, 'b2', [10])]);
    const sm = b.op('Softmax', [y], { axis: -1 });
    const res = inferShapes(m);
    expect(res.types.get(h)?.shape).toEqual(['N', 128]);
    expect(res.types.get(sm)?.shape).toEqual(['N', 10]);
  });

  it('PyTorch-style Shape → Gather → Unsqueeze → Concat → Reshape yields static shapes', () => {
    for (const opset of [11, 13]) {
      const { m, b } = model(opset);
      const x = b.input('x', F, ['batch', 16, 7, 7]);
      const shp = b.op('Shape', [x]);
      const n = b.op('Gather', [shp, b.constInt64('zero', [0], [])], { axis: 0 });
      const un = opset < 13 ? b.op('Unsqueeze', [n], { axes: [0] }) : b.op('Unsqueeze', [n, b.constInt64('ax', [0])]);
      const minus1 = b.op('Constant', [], { value: int64Tensor('', [1], [-1]) });
      const target = b.op('Concat', [un, minus1], { axis: 0 });
      const y = b.op('Reshape', [x, target]);
      const sym = inferShapes(m);
      expect(sym.types.get(y)?.shape).toEqual(['batch', 784]);
      const fixed = inferShapes(m, { inputShapes: { x: [32, 16, 7, 7] } });
      expect(fixed.types.get(y)?.shape).toEqual([32, 784]);
      expect(fixed.knownValues.get(target)).toEqual([32n, -1n]);
      expect(fixed.knownValues.get(shp)).toEqual([32n, 16n, 7n, 7n]);
      expect(fixed.knownValues.get(n)).toEqual([32n]);
    }
  });

  it('attention block: split heads by computed shape, batched MatMul, Softmax, merge heads', () => {
    const { m, b } = model(17);
    const x = b.input('x', F, [2, 5, 64]);
    const shp = b.op('Shape', [x]);
    const bt = b.op('Slice', [shp, b.constInt64('s0', [0]), b.constInt64('s1', [2])]);
    const heads = b.op('Concat', [bt, b.constInt64('hd', [4, 16])], { axis: 0 });
    const q = b.op('Transpose', [b.op('Reshape', [x, heads])], { perm: [0, 2, 1, 3] });
    const kt = b.op('Transpose', [q], { perm: [0, 1, 3, 2] });
    const scores = b.op('Div', [b.op('MatMul', [q, kt]), b.constFloat('scale', [4])]);
    const p = b.op('Softmax', [scores], { axis: -1 });
    const ctx = b.op('MatMul', [p, q]);
    const merged = b.op('Reshape', [b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), b.constInt64('ms', [0, 0, -1])]);
    const res = inferShapes(m);
    expect(res.types.get(q)?.shape).toEqual([2, 4, 5, 16]);
    expect(res.types.get(p)?.shape).toEqual([2, 4, 5, 5]);
    expect(res.types.get(merged)?.shape).toEqual([2, 5, 64]);
  });

  it('PyTorch expand pattern: ConstantOfShape/Mul/Equal/Where feeding Expand', () => {
    const { m, b } = model(13);
    const x = b.input('x', F, [1, 3, 1]);
    const target = b.constInt64('target', [2, -1, 4]);
    const cos = b.op('ConstantOfShape', [b.constInt64('three', [3])], { value: int64Tensor('', [1], [1]) });
    const neg = b.op('Mul', [cos, b.constInt64('m1', [-1], [])]);
    const eq = b.op('Equal', [target, neg]);
    const fixed = b.op('Where', [eq, cos, target]);
    const y = b.op('Expand', [x, fixed]);
    const res = inferShapes(m);
    expect(res.knownValues.get(fixed)).toEqual([2n, 1n, 4n]);
    expect(res.types.get(eq)?.elemType).toBe(DataType.BOOL);
    expect(res.types.get(y)?.shape).toEqual([2, 3, 4]);
  });

  it('Range, Tile, ConstantOfShape and Slice from folded values', () => {
    const { m, b } = model(13);
    const x = b.input('x', F, [4, 6]);
    const shp = b.op('Shape', [x]);
    const last = b.op('Gather', [shp, b.constInt64('i', [-1], [])]);
    const r = b.op('Range', [b.constInt64('st', [0], []), last, b.constInt64('d', [2], [])]);
    const t = b.op('Tile', [x, b.op('Cast', [b.op('Add', [b.constInt64('ones', [1, 1]), b.constInt64('rep', [1, 2])])], { to: DataType.INT64 })]);
    const cs = b.op('ConstantOfShape', [shp]);
    const sl = b.op('Slice', [x, b.constInt64('a', [-1, 5]), b.constInt64('e', [-5, 1]), b.constInt64('ax', [0, 1]), b.constInt64('sp', [-1, -2])]);
    const res = inferShapes(m);
    expect(res.types.get(r)).toEqual({ elemType: DataType.INT64, shape: [3] });
    expect(res.knownValues.get(r)).toEqual([0n, 2n, 4n]);
    expect(res.types.get(t)?.shape).toEqual([8, 18]);
    expect(res.types.get(cs)).toEqual({ elemType: F, shape: [4, 6] });
    expect(res.types.get(sl)?.shape).toEqual([4, 2]);
  });
});

describe('inferShapes: symbolic dims and broadcasting', () => {
  it('keeps dim_param names through element-wise ops and broadcasting', () => {
    const { m, b } = model();
    const x = b.input('x', F, ['batch', 'seq', 8]);
    const y = b.input('y', F, [1, 'seq', 1]);
    const z = b.input('z', F, [null, 1, 8]);
    const s = b.op('Add', [x, y]);
    const t = b.op('Mul', [z, b.op('Relu', [s])]);
    const res = inferShapes(m);
    expect(res.types.get(s)?.shape).toEqual(['batch', 'seq', 8]);
    // null meets 'batch': the symbol wins (either the unknown is 1 or equals batch).
    expect(res.types.get(t)?.shape).toEqual(['batch', 'seq', 8]);
    const u = inferShapes(m, { inputShapes: { z: [7, 1, 1] } });
    expect(u.types.get(t)?.shape).toEqual([7, 'seq', 8]);
    const w = b.op('Add', [y, b.input('q', F, ['other', 1])]);
    expect(inferShapes(m).types.get(w)?.shape).toEqual([1, 'seq', 1]);
  });

  it('Reshape with 0 copies symbolic dims; -1 cancels symbols', () => {
    const { m, b } = model();
    const x = b.input('x', F, ['batch', 'seq', 12]);
    const a = b.op('Reshape', [x, b.constInt64('s', [0, 0, 3, 4])]);
    const c = b.op('Reshape', [a, b.constInt64('s2', [0, -1, 4])]);
    const d = b.op('Reshape', [a, b.constInt64('s3', [-1, 12])]);
    const res = inferShapes(m);
    expect(res.types.get(a)?.shape).toEqual(['batch', 'seq', 3, 4]);
    expect(res.types.get(c)?.shape).toEqual(['batch', 'seq', 4].map((v, i) => (i === 1 ? null : v)));
    expect(res.types.get(d)?.shape).toEqual([null, 12]);
    const e = b.op('Reshape', [x, b.constInt64('s4', [0, -1])]);
    expect(inferShapes(m).types.get(e)?.shape).toEqual(['batch', null]);
    const f = b.op('Reshape', [x, b.constInt64('s5', [-1, 12])]);
    expect(inferShapes(m, { inputShapes: { x: ['batch', 1, 12] } }).types.get(f)?.shape).toEqual(['batch', 12]);
  });

  it('allowzero=1 makes 0 a real zero-sized dim', () => {
    const { m, b } = model(14);
    const x = b.input('x', F, [0, 3, 4]);
    const y = b.op('Reshape', [x, b.constInt64('s', [3, 4, 0])], { allowzero: 1 });
    expect(shapeOf(m, y)).toEqual([3, 4, 0]);
  });

  it('MatMul handles 1-D operands and batched broadcasting', () => {
    const { m, b } = model();
    const a = b.input('a', F, [5, 1, 'T', 16]);
    const w = b.input('w', F, [3, 16, 8]);
    const v = b.input('v', F, [16]);
    const mm = b.op('MatMul', [a, w]);
    const mv = b.op('MatMul', [a, v]);
    const vm = b.op('MatMul', [v, w]);
    const vv = b.op('MatMul', [v, v]);
    const res = inferShapes(m);
    expect(res.types.get(mm)?.shape).toEqual([5, 3, 'T', 8]);
    expect(res.types.get(mv)?.shape).toEqual([5, 1, 'T']);
    expect(res.types.get(vm)?.shape).toEqual([3, 8]);
    expect(res.types.get(vv)?.shape).toEqual([]);
  });
});

describe('inferShapes: op details and opset differences', () => {
  it('Squeeze/Unsqueeze/ReduceMean/ReduceSum axes: attribute before, input after', () => {
    for (const opset of [11, 13, 18]) {
      const { m, b } = model(opset);
      const x = b.input('x', F, [2, 1, 3, 1]);
      const axes = (v: number[]) => b.constInt64('axes', v);
      const sq = opset < 13 ? b.op('Squeeze', [x], { axes: [1, -1] }) : b.op('Squeeze', [x, axes([1, -1])]);
      const us = opset < 13 ? b.op('Unsqueeze', [sq], { axes: [0, 3] }) : b.op('Unsqueeze', [sq, axes([0, 3])]);
      const rm = opset < 18 ? b.op('ReduceMean', [x], { axes: [2], keepdims: 0 }) : b.op('ReduceMean', [x, axes([2])], { keepdims: 0 });
      const rs = opset < 13 ? b.op('ReduceSum', [x], { axes: [0] }) : b.op('ReduceSum', [x, axes([0])]);
      const all = b.op('ReduceMax', [x], { keepdims: 0 });
      const res = inferShapes(m);
      expect(res.types.get(sq)?.shape).toEqual([2, 3]);
      expect(res.types.get(us)?.shape).toEqual([1, 2, 3, 1]);
      expect(res.types.get(rm)?.shape).toEqual([2, 1, 1]);
      expect(res.types.get(rs)?.shape).toEqual([1, 1, 3, 1]);
      expect(res.types.get(all)?.shape).toEqual([]);
    }
  });

  it('ReduceSum noop_with_empty_axes and unknown axes', () => {
    const { m, b } = model(13);
    const x = b.input('x', F, [2, 3]);
    const ax = b.input('ax', DataType.INT64, [1]);
    const noop = b.op('ReduceSum', [x], { noop_with_empty_axes: 1 });
    const all = b.op('ReduceSum', [x]);
    const unk = b.op('ReduceSum', [x, ax]);
    const res = inferShapes(m);
    expect(res.types.get(noop)?.shape).toEqual([2, 3]);
    expect(res.types.get(all)?.shape).toEqual([1, 1]);
    expect(res.types.get(unk)?.shape).toEqual([null, null]);
    expect(inferShapes(m, { inputValues: { ax: [1] } }).types.get(unk)?.shape).toEqual([2, 1]);
  });

  it('Split: attribute (11), input (13), num_outputs with uneven chunks (18)', () => {
    const a = model(11);
    const outs11 = a.b.opN('Split', [a.b.input('x', F, [10, 4])], { split: [3, 7] }, { outputs: 2 });
    expect(outs11.map((o) => shapeOf(a.m, o))).toEqual([[3, 4], [7, 4]]);
    const c = model(13);
    const x13 = c.b.input('x', F, [10, 4]);
    const outs13 = c.b.opN('Split', [x13, c.b.constInt64('sp', [1, 3])], { axis: 1 }, { outputs: 2 });
    const even13 = c.b.opN('Split', [x13], {}, { outputs: 5 });
    const r13 = inferShapes(c.m);
    expect(outs13.map((o) => r13.types.get(o)?.shape)).toEqual([[10, 1], [10, 3]]);
    expect(r13.types.get(even13[4]!)?.shape).toEqual([2, 4]);
    const d = model(18);
    const outs18 = d.b.opN('Split', [d.b.input('x', F, [10, 4])], { num_outputs: 3 }, { outputs: 3 });
    const r18 = inferShapes(d.m);
    expect(outs18.map((o) => r18.types.get(o)?.shape)).toEqual([[4, 4], [4, 4], [2, 4]]);
  });

  it('Conv auto_pad / strides / dilations / group and ConvTranspose output_padding / output_shape', () => {
    const { m, b } = model(17);
    const x = b.input('x', F, [1, 4, 11, 11]);
    const w = weight(b, 'w', [8, 2, 3, 3]);
    const same = b.op('Conv', [x, w], { auto_pad: 'SAME_UPPER', strides: [2, 2], group: 2 });
    const valid = b.op('Conv', [x, w], { auto_pad: 'VALID', strides: [2, 2], group: 2 });
    const dil = b.op('Conv', [x, w], { dilations: [2, 2], pads: [1, 0, 1, 0], group: 2 });
    const wt = weight(b, 'wt', [4, 3, 3, 3]);
    const ct = b.op('ConvTranspose', [x, wt], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] });
    const cts = b.op('ConvTranspose', [x, wt], { strides: [2, 2], output_shape: [21, 23] });
    const ctg = b.op('ConvTranspose', [x, weight(b, 'wg', [4, 2, 3, 3])], { group: 2, auto_pad: 'SAME_UPPER', strides: [3, 3] });
    const res = inferShapes(m);
    expect(res.types.get(same)?.shape).toEqual([1, 8, 6, 6]);
    expect(res.types.get(valid)?.shape).toEqual([1, 8, 5, 5]);
    expect(res.types.get(dil)?.shape).toEqual([1, 8, 9, 7]);
    expect(res.types.get(ct)?.shape).toEqual([1, 3, 22, 22]);
    expect(res.types.get(cts)?.shape).toEqual([1, 3, 21, 23]);
    expect(res.types.get(ctg)?.shape).toEqual([1, 4, 33, 33]);
  });

  it('multi-output ops: MaxPool indices, Dropout mask, BatchNorm training, LayerNorm stats, TopK', () => {
    const { m, b } = model(17);
    const x = b.input('x', F, ['N', 3, 8, 8]);
    const [mp, idx] = b.opN('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, { outputs: 2 });
    const [dr, mask] = b.opN('Dropout', [x], {}, { outputs: 2 });
    const s = weight(b, 'sc', [3]);
    const bn = b.opN('BatchNormalization', [x, s, s, s, s], { training_mode: 1 }, { outputs: 3 });
    const ln = b.opN('LayerNormalization', [x, weight(b, 'g', [8, 8]), weight(b, 'be', [8, 8])], { axis: -2 }, { outputs: 3 });
    const [tv, ti] = b.opN('TopK', [x, b.constInt64('k', [2])], { axis: 1 }, { outputs: 2 });
    const res = inferShapes(m);
    expect(res.types.get(mp)?.shape).toEqual(['N', 3, 4, 4]);
    expect(res.types.get(idx)).toEqual({ elemType: DataType.INT64, shape: ['N', 3, 4, 4] });
    expect(res.types.get(dr)?.shape).toEqual(['N', 3, 8, 8]);
    expect(res.types.get(mask)).toEqual({ elemType: DataType.BOOL, shape: ['N', 3, 8, 8] });
    expect(bn.map((o) => res.types.get(o)?.shape)).toEqual([['N', 3, 8, 8], [3], [3]]);
    expect(ln.map((o) => res.types.get(o))).toEqual([
      { elemType: F, shape: ['N', 3, 8, 8] },
      { elemType: F, shape: ['N', 3, 1, 1] },
      { elemType: F, shape: ['N', 3, 1, 1] },
    ]);
    expect(res.types.get(tv)?.shape).toEqual(['N', 2, 8, 8]);
    expect(res.types.get(ti)?.elemType).toBe(DataType.INT64);
  });

  it('quantization ops get the right element types', () => {
    const { m, b } = model(21);
    m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
    const x = b.input('x', F, ['B', 16]);
    const scale = b.constFloat('s', [0.1]);
    const zp = b.initializer({ name: 'zp', dataType: DataType.INT8, dims: [], data: { kind: 'raw', bytes: new Uint8Array(1) } });
    const q = b.op('QuantizeLinear', [x, scale, zp]);
    const q8 = b.op('QuantizeLinear', [x, scale]);
    const dq = b.op('DequantizeLinear', [q, scale, zp]);
    const [y, ys, yz] = b.opN('DynamicQuantizeLinear', [x], {}, { outputs: 3 });
    const wq = b.initializer({ name: 'wq', dataType: DataType.UINT8, dims: [16, 4], data: { kind: 'raw', bytes: new Uint8Array(64) } });
    const mmi = b.op('MatMulInteger', [y!, wq]);
    const qmm = b.op('QLinearMatMul', [y!, ys!, yz!, wq, scale, yz!, scale, zp]);
    const nbits = b.op('MatMulNBits', [x, wq, scale], { K: 16, N: 32, bits: 4, block_size: 16 }, { domain: 'com.microsoft' });
    const res = inferShapes(m);
    expect(res.types.get(q)).toEqual({ elemType: DataType.INT8, shape: ['B', 16] });
    expect(res.types.get(q8)?.elemType).toBe(DataType.UINT8);
    expect(res.types.get(dq)).toEqual({ elemType: F, shape: ['B', 16] });
    expect(res.types.get(ys)).toEqual({ elemType: F, shape: [] });
    expect(res.types.get(mmi)).toEqual({ elemType: DataType.INT32, shape: ['B', 4] });
    expect(res.types.get(qmm)).toEqual({ elemType: DataType.INT8, shape: ['B', 4] });
    expect(res.types.get(nbits)).toEqual({ elemType: F, shape: ['B', 32] });
    expect(res.unknownOps).toEqual([]);
  });

  it('Constant with every value_* attribute', () => {
    const { m, b } = model(13);
    const n = (attr: string, v: Parameters<typeof makeAttr>[1]) => {
      const out = b.fresh('c');
      m.graph.nodes.push({ name: out, opType: 'Constant', domain: '', inputs: [], outputs: [out], attributes: [makeAttr(attr, v)] });
      return out;
    };
    const a = n('value', floatTensor('', [2, 3], zeros(6)));
    const c = n('value_float', { float: 1.5 });
    const d = n('value_floats', { floats: [1.5, 2.5] });
    const e = n('value_int', 7);
    const f = n('value_ints', [1, 2, 3]);
    const g = n('value_string', 'hi');
    const h = n('value_strings', ['a', 'b']);
    const res = inferShapes(m);
    expect(res.types.get(a)).toEqual({ elemType: F, shape: [2, 3] });
    expect(res.types.get(c)).toEqual({ elemType: F, shape: [] });
    expect(res.types.get(d)).toEqual({ elemType: F, shape: [2] });
    expect(res.types.get(e)).toEqual({ elemType: DataType.INT64, shape: [] });
    expect(res.knownValues.get(e)).toEqual([7n]);
    expect(res.knownValues.get(f)).toEqual([1n, 2n, 3n]);
    expect(res.types.get(g)).toEqual({ elemType: DataType.STRING, shape: [] });
    expect(res.types.get(h)).toEqual({ elemType: DataType.STRING, shape: [2] });
  });

  it('If and Loop take their outputs from the subgraphs', () => {
    const { m, b } = model(13);
    const x = b.input('x', F, ['N', 4]);
    const cond = b.input('cond', DataType.BOOL, []);
    const thenG = emptyGraph('then');
    const tb = new GraphBuilder(thenG);
    tb.output(tb.op('Relu', [x]), F, null);
    const elseG = emptyGraph('else');
    const eb = new GraphBuilder(elseG);
    eb.output(eb.op('Neg', [x]), F, null);
    const ifOut = b.fresh('if_out');
    m.graph.nodes.push({
      name: 'if', opType: 'If', domain: '', inputs: [cond], outputs: [ifOut],
      attributes: [{ name: 'then_branch', type: 'graph', value: thenG }, { name: 'else_branch', type: 'graph', value: elseG }],
    });
    const body = emptyGraph('body');
    const bb = new GraphBuilder(body);
    bb.input('i', DataType.INT64, []);
    bb.input('c', DataType.BOOL, []);
    bb.input('acc', F, null);
    bb.output(bb.op('Identity', ['c']), DataType.BOOL, []);
    bb.output(bb.op('Add', ['acc', x]), F, null);
    bb.output(bb.op('ReduceSum', ['acc'], { keepdims: 0 }), F, null);
    const [fin, scan] = [b.fresh('fin'), b.fresh('scan')];
    m.graph.nodes.push({
      name: 'loop', opType: 'Loop', domain: '', inputs: [b.constInt64('trip', [5], []), '', x], outputs: [fin, scan],
      attributes: [{ name: 'body', type: 'graph', value: body }],
    });
    const res = inferShapes(m);
    expect(res.types.get(ifOut)).toEqual({ elemType: F, shape: ['N', 4] });
    expect(res.types.get(fin)).toEqual({ elemType: F, shape: ['N', 4] });
    expect(res.types.get(scan)).toEqual({ elemType: F, shape: [5] });
  });

  it('inferGraph infers a subgraph given outer-scope types', () => {
    const g = emptyGraph('sub');
    const b = new GraphBuilder(g);
    const y = b.op('MatMul', ['outer', b.constFloat('w', zeros(12), [4, 3])]);
    const res = inferGraph(g, 17, new Map([['outer', { elemType: F, shape: ['B', 4] as Dim[] }]]));
    expect(res.types.get(y)).toEqual({ elemType: F, shape: ['B', 3] });
  });
});

describe('inferShapes: model-local functions', () => {
  it('infers a call by running the function body, with attribute references resolved', () => {
    const { m, b } = model(17);
    m.opsetImports.push({ domain: 'local', version: 1 });
    m.functions.push({
      name: 'FlatLinear', domain: 'local', inputs: ['x', 'w'], outputs: ['y'], attributes: ['ax'], attributeProtos: [],
      opsetImports: [{ domain: '', version: 17 }], valueInfo: [],
      nodes: [
        { name: 'f', opType: 'Flatten', domain: '', inputs: ['x'], outputs: ['flat'], attributes: [{ name: 'axis', type: 'ref', refAttrName: 'ax', refType: 2 }] },
        { name: 'mm', opType: 'MatMul', domain: '', inputs: ['flat', 'w'], outputs: ['y'], attributes: [] },
      ],
    });
    const x = b.input('x', F, ['B', 4, 3]);
    const y = b.op('FlatLinear', [x, weight(b, 'w', [12, 5])], { ax: 1 }, { domain: 'local' });
    const res = inferShapes(m);
    expect(res.unknownOps).toEqual([]);
    expect(res.types.get(y)).toEqual({ elemType: F, shape: ['B', 5] });
  });
});

describe('inferShapes: unknown ops and errors', () => {
  it('records unknown ops without throwing; their outputs stay unknown', () => {
    const { m, b } = model();
    const x = b.input('x', F, [2, 3]);
    const u = b.op('FancyOp', [x], {}, { domain: 'my.domain' });
    const v = b.op('NotAnOnnxOp', [x]);
    const r = b.op('Relu', [u]);
    const res = inferShapes(m);
    expect(res.unknownOps).toEqual(['NotAnOnnxOp', 'my.domain:FancyOp']);
    expect(res.types.get(u)).toBeUndefined();
    expect(res.types.get(v)).toBeUndefined();
    expect(res.types.get(r)).toEqual({ elemType: 0, shape: null });
  });

  it('value_info declared in the file fills in what rules cannot infer', () => {
    const { m, b } = model();
    const x = b.input('x', F, [2, 3]);
    const u = b.op('FancyOp', [x], {}, { domain: 'my.domain' });
    const r = b.op('Relu', [u]);
    m.graph.valueInfo.push({ name: u, type: { kind: 'tensor', elemType: F, shape: [2, 'k'] } });
    expect(inferShapes(m).types.get(r)).toEqual({ elemType: F, shape: [2, 'k'] });
  });

  it('throws a clear error naming node and op for inconsistent static shapes', () => {
    const mm = model();
    mm.b.op('MatMul', [mm.b.input('a', F, [2, 3]), mm.b.input('c', F, [4, 5])], {}, { name: 'proj' });
    expect(() => inferShapes(mm.m)).toThrow(ShapeInferenceError);
    expect(() => inferShapes(mm.m)).toThrow(/MatMul node 'proj'.*3 vs 4/);

    const cc = model();
    cc.b.op('Concat', [cc.b.input('a', F, [2, 3]), cc.b.input('c', F, [2, 3, 1])], { axis: 0 }, { name: 'cat' });
    expect(() => inferShapes(cc.m)).toThrow(/Concat node 'cat'.*different ranks/);

    const ad = model();
    ad.b.op('Add', [ad.b.input('a', F, [2, 3]), ad.b.input('c', F, [4, 3])], {}, { name: 'sum' });
    expect(() => inferShapes(ad.m)).toThrow(/Add node 'sum'.*broadcast/);

    const rs = model();
    rs.b.op('Reshape', [rs.b.input('a', F, [2, 3]), rs.b.constInt64('s', [4, 2])], {}, { name: 'rs' });
    expect(() => inferShapes(rs.m)).toThrow(/Reshape node 'rs'/);

    const cv = model();
    cv.b.op('Conv', [cv.b.input('a', F, [1, 3, 8, 8]), weight(cv.b, 'w', [4, 2, 3, 3])], {}, { name: 'conv' });
    expect(() => inferShapes(cv.m)).toThrow(/Conv node 'conv'.*channels/);

    // Unknown dims are never an error.
    const ok = model();
    ok.b.op('MatMul', [ok.b.input('a', F, [2, 'k']), ok.b.input('c', F, [4, 5])]);
    expect(() => inferShapes(ok.m)).not.toThrow();
  });
});
