// First-conv padding, per-layer precision plans, sensitivity and the mixed-precision path, on
// the bundled sample teacher (cnn:32,64/256) and the bundled Fashion-MNIST sample, run in ORT.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../app/engine/onnx/io.js';
import type { Model } from '../../app/engine/onnx/ir.js';
import {
  agreement,
  applyPrecisions,
  budgetCost,
  candidatePrecisions,
  chooseStep,
  layerSensitivity,
  mixedPrecisionPath,
  nameWeightedNodes,
  padFirstConvChannels,
  quantizeStatic,
  storeWeightsFp16,
  weightedLayers,
  modelBytes,
  type PathStep,
} from '../../app/engine/quantize/index.js';
import { calibrationBatches, headOf, loadDataForModel, modelLogits, sliceOf, type EvalSet } from '../../app/engine/quantize/evaluate.js';
import { buildCnn } from './quant-fixtures.js';

const TEACHER = 'resources/sample-teacher/fashion-cnn.onnx';
const DATA = 'resources/sample-data/fashion-mnist-small';

let teacher: Model;
let test: EvalSet;
let calib: EvalSet;
let selection: EvalSet;

beforeAll(async () => {
  teacher = await loadModel(TEACHER);
  const data = await loadDataForModel(teacher, DATA, { limit: 1200 });
  test = headOf(data.test, 400);
  calib = headOf(data.train, 128);
  selection = sliceOf(data.train, 128, 628);
});

describe('padFirstConvChannels', () => {
  it('widens the first conv to 4 channels with identical float logits', async () => {
    const p = padFirstConvChannels(teacher, 4);
    expect(p.conv).toBe('conv1');
    expect([p.channelsBefore, p.channelsAfter]).toEqual([1, 4]);
    expect(p.model.graph.nodes.some((n) => n.opType === 'Pad')).toBe(true);
    // The model's input is unchanged.
    expect(p.model.graph.inputs).toEqual(teacher.graph.inputs);
    const a = await modelLogits(teacher, test);
    const b = await modelLogits(p.model, test);
    expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
  });

  it('gives the same int8 model outputs as the unpadded static model', async () => {
    const cal = calibrationBatches(calib, 64);
    const q = await quantizeStatic(teacher, cal);
    const qp = await quantizeStatic(padFirstConvChannels(teacher).model, cal);
    const a = await modelLogits(q.model, test);
    const b = await modelLogits(qp.model, test);
    let maxDiff = 0;
    for (let i = 0; i < a.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.logits[i]! - b.logits[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('leaves models without a narrow first conv alone', () => {
    const p = padFirstConvChannels(buildCnn(), 2);
    expect(p.conv).toBe('conv1');
    const again = padFirstConvChannels(p.model, 2);
    expect(again.conv).toBeNull();
    expect(again.model).toBe(p.model);
  });
});

describe('per-layer precision plans', () => {
  it('lists weighted layers with parameter counts and candidate precisions', () => {
    const layers = weightedLayers(nameWeightedNodes(teacher));
    expect(layers.map((l) => l.name)).toEqual(['conv1', 'conv2', 'fc1', 'head']);
    expect(layers.reduce((a, l) => a + l.params, 0)).toBe(824458);
    // int4 Conv weights are slower than float in ORT: only when asked for.
    expect(candidatePrecisions(layers[0]!, { int8Mode: 'static' })).toEqual(['int8', 'float16', 'float32']);
    expect(candidatePrecisions(layers[0]!, { int8Mode: 'static', int4Conv: true })).toEqual(['int4', 'int8', 'float16', 'float32']);
    expect(candidatePrecisions(layers[2]!, { int8Mode: 'static' })).toEqual(['int4', 'int8', 'float16', 'float32']);
    expect(candidatePrecisions(layers[0]!, { int8Mode: 'dynamic', int4Conv: true })).toEqual(['int4', 'float16', 'float32']);
    // A model whose opset cannot be raised to 21 has no int4 Conv.
    expect(candidatePrecisions(layers[0]!, { int8Mode: 'static', int4Conv: true }, false)).toEqual(['int8', 'float16', 'float32']);
    expect(candidatePrecisions(layers[2]!, { int8Mode: 'static' }, false)).toEqual(['int4', 'int8', 'float16', 'float32']);
  });

  it('applies int8 + int4 + fp16 + fp32 in one model that runs and stays close to float', async () => {
    const named = nameWeightedNodes(teacher);
    const plan = { conv1: 'float32', conv2: 'int8', fc1: 'int4', head: 'float16' } as const;
    const { model, layers } = await applyPrecisions(named, plan, { calibration: calibrationBatches(calib, 64), int8Mode: 'static' });
    expect(Object.fromEntries(layers.map((l) => [l.name, l.precision]))).toEqual(plan);
    const ops = new Set(model.graph.nodes.map((n) => n.opType));
    expect(ops.has('MatMulNBits')).toBe(true);
    expect(ops.has('QuantizeLinear')).toBe(true);
    expect(model.graph.initializers.some((t) => t.dataType === 10)).toBe(true); // float16 head weight
    expect(modelBytes(model)).toBeLessThan(modelBytes(teacher) * 0.25);
    const ref = await modelLogits(teacher, test);
    const got = await modelLogits(model, test);
    let same = 0;
    for (let r = 0; r < test.count; r++) {
      const am = (v: Float32Array) => {
        let b = 0;
        for (let j = 1; j < 10; j++) if (v[r * 10 + j]! > v[r * 10 + b]!) b = j;
        return b;
      };
      if (am(ref.logits) === am(got.logits)) same++;
    }
    expect(same / test.count).toBeGreaterThan(0.97);
  });

  it('int4 Conv next to int8 layers: QDQ int8, an int4 Conv weight and MatMulNBits in one opset-21 model', async () => {
    const named = nameWeightedNodes(teacher);
    const plan = { conv1: 'int8', conv2: 'int4', fc1: 'int4', head: 'int8' } as const;
    const { model, layers } = await applyPrecisions(named, plan, { calibration: calibrationBatches(calib, 64), int8Mode: 'static', padFirstConv: true, int4Conv: true });
    expect(Object.fromEntries(layers.map((l) => [l.name, l.precision]))).toEqual(plan);
    expect(layers[1]!.note).toMatch(/int4 weight \(DequantizeLinear\)/);
    expect(model.opsetImports.find((o) => o.domain === '')!.version).toBe(21);
    const int4Weights = model.graph.initializers.filter((t) => t.dataType === 21); // UINT4
    expect(int4Weights.map((t) => t.dims)).toEqual([[64, 288], [64, 9]]); // conv2 weight (blocks of 32), its zero points
    const ref = await modelLogits(teacher, test);
    const got = await modelLogits(model, test);
    expect(agreement(ref.logits, got.logits, 10)).toBeGreaterThan(0.95);
  });

  it('stores float16 weights at half the bytes', () => {
    const named = nameWeightedNodes(teacher);
    const half = storeWeightsFp16(named, new Set(['fc1']));
    expect(modelBytes(half)).toBeLessThan(modelBytes(named) - 803_000 * 2 + 10_000);
  });
});

describe('sensitivity and the mixed-precision path', () => {
  it('ranks layers and walks from all-compressed to float, choosing by budget', async () => {
    const cal = calibrationBatches(calib, 64);
    const sens = await layerSensitivity(teacher, selection, { calibration: cal, int8Mode: 'static', int4Conv: true });
    expect(sens).toHaveLength(4);
    for (const s of sens) {
      expect(s.byPrecision.float16!.sqnr).toBeGreaterThan(s.byPrecision.int8!.sqnr);
      expect(s.byPrecision.int4!.sqnr).toBeLessThan(s.byPrecision.int8!.sqnr);
    }
    const { path } = await mixedPrecisionPath(teacher, selection, { calibration: cal, int8Mode: 'static', sensitivity: sens, int4Conv: true, maxAccuracyDrop: -100, fullPath: true });
    // Start: everything at its lowest precision; end: everything float32 (identical logits).
    expect(Object.values(path[0]!.plan)).toEqual(['int4', 'int4', 'int4', 'int4']);
    // By default convolutions stop at int8 (int4 Conv weights are slow in ORT).
    const byDefault = await mixedPrecisionPath(teacher, selection, { calibration: cal, int8Mode: 'static', sensitivity: sens, maxAccuracyDrop: -100, fullPath: true });
    expect(Object.values(byDefault.path[0]!.plan)).toEqual(['int8', 'int8', 'int4', 'int4']);
    expect(Object.values(path[path.length - 1]!.plan).every((p) => p === 'float32')).toBe(true);
    expect(path[path.length - 1]!.sqnr).toBe(Infinity);
    expect(path[0]!.sizeBytes).toBeLessThan(path[path.length - 1]!.sizeBytes * 0.2);
    // A generous budget takes the first step; an impossible one the most accurate.
    expect(chooseStep(path, 100)).toEqual({ index: 0, met: true });
    expect(chooseStep(path, -100).met).toBe(false);
    // A disagreement budget: the first step changing at most that share of the float predictions.
    for (const budget of [0, 0.5, 1, 2]) {
      const { index, met } = chooseStep(path, budget, 'agreement');
      expect(met).toBe(true);
      expect(budgetCost(path[index]!, 'agreement')).toBeLessThanOrEqual(budget);
      expect(path.slice(0, index).every((st) => budgetCost(st, 'agreement') > budget)).toBe(true);
    }
  });

  it("objective 'latency': only int8 and float32 layers, from all-int8 towards float, within the budget", async () => {
    const cal = calibrationBatches(calib, 64);
    const sens = await layerSensitivity(teacher, selection, { calibration: cal, int8Mode: 'static' });
    const { path } = await mixedPrecisionPath(teacher, selection, { calibration: cal, int8Mode: 'static', sensitivity: sens, objective: 'latency', maxAccuracyDrop: -100, fullPath: true });
    expect(Object.values(path[0]!.plan)).toEqual(['int8', 'int8', 'int8', 'int8']);
    for (const step of path) expect(Object.values(step.plan).every((p) => p === 'int8' || p === 'float32')).toBe(true);
    // Each step raises one layer from int8 straight to float32: four steps after the start.
    expect(path).toHaveLength(5);
    expect(path.slice(1).every((st) => st.changed!.from === 'int8' && st.changed!.to === 'float32')).toBe(true);
    // The size objective on the same model starts lower (int4 Gemms) and is smaller.
    const size = await mixedPrecisionPath(teacher, selection, { calibration: cal, int8Mode: 'static', sensitivity: sens, maxAccuracyDrop: -100 });
    expect(size.path[0]!.sizeBytes).toBeLessThan(path[0]!.sizeBytes);
  });

  it('chooseStep: accuracy and agreement budgets pick different steps of the same path', () => {
    const step = (accuracyDrop: number, agreement: number, sizeBytes: number): PathStep => ({ plan: {}, sizeBytes, accuracy: null, accuracyDrop, agreement, sqnr: 30, changed: null });
    const path = [step(0.1, 0.985, 10), step(0, 0.993, 20), step(-0.05, 0.997, 30), step(0, 1, 40)];
    expect([0.25, 0].map((b) => chooseStep(path, b).index)).toEqual([0, 1]);
    expect([2, 1, 0.5, 0.2, 0].map((b) => chooseStep(path, b, 'agreement').index)).toEqual([0, 1, 2, 3, 3]);
    expect(chooseStep([step(1, 0.9, 1), step(0.5, 0.95, 2)], 0.1, 'agreement')).toEqual({ index: 1, met: false });
  });
});
