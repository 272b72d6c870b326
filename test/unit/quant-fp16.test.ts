import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { attrInt } from '../../app/engine/onnx/attributes.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { floatToHalf, halfToFloat } from '../../app/engine/onnx/tensor.js';
import { agreement, convertFp16, modelBytes, sqnr, toHalfClamped } from '../../app/engine/quantize/index.js';
import { fashion, fittedModels, runModel, session, type Images } from './quant-fixtures.js';

let mlp: Model;
let cnn: Model;
let images: Images;

beforeAll(async () => {
  ({ mlp, cnn } = await fittedModels());
  images = fashion(500);
});

describe('convertFp16', () => {
  it('MLP and CNN: float16 weights, float32 I/O, > 50 dB, half the size', async () => {
    for (const [m, shape] of [[mlp, [784]], [cnn, [1, 28, 28]]] as const) {
      const { model, layers } = convertFp16(m);
      expect(model.graph.initializers.every((t) => t.dataType === DataType.FLOAT16)).toBe(true);
      expect(model.graph.inputs[0]!.type).toMatchObject({ elemType: DataType.FLOAT });
      expect(model.graph.outputs[0]!.type).toMatchObject({ elemType: DataType.FLOAT });
      const casts = model.graph.nodes.filter((n) => n.opType === 'Cast');
      expect(casts.map((n) => attrInt(n, 'to'))).toEqual([DataType.FLOAT16, DataType.FLOAT]);
      expect(layers.every((l) => l.precision === 'float16')).toBe(true);
      const ref = await runModel(m, images, [...shape]);
      const out = await runModel(model, images, [...shape]);
      // fp16 keeps 11 significant bits (~66 dB per rounding); a few layers of rounding stay > 50 dB.
      expect(sqnr(ref, out)).toBeGreaterThan(50);
      expect(agreement(ref, out, 10)).toBeGreaterThan(0.99);
      expect(modelBytes(model) / modelBytes(m)).toBeLessThan(0.52);
    }
  });

  it('keepIoTypes=false retypes inputs and outputs to float16', async () => {
    const { model } = convertFp16(mlp, { keepIoTypes: false });
    expect(model.graph.inputs[0]!.type).toMatchObject({ elemType: DataType.FLOAT16 });
    expect(model.graph.outputs[0]!.type).toMatchObject({ elemType: DataType.FLOAT16 });
    expect(model.graph.nodes.some((n) => n.opType === 'Cast')).toBe(false);
    const n = 50;
    const x = Uint16Array.from(images.x.subarray(0, n * 784), floatToHalf);
    const s = await session(model);
    const out = await s.run({ x: new ort.Tensor('float16', x, [n, 784]) });
    await s.release();
    const y = out.logits!;
    expect(y.type).toBe('float16');
    const got = Float32Array.from(y.data as Uint16Array, halfToFloat);
    const ref = await runModel(mlp, { x: images.x.subarray(0, n * 784), y: images.y, count: n }, [784]);
    expect(sqnr(ref, got)).toBeGreaterThan(45);
  });

  it('Cast(to=FLOAT) becomes FLOAT16, blocked ops run in float32 between Casts, constants convert', async () => {
    // x → Mul(const) → Cast(to=FLOAT) → Softmax (blocked) → TopK (blocked, int64 K) → values, indices
    const m = emptyModel(17);
    const b = new GraphBuilder(m.graph);
    b.input('x', DataType.FLOAT, ['N', 6]);
    const k = b.op('Constant', [], { value: { name: 'c', dataType: DataType.FLOAT, dims: [6], data: { kind: 'raw', bytes: new Uint8Array(Float32Array.from([1, 2, 3, 1e-9, 5e4, -5e4]).buffer) } } });
    const y = b.op('Mul', ['x', k]);
    const c = b.op('Cast', [y], { to: DataType.FLOAT });
    const sm = b.op('Softmax', [c], { axis: -1 });
    const [vals, idx] = b.opN('TopK', [sm, b.constInt64('k', [3])], { axis: -1 }, { outputs: ['values', 'indices'] });
    b.output(vals!, DataType.FLOAT, ['N', 3]);
    b.output(idx!, DataType.INT64, ['N', 3]);
    const { model, layers, clamped } = convertFp16(m);
    expect(clamped).toBe(3); // 1e-9 → 1e-7, ±5e4 → ±1e4
    const cast = model.graph.nodes.find((n) => n.name === m.graph.nodes[2]!.name)!;
    expect(attrInt(cast, 'to')).toBe(DataType.FLOAT16);
    const softmax = model.graph.nodes.find((n) => n.opType === 'Softmax')!;
    expect(layers.map((l) => l.op)).toEqual(expect.arrayContaining(['Softmax', 'TopK']));
    // Softmax reads a Cast to float32 and its output is cast back to float16 for TopK... which
    // is blocked too and casts it up again.
    const producer = model.graph.nodes.find((n) => n.outputs.includes(softmax.inputs[0]!))!;
    expect(producer.opType).toBe('Cast');
    expect(attrInt(producer, 'to')).toBe(DataType.FLOAT);
    const topk = model.graph.nodes.find((n) => n.opType === 'TopK')!;
    expect(topk.outputs).toContain('values'); // float32 graph output straight from a blocked node
    const x = Float32Array.from({ length: 12 }, (_, i) => (i % 6) * 0.1 - 0.2);
    const run = async (mm: Model) => {
      const s = await session(mm);
      const out = await s.run({ x: new ort.Tensor('float32', x, [2, 6]) });
      await s.release();
      return out;
    };
    const a = await run(m);
    const h = await run(model);
    expect(h.values!.type).toBe('float32');
    expect(Array.from(h.indices!.data as BigInt64Array)).toEqual(Array.from(a.indices!.data as BigInt64Array));
  });

  it('toHalfClamped follows onnxconverter-common (min positive 1e-7, max finite 1e4)', () => {
    const { bits, clamped } = toHalfClamped(Float32Array.from([0, 1e-9, -1e-9, 2e4, -2e4, 1.5, Infinity, -Infinity]));
    const back = Array.from(bits, halfToFloat);
    expect(back[0]).toBe(0);
    // 1e-7 is subnormal in float16: it rounds to 2·2^-24 ≈ 1.19e-7.
    expect(back[1]).toBe(halfToFloat(floatToHalf(1e-7)));
    expect(back[2]).toBe(-halfToFloat(floatToHalf(1e-7)));
    expect(back[3]).toBe(halfToFloat(floatToHalf(1e4)));
    expect(back[4]).toBe(-halfToFloat(floatToHalf(1e4)));
    expect(back[5]).toBe(1.5);
    expect(back[6]).toBe(Infinity);
    expect(back[7]).toBe(-Infinity);
    expect(clamped).toBe(4);
    expect(toHalfClamped(Float32Array.from([6e4]), 1e-7, 65504).clamped).toBe(0);
  });
});
