// What a comparison means: the Pareto front (accuracy ↑, latency ↓, size ↓), regressions
// against the baseline (the first model), and a recommendation in plain words. Pure functions.
import { basename } from 'node:path';

/** The fields of a benchmark result the analysis reads. */
export interface BenchPoint {
  model: string;
  /** Fraction in [0, 1]; null without labelled data. */
  accuracy: number | null;
  latencyMs: { p50: number; ci95?: [number, number] };
  sizeBytes: number;
  /** samples/s by batch size. */
  throughput?: Record<string, number>;
}

export interface Regression {
  model: string;
  baseline: string;
  metric: 'latencyP50' | 'throughput' | 'size';
  /** For metric 'throughput'. */
  batchSize?: number;
  baselineValue: number;
  value: number;
  /** How much worse, as a fraction (0.12 = 12 % slower / less throughput / larger). */
  change: number;
  /**
   * Latency only: the two medians' 95 % CIs do not overlap. These CIs cover noise within one
   * process only; between processes on a busy machine p50 moved by up to ±5 % (see
   * bench/repeatability.ts), so use CompareOptions.rounds before trusting a small slowdown.
   */
  significant?: boolean;
  message: string;
}

export interface RegressionThresholds {
  /** Flag a p50 more than this fraction above the baseline's. Default 0.05. */
  latency?: number;
  /** Flag throughput more than this fraction below the baseline's at the same batch size. Default 0.05. */
  throughput?: number;
  /** Flag a file more than this fraction larger than the baseline's. Default 0.01. */
  size?: number;
}

const name = (p: string): string => basename(p);
const pct = (f: number): string => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;

/** a dominates b: no worse on every axis, strictly better on one. Unknown accuracy is worst. */
function dominates(a: BenchPoint, b: BenchPoint, useAccuracy: boolean): boolean {
  const accA = a.accuracy ?? -Infinity;
  const accB = b.accuracy ?? -Infinity;
  const noWorse = (!useAccuracy || accA >= accB) && a.latencyMs.p50 <= b.latencyMs.p50 && a.sizeBytes <= b.sizeBytes;
  const better = (useAccuracy && accA > accB) || a.latencyMs.p50 < b.latencyMs.p50 || a.sizeBytes < b.sizeBytes;
  return noWorse && better;
}

/**
 * Models no other model beats on every axis at once: accuracy (higher is better), p50 latency
 * and size on disk (lower is better). Accuracy is left out when no model has one. Returned in
 * input order.
 */
export function paretoFront(points: readonly BenchPoint[]): string[] {
  const useAccuracy = points.some((p) => p.accuracy !== null);
  return points.filter((p) => !points.some((q) => q !== p && dominates(q, p, useAccuracy))).map((p) => p.model);
}

/**
 * Every way a model is worse than the baseline (points[0]) where compression should make it
 * better: p50 more than 5 % slower, throughput more than 5 % lower at a batch size both ran,
 * file more than 1 % larger.
 */
export function findRegressions(points: readonly BenchPoint[], thresholds: RegressionThresholds = {}): Regression[] {
  const tLat = thresholds.latency ?? 0.05;
  const tThr = thresholds.throughput ?? 0.05;
  const tSize = thresholds.size ?? 0.01;
  const base = points[0];
  if (!base) return [];
  const out: Regression[] = [];
  for (const p of points.slice(1)) {
    const lat = p.latencyMs.p50 / base.latencyMs.p50 - 1;
    if (lat > tLat) {
      const r: Regression = {
        model: p.model,
        baseline: base.model,
        metric: 'latencyP50',
        baselineValue: base.latencyMs.p50,
        value: p.latencyMs.p50,
        change: lat,
        message: `${name(p.model)} is ${pct(lat)} slower than ${name(base.model)} at batch 1 (p50 ${fmtMs(p.latencyMs.p50)} against ${fmtMs(base.latencyMs.p50)})`,
      };
      if (p.latencyMs.ci95 && base.latencyMs.ci95) {
        r.significant = p.latencyMs.ci95[0] > base.latencyMs.ci95[1];
        if (!r.significant) r.message += '; the confidence intervals overlap, so this may be noise';
      }
      out.push(r);
    }
    for (const [batch, sps] of Object.entries(p.throughput ?? {})) {
      const baseSps = base.throughput?.[batch];
      if (baseSps === undefined || !(baseSps > 0)) continue;
      const drop = 1 - sps / baseSps;
      if (drop > tThr) {
        out.push({
          model: p.model,
          baseline: base.model,
          metric: 'throughput',
          batchSize: Number(batch),
          baselineValue: baseSps,
          value: sps,
          change: drop,
          message: `${name(p.model)} has ${pct(drop)} less throughput than ${name(base.model)} at batch ${batch} (${Math.round(sps)} against ${Math.round(baseSps)} samples/s)`,
        });
      }
    }
    const size = p.sizeBytes / base.sizeBytes - 1;
    if (size > tSize) {
      out.push({
        model: p.model,
        baseline: base.model,
        metric: 'size',
        baselineValue: base.sizeBytes,
        value: p.sizeBytes,
        change: size,
        message: `${name(p.model)} is ${pct(size)} larger on disk than ${name(base.model)} (${fmtBytes(p.sizeBytes)} against ${fmtBytes(base.sizeBytes)})`,
      });
    }
  }
  return out;
}

export interface Recommendation {
  /** The recommended model, or null when there is nothing to compare. */
  model: string | null;
  /** One or two plain sentences saying why. */
  text: string;
}

/**
 * The fastest model whose accuracy is within `tolerance` (default 0.01 = one point) of the best;
 * among candidates whose p50 is within 5 % of that fastest one (indistinguishable on a noisy
 * machine) the smallest file wins. Without accuracy the choice is on speed and size alone and
 * the text says so.
 */
export function recommend(points: readonly BenchPoint[], tolerance = 0.01): Recommendation {
  if (points.length === 0) return { model: null, text: 'Nothing was benchmarked.' };
  const base = points[0]!;
  const withAcc = points.filter((p) => p.accuracy !== null);
  const best = withAcc.length ? Math.max(...withAcc.map((p) => p.accuracy!)) : null;
  const bestModel = best === null ? null : withAcc.find((p) => p.accuracy === best)!;
  const candidates = best === null ? [...points] : withAcc.filter((p) => p.accuracy! >= best - tolerance - 1e-12);
  const fastest = candidates.reduce((a, b) => (b.latencyMs.p50 < a.latencyMs.p50 ? b : a));
  const close = candidates.filter((p) => p.latencyMs.p50 <= fastest.latencyMs.p50 * 1.05);
  const pick = close.reduce((a, b) => (b.sizeBytes < a.sizeBytes || (b.sizeBytes === a.sizeBytes && b.latencyMs.p50 < a.latencyMs.p50) ? b : a));

  const parts: string[] = [];
  if (points.length === 1) {
    return { model: pick.model, text: `Only ${name(pick.model)} was benchmarked: p50 ${fmtMs(pick.latencyMs.p50)}, ${fmtBytes(pick.sizeBytes)}${pick.accuracy === null ? '' : `, accuracy ${pct100(pick.accuracy)}`}.` };
  }
  let head = `Use ${name(pick.model)}`;
  if (pick !== base) {
    const speed = base.latencyMs.p50 / pick.latencyMs.p50;
    const size = base.sizeBytes / pick.sizeBytes;
    head += `: ${ratioWords(speed, 'faster', 'slower', 'about as fast')} and ${ratioWords(size, 'smaller', 'larger', 'about the same size')} compared with the baseline ${name(base.model)}`;
  } else {
    head += ' (the baseline): no other model is faster or smaller without losing more accuracy';
  }
  if (pick.accuracy !== null && best !== null) {
    const loss = best - pick.accuracy;
    head += loss <= 1e-12 ? `, with the best accuracy (${pct100(pick.accuracy)})` : `, with accuracy ${pct100(pick.accuracy)}, ${(loss * 100).toFixed(2)} points below the best (${name(bestModel!.model)})`;
  }
  parts.push(`${head}.`);
  if (best !== null) {
    const faster = points.filter((p) => p !== pick && p.latencyMs.p50 < pick.latencyMs.p50 * 0.95 && !candidates.includes(p));
    if (faster.length) {
      parts.push(`${faster.map((p) => name(p.model)).join(', ')} ${faster.length > 1 ? 'are' : 'is'} faster but lose${faster.length > 1 ? '' : 's'} more than ${(tolerance * 100).toFixed(0)} point${tolerance === 0.01 ? '' : 's'} of accuracy.`);
    }
    const noAcc = points.filter((p) => p.accuracy === null);
    if (noAcc.length) parts.push(`${noAcc.map((p) => name(p.model)).join(', ')} could not be scored on the data and ${noAcc.length > 1 ? 'were' : 'was'} not considered.`);
  } else {
    parts.push('No labelled data was given, so this is on speed and size alone; run with --data to check accuracy.');
  }
  return { model: pick.model, text: parts.join(' ') };
}

function ratioWords(r: number, better: string, worse: string, same: string): string {
  if (Math.abs(r - 1) < 0.05) return same;
  return r > 1 ? `${r.toFixed(r < 10 ? 2 : 1)}x ${better}` : `${(1 / r).toFixed(1 / r < 10 ? 2 : 1)}x ${worse}`;
}

const pct100 = (f: number): string => `${(f * 100).toFixed(2)}%`;

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

export function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MB`;
  return `${(b / 1024 ** 3).toFixed(2)} GB`;
}
