// Diff-only comparison of experiments against a baseline: config and summary flattened to
// dotted keys, plus benchmark figures per label.
import type { BenchmarkResult, CompareResult, CompareRow, Experiment, Json } from '../contract/api.js';

const MAX_DEPTH = 4;
/** Bookkeeping keys that differ between any two runs and mean nothing to a reader. */
const INTERNAL_KEYS = new Set(['jobParams', 'cacheDir', 'checkpointPath', 'checkpointEvery', 'resumeFrom', 'out']);
const MAX_INLINE_JSON = 200;

/** Flattens plain objects into dotted keys; short arrays become JSON strings, long ones are left out. */
export function flatten(value: unknown, prefix: string, out: Map<string, Json>, depth = 0): void {
  if (value === null || value === undefined) {
    if (prefix) out.set(prefix, null);
    return;
  }
  if (Array.isArray(value)) {
    const s = JSON.stringify(value);
    if (s.length <= MAX_INLINE_JSON) out.set(prefix, s);
    return;
  }
  if (typeof value === 'object') {
    if (depth >= MAX_DEPTH) {
      const s = JSON.stringify(value);
      if (s.length <= MAX_INLINE_JSON) out.set(prefix, s);
      return;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!INTERNAL_KEYS.has(k)) flatten(v, prefix ? `${prefix}.${k}` : k, out, depth + 1);
    }
    return;
  }
  if (typeof value === 'number') out.set(prefix, Number.isFinite(value) ? value : null);
  else if (typeof value === 'string' || typeof value === 'boolean') out.set(prefix, value);
}

function benchFlat(rows: BenchmarkResult[]): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const r of rows) {
    const base = `benchmark.${r.label}${r.batchSize !== 1 ? `@${r.batchSize}` : ''}`;
    out.set(`${base}.latencyMs.p50`, r.latencyMs.p50);
    out.set(`${base}.latencyMs.p95`, r.latencyMs.p95);
    out.set(`${base}.latencyMs.p99`, r.latencyMs.p99);
    if (r.sizeBytes !== null) out.set(`${base}.sizeBytes`, r.sizeBytes);
    if (r.accuracy !== null) out.set(`${base}.accuracy`, r.accuracy);
    if (r.agreement !== null) out.set(`${base}.agreement`, r.agreement);
    if (r.peakMemoryBytes !== null) out.set(`${base}.peakMemoryBytes`, r.peakMemoryBytes);
  }
  return out;
}

const same = (a: Json, b: Json) => (a === b ? true : JSON.stringify(a) === JSON.stringify(b));

export function compare(experiments: Experiment[], benchmarks: Map<string, BenchmarkResult[]>, baselineId: string, all: boolean): CompareResult {
  const ordered = [experiments.find((e) => e.id === baselineId)!, ...experiments.filter((e) => e.id !== baselineId)];
  const flats = ordered.map((e) => {
    const config = new Map<string, Json>();
    flatten(e.config, 'config', config);
    const metrics = new Map<string, Json>();
    flatten(e.summary, 'metrics', metrics);
    return { config, metrics, benchmark: benchFlat(benchmarks.get(e.id) ?? []) };
  });
  const rows: CompareRow[] = [];
  for (const section of ['config', 'metrics', 'benchmark'] as const) {
    const keys = new Set<string>();
    for (const f of flats) for (const k of f[section].keys()) keys.add(k);
    for (const key of [...keys].sort()) {
      const values = flats.map((f) => (f[section].has(key) ? f[section].get(key)! : null));
      const differs = values.some((v) => !same(v, values[0]!));
      if (!differs && !all) continue;
      const base = values[0];
      const deltas = values.map((v) => (typeof v === 'number' && typeof base === 'number' ? v - base : null));
      rows.push({ section, key, values, deltas, differs });
    }
  }
  return {
    baseline: baselineId,
    columns: ordered.map((e) => ({ id: e.id, name: e.name, kind: e.kind, status: e.status, pinned: e.pinned })),
    rows,
  };
}
