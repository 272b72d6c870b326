// Pareto front, regression flags and the recommendation on known points.
import { describe, expect, it } from 'vitest';
import { findRegressions, paretoFront, recommend, type BenchPoint } from '../../app/engine/bench/index.js';

const p = (model: string, accuracy: number | null, p50: number, sizeBytes: number, extra: Partial<BenchPoint> = {}): BenchPoint => ({
  model,
  accuracy,
  latencyMs: { p50 },
  sizeBytes,
  ...extra,
});

describe('paretoFront', () => {
  it('keeps exactly the models no other beats on accuracy, latency and size at once', () => {
    const pts = [
      p('teacher', 0.92, 10, 1000), // most accurate
      p('student', 0.9, 2, 100), // fast and small
      p('worse', 0.89, 3, 200), // dominated by student
      p('int8', 0.9, 1.5, 300), // fastest, but bigger than student
      p('tie-copy', 0.9, 2, 100), // identical to student: neither dominates the other
      p('bloated', 0.92, 11, 1001), // dominated by teacher
    ];
    expect(paretoFront(pts)).toEqual(['teacher', 'student', 'int8', 'tie-copy']);
  });

  it('ignores accuracy when no model has one, and ranks unknown accuracy last otherwise', () => {
    expect(paretoFront([p('a', null, 2, 100), p('b', null, 1, 200), p('c', null, 3, 300)])).toEqual(['a', 'b']);
    // 'nodata' is faster and smaller, but its accuracy is unknown: it cannot dominate 'a'.
    expect(paretoFront([p('a', 0.9, 2, 100), p('nodata', null, 1, 50)])).toEqual(['a', 'nodata']);
  });
});

describe('findRegressions', () => {
  const base = p('base', 0.9, 10, 1000, { throughput: { '1': 100, '32': 1000 }, latencyMs: { p50: 10, ci95: [9.9, 10.1] } });

  it('flags a p50 more than 5 % above the baseline, not 4.9 %', () => {
    const r = findRegressions([base, p('ok', 0.9, 10.49, 500), p('slow', 0.9, 10.6, 500)]);
    expect(r.map((x) => [x.model, x.metric])).toEqual([['slow', 'latencyP50']]);
    expect(r[0]!.change).toBeCloseTo(0.06, 10);
    expect(r[0]!.message).toMatch(/slow is 6\.0% slower than base/);
  });

  it('says whether the slowdown is outside the noise (CIs apart)', () => {
    const apart = p('apart', 0.9, 12, 500, { latencyMs: { p50: 12, ci95: [11.8, 12.2] } });
    const overlapping = p('overlap', 0.9, 11, 500, { latencyMs: { p50: 11, ci95: [9.5, 13] } });
    const r = findRegressions([base, apart, overlapping]);
    expect(r.find((x) => x.model === 'apart')!.significant).toBe(true);
    const o = r.find((x) => x.model === 'overlap')!;
    expect(o.significant).toBe(false);
    expect(o.message).toMatch(/may be noise/);
  });

  it('flags lower throughput per batch size (only where both ran) and a larger file', () => {
    const q = p('int8', 0.9, 5, 1100, { throughput: { '1': 200, '32': 900, '64': 1 } });
    const r = findRegressions([base, q]);
    expect(r.map((x) => [x.metric, x.batchSize])).toEqual([
      ['throughput', 32],
      ['size', undefined],
    ]);
    expect(r[0]!.change).toBeCloseTo(0.1, 10);
  });

  it('never flags the baseline itself, and nothing for a single model', () => {
    expect(findRegressions([base])).toEqual([]);
    expect(findRegressions([])).toEqual([]);
  });

  it('honours custom thresholds', () => {
    expect(findRegressions([base, p('x', 0.9, 10.3, 1000)], { latency: 0.02 })).toHaveLength(1);
  });
});

describe('recommend', () => {
  it('picks the fastest model within one point of the best accuracy and says why', () => {
    const r = recommend([p('teacher.onnx', 0.92, 10, 1000), p('student.onnx', 0.915, 2, 100), p('tiny.onnx', 0.85, 0.5, 10)]);
    expect(r.model).toBe('student.onnx');
    expect(r.text).toMatch(/^Use student\.onnx: 5\.00x faster and 10\.0x smaller compared with the baseline teacher\.onnx/);
    expect(r.text).toMatch(/0\.50 points below the best \(teacher\.onnx\)/);
    expect(r.text).toMatch(/tiny\.onnx is faster but loses more than 1 point of accuracy/);
  });

  it('prefers the smaller of two candidates whose speeds are within 5 %', () => {
    const r = recommend([p('base', 0.9, 10, 1000), p('fast', 0.9, 2.0, 400), p('small', 0.9, 2.08, 100)]);
    expect(r.model).toBe('small');
  });

  it('keeps the baseline when every faster model loses more than a point', () => {
    const r = recommend([p('base.onnx', 0.9, 10, 1000), p('bad.onnx', 0.85, 1, 10)]);
    expect(r.model).toBe('base.onnx');
    expect(r.text).toMatch(/the baseline/);
  });

  it('without accuracy: decides on speed and size and says so', () => {
    const r = recommend([p('a', null, 10, 1000), p('b', null, 5, 500)]);
    expect(r.model).toBe('b');
    expect(r.text).toMatch(/speed and size alone/);
  });

  it('one model, or none', () => {
    expect(recommend([p('only', 0.5, 1, 1)]).model).toBe('only');
    expect(recommend([])).toEqual({ model: null, text: 'Nothing was benchmarked.' });
  });
});
