// Teacher candidates: can each one run here, how it scored on a data sample, which to recommend.
import type { BenchmarkResult, DeviceInfo, ModelInspection } from '../../../app/contract/api.js';
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

export interface TeacherRecommendation {
  path: string | null;
  sentence: string;
}

export function recommendTeacher(candidates: Candidate[], devices: DeviceInfo[]): TeacherRecommendation {
  const runnable = candidates.filter((c) => c.inspection && runVerdict(c.inspection, devices).runs);
  if (candidates.length === 0) return { path: null, sentence: 'Add at least one model to choose from.' };
  if (runnable.length === 0) return { path: null, sentence: 'None of these models runs here. Add another model, or check the reasons on each card.' };
  const scored = runnable.filter((c) => c.score?.accuracy != null);
  if (scored.length === 0) {
    if (runnable.length === 1) return { path: runnable[0]!.path, sentence: `${runnable[0]!.name} is the only model that runs here; score it on your data to see how accurate it is.` };
    return { path: null, sentence: 'Score the models on a sample of your data and Distillery will recommend one.' };
  }
  const best = Math.max(...scored.map((c) => c.score!.accuracy!));
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
  return { path: pick.path, sentence };
}
