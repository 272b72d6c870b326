// Numbers for people: sizes, percentages, durations, times. Pure functions, tested.

export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${units[u]}`;
}

/** 1234567 → "1.23 M". */
export function formatCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return Math.round(n).toLocaleString('en-US');
}

/** Fraction in [0, 1] → "87.3%". */
export function formatPercent(f: number | null | undefined, digits = 1): string {
  if (f == null || !Number.isFinite(f)) return '—';
  return `${(f * 100).toFixed(digits)}%`;
}

/** Difference of two fractions, in percentage points: "+1.2 pts". */
export function formatPoints(delta: number | null | undefined, digits = 1): string {
  if (delta == null || !Number.isFinite(delta)) return '—';
  const v = delta * 100;
  const s = Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v;
  return `${s > 0 ? '+' : s < 0 ? '−' : '±'}${Math.abs(s).toFixed(digits)} pts`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  if (ms < 10_000) return `${ms.toFixed(0)} ms`;
  return formatDuration(ms / 1000);
}

/** Seconds → "2 min 5 s", "1 h 3 min", "8 s". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** Ratio as "4.0× smaller" / "1.5× faster" wording helpers. */
export function formatRatio(before: number | null | undefined, after: number | null | undefined): string {
  if (before == null || after == null || !(before > 0) || !(after > 0)) return '—';
  const r = before / after;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

export function formatNumber(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return String(Number(v.toPrecision(digits)));
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

const RTF_UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400_000],
  ['month', 30 * 86400_000],
  ['day', 86400_000],
  ['hour', 3600_000],
  ['minute', 60_000],
];

/** "3 hours ago", "just now". */
export function formatRelative(ts: number | null | undefined, now = Date.now()): string {
  if (ts == null) return '—';
  const diff = ts - now;
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, ms] of RTF_UNITS) {
    if (Math.abs(diff) >= ms) return rtf.format(Math.round(diff / ms), unit);
  }
  return 'just now';
}

export function formatDate(ts: number | null | undefined): string {
  if (ts == null) return '—';
  const d = new Date(ts);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** [null, 1, 28, 28] / ['batch', 1, 28, 28] → "batch × 1 × 28 × 28". */
export function formatShape(shape: (number | string)[] | null | undefined): string {
  if (!shape) return 'unknown shape';
  if (shape.length === 0) return 'scalar';
  return shape.map((d) => String(d)).join(' × ');
}

export const KIND_LABELS: Record<string, string> = {
  distill: 'Distillation',
  quantize: 'Quantization',
  bench: 'Benchmark',
  train: 'Training',
  demo: 'Demo',
};

export const STATUS_LABELS: Record<string, string> = {
  queued: 'Waiting',
  running: 'Running',
  succeeded: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

/** Last path segment (both separators). */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

const DEVICE_NAMES: Record<string, string> = { cpu: 'CPU', webgpu: 'WebGPU', cuda: 'CUDA', dml: 'DirectML', coreml: 'Core ML', auto: 'Best available' };

/** 'cpu' → 'CPU', 'webgpu' → 'WebGPU', 'auto' → 'Best available'; unknown names as they are. */
export function formatDevice(device: string | null | undefined): string {
  if (!device) return '—';
  return DEVICE_NAMES[device.toLowerCase()] ?? device;
}
