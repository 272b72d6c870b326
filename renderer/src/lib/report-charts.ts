// The report's charts as standalone SVG strings (no DOM, no scripts, fixed colours so they read
// outside the app): the accuracy/cost trade-off scatter, a training curve, the per-layer precision
// strip. Same scales and Pareto front as the on-screen charts.
import { extent, linear, logScale, logTicks, ticks } from './chart.js';
import { formatBytes, formatMs, formatPercent } from './format.js';
import { paretoFront, type CostAxis, type ParetoPoint } from './pareto.js';
import { precisionCounts, precisionKey, sensitivityLevels, type LayerRow, type PrecisionKey } from './results.js';

const INK = '#1d2330';
const MUTED = '#5b6475';
const GRID = '#dde2ea';
const ACCENT = '#3461d6';
const GOOD = '#16794a';
const COLORS = ['#3461d6', '#d9822b', '#16794a', '#a23fb5'];
export const PRECISION_COLORS: Record<PrecisionKey, string> = { fp32: '#8a93a6', fp16: '#16794a', int8: '#3461d6', int4: '#a23fb5', other: '#d9822b' };
const FONT = 'font-family="system-ui,sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const f1 = (v: number) => v.toFixed(1);

function svgOpen(width: number, height: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(label)}" ${FONT} font-size="11"><title>${escapeXml(label)}</title><rect width="${width}" height="${height}" fill="#ffffff"/>`;
}

/** Accuracy against size or latency (log scale), Pareto front dashed, recommended point ringed. Null without usable points. */
export function scatterSvg(points: ParetoPoint[], axis: CostAxis, recommended: string | null = null): string | null {
  const usable = points.filter((p) => p.accuracy != null && p[axis] != null && p[axis]! > 0);
  if (usable.length === 0) return null;
  const width = 640;
  const height = 320;
  const m = { top: 30, right: 24, bottom: 42, left: 56 };
  const front = paretoFront(usable, axis);
  const ce = extent(usable.map((p) => p[axis])) ?? [1, 10];
  const cd: [number, number] = [ce[0] / 1.6, ce[1] * 1.6];
  const ad = extent(usable.map((p) => p.accuracy), 0.15) ?? [0, 1];
  const x = logScale(cd, [m.left, width - m.right]);
  const y = linear([Math.max(0, ad[0]), Math.min(1, ad[1])], [height - m.bottom, m.top]);
  const fmt = axis === 'latencyMs' ? formatMs : formatBytes;
  const what = axis === 'latencyMs' ? 'latency' : 'size';
  const title = `Accuracy against ${what}`;
  const label = `${title}: ${usable.map((p) => `${p.label} ${formatPercent(p.accuracy)} at ${fmt(p[axis])}`).join('; ')}`;
  const out = [svgOpen(width, height, label), `<text x="${m.left}" y="16" font-size="13" font-weight="600" fill="${INK}">${escapeXml(title)}</text>`];
  const yt = ticks(y.domain[0], y.domain[1], 4);
  // Whole percents unless the ticks are closer than a point apart.
  const yDigits = yt.length > 1 && yt[1]! - yt[0]! < 0.01 ? 1 : 0;
  for (const t of yt) {
    out.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${f1(y(t))}" y2="${f1(y(t))}" stroke="${GRID}"/>`);
    out.push(`<text x="${m.left - 6}" y="${f1(y(t) + 4)}" text-anchor="end" fill="${MUTED}">${escapeXml(formatPercent(t, yDigits))}</text>`);
  }
  for (const t of logTicks(cd[0], cd[1]).slice(0, 8)) {
    out.push(`<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${m.top}" y2="${height - m.bottom}" stroke="${GRID}"/>`);
    out.push(`<text x="${f1(x(t))}" y="${height - m.bottom + 16}" text-anchor="middle" fill="${MUTED}">${escapeXml(fmt(t))}</text>`);
  }
  out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 6}" text-anchor="middle" fill="${MUTED}">${axis === 'latencyMs' ? 'Latency per sample (p50, log scale)' : 'Size on disk (log scale)'}</text>`);
  out.push(`<text transform="translate(14 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle" fill="${MUTED}">Accuracy</text>`);
  const path = usable
    .filter((p) => front.has(p.id))
    .sort((a, b) => a[axis]! - b[axis]!)
    .map((p, i) => `${i ? 'L' : 'M'}${f1(x(p[axis]!))},${f1(y(p.accuracy!))}`)
    .join('');
  if (path) out.push(`<path d="${path}" fill="none" stroke="${ACCENT}" stroke-width="1.6" stroke-dasharray="5 4"/>`);
  usable.forEach((p, i) => {
    const cx = x(p[axis]!);
    const cy = y(p.accuracy!);
    if (p.id === recommended) out.push(`<circle cx="${f1(cx)}" cy="${f1(cy)}" r="11" fill="none" stroke="${GOOD}" stroke-width="2.5"/>`);
    out.push(`<circle cx="${f1(cx)}" cy="${f1(cy)}" r="6" fill="${COLORS[i % COLORS.length]}" stroke="#ffffff" stroke-width="1.5" opacity="${front.has(p.id) ? 1 : 0.55}"/>`);
    out.push(`<text x="${f1(cx + 10)}" y="${f1(i % 2 ? cy + 20 : cy - 9)}" text-anchor="${cx > width - 170 ? 'end' : 'start'}" fill="${INK}" font-weight="600">${escapeXml(p.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

export interface CurveData {
  xs: number[];
  ys: (number | null)[];
}

/** One training curve (x = epoch). Null when it has no finite value. */
export function lineSvg(title: string, data: CurveData, color: string, yFormat: (v: number) => string = (v) => String(Number(v.toPrecision(3)))): string | null {
  const pts = data.xs.map((x, i) => [x, data.ys[i]] as const).filter((p): p is readonly [number, number] => Number.isFinite(p[0]) && typeof p[1] === 'number' && Number.isFinite(p[1]));
  if (pts.length === 0) return null;
  const width = 420;
  const height = 240;
  const m = { top: 30, right: 18, bottom: 36, left: 56 };
  const xe = extent(pts.map((p) => p[0])) ?? [0, 1];
  const ye = extent(pts.map((p) => p[1]), 0.08) ?? [0, 1];
  const x = linear(xe, [m.left, width - m.right]);
  const y = linear(ye, [height - m.bottom, m.top]);
  const last = pts[pts.length - 1]!;
  const label = `${title}: ${pts.length} point${pts.length === 1 ? '' : 's'}, last ${yFormat(last[1])} at epoch ${last[0]}`;
  const out = [svgOpen(width, height, label), `<text x="${m.left}" y="16" font-size="13" font-weight="600" fill="${INK}">${escapeXml(title)}</text>`];
  for (const t of ticks(y.domain[0], y.domain[1], 4)) {
    out.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${f1(y(t))}" y2="${f1(y(t))}" stroke="${GRID}"/>`);
    out.push(`<text x="${m.left - 6}" y="${f1(y(t) + 4)}" text-anchor="end" fill="${MUTED}">${escapeXml(yFormat(t))}</text>`);
  }
  for (const t of ticks(x.domain[0], x.domain[1], Math.min(6, Math.max(1, pts.length - 1))).filter((t) => Number.isInteger(t))) {
    out.push(`<text x="${f1(x(t))}" y="${height - m.bottom + 16}" text-anchor="middle" fill="${MUTED}">${t}</text>`);
  }
  out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 4}" text-anchor="middle" fill="${MUTED}">Epoch</text>`);
  out.push(`<polyline points="${pts.map((p) => `${f1(x(p[0]))},${f1(y(p[1]))}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
  for (const p of pts) out.push(`<circle cx="${f1(x(p[0]))}" cy="${f1(y(p[1]))}" r="3" fill="${color}"/>`);
  out.push('</svg>');
  return out.join('');
}

/** Per-layer precision strip (and sensitivity row when measured) with a legend. Null without layers. */
export function precisionStripSvg(layers: LayerRow[]): string | null {
  if (layers.length === 0) return null;
  const levels = sensitivityLevels(layers);
  const sens = levels.some((l) => l != null);
  const width = 640;
  const pad = 12;
  const gap = layers.length > 120 ? 0 : 2;
  const cw = (width - 2 * pad - gap * (layers.length - 1)) / layers.length;
  const top = 30;
  const rowH = 26;
  const sensTop = top + rowH + 4;
  const legendY = (sens ? sensTop + 12 : top + rowH) + 22;
  const height = legendY + 12;
  const counts = precisionCounts(layers);
  const label = `Precision per layer, ${layers.length} layers: ${counts.map((c) => `${c.count} ${c.key}`).join(', ')}`;
  const out = [svgOpen(width, height, label), `<text x="${pad}" y="16" font-size="13" font-weight="600" fill="${INK}">Precision per layer</text>`];
  layers.forEach((l, i) => {
    const x = pad + i * (cw + gap);
    const tip = `${l.name} (${l.op}): ${l.precision}${l.sensitivity?.accuracyDrop != null ? `, drop ${l.sensitivity.accuracyDrop.toFixed(2)} pts` : ''}${l.sensitivity?.sqnr != null ? `, SQNR ${l.sensitivity.sqnr.toFixed(1)} dB` : ''}`;
    out.push(`<rect x="${f1(x)}" y="${top}" width="${f1(Math.max(cw, 0.5))}" height="${rowH}" rx="2" fill="${PRECISION_COLORS[precisionKey(l.precision)]}"><title>${escapeXml(tip)}</title></rect>`);
    const lv = levels[i];
    if (sens) out.push(`<rect x="${f1(x)}" y="${sensTop}" width="${f1(Math.max(cw, 0.5))}" height="12" rx="2" fill="${lv == null ? '#eef0f4' : '#b42b2b'}" fill-opacity="${lv == null ? 1 : (0.08 + 0.92 * lv).toFixed(2)}"><title>${escapeXml(tip)}</title></rect>`);
  });
  let lx = pad;
  for (const c of counts) {
    out.push(`<rect x="${lx}" y="${legendY - 10}" width="12" height="12" rx="2" fill="${PRECISION_COLORS[c.key]}"/><text x="${lx + 16}" y="${legendY}" fill="${INK}">${c.key} (${c.count})</text>`);
    lx += 16 + 8 * `${c.key} (${c.count})`.length + 14;
  }
  if (sens) out.push(`<rect x="${lx}" y="${legendY - 10}" width="12" height="12" rx="2" fill="#b42b2b"/><text x="${lx + 16}" y="${legendY}" fill="${INK}">lower row: sensitivity (darker = more)</text>`);
  out.push('</svg>');
  return out.join('');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 of a string's UTF-8 bytes (no btoa/Buffer, so it runs anywhere). */
export function base64Utf8(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (b === undefined ? '=' : B64[(n >> 6) & 63]!) + (c === undefined ? '=' : B64[n & 63]!);
  }
  return out;
}

export function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${base64Utf8(svg)}`;
}
