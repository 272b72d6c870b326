// Diff-only compare table rows from compareExperiments(): labels, formatted values, which
// direction is better, and a short plain-words verdict per column.
import type { CompareResult, CompareRow, Json } from '../../../app/contract/api.js';
import { formatBytes, formatMs, formatNumber, formatPercent, formatPoints } from './format.js';

export type Better = 'higher' | 'lower' | null;

export interface CellView {
  text: string;
  /** Delta against the baseline, formatted; '' for the baseline and non-numbers. */
  delta: string;
  /** 'better' | 'worse' | 'same' | null (not comparable). */
  verdict: 'better' | 'worse' | 'same' | null;
}

export interface RowView {
  key: string;
  label: string;
  section: CompareRow['section'];
  differs: boolean;
  cells: CellView[];
}

/** What a metric's unit is, from its key. */
export function unitOf(key: string): 'fraction' | 'bytes' | 'ms' | 'plain' {
  if (key.startsWith('config.')) return 'plain';
  const parts = key.split('.');
  const last = (parts[parts.length - 1] ?? '').toLowerCase();
  const parent = (parts[parts.length - 2] ?? '').toLowerCase();
  if (/accuracy|agreement/.test(last) || /accuracy|agreement/.test(parent)) return 'fraction';
  if (/bytes$|^sizebytes|^size$/.test(last) || /bytes$/.test(parent)) return 'bytes';
  if (/^latency|ms$/.test(last) || (/^p(50|95|99)$/.test(last) && /latency/.test(parent))) return 'ms';
  return 'plain';
}

export function betterOf(key: string): Better {
  const k = key.toLowerCase();
  if (k.startsWith('config.')) return null;
  if (/accuracy|agreement|throughput|samplespersecond/.test(k)) return 'higher';
  if (/latency|bytes|size|loss|memory|parameters|kl\b|seconds/.test(k)) return 'lower';
  return null;
}

const LABELS: Record<string, string> = {
  testAccuracy: 'Test accuracy',
  valAccuracy: 'Validation accuracy',
  agreement: 'Agreement with teacher',
  samplesPerSecond: 'Training speed (samples/s)',
  sizeBytes: 'Size on disk',
  parameters: 'Parameters',
  epochs: 'Epochs',
  lr: 'Learning rate',
  batchSize: 'Batch size',
  temperature: 'Temperature',
  alpha: 'Alpha (teacher weight)',
  student: 'Student',
  teachers: 'Teachers',
  data: 'Dataset',
  method: 'Method',
  p50: 'Latency p50',
  p95: 'Latency p95',
  p99: 'Latency p99',
  peakMemoryBytes: 'Peak memory',
  device: 'Device',
  seed: 'Seed',
};

/** 'metrics.testAccuracy' → 'Test accuracy'; 'benchmark.student.onnx.latencyMs.p50' → 'student.onnx · Latency p50'. */
export function labelOf(key: string): string {
  const parts = key.split('.');
  const section = parts.shift();
  const last = parts[parts.length - 1] ?? key;
  const nice = LABELS[last] ?? last.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
  if (section === 'benchmark' && parts.length > 2) {
    const model = parts.slice(0, parts.findIndex((p) => p === 'latencyMs' || p === 'throughput' || p in LABELS) || 1).join('.');
    return model ? `${model} · ${nice}` : nice;
  }
  const middle = parts.slice(0, -1).filter((p) => p !== 'metrics' && p !== 'summary');
  return middle.length ? `${nice} (${middle.join(' › ')})` : nice;
}

export function formatValue(key: string, v: Json): string {
  if (v === null) return '—';
  if (typeof v === 'number') {
    const unit = unitOf(key);
    if (unit === 'fraction' && v >= 0 && v <= 1) return formatPercent(v);
    if (unit === 'bytes') return formatBytes(v);
    if (unit === 'ms') return formatMs(v);
  }
  if (Array.isArray(v)) return v.map((x) => formatNumber(x)).join(', ');
  return formatNumber(v);
}

function formatDelta(key: string, d: number): string {
  const unit = unitOf(key);
  if (unit === 'fraction') return formatPoints(d);
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  if (unit === 'bytes') return `${sign}${formatBytes(Math.abs(d))}`;
  if (unit === 'ms') return `${sign}${formatMs(Math.abs(d))}`;
  return `${sign}${formatNumber(Math.abs(d))}`;
}

export function rowViews(result: CompareResult, options: { diffOnly: boolean; search?: string }): RowView[] {
  const s = options.search?.trim().toLowerCase() ?? '';
  return result.rows
    .filter((r) => !options.diffOnly || r.differs)
    .filter((r) => !s || r.key.toLowerCase().includes(s) || labelOf(r.key).toLowerCase().includes(s))
    .map((r) => {
      const better = betterOf(r.key);
      return {
        key: r.key,
        label: labelOf(r.key),
        section: r.section,
        differs: r.differs,
        cells: r.values.map((v, i) => {
          const d = r.deltas[i] ?? null;
          if (i === 0 || d === null) return { text: formatValue(r.key, v), delta: '', verdict: i === 0 ? null : JSON.stringify(v) === JSON.stringify(r.values[0]) ? 'same' : null };
          const verdict: CellView['verdict'] = d === 0 ? 'same' : better === null ? null : (better === 'higher') === d > 0 ? 'better' : 'worse';
          return { text: formatValue(r.key, v), delta: d === 0 ? '' : formatDelta(r.key, d), verdict };
        }),
      };
    });
}

/** Groups rows by section, in a fixed order. */
export function groupRows(rows: RowView[]): { section: RowView['section']; title: string; rows: RowView[] }[] {
  const titles = { metrics: 'Results', benchmark: 'Measured speed and size', config: 'Settings' } as const;
  return (['metrics', 'benchmark', 'config'] as const)
    .map((section) => ({ section, title: titles[section], rows: rows.filter((r) => r.section === section) }))
    .filter((g) => g.rows.length > 0);
}

/** Per column: how many rows are better / worse than the baseline. */
export function scoreColumns(rows: RowView[], columns: number): { better: number; worse: number }[] {
  const out = Array.from({ length: columns }, () => ({ better: 0, worse: 0 }));
  for (const r of rows) {
    r.cells.forEach((c, i) => {
      if (c.verdict === 'better') out[i]!.better++;
      else if (c.verdict === 'worse') out[i]!.worse++;
    });
  }
  return out;
}
