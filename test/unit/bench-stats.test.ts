// Percentile maths, the median's order-statistic CI, and measureLatency's loop logic (with a
// stub session: behaviour only, never timings).
import { describe, expect, it } from 'vitest';
import { measureLatency, medianCi, percentile, relativeHalfWidth, summarize, type Runnable } from '../../app/engine/bench/index.js';

const oneToN = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('percentile', () => {
  it('interpolates between closest ranks like numpy (type 7)', () => {
    const s = oneToN(10);
    expect(percentile(s, 50)).toBeCloseTo(5.5, 12);
    expect(percentile(s, 95)).toBeCloseTo(9.55, 12);
    expect(percentile(s, 99)).toBeCloseTo(9.91, 12);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile(s, 100)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
  });

  it('refuses empty samples and out-of-range percentiles', () => {
    expect(() => percentile([], 50)).toThrow(/no samples/);
    expect(() => percentile([1], 101)).toThrow(/\[0, 100\]/);
  });
});

describe('medianCi', () => {
  it('uses the textbook order statistics: ranks 40 and 61 of 100 at 95 %', () => {
    const ci = medianCi(oneToN(100), 0.95);
    expect([ci.loRank + 1, ci.hiRank + 1]).toEqual([40, 61]);
    expect([ci.lo, ci.hi]).toEqual([40, 61]);
  });

  it('widens with confidence, narrows with more samples, stays inside the sample', () => {
    const s = oneToN(1000);
    const c90 = medianCi(s, 0.9);
    const c99 = medianCi(s, 0.99);
    expect(c99.hi - c99.lo).toBeGreaterThan(c90.hi - c90.lo);
    // Relative width of the rank interval shrinks like 1/sqrt(n).
    const w100 = (medianCi(oneToN(100)).hiRank - medianCi(oneToN(100)).loRank) / 100;
    const w10000 = (medianCi(oneToN(10000)).hiRank - medianCi(oneToN(10000)).loRank) / 10000;
    expect(w10000).toBeLessThan(w100 / 5);
    const tiny = medianCi([3, 1, 2].sort(), 0.95);
    expect([tiny.lo, tiny.hi]).toEqual([1, 3]);
  });

  it('relativeHalfWidth is the farther CI end from the median, over the median', () => {
    expect(relativeHalfWidth(10, [9.5, 10.2])).toBeCloseTo(0.05, 12);
    expect(relativeHalfWidth(0, [0, 1])).toBe(Infinity);
  });
});

describe('summarize', () => {
  it('gives percentiles, mean, min, max and the CI of unsorted samples', () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toMatchObject({ p50: 3, mean: 3, min: 1, max: 5, runs: 5 });
    expect(s.p95).toBeCloseTo(4.8, 12);
    expect(s.p99).toBeCloseTo(4.96, 12);
    expect(s.ci95[0]).toBeLessThanOrEqual(s.p50);
    expect(s.ci95[1]).toBeGreaterThanOrEqual(s.p50);
  });
});

function stub(): Runnable & { calls: number } {
  const r = {
    calls: 0,
    run: async () => {
      r.calls++;
      return {};
    },
  };
  return r;
}

describe('measureLatency (stub session)', () => {
  it('does the warm-up untimed, then at least minRuns timed runs', async () => {
    const s = stub();
    const r = await measureLatency(s, {}, { warmup: 7, minRuns: 20, maxRuns: 20, maxSeconds: 60, keepSamples: true });
    expect(r.runs).toBe(20);
    expect(s.calls).toBe(27);
    expect(r.samples).toHaveLength(20);
    expect(r.warmup).toBe(7);
    expect(r.p50).toBeGreaterThanOrEqual(0);
    expect(r.p50).toBeLessThanOrEqual(r.p95);
    expect(r.p95).toBeLessThanOrEqual(r.p99);
    expect(r.ci95[0]).toBeLessThanOrEqual(r.p50);
    expect(r.ci95[1]).toBeGreaterThanOrEqual(r.p50);
  });

  it('stops on the CI as soon as minRuns allow when the target is loose', async () => {
    const r = await measureLatency(stub(), {}, { warmup: 0, minRuns: 15, maxRuns: 10_000, minSeconds: 0, maxSeconds: 60, targetRelCi: 1e9 });
    expect(r.stoppedBy).toBe('ci');
    expect(r.runs).toBe(15);
    expect(r.samples).toBeUndefined();
  });

  it('stops at maxRuns when the CI target cannot be met', async () => {
    const r = await measureLatency(stub(), {}, { warmup: 0, minRuns: 10, maxRuns: 40, minSeconds: 0, maxSeconds: 60, targetRelCi: 1e-12 });
    // A zero-width CI (identical timings) would meet any target; otherwise the cap ends it.
    expect(r.runs).toBeLessThanOrEqual(40);
    if (r.stoppedBy !== 'ci') expect(r).toMatchObject({ stoppedBy: 'maxRuns', runs: 40 });
  });

  it('never runs fewer than 10 times, and maxSeconds ends a slow loop', async () => {
    const slow: Runnable = { run: () => new Promise((res) => setTimeout(res, 5)) };
    const r = await measureLatency(slow, {}, { warmup: 0, minRuns: 1000, maxRuns: 1000, maxSeconds: 0.02, targetRelCi: 1e-12 });
    expect(r.stoppedBy).toBe('maxSeconds');
    expect(r.runs).toBeGreaterThanOrEqual(10);
    expect(r.runs).toBeLessThan(1000);
  });

  it('keeps running until minSeconds have passed before the CI may stop it', async () => {
    const s = stub();
    const r = await measureLatency(s, {}, { warmup: 0, minRuns: 10, maxRuns: 1_000_000, minSeconds: 0.05, maxSeconds: 5, targetRelCi: 1e9 });
    expect(r.stoppedBy).toBe('ci');
    expect(r.samples).toBeUndefined();
    // Stopped at a check after 50 ms of back-to-back runs, not at the 10th run.
    expect(r.runs).toBeGreaterThan(10);
  });

  it('refuses a non-positive target', async () => {
    await expect(measureLatency(stub(), {}, { targetRelCi: 0 })).rejects.toThrow(/targetRelCi/);
  });
});
