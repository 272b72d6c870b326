// Teacher ensembles from a comparison: the averaged softmax of the most accurate 2 (and 3)
// models, scored on the same labelled samples. This is exactly what distilling from several
// teachers teaches (the same averaging as the soft targets, training/metrics.ts).
import { argmaxRows, ensembleProbabilities } from '../training/metrics.js';

/** What scoring needs of each benchmarked model. */
export interface EnsembleCandidate {
  model: string;
  accuracy: number | null;
  latencyMs: { p50: number };
  sizeBytes: number;
  /** Logits [samples × classes] on the scored samples; models without them are left out. */
  logits?: Float32Array;
}

export interface EnsembleScore {
  /** Member models as given, most accurate first. */
  members: string[];
  /** Top-1 accuracy of the averaged softmax. */
  accuracy: number;
  /** Labelled samples scored. */
  samples: number;
  /** Samples the ensemble gets right and its most accurate member gets wrong... */
  gains: number;
  /** ...and the reverse: together they say whether a gain is more than noise. */
  losses: number;
  /** Sum of the members' p50 latencies: every member answers each input. */
  latencyMs: number;
  /** Sum of the members' file sizes. */
  sizeBytes: number;
}

/**
 * Ensembles of the best `sizes[i]` models by accuracy (ties: the faster first). Only models
 * with logits of exactly `labels.length × classes` values take part: they were fed the same
 * samples and give the same classes, which is what averaging their soft targets needs.
 */
export function scoreEnsembles(models: readonly EnsembleCandidate[], labels: Int32Array, classes: number, sizes: readonly number[] = [2, 3]): EnsembleScore[] {
  const ranked = models
    .filter((m) => m.accuracy !== null && m.logits?.length === labels.length * classes)
    .sort((a, b) => b.accuracy! - a.accuracy! || a.latencyMs.p50 - b.latencyMs.p50);
  const out: EnsembleScore[] = [];
  for (const k of sizes) {
    if (k < 2 || ranked.length < k) continue;
    const members = ranked.slice(0, k);
    const ensemble = argmaxRows(ensembleProbabilities(members.map((m) => m.logits!), classes), classes);
    const best = argmaxRows(members[0]!.logits!, classes);
    let samples = 0;
    let correct = 0;
    let gains = 0;
    let losses = 0;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]! < 0) continue;
      samples++;
      const e = ensemble[i] === labels[i];
      const b = best[i] === labels[i];
      if (e) correct++;
      if (e && !b) gains++;
      if (b && !e) losses++;
    }
    if (samples === 0) break;
    out.push({
      members: members.map((m) => m.model),
      accuracy: correct / samples,
      samples,
      gains,
      losses,
      latencyMs: members.reduce((s, m) => s + m.latencyMs.p50, 0),
      sizeBytes: members.reduce((s, m) => s + m.sizeBytes, 0),
    });
  }
  return out;
}
