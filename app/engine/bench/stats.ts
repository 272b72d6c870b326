// Order statistics for benchmark samples: percentiles and a distribution-free confidence
// interval of the median. Pure functions, no I/O.

/** Ascending copy of the samples (NaN refused: a timing is never NaN). */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const s = Float64Array.from(samples as ArrayLike<number>);
  for (const v of s) if (Number.isNaN(v)) throw new Error('samples contain NaN');
  return s.sort();
}

/**
 * The q-th percentile (q in [0, 100]) of ascending samples, by linear interpolation between
 * closest ranks (numpy's default, "type 7"): position (n - 1) * q / 100.
 */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('percentile of no samples');
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile must be in [0, 100], got ${q}`);
  const pos = ((n - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function mean(samples: ArrayLike<number>): number {
  if (samples.length === 0) throw new Error('mean of no samples');
  let s = 0;
  for (let i = 0; i < samples.length; i++) s += samples[i]!;
  return s / samples.length;
}

/** Two-sided standard normal quantile for the usual confidence levels. */
function zFor(confidence: number): number {
  const table: Record<string, number> = { '0.9': 1.6448536, '0.95': 1.959964, '0.99': 2.5758293 };
  const z = table[String(confidence)];
  if (z === undefined) throw new Error(`confidence must be 0.9, 0.95 or 0.99, got ${confidence}`);
  return z;
}

/**
 * Distribution-free confidence interval of the median from order statistics: the ranks
 * n/2 ∓ z·√n/2 (normal approximation of the Binomial(n, 1/2) count below the median), lower
 * rank rounded down and upper rank rounded up so the coverage is at least nominal, clipped to
 * the sample. Returns [lo, hi] values and the 0-based ranks used. Needs no assumption about the
 * shape of the latency distribution (they are skewed, with a long right tail).
 */
export function medianCi(sorted: ArrayLike<number>, confidence = 0.95): { lo: number; hi: number; loRank: number; hiRank: number } {
  const n = sorted.length;
  if (n === 0) throw new Error('confidence interval of no samples');
  const z = zFor(confidence);
  const half = (z * Math.sqrt(n)) / 2;
  // 1-based ranks j = floor(n/2 - half), k = ceil(n/2 + 1 + half); 0-based below.
  const loRank = Math.max(0, Math.floor(n / 2 - half) - 1);
  const hiRank = Math.min(n - 1, Math.ceil(n / 2 + 1 + half) - 1);
  return { lo: sorted[loRank]!, hi: sorted[hiRank]!, loRank, hiRank };
}

/** Largest distance from the median to an end of its CI, relative to the median. */
export function relativeHalfWidth(p50: number, ci: readonly [number, number]): number {
  if (!(p50 > 0)) return Infinity;
  return Math.max(p50 - ci[0], ci[1] - p50) / p50;
}

export interface LatencySummary {
  /** Milliseconds. */
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
  runs: number;
  /** 95 % confidence interval of the median (order statistics), milliseconds. */
  ci95: [number, number];
}

/** Percentiles, mean and the median's 95 % CI of latency samples in milliseconds. */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const s = sortedCopy(samples);
  const ci = medianCi(s, 0.95);
  return {
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    mean: mean(s),
    min: s[0]!,
    max: s[s.length - 1]!,
    runs: s.length,
    ci95: [ci.lo, ci.hi],
  };
}
