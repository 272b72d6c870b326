// Reads experiment summaries defensively (fields may be missing or shaped differently by kind)
// and turns them into a before/after table, Pareto points and per-layer precision rows.
import type { BenchmarkResult, Experiment, ExperimentDetail, MetricSeries } from '../../../app/contract/api.js';
import { baseName } from './format.js';
import type { ParetoPoint } from './pareto.js';

/** First numeric value among dotted paths. */
export function num(obj: unknown, ...paths: string[]): number | null {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const k of p.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    if (typeof cur === 'number' && Number.isFinite(cur)) return cur;
  }
  return null;
}
export function str(obj: unknown, ...paths: string[]): string | null {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const k of p.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    if (typeof cur === 'string') return cur;
  }
  return null;
}

export interface ModelFigures {
  id: string;
  label: string;
  role: 'teacher' | 'student' | 'quantized' | 'model';
  path: string | null;
  experimentId: string | null;
  accuracy: number | null;
  agreement: number | null;
  sizeBytes: number | null;
  parameters: number | null;
  latencyMs: number | null;
}

/** Headline accuracy of an experiment, whatever its kind. */
export function headlineAccuracy(e: Experiment): number | null {
  return num(e.summary, 'metrics.testAccuracy', 'testAccuracy', 'accuracy.after', 'accuracy', 'results.0.accuracy');
}

export function headlineSize(e: Experiment): number | null {
  return num(e.summary, 'student.sizeBytes', 'sizeBytes.after', 'sizeBytes', 'results.0.sizeBytes');
}

/**
 * The models an experiment (and its children) produced: teacher, student, quantized, each with
 * what is known. Benchmarks of the experiment or its children fill in latency and size.
 */
export function modelsOf(detail: ExperimentDetail, children: ExperimentDetail[] = []): ModelFigures[] {
  const e = detail.experiment;
  const s = e.summary;
  const out: ModelFigures[] = [];
  const benches = [detail, ...children].flatMap((d) => d.benchmarks);
  const bench = (path: string | null, ...names: string[]): BenchmarkResult | undefined =>
    benches.find((b) => (path && (b.label === path || baseName(b.label) === baseName(path))) || names.includes(b.label));
  if (e.kind === 'distill' || e.kind === 'demo') {
    const teacherPath = str(e.config, 'teachers.0', 'teacher');
    const tb = bench(teacherPath, 'teacher');
    out.push({
      id: `${e.id}:teacher`,
      label: teacherPath ? `Teacher (${baseName(teacherPath)})` : 'Teacher',
      role: 'teacher',
      path: teacherPath,
      experimentId: null,
      accuracy: num(s, 'teacher.testAccuracy', 'teacher.accuracy') ?? tb?.accuracy ?? null,
      agreement: 1,
      sizeBytes: num(s, 'teacher.sizeBytes') ?? tb?.sizeBytes ?? null,
      parameters: num(s, 'teacher.parameters'),
      latencyMs: num(s, 'teacher.latencyMs.p50', 'teacher.latencyMs') ?? tb?.latencyMs.p50 ?? null,
    });
    const studentPath = str(s, 'student.path') ?? detail.artifacts.find((a) => a.role.startsWith('student'))?.path ?? null;
    const sb = bench(detail.artifacts.find((a) => a.role.startsWith('student'))?.path ?? null) ?? bench(studentPath, 'student');
    out.push({
      id: `${e.id}:student`,
      label: `Student (${str(e.config, 'student') ?? 'student'})`,
      role: 'student',
      path: detail.artifacts.find((a) => a.role.startsWith('student'))?.path ?? studentPath,
      experimentId: e.id,
      accuracy: num(s, 'metrics.testAccuracy', 'student.testAccuracy', 'student.accuracy') ?? sb?.accuracy ?? null,
      agreement: num(s, 'metrics.agreement', 'student.agreement') ?? sb?.agreement ?? null,
      sizeBytes: num(s, 'student.sizeBytes') ?? sb?.sizeBytes ?? null,
      parameters: num(s, 'student.parameters'),
      latencyMs: num(s, 'student.latencyMs.p50', 'student.latencyMs') ?? sb?.latencyMs.p50 ?? null,
    });
    if (e.kind === 'demo') {
      const q = (s as { quantized?: unknown } | null)?.quantized;
      if (q) out.push({ id: `${e.id}:quantized`, label: 'Quantized student', role: 'quantized', path: str(q, 'path'), experimentId: e.id, accuracy: num(q, 'accuracy'), agreement: num(q, 'agreement'), sizeBytes: num(q, 'sizeBytes'), parameters: null, latencyMs: num(q, 'latencyMs.p50') });
    }
  }
  if (e.kind === 'quantize') {
    const model = str(e.config, 'model');
    out.push({ id: `${e.id}:before`, label: `Float model${model ? ` (${baseName(model)})` : ''}`, role: 'model', path: model, experimentId: e.parentId, accuracy: num(s, 'accuracy.before'), agreement: 1, sizeBytes: num(s, 'sizeBytes.before'), parameters: null, latencyMs: num(s, 'latencyMs.before') });
  }
  for (const c of [e.kind === 'quantize' ? detail : null, ...children].filter((x): x is ExperimentDetail => !!x && x.experiment.kind === 'quantize')) {
    const cs = c.experiment.summary;
    const qPath = str(cs, 'output') ?? c.artifacts.find((a) => a.role.startsWith('quantized'))?.path ?? null;
    const qb = bench(c.artifacts.find((a) => a.role.startsWith('quantized'))?.path ?? null) ?? bench(qPath);
    out.push({
      id: `${c.experiment.id}:after`,
      label: `Quantized (${str(cs, 'method') ?? str(c.experiment.config, 'method') ?? 'int8'})`,
      role: 'quantized',
      path: str(cs, 'output') ?? c.artifacts.find((a) => a.role.startsWith('quantized'))?.path ?? null,
      experimentId: c.experiment.id,
      accuracy: num(cs, 'accuracy.after') ?? qb?.accuracy ?? null,
      agreement: num(cs, 'agreement') ?? qb?.agreement ?? null,
      sizeBytes: num(cs, 'sizeBytes.after') ?? qb?.sizeBytes ?? null,
      parameters: null,
      latencyMs: num(cs, 'latencyMs.after') ?? qb?.latencyMs.p50 ?? null,
    });
  }
  if (e.kind === 'bench') {
    for (const b of detail.benchmarks) {
      out.push({ id: `${e.id}:${b.id}`, label: baseName(b.label), role: 'model', path: b.label, experimentId: e.id, accuracy: b.accuracy, agreement: b.agreement, sizeBytes: b.sizeBytes, parameters: null, latencyMs: b.latencyMs.p50 });
    }
  }
  return out;
}

export function paretoPoints(models: ModelFigures[]): ParetoPoint[] {
  return models.map((m, i) => ({ id: m.id, label: m.label, accuracy: m.accuracy, latencyMs: m.latencyMs, sizeBytes: m.sizeBytes, reference: i === 0 }));
}

export interface LayerSensitivityFigures {
  /** SQNR (dB) of the final logits with only this layer compressed. */
  sqnr: number | null;
  /** Accuracy drop in points with only this layer compressed. */
  accuracyDrop: number | null;
}

export interface LayerRow {
  name: string;
  op: string;
  precision: string;
  /** Per-layer sensitivity (mixed precision only), else null. */
  sensitivity: LayerSensitivityFigures | null;
  /** Weight parameters (mixed precision only), else null. */
  params: number | null;
}

/**
 * Per-layer rows from a quantize summary: `layers[]` (every method), enriched with
 * `mixed.layers[].sensitivity` and `params` by name when mixed precision measured them. A mixed
 * summary without a plain `layers` list still gives rows.
 */
export function layerRows(summary: unknown): LayerRow[] {
  const objs = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((l): l is Record<string, unknown> => !!l && typeof l === 'object') : []);
  const plain = objs((summary as { layers?: unknown } | null)?.layers);
  const mixed = objs(((summary as { mixed?: unknown } | null)?.mixed as { layers?: unknown } | null | undefined)?.layers);
  const byName = new Map(mixed.map((m) => [String(m.name ?? ''), m]));
  const sens = (m: Record<string, unknown> | undefined): LayerSensitivityFigures | null => {
    if (!m) return null;
    const sqnr = num(m, 'sensitivity.sqnr');
    const accuracyDrop = num(m, 'sensitivity.accuracyDrop');
    return sqnr == null && accuracyDrop == null ? null : { sqnr, accuracyDrop };
  };
  const source = plain.length ? plain : mixed;
  return source.map((l) => {
    const name = String(l.name ?? '');
    const m = byName.get(name);
    return { name, op: String(l.op ?? l.opType ?? ''), precision: String(l.precision ?? m?.precision ?? ''), sensitivity: sens(m), params: num(m ?? l, 'params') };
  });
}

export type PrecisionKey = 'fp32' | 'fp16' | 'int8' | 'int4' | 'other';
export const PRECISION_KEYS: readonly PrecisionKey[] = ['fp32', 'fp16', 'int8', 'int4', 'other'];
export const PRECISION_LABELS: Record<PrecisionKey, string> = { fp32: 'fp32', fp16: 'fp16', int8: 'int8', int4: 'int4', other: 'other' };

/** 'float32' / 'fp32' / 'int8 (static)' ... → one of the legend's classes. */
export function precisionKey(precision: string): PrecisionKey {
  const p = precision.toLowerCase();
  if (/int4|4-?bit|nbits/.test(p)) return 'int4';
  if (/int8|uint8|8-?bit|qdq/.test(p)) return 'int8';
  if (/float16|fp16|half/.test(p)) return 'fp16';
  if (/float32|fp32|float$|^float|single/.test(p)) return 'fp32';
  return 'other';
}

/**
 * How sensitive each layer is, 0 (least) to 1 (most) relative to the other layers: by accuracy
 * drop when measured, else by SQNR (lower SQNR = more sensitive). Null where a layer has no figure
 * or no layer has any.
 */
export function sensitivityLevels(rows: LayerRow[]): (number | null)[] {
  const drops = rows.map((r) => r.sensitivity?.accuracyDrop ?? null);
  const sqnrs = rows.map((r) => r.sensitivity?.sqnr ?? null);
  const useDrop = drops.some((d) => d != null && d !== 0);
  const vals = useDrop ? drops : sqnrs.map((s) => (s == null ? null : -s));
  const finite = vals.filter((v): v is number => v != null && Number.isFinite(v));
  if (finite.length === 0) return rows.map(() => null);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return vals.map((v) => (v == null || !Number.isFinite(v) ? null : hi === lo ? 0.5 : (v - lo) / (hi - lo)));
}

/** Counts per precision class, in legend order, without empty classes. */
export function precisionCounts(rows: LayerRow[]): { key: PrecisionKey; count: number }[] {
  const counts = new Map<PrecisionKey, number>();
  for (const r of rows) counts.set(precisionKey(r.precision), (counts.get(precisionKey(r.precision)) ?? 0) + 1);
  return PRECISION_KEYS.filter((k) => counts.has(k)).map((key) => ({ key, count: counts.get(key)! }));
}

/** Loss / accuracy series for charts, matched by name. */
export function seriesByName(metrics: MetricSeries[], ...names: string[]): MetricSeries | null {
  for (const n of names) {
    const s = metrics.find((m) => m.name === n);
    if (s) return s;
  }
  return null;
}

/** Where a run trained (a distillation's summary): the training device, else where it ended. */
export function trainedOn(summary: unknown): string | null {
  return str(summary, 'trainedOn', 'device');
}

/** ', 2 worker threads' for a data-parallel run (summary.workers > 1), else ''. */
export function workersNote(summary: unknown): string {
  const n = num(summary, 'workers');
  return n !== null && n > 1 ? `, ${n} worker threads` : '';
}

/**
 * One sentence when a run did not run where it was asked to: the GPU stopped responding mid-run
 * (summary.deviceLoss), or the device could not start (summary.fallbackReason). Null otherwise.
 */
export function deviceNote(summary: unknown): string | null {
  const gpu = str(summary, 'deviceLoss.device');
  if (!gpu) return str(summary, 'fallbackReason');
  const during = str(summary, 'deviceLoss.during');
  if (during === null) {
    const step = num(summary, 'deviceLoss.step');
    return `Trained on the CPU after the GPU (${gpu}) stopped responding${step === null ? '' : ` at step ${step.toLocaleString('en-US')}`}.`;
  }
  const trained = str(summary, 'trainedOn');
  if (trained && trained !== 'cpu') return `Trained on the GPU (${gpu}); it stopped responding while ${during}, which was then done on the CPU.`;
  return `Trained on the CPU after the GPU (${gpu}) stopped responding while ${during}.`;
}
