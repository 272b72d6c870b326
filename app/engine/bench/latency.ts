// measureLatency: warm-up, then timed runs until the median is known precisely enough
// (its 95 % CI within ±targetRelCi of it) or a limit is hit.
import type * as ort from 'onnxruntime-node';
import { medianCi, percentile, relativeHalfWidth, summarize, type LatencySummary } from './stats.js';

export interface LatencyOptions {
  /** Untimed runs first (caches, allocator arenas, thread pool start-up). Default 10. */
  warmup?: number;
  /**
   * Timed runs done before the CI may end the loop. Default 30 (at least 10). maxSeconds can
   * cut it short, but never below 10 runs.
   */
  minRuns?: number;
  /** Stop after this many timed runs. Default 5000. */
  maxRuns?: number;
  /** Stop after this many seconds of timed runs (warm-up not counted). Default 10. */
  maxSeconds?: number;
  /**
   * Keep running at least this long before the CI may end the loop (a sustained figure for
   * throughput, where occasional stalls must be averaged in). Default 0.
   */
  minSeconds?: number;
  /**
   * Stop once both ends of the median's 95 % CI are within this fraction of the median.
   * Default 0.02 (±2 %).
   */
  targetRelCi?: number;
  /** Keep the raw samples (ms, in run order) in the result. Default false. */
  keepSamples?: boolean;
}

export interface LatencyResult extends LatencySummary {
  /** Why the loop ended. */
  stoppedBy: 'ci' | 'maxRuns' | 'maxSeconds';
  /** max(|median − CI end|) / median when the loop ended. */
  relCi: number;
  warmup: number;
  /** Raw samples in run order (ms); only with keepSamples. */
  samples?: number[];
}

export const latencyDefaults = { warmup: 10, minRuns: 30, maxRuns: 100_000, maxSeconds: 10, minSeconds: 1, targetRelCi: 0.02 };

/** Anything with ORT's `run(feeds)`: a session, or a stub in tests. */
export interface Runnable {
  run(feeds: Record<string, ort.Tensor>): Promise<unknown>;
}

/**
 * Times `session.run(feeds)` (wall clock, including the N-API round trip an application pays).
 * The CI is checked every ~10 % more runs (sorting is cheap, but not free against a 50 µs model).
 */
export async function measureLatency(session: Runnable, feeds: Record<string, ort.Tensor>, options: LatencyOptions = {}): Promise<LatencyResult> {
  const o = { ...latencyDefaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof latencyDefaults & LatencyOptions;
  const minRuns = Math.max(10, Math.floor(o.minRuns));
  const maxRuns = Math.max(minRuns, Math.floor(o.maxRuns));
  if (!(o.targetRelCi > 0)) throw new Error(`targetRelCi must be positive, got ${o.targetRelCi}`);
  if (!(o.maxSeconds > 0)) throw new Error(`maxSeconds must be positive, got ${o.maxSeconds}`);

  for (let i = 0; i < o.warmup; i++) await session.run(feeds);

  // Samples live in one growing Float64Array and the CI check sorts into one reused scratch
  // buffer: the loop itself makes almost no garbage, so it does not inflate the memory figure.
  let samples = new Float64Array(Math.min(maxRuns, 1024));
  let scratch = new Float64Array(samples.length);
  let n = 0;
  const start = performance.now();
  const deadline = start + o.maxSeconds * 1000;
  const earliest = start + Math.min(o.minSeconds, o.maxSeconds) * 1000;
  let nextCheck = minRuns;
  let stoppedBy: LatencyResult['stoppedBy'] = 'maxRuns';
  let relCi = Infinity;
  for (;;) {
    const t0 = performance.now();
    await session.run(feeds);
    const t1 = performance.now();
    if (n === samples.length) {
      const grown = new Float64Array(Math.min(maxRuns, samples.length * 2));
      grown.set(samples);
      samples = grown;
      scratch = new Float64Array(grown.length);
    }
    samples[n++] = t1 - t0;
    if (n >= nextCheck || n >= maxRuns || t1 >= deadline) {
      if (n >= minRuns && t1 >= earliest) {
        const s = scratch.subarray(0, n);
        s.set(samples.subarray(0, n));
        s.sort();
        const ci = medianCi(s, 0.95);
        relCi = relativeHalfWidth(percentile(s, 50), [ci.lo, ci.hi]);
        if (relCi <= o.targetRelCi) {
          stoppedBy = 'ci';
          break;
        }
      }
      if (n >= maxRuns) {
        stoppedBy = 'maxRuns';
        break;
      }
      if (t1 >= deadline && n >= 10) {
        stoppedBy = 'maxSeconds';
        break;
      }
      nextCheck = t1 < earliest ? n + Math.max(1, Math.ceil(n * 0.1)) : Math.max(n + 1, Math.ceil(n * 1.1));
    }
  }
  const timed = samples.subarray(0, n);
  const summary = summarize(timed);
  const result: LatencyResult = { ...summary, stoppedBy, relCi: relativeHalfWidth(summary.p50, summary.ci95), warmup: o.warmup };
  if (o.keepSamples) result.samples = Array.from(timed);
  return result;
}
