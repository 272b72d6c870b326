// Pareto front of accuracy (higher is better) against a cost (latency or size, lower is better),
// and a recommendation in plain words.
import { formatBytes, formatMs, formatPercent, formatPoints, formatRatio } from './format.js';

export interface ParetoPoint {
  id: string;
  label: string;
  accuracy: number | null;
  latencyMs: number | null;
  sizeBytes: number | null;
  /** The reference model (teacher / float model / pinned baseline). */
  reference?: boolean;
}

export type CostAxis = 'latencyMs' | 'sizeBytes';

/** Ids of points no other point beats on both accuracy and cost (ties kept). */
export function paretoFront(points: ParetoPoint[], axis: CostAxis): Set<string> {
  const usable = points.filter((p) => p.accuracy != null && p[axis] != null);
  const front = new Set<string>();
  for (const p of usable) {
    const dominated = usable.some(
      (q) => q !== p && q.accuracy! >= p.accuracy! && q[axis]! <= p[axis]! && (q.accuracy! > p.accuracy! || q[axis]! < p[axis]!),
    );
    if (!dominated) front.add(p.id);
  }
  return front;
}

export interface Recommendation {
  id: string;
  label: string;
  sentence: string;
}

/**
 * The cheapest model (by the axis) whose accuracy is within `tolerance` (a fraction, 0.01 = one
 * point) of the most accurate one. Null when no point has both numbers.
 */
export function recommend(points: ParetoPoint[], axis: CostAxis, tolerance = 0.01): Recommendation | null {
  const usable = points.filter((p) => p.accuracy != null && p[axis] != null);
  // A recommendation needs something to choose between.
  if (usable.length < 2) return null;
  const best = Math.max(...usable.map((p) => p.accuracy!));
  const ok = usable.filter((p) => p.accuracy! >= best - tolerance - 1e-12);
  ok.sort((a, b) => a[axis]! - b[axis]! || b.accuracy! - a.accuracy!);
  const pick = ok[0]!;
  const ref = usable.find((p) => p.reference) ?? usable.reduce((a, b) => (b[axis]! > a[axis]! ? b : a));
  const costWord = axis === 'latencyMs' ? 'faster' : 'smaller';
  const fmt = axis === 'latencyMs' ? formatMs : formatBytes;
  let sentence: string;
  if (pick.id === ref.id) {
    sentence = `${pick.label} is the best choice: nothing else is as accurate for its ${axis === 'latencyMs' ? 'speed' : 'size'}.`;
  } else {
    const drop = pick.accuracy! - ref.accuracy!;
    const ratio = formatRatio(ref[axis], pick[axis]);
    sentence =
      `Use ${pick.label}: ${ratio} ${costWord} than ${ref.label} (${fmt(pick[axis])} instead of ${fmt(ref[axis])}), ` +
      `with ${formatPercent(pick.accuracy)} accuracy (${formatPoints(drop)}).`;
  }
  return { id: pick.id, label: pick.label, sentence };
}
