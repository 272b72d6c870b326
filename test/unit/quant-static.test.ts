import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attrInt, findAttr } from '../../app/engine/onnx/attributes.js';
import { consumers, replaceUses } from '../../app/engine/onnx/graph.js';
import { decodeModel, encodeModel } from '../../app/engine/onnx/codec.js';
import { DataType, opsetVersion, type Model } from '../../app/engine/onnx/ir.js';
import { loadModel } from '../../app/engine/onnx/io.js';
import { floatData } from '../../app/engine/onnx/tensor.js';
import { agreement, modelBytes, quantizeStatic, sqnr, u8Params } from '../../app/engine/quantize/index.js';
import { buildCnn, countOps, fashion, fittedModels, imageBatches, runModel, session, type Images } from './quant-fixtures.js';

let mlp: Model;
let cnn: Model;
let images: Images;
let calib: Images;
let mlpRef: Float32Array;
let cnnRef: Float32Array;
const dir = mkdtempSync(join(tmpdir(), 'quant-static-'));
const CNN_SHAPE = [1, 28, 28];

beforeAll(async () => {
  ({ mlp, cnn } = await fittedModels());
  images = fashion(1000);
  calib = fashion(500, 'train');
  mlpRef = await runModel(mlp, images, [784]);
  cnnRef = await runModel(cnn, images, CNN_SHAPE);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fusedOps(model: Model, name: string): Promise<string[]> {
  const path = join(dir, `${name}.onnx`);
  const s = await session(model, { graphOptimizationLevel: 'extended', optimizedModelFilePath: path });
  await s.release();
  return decodeModel(readFileSync(path)).graph.nodes.map((n) => n.opType);
}

const cnnBatches = () => imageBatches(calib, 50, CNN_SHAPE);

/** The graph ORT runs (all optimizations, including its NHWC layout change for int8 convs). */
async function optimizedGraph(model: Model, name: string): Promise<Model['graph']> {
  const path = join(dir, `${name}-all.onnx`);
  const s = await session(model, { graphOptimizationLevel: 'all', optimizedModelFilePath: path, logSeverityLevel: 3 });
  await s.release();
  return decodeModel(readFileSync(path)).graph;
}

/** A copy of `model` with the output of its first `op` node also a graph output (blocks the rewrites at it). */
function exposeOutputOf(model: Model, op: string): Model {
  const m = structuredClone(model);
  const name = m.graph.nodes.find((n) => n.opType === op)!.outputs[0]!;
  m.graph.outputs.push({ name, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } });
  return m;
}

describe('quantizeStatic on the CNN', () => {
  it('minmax: QDQ graph that ORT fuses into QLinearConv / QGemm, accurate', async () => {
    const r = await quantizeStatic(cnn, cnnBatches);
    const m = r.model;
    expect(opsetVersion(m)).toBe(17);
    expect(r.calibration).toMatchObject({ method: 'minmax', batches: 10, samples: 500 });
    // Relu folded into the u8 range of the producers.
    expect(countOps(m, 'Relu')).toBe(0);
    // Every DequantizeLinear feeds exactly one node; every QuantizeLinear is read only by DQs.
    const readers = consumers(m.graph);
    for (const n of m.graph.nodes) {
      if (n.opType === 'DequantizeLinear') expect(readers.get(n.outputs[0]!)?.length).toBe(1);
      if (n.opType === 'QuantizeLinear') expect(readers.get(n.outputs[0]!)!.every((c) => c.opType === 'DequantizeLinear')).toBe(true);
    }
    // Weights s8 per channel on axis 0 for Conv and for Gemm with transB=1; bias int32.
    const inits = new Map(m.graph.initializers.map((t) => [t.name, t]));
    const conv = m.graph.nodes.find((n) => n.opType === 'Conv')!;
    const wdq = m.graph.nodes.find((n) => n.outputs[0] === conv.inputs[1])!;
    expect(inits.get(wdq.inputs[0]!)!.dataType).toBe(DataType.INT8);
    expect(inits.get(wdq.inputs[1]!)!.dims).toEqual([8]);
    expect(findAttr(wdq, 'axis')).toMatchObject({ value: 0n });
    const bdq = m.graph.nodes.find((n) => n.outputs[0] === conv.inputs[2])!;
    expect(inits.get(bdq.inputs[0]!)!.dataType).toBe(DataType.INT32);
    // Bias scale = x_scale · w_scale.
    const xdq = m.graph.nodes.find((n) => n.outputs[0] === conv.inputs[0])!;
    const xs = floatData(inits.get(xdq.inputs[1]!)!)[0]!;
    const ws = floatData(inits.get(wdq.inputs[1]!)!);
    const bs = floatData(inits.get(bdq.inputs[1]!)!);
    for (let c = 0; c < 8; c++) expect(bs[c]).toBe(Math.fround(xs * ws[c]!));
    // Input x is in [0, 1]: scale 1/255, zero point 0.
    expect(xs).toBeCloseTo(1 / 255, 8);

    const out = await runModel(m, images, CNN_SHAPE);
    // u8 activations + per-channel s8 weights on 4 layers: ~30 dB here; 20 dB leaves room for
    // calibration-set variation while still catching any wrong scale (which gives < 10 dB).
    expect(sqnr(cnnRef, out)).toBeGreaterThan(20);
    expect(agreement(cnnRef, out, 10)).toBeGreaterThan(0.95);
    const fused = await fusedOps(m, 'cnn-static');
    expect(fused.filter((o) => o === 'QLinearConv')).toHaveLength(2);
    expect(fused.filter((o) => o === 'QGemm')).toHaveLength(2);
    expect(fused).not.toContain('DequantizeLinear');
    expect(r.layers.filter((l) => l.precision === 'int8').map((l) => l.name)).toEqual(
      expect.arrayContaining(['conv1', 'conv2', 'fc1', 'fc2', 'conv1_pool', 'conv2_pool', 'flatten']),
    );
  });

  it('flattens channels-last: no Transpose between the last int8 pool and QGemm, the same logits', async () => {
    const r = await quantizeStatic(cnn, cnnBatches);
    expect(r.layers.find((l) => l.name === 'flatten')!.note).toMatch(/channels-last/);
    const g = await optimizedGraph(r.model, 'cnn-flatten');
    const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const flatten = g.nodes.find((n) => n.opType === 'Flatten')!;
    expect(producer.get(flatten.inputs[0]!)!.opType).toBe('NhwcMaxPool');
    expect(g.nodes.filter((n) => n.opType === 'QGemm').map((n) => producer.get(n.inputs[0]!)?.opType)).toEqual(['Flatten', 'QGemm']);
    // The one Transpose left turns the 1-channel input image NHWC.
    expect(g.nodes.filter((n) => n.opType === 'Transpose')).toHaveLength(1);
    // With the Flatten output exposed the rewrite is skipped (NCHW order): int32 sums do not depend
    // on the order of K, so the int8 logits are bit-identical.
    const plain = await quantizeStatic(exposeOutputOf(cnn, 'Flatten'), cnnBatches);
    expect(plain.layers.find((l) => l.name === 'flatten')!.note).not.toMatch(/channels-last/);
    expect(await optimizedGraph(plain.model, 'cnn-flatten-plain').then((p) => p.nodes.filter((n) => n.opType === 'Transpose').length)).toBe(2);
    expect(Array.from(await runModel(r.model, images, CNN_SHAPE))).toEqual(Array.from(await runModel(plain.model, images, CNN_SHAPE)));
  });

  it('firstConvFloat: the float conv and its MaxPool stay float in ORT without session options, the same logits', async () => {
    const fc = await quantizeStatic(cnn, cnnBatches, { firstConvFloat: true });
    expect(fc.layers.find((l) => l.name === 'conv1')!.note).toMatch(/Relu moved behind the MaxPool/);
    const g = await optimizedGraph(fc.model, 'cnn-first-float');
    const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    // ORT's QDQPropagationTransformer would move the QuantizeLinear in front of a MaxPool that
    // ends the float part, leaving a u8 NCHW MaxPool (a slow kernel); with the Relu behind the
    // pool the QuantizeLinear stays after it and absorbs the Relu.
    const pool = g.nodes.find((n) => n.opType === 'MaxPool')!;
    expect(producer.get(pool.inputs[0]!)!.opType).not.toBe('QuantizeLinear');
    const q = g.nodes.find((n) => n.opType === 'QuantizeLinear')!;
    const beforeQ: string[] = [];
    for (let n = producer.get(q.inputs[0]!); n; n = producer.get(n.inputs[0]!)) beforeQ.push(n.opType);
    expect(beforeQ).toContain('MaxPool');
    expect(g.nodes.filter((n) => n.opType === 'Relu')).toHaveLength(0);
    // The unswapped graph (conv1's Relu output exposed) computes the same numbers.
    const plain = await quantizeStatic(exposeOutputOf(cnn, 'Relu'), cnnBatches, { firstConvFloat: true });
    expect(plain.layers.find((l) => l.name === 'conv1')!.note).not.toMatch(/Relu moved/);
    expect(Array.from(await runModel(fc.model, images, CNN_SHAPE))).toEqual(Array.from(await runModel(plain.model, images, CNN_SHAPE)));
  });

  it('channelsLastHandoff: ORT hands the float map over NHWC (no u8 Transpose), the same logits', async () => {
    // The sample teacher: 32 channels, which ORT keeps in its blocked NCHWc layout through the pool.
    const teacher = await loadModel('resources/sample-teacher/fashion-cnn.onnx');
    replaceUses(teacher.graph, teacher.graph.inputs[0]!.name, 'x'); // the fixtures feed 'x'
    teacher.graph.inputs[0]!.name = 'x';
    const on = await quantizeStatic(teacher, cnnBatches, { firstConvFloat: true, channelsLastHandoff: true });
    const off = await quantizeStatic(teacher, cnnBatches, { firstConvFloat: true, channelsLastHandoff: false });
    expect(on.layers.find((l) => l.name === 'conv1')!.note).toMatch(/channels-last/);
    expect(off.layers.find((l) => l.name === 'conv1')!.note).not.toMatch(/channels-last/);
    // Our graph: MaxPool → Transpose → Reshape → Relu → Transpose → QuantizeLinear.
    expect(countOps(on.model, 'Transpose') - countOps(off.model, 'Transpose')).toBe(2);
    const offNodes = (await optimizedGraph(off.model, 'teacher-handoff-off')).nodes;
    const onNodes = (await optimizedGraph(on.model, 'teacher-handoff-on')).nodes;
    // Without it ORT transposes the u8 map in front of QLinearConv; with it the NCHWc reorder
    // writes NHWC itself (ReorderOutput channels_last=1) and no Transpose is left before conv2.
    const convInput = (nodes: Model['graph']['nodes']) => nodes.find((p) => p.outputs[0] === nodes.find((n) => n.opType === 'QLinearConv')!.inputs[0])!.opType;
    expect(convInput(offNodes)).toBe('Transpose');
    expect(convInput(onNodes)).toBe('QuantizeLinear');
    const reorders = onNodes.filter((n) => n.opType === 'ReorderOutput');
    expect(reorders.map((n) => attrInt(n, 'channels_last', 0))).toEqual([1]);
    expect(onNodes.filter((n) => n.opType === 'Transpose').length).toBe(offNodes.filter((n) => n.opType === 'Transpose').length - 1);
    expect(Array.from(await runModel(on.model, images, CNN_SHAPE))).toEqual(Array.from(await runModel(off.model, images, CNN_SHAPE)));
    // 8 channels (the test CNN): ORT leaves NCHWc before the pool, so the rewrite is skipped.
    const small = await quantizeStatic(cnn, cnnBatches, { firstConvFloat: true, channelsLastHandoff: true });
    expect(small.layers.find((l) => l.name === 'conv1')!.note).not.toMatch(/channels-last/);
    expect(countOps(small.model, 'Transpose')).toBe(countOps(off.model, 'Transpose'));
  });

  it('percentile and entropy calibration clip ranges and stay accurate', async () => {
    const mm = await quantizeStatic(cnn, cnnBatches, { method: 'minmax' });
    for (const method of ['percentile', 'entropy'] as const) {
      const r = await quantizeStatic(cnn, cnnBatches, { method });
      for (const [t, range] of Object.entries(r.ranges)) {
        expect(range.max).toBeLessThanOrEqual(mm.ranges[t]!.max + 1e-6);
        expect(range.min).toBeGreaterThanOrEqual(mm.ranges[t]!.min - 1e-6);
      }
      expect(r.calibration.stateSize).toBe(4 * (2048 + 5));
      const out = await runModel(r.model, images, CNN_SHAPE);
      expect(sqnr(cnnRef, out)).toBeGreaterThan(20);
      expect(agreement(cnnRef, out, 10)).toBeGreaterThan(0.95);
    }
  });

  it('per-tensor weights, firstConvFloat and excludeNodes', async () => {
    const pt = await quantizeStatic(cnn, cnnBatches, { perChannel: false });
    const wdq = pt.model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear' && !findAttr(n, 'axis'));
    expect(wdq.length).toBeGreaterThan(0);
    expect(pt.model.graph.nodes.some((n) => n.opType === 'DequantizeLinear' && findAttr(n, 'axis'))).toBe(false);
    expect(sqnr(cnnRef, await runModel(pt.model, images, CNN_SHAPE))).toBeGreaterThan(20);

    const fc = await quantizeStatic(cnn, cnnBatches, { firstConvFloat: true });
    const conv1 = fc.model.graph.nodes.find((n) => n.name === 'conv1')!;
    expect(fc.model.graph.initializers.find((t) => t.name === conv1.inputs[1])?.dataType).toBe(DataType.FLOAT);
    expect(fc.layers.find((l) => l.name === 'conv1')).toMatchObject({ precision: 'float32' });
    expect(fc.layers.find((l) => l.name === 'conv1_pool')).toMatchObject({ precision: 'float32' });
    expect(countOps(fc.model, 'Relu')).toBe(1);
    const out = await runModel(fc.model, images, CNN_SHAPE);
    expect(sqnr(cnnRef, out)).toBeGreaterThan(20);

    const ex = await quantizeStatic(cnn, cnnBatches, { excludeNodes: ['fc2'] });
    expect(ex.layers.find((l) => l.name === 'fc2')).toMatchObject({ precision: 'float32', note: 'excluded by request' });
    const fc2 = ex.model.graph.nodes.find((n) => n.name === 'fc2')!;
    expect(ex.model.graph.initializers.find((t) => t.name === fc2.inputs[1])?.dataType).toBe(DataType.FLOAT);
    expect(sqnr(cnnRef, await runModel(ex.model, images, CNN_SHAPE))).toBeGreaterThan(20);
  });

  it('upgrades an opset-11 model to 13', async () => {
    const old = buildCnn(2, 11);
    const ref = await runModel(old, images, CNN_SHAPE);
    const r = await quantizeStatic(old, cnnBatches);
    expect(opsetVersion(r.model)).toBe(13);
    expect(sqnr(ref, await runModel(r.model, images, CNN_SHAPE))).toBeGreaterThan(20);
  });
});

describe('quantizeStatic on the MLP', () => {
  it('QGemm x3, float logits, <= 0.27 of the float size', async () => {
    const before = encodeModel(mlp);
    const r = await quantizeStatic(mlp, () => imageBatches(calib, 100, [784]));
    expect(Buffer.compare(encodeModel(mlp), before)).toBe(0); // pure
    // The logits (a graph output) stay float: QGemm writes float directly.
    const last = r.model.graph.nodes.find((n) => n.outputs[0] === 'logits')!;
    expect(last.opType).toBe('Gemm');
    expect(Object.keys(r.ranges)).not.toContain('logits');
    const out = await runModel(r.model, images, [784]);
    expect(sqnr(mlpRef, out)).toBeGreaterThan(20);
    expect(agreement(mlpRef, out, 10)).toBeGreaterThan(0.95);
    expect(modelBytes(r.model) / modelBytes(mlp)).toBeLessThanOrEqual(0.27);
    const fused = await fusedOps(r.model, 'mlp-static');
    expect(fused.filter((o) => o === 'QGemm')).toHaveLength(3);
    expect(fused).not.toContain('DequantizeLinear');
  });
});

describe('u8Params', () => {
  it('includes zero in the range and maps it exactly', () => {
    expect(u8Params({ min: 0, max: 2.55 })).toEqual({ scale: Math.fround(0.01), zeroPoint: 0 });
    const p = u8Params({ min: 1, max: 3 }); // extended to [0, 3]
    expect(p.zeroPoint).toBe(0);
    expect(p.scale).toBeCloseTo(3 / 255, 7);
    const q = u8Params({ min: -1, max: 1 });
    expect([127, 128]).toContain(q.zeroPoint); // 127.5 up to float32 rounding of the scale
    expect((0 - q.zeroPoint) * q.scale).toBeLessThanOrEqual(-1 + q.scale);
    expect((255 - q.zeroPoint) * q.scale).toBeGreaterThanOrEqual(1 - q.scale);
    expect(u8Params({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });
});
