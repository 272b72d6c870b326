// Typed readers for the parts of job summaries that clients act on. A summary is stored JSON
// (and may come from an imported bundle), so it is validated, never cast: entries that do not
// match are left out.
import * as v from 'valibot';
import type { EnsembleScore } from './api.js';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const amount = v.pipe(v.number(), v.finite(), v.minValue(0));

const ensembleScore = v.object({
  members: v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(2), v.maxLength(16)),
  accuracy: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  samples: v.pipe(count, v.minValue(1)),
  gains: count,
  losses: count,
  latencyMs: amount,
  sizeBytes: amount,
});

/** The ensembles a benchmark run with `ensembles: true` scored; [] for any other summary. */
export function ensemblesOf(summary: unknown): EnsembleScore[] {
  const list = (summary as { ensembles?: unknown } | null)?.ensembles;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e): EnsembleScore[] => {
    const r = v.safeParse(ensembleScore, e);
    return r.success ? [r.output] : [];
  });
}
