// quantizeAuto on the sample teacher: every applicable candidate is built, measured and ranked;
// the result names a recommendation and a plain verdict. No timing assertions.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../app/engine/onnx/io.js';
import { quantizeAuto, matmulShare } from '../../app/engine/quantize/index.js';
import { calibrationBatches, headOf, loadDataForModel, sliceOf } from '../../app/engine/quantize/evaluate.js';
import { buildTransformer } from '../../bench/transformer-model.js';

describe('quantizeAuto', () => {
  it('tries the applicable methods on a CNN and picks one within the budget', async () => {
    const teacher = await loadModel('resources/sample-teacher/fashion-cnn.onnx');
    const data = await loadDataForModel(teacher, 'resources/sample-data/fashion-mnist-small', { limit: 800 });
    const r = await quantizeAuto(teacher, {
      maxAccuracyDrop: 1,
      calibration: calibrationBatches(headOf(data.train, 128), 64),
      evalSet: headOf(data.test, 300),
      selectionSet: sliceOf(data.train, 128, 528),
      seconds: 0.05,
      rounds: 1,
    });
    const ids = r.candidates.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['dynamic', 'static-minmax', 'static-percentile', 'static-padded', 'static-first-float', 'int4', 'fp16', 'mixed']));
    expect(r.failed).toEqual([]);
    for (const c of r.candidates) {
      expect(c.latencyMs[1]).toBeGreaterThan(0);
      expect(c.latencyMs[32]).toBeGreaterThan(0);
      expect(c.sizeBytes).toBeLessThan(r.float.sizeBytes);
    }
    expect(r.chosen.withinBudget).toBe(true);
    expect(['use-quantized', 'keep-float']).toContain(r.recommendation);
    expect(r.verdict.length).toBeGreaterThan(20);
    if (r.recommendation === 'keep-float') expect(r.verdict).toMatch(/slower than the float model|keep the float model/);
  });

  it('treats a transformer as MatMul-heavy (int4 is a candidate)', () => {
    expect(matmulShare(buildTransformer({ vocab: 64, dim: 32, heads: 2, mlp: 64, blocks: 1, tokens: 4 }))).toBeGreaterThan(0.5);
  });
});
