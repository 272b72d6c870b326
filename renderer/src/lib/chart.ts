// Scales and ticks for the Pareto scatter (SVG), and data shaping for the uPlot line charts. No DOM.

export interface Scale {
  (v: number): number;
  domain: [number, number];
  range: [number, number];
}

export function linear(domain: [number, number], range: [number, number]): Scale {
  let [d0, d1] = domain;
  if (d0 === d1) {
    d0 -= d0 === 0 ? 1 : Math.abs(d0) * 0.1;
    d1 += d1 === 0 ? 1 : Math.abs(d1) * 0.1;
  }
  const [r0, r1] = range;
  const f = ((v: number) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0)) as Scale;
  f.domain = [d0, d1];
  f.range = range;
  return f;
}

/** Log scale for positive values (latency and size span orders of magnitude). */
export function logScale(domain: [number, number], range: [number, number]): Scale {
  const l0 = Math.log10(Math.max(domain[0], 1e-12));
  const l1 = Math.log10(Math.max(domain[1], 1e-12));
  const inner = linear([l0, l1], range);
  const f = ((v: number) => inner(Math.log10(Math.max(v, 1e-12)))) as Scale;
  f.domain = [10 ** inner.domain[0], 10 ** inner.domain[1]];
  f.range = range;
  return f;
}

/** About `count` round ticks covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  if (lo > hi) [lo, hi] = [hi, lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

/** Extent of finite numbers, padded by a fraction of the span. */
export function extent(values: (number | null | undefined)[], pad = 0): [number, number] | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return null;
  let lo = Math.min(...xs);
  let hi = Math.max(...xs);
  const span = hi - lo || Math.abs(hi) || 1;
  lo -= span * pad;
  hi += span * pad;
  return [lo, hi];
}

/**
 * Lines with their own x values → one shared, sorted x axis and one y array per line (null where
 * a line has no value), the column layout uPlot draws from. Non-finite y values become null.
 */
export function alignLines(lines: Line[]): { xs: number[]; ys: (number | null)[][] } {
  const xs = [...new Set(lines.flatMap((l) => l.xs.filter((x) => Number.isFinite(x))))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    l.xs.forEach((x, i) => {
      const v = l.ys[i];
      const j = at.get(x);
      if (j !== undefined && typeof v === 'number' && Number.isFinite(v)) col[j] = v;
    });
    return col;
  });
  return { xs, ys };
}

/** The last non-null value of each line, with its x (null when the line is empty). */
export function lastValues(lines: Line[]): ({ x: number; y: number } | null)[] {
  return lines.map((l) => {
    for (let i = l.ys.length - 1; i >= 0; i--) {
      const v = l.ys[i];
      if (v != null && Number.isFinite(v)) return { x: l.xs[i]!, y: v };
    }
    return null;
  });
}

export interface Line {
  name: string;
  xs: number[];
  ys: (number | null)[];
  color: string;
}
