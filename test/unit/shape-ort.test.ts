// Compares every intermediate shape we infer with what ONNX Runtime actually produces: each
// node output becomes a graph output (declared without a shape so ORT is not steered), the
// model runs once, and the real dims must agree with every dim we claim to know.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, decodeTensor, encodeModel } from '../../app/engine/onnx/codec.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model, type Tensor } from '../../app/engine/onnx/ir.js';
import { inferShapes } from '../../app/engine/onnx/shape-inference.js';
import { bigintData, floatData, floatTensor } from '../../app/engine/onnx/tensor.js';

const F = DataType.FLOAT;

function toOrt(t: Tensor): ort.Tensor | undefined {
  switch (t.dataType) {
    case DataType.FLOAT:
      return new ort.Tensor('float32', Float32Array.from(floatData(t)), t.dims);
    case DataType.INT64:
      return new ort.Tensor('int64', BigInt64Array.from(bigintData(t)), t.dims);
    case DataType.INT32:
      return new ort.Tensor('int32', Int32Array.from(bigintData(t), Number), t.dims);
    case DataType.BOOL:
      return new ort.Tensor('bool', Uint8Array.from(bigintData(t), Number), t.dims);
    default:
      return undefined;
  }
}

interface Comparison {
  compared: number;
  exact: number;
  mismatches: string[];
}

/** Runs the model with every node output exposed; compares dims with inference. */
async function compareWithOrt(model: Model, feeds: Record<string, ort.Tensor>): Promise<Comparison> {
  const res = inferShapes(model);
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  const declared = new Set([...model.graph.inputs.map((i) => i.name), ...model.graph.initializers.map((t) => t.name)]);
  const exposed: Model = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs] } };
  for (const n of model.graph.nodes) {
    for (const o of n.outputs) {
      const t = res.types.get(o);
      if (!o || graphOutputs.has(o) || declared.has(o) || !t || !t.elemType) continue;
      exposed.graph.outputs.push({ name: o, type: { kind: 'tensor', elemType: t.elemType, shape: null } });
      graphOutputs.add(o);
    }
  }
  const session = await ort.InferenceSession.create(encodeModel(exposed), { graphOptimizationLevel: 'disabled' });
  try {
    const out = await session.run(feeds);
    const cmp: Comparison = { compared: 0, exact: 0, mismatches: [] };
    for (const [name, tensor] of Object.entries(out)) {
      const t = res.types.get(name);
      if (!t) continue;
      cmp.compared++;
      const dims = [...tensor.dims];
      const shape = t.shape;
      const ok = shape !== null && shape.length === dims.length && shape.every((d, i) => typeof d !== 'number' || d === dims[i]);
      if (!ok) cmp.mismatches.push(`${name}: inferred ${JSON.stringify(shape)}, ORT [${dims}]`);
      else if (shape.every((d) => typeof d === 'number')) cmp.exact++;
      else if (process.env.SHAPE_VERBOSE) {
        const node = model.graph.nodes.find((n) => n.outputs.includes(name));
        console.log(`  inexact ${node?.opType} ${name}: ${JSON.stringify(shape)} vs [${dims}]`);
      }
    }
    return cmp;
  } finally {
    await session.release();
  }
}

function zeros(n: number) {
  return new Array<number>(n).fill(0.01);
}

describe('inferred intermediate shapes match ONNX Runtime', () => {
  it('a hand-built network mixing CNN, shape arithmetic, attention, reductions and slicing', async () => {
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    const w = (name: string, dims: number[]) => b.initializer(floatTensor(name, dims, zeros(dims.reduce((a, c) => a * c, 1))));
    const x = b.input('x', F, [2, 3, 17, 15]);
    let h = b.op('Conv', [x, w('w1', [8, 3, 3, 3]), w('b1', [8])], { pads: [1, 1, 1, 1] });
    h = b.op('Relu', [b.op('BatchNormalization', [h, w('g', [8]), w('be', [8]), w('mu', [8]), b.initializer(floatTensor('var', [8], new Array(8).fill(1)))])]);
    h = b.op('MaxPool', [h], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
    h = b.op('Conv', [h, w('w2', [8, 2, 3, 3])], { strides: [2, 2], auto_pad: 'SAME_UPPER', group: 4 });
    h = b.op('AveragePool', [h], { kernel_shape: [2, 2], pads: [0, 0, 1, 1] });
    const ct = b.op('ConvTranspose', [h, w('wt', [8, 4, 3, 3])], { strides: [2, 2], output_padding: [1, 0] });
    const gp = b.op('GlobalAveragePool', [ct]);
    // PyTorch-style flatten via shape arithmetic.
    const shp = b.op('Shape', [ct]);
    const n0 = b.op('Unsqueeze', [b.op('Gather', [shp, b.constInt64('z', [0], [])]), b.constInt64('ax0', [0])]);
    const flat = b.op('Reshape', [ct, b.op('Concat', [n0, b.constInt64('m1', [-1])], { axis: 0 })]);
    const fc = b.op('Gemm', [flat, w('fc', [16, 4 * 10 * 9]), w('fcb', [16])], { transB: 1 });
    const seq = b.op('Reshape', [fc, b.constInt64('seqs', [2, 4, 4])]);
    // Attention over [B, T=4, D=4] with 2 heads.
    const q = b.op('Transpose', [b.op('Reshape', [seq, b.constInt64('hs', [0, 0, 2, 2])])], { perm: [0, 2, 1, 3] });
    const att = b.op('Softmax', [b.op('MatMul', [q, b.op('Transpose', [q], { perm: [0, 1, 3, 2] })])], { axis: -1 });
    const ctx = b.op('MatMul', [att, q]);
    const ln = b.op('LayerNormalization', [seq, w('lng', [4]), w('lnb', [4])], { axis: -1 });
    const red = b.op('ReduceMean', [ctx], { axes: [1, -1], keepdims: 0 });
    const sl = b.op('Slice', [ln, b.constInt64('ss', [1, -1]), b.constInt64('se', [1000, -4]), b.constInt64('sa', [1, 2]), b.constInt64('st', [2, -1])]);
    const [s1, s2] = b.opN('Split', [ln, b.constInt64('spl', [1, 3])], { axis: 1 }, { outputs: 2 });
    const tiled = b.op('Tile', [s1!, b.constInt64('rep', [1, 2, 1])]);
    const exp = b.op('Expand', [gp, b.constInt64('es', [3, 1, 1, 2, 5])]);
    const pad = b.op('Pad', [s2!, b.constInt64('pads', [0, 1, 2, 0, 0, 1])]);
    const cat = b.op('Concat', [tiled, s2!], { axis: 1 });
    const am = b.op('ArgMax', [cat], { axis: 2, keepdims: 0 });
    const g2 = b.op('Gather', [ln, b.constInt64('gi', [0, 2, 3, 1, 0], [5])], { axis: 1 });
    const sq = b.op('Squeeze', [b.op('Unsqueeze', [red, b.constInt64('uax', [0, 2])]), b.constInt64('sqx', [0])]);
    const cs = b.op('ConstantOfShape', [b.op('Shape', [sq])]);
    const where = b.op('Where', [b.op('Greater', [cs, b.constFloat('half', [0.5])]), cs, b.op('Sum', [sq, cs])]);
    const rng = b.op('Range', [b.constInt64('r0', [1], []), b.op('Size', [am]), b.constInt64('r2', [2], [])]);
    const flat2 = b.op('Flatten', [exp], { axis: -2 });
    const [tk, tki] = b.opN('TopK', [flat2, b.constInt64('k', [3])], { axis: 0 }, { outputs: 2 });
    const mmv = b.op('MatMul', [b.constFloat('vec', zeros(10), [10]), b.op('Transpose', [tk!])]);
    const res = inferShapes(m);
    for (const o of [gp, att, sl, pad, cat, am, g2, where, rng, tki!, mmv]) b.output(o, res.types.get(o)!.elemType, null);
    const feeds = { x: new ort.Tensor('float32', new Float32Array(2 * 3 * 17 * 15).fill(0.5), [2, 3, 17, 15]) };
    expect(res.unknownOps).toEqual([]);
    const cmp = await compareWithOrt(m, feeds);
    expect(cmp.mismatches).toEqual([]);
    // Everything in this graph is static, so every shape must be known exactly.
    expect(cmp.exact).toBe(cmp.compared);
    expect(cmp.compared).toBeGreaterThan(40);
  });

  it('PyTorch-exported and function-expanded models from libonnx-testdata (every intermediate)', async () => {
    const total: Comparison = { compared: 0, exact: 0, mismatches: [] };
    let models = 0;
    for (const suite of ['pytorch-converted', 'pytorch-operator', 'node']) {
      const dir = join('/usr/share/libonnx-testdata/data', suite);
      for (const name of readdirSync(dir).sort()) {
        // From the node suite, the function-expanded tests: long chains of shape arithmetic.
        if (suite === 'node' && !name.includes('_expanded')) continue;
        const modelPath = join(dir, name, 'model.onnx');
        if (!existsSync(modelPath)) continue;
        const model = decodeModel(readFileSync(modelPath));
        if (model.graph.nodes.length < 2) continue; // single-node models are covered by the node suite
        const feeds: Record<string, ort.Tensor> = {};
        const init = new Set(model.graph.initializers.map((t) => t.name));
        let ok = true;
        model.graph.inputs.forEach((vi, i) => {
          if (init.has(vi.name)) return;
          const f = join(dir, name, 'test_data_set_0', `input_${i}.pb`);
          let t: ort.Tensor | undefined;
          try {
            t = existsSync(f) ? toOrt(decodeTensor(readFileSync(f))) : undefined;
          } catch {
            t = undefined; // sequences and optionals are stored as other protos
          }
          if (t) feeds[vi.name] = t;
          else ok = false;
        });
        if (!ok) continue;
        let cmp: Comparison;
        try {
          cmp = await compareWithOrt(model, feeds);
        } catch (e) {
          // Models ORT itself refuses (ancient opsets) are not a verdict on inference.
          if (process.env.SHAPE_VERBOSE) console.log(name, String(e).slice(0, 200));
          if (/ShapeInferenceError|shape inference:/.test(String(e)) && !/onnxruntime/i.test(String(e))) throw e;
          continue;
        }
        models++;
        total.compared += cmp.compared;
        total.exact += cmp.exact;
        total.mismatches.push(...cmp.mismatches.map((s) => `${name}: ${s}`));
      }
    }
    console.log(`ORT intermediates: ${models} models, ${total.compared} values, ${total.exact} exact, ${total.mismatches.length} mismatches`);
    expect(total.mismatches).toEqual([]);
    expect(models).toBeGreaterThan(20);
    expect(total.exact).toBeGreaterThan(0.95 * total.compared);
  });
});
