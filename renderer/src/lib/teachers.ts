// Teacher candidates: can each one run here, how it scored on a data sample, which to recommend
// (one model, or an ensemble of the best ones when it is clearly more accurate).
import type { BenchmarkConfig, BenchmarkResult, DeviceInfo, EnsembleScore, ModelInspection } from '../../../app/contract/api.js';
import { baseName, formatMs, formatPercent } from './format.js';

export interface Candidate {
  path: string;
  name: string;
  inspection: ModelInspection | null;
  error: string | null;
  score: { accuracy: number | null; latencyMs: number | null; agreement: number | null } | null;
}

export interface RunVerdict {
  runs: boolean;
  text: string;
}

export function runVerdict(m: ModelInspection, devices: DeviceInfo[]): RunVerdict {
  if (m.unsupportedOps.length > 0) {
    const names = [...new Set(m.unsupportedOps.map((u) => u.opType))].join(', ');
    return { runs: false, text: `Cannot run here: ONNX Runtime does not support ${names}.` };
  }
  if (m.runError) return { runs: false, text: `Cannot run here: ${m.runError}` };
  const available = devices.filter((d) => d.available).map((d) => (d.device === 'cpu' ? 'CPU' : d.device === 'webgpu' ? 'GPU (WebGPU)' : d.device.toUpperCase()));
  return { runs: true, text: `Runs here on ${available.length ? available.join(' and ') : 'CPU'}.` };
}

/** Op histogram as sorted [op, count] pairs, the rest folded into "other". */
export function opSummary(ops: Record<string, number>, top = 6): { op: string; count: number }[] {
  const sorted = Object.entries(ops)
    .map(([op, count]) => ({ op, count }))
    .sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
  if (sorted.length <= top) return sorted;
  const rest = sorted.slice(top).reduce((s, x) => s + x.count, 0);
  return [...sorted.slice(0, top), { op: `${sorted.length - top} other types`, count: rest }];
}

/** Matches benchmark rows to candidates by path or file name. */
export function scoresFromBenchmarks(candidates: Candidate[], results: BenchmarkResult[]): Candidate[] {
  return candidates.map((c) => {
    const r = results.find((b) => b.label === c.path || b.label === c.name || baseName(b.label) === baseName(c.path));
    return r ? { ...c, score: { accuracy: r.accuracy, latencyMs: r.latencyMs.p50, agreement: r.agreement } } : c;
  });
}

/** The benchmark that scores the candidates: 500 items at batch 1, and their ensembles. */
export function scoringConfig(paths: string[], data: string): BenchmarkConfig {
  return { name: `Teacher scoring (${paths.length} models)`, models: paths, data, limit: 500, batchSizes: [1], tags: ['teacher-scoring'], ...(paths.length > 1 ? { ensembles: true } : {}) };
}

/**
 * When an ensemble is worth distilling from. Each teacher runs over the training data once (then
 * cached), so every extra teacher adds its own share of teacher time; that must buy accuracy
 * that is both useful and real:
 * - useful: at least ENSEMBLE_MIN_GAIN points over the most accurate single model, and each
 *   extra member at least that much over the smaller ensemble;
 * - real: the items the ensemble gets right and that model gets wrong (gains) outnumber the
 *   reverse (losses) by two standard deviations of a fair coin (sign test on the discordant
 *   items, McNemar: gains − losses ≥ 2·√(gains + losses), about 2 % chance when there is no
 *   real difference);
 * - on at least ENSEMBLE_MIN_SAMPLES labelled items: below that one item moves accuracy by
 *   0.5 points or more, and so few discordant items say little.
 */
export const ENSEMBLE_MIN_GAIN = 0.005;
export const ENSEMBLE_MIN_SAMPLES = 200;

/** Names in plain words: "a", "a and b", "a, b and c". */
function listNames(names: string[]): string {
  return names.length < 2 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Per-sample input shape (batch dimension dropped) and class count, to check ensemble members agree. */
function signature(m: ModelInspection): string {
  const input = m.inputs[0]?.shape?.slice(1) ?? null;
  const out = m.outputs[0]?.shape;
  return JSON.stringify([input, out ? out[out.length - 1] : null]);
}

export interface EnsembleView {
  score: EnsembleScore;
  members: Candidate[];
  /** "a and b" */
  name: string;
}

/**
 * The scored ensembles whose members are all listed, runnable, scored and alike (same input
 * shape and class count); stale ones (a member removed since) are left out.
 */
export function usableEnsembles(candidates: Candidate[], devices: DeviceInfo[], ensembles: EnsembleScore[]): EnsembleView[] {
  const out: EnsembleView[] = [];
  for (const score of ensembles) {
    const members = score.members.map((p) => candidates.find((c) => c.path === p));
    if (members.some((c) => !c?.inspection || c.score?.accuracy == null || !runVerdict(c.inspection, devices).runs)) continue;
    const ms = members as Candidate[];
    if (new Set(ms.map((c) => signature(c.inspection!))).size !== 1) continue;
    out.push({ score, members: ms, name: listNames(ms.map((c) => c.name)) });
  }
  return out;
}

/** The ensemble to recommend over the best single model (accuracy `bestAcc`), or null. */
export function pickEnsemble(views: EnsembleView[], bestAcc: number): EnsembleView | null {
  let pick: EnsembleView | null = null;
  const bySize = [...views].sort((a, b) => a.members.length - b.members.length);
  for (const v of bySize) {
    const s = v.score;
    // Gains and losses are counted against the ensemble's first member: it must be a best model.
    if (v.members[0]!.score!.accuracy !== bestAcc || s.samples < ENSEMBLE_MIN_SAMPLES) continue;
    const real = s.gains - s.losses >= 2 * Math.sqrt(s.gains + s.losses) && s.gains > s.losses;
    const over = pick ? pick.score.accuracy : bestAcc;
    if (real && s.accuracy - over >= ENSEMBLE_MIN_GAIN - 1e-9) pick = v;
  }
  return pick;
}

export interface TeacherRecommendation {
  /** The one model to use; null when none, or when an ensemble is recommended. */
  path: string | null;
  /** The ensemble to use instead of one model. */
  ensemble: EnsembleView | null;
  sentence: string;
}

export function recommendTeacher(candidates: Candidate[], devices: DeviceInfo[], ensembles: EnsembleScore[] = []): TeacherRecommendation {
  const runnable = candidates.filter((c) => c.inspection && runVerdict(c.inspection, devices).runs);
  if (candidates.length === 0) return { path: null, ensemble: null, sentence: 'Add at least one model to choose from.' };
  if (runnable.length === 0) return { path: null, ensemble: null, sentence: 'None of these models runs here. Add another model, or check the reasons on each card.' };
  const scored = runnable.filter((c) => c.score?.accuracy != null);
  if (scored.length === 0) {
    if (runnable.length === 1) return { path: runnable[0]!.path, ensemble: null, sentence: `${runnable[0]!.name} is the only model that runs here; score it on your data to see how accurate it is.` };
    return { path: null, ensemble: null, sentence: 'Score the models on a sample of your data and Distillery will recommend one.' };
  }
  const best = Math.max(...scored.map((c) => c.score!.accuracy!));
  const views = usableEnsembles(candidates, devices, ensembles);
  const ens = pickEnsemble(views, best);
  if (ens) {
    const e = ens.score;
    const top = ens.members[0]!;
    const n = ens.members.length;
    const both = n === 2 ? 'both' : `all ${n}`;
    const time = top.score!.latencyMs ? ` (about ${(e.latencyMs / top.score!.latencyMs).toFixed(1)}× the teacher time of ${top.name} alone)` : '';
    return {
      path: null,
      ensemble: ens,
      sentence:
        `Use the ensemble of ${ens.name}: ${formatPercent(e.accuracy)} vs ${formatPercent(best)} for ${top.name} alone on ${e.samples.toLocaleString('en-US')} items. ` +
        `Distilling from ${both} runs each teacher over the training data once${time}; the training steps are not slower.`,
    };
  }
  // Among the models within one point of the best, the fastest wins.
  const close = scored.filter((c) => c.score!.accuracy! >= best - 0.01);
  close.sort((a, b) => (a.score!.latencyMs ?? Infinity) - (b.score!.latencyMs ?? Infinity));
  const pick = close[0]!;
  const acc = formatPercent(pick.score!.accuracy);
  const lat = formatMs(pick.score!.latencyMs);
  const others = scored.length - 1;
  let sentence = `Use ${pick.name}: it gets ${acc} of the sample right and answers in ${lat}.`;
  if (close.length > 1) sentence += ` ${close.length - 1} other model${close.length > 2 ? 's are' : ' is'} about as accurate but slower.`;
  else if (others > 0) sentence += ` It is the most accurate of the ${scored.length} models scored.`;
  // Say why a more accurate ensemble is not the pick.
  const better = views.filter((v) => v.score.accuracy > best).sort((a, b) => b.score.accuracy - a.score.accuracy)[0];
  if (better) {
    const s = better.score;
    const why =
      s.samples < ENSEMBLE_MIN_SAMPLES ? `only on ${s.samples} items, too few to tell`
      : s.accuracy - best < ENSEMBLE_MIN_GAIN - 1e-9 ? `that is too small a gain to pay for distilling from ${better.members.length} teachers`
      : 'that gain is within the noise of this sample';
    sentence += ` The ensemble of ${better.name} scored ${formatPercent(s.accuracy)}, but ${why}.`;
  }
  return { path: pick.path, ensemble: null, sentence };
}
