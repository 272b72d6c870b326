// Experiment report as Markdown or a self-contained HTML page (no scripts).
import type { ExperimentDetail } from '../../../app/contract/api.js';
import { formatBytes, formatDate, formatMs, formatPercent, formatRatio, KIND_LABELS, STATUS_LABELS } from './format.js';
import type { CostAxis } from './pareto.js';
import { lineSvg, precisionStripSvg, scatterSvg, svgDataUri, type CurveData } from './report-charts.js';
import { paretoPoints, type LayerRow, type ModelFigures } from './results.js';

export interface ReportCharts {
  /** Cost axis of the trade-off chart (default size). */
  axis?: CostAxis;
  recommended?: string | null;
  loss?: CurveData | null;
  accuracy?: CurveData | null;
}

export interface ReportInput {
  detail: ExperimentDetail;
  models: ModelFigures[];
  layers: LayerRow[];
  recommendation: string | null;
  /** Charts to embed (as SVG); omitted = no charts. */
  charts?: ReportCharts;
}

export interface ReportChart {
  id: 'trade-off' | 'loss' | 'accuracy' | 'precision';
  title: string;
  svg: string;
}

/** The report's charts, in order, from the same data as the screen (those without data left out). */
export function reportCharts(r: ReportInput): ReportChart[] {
  const c = r.charts;
  if (!c) return [];
  const out: ReportChart[] = [];
  const axis = c.axis ?? 'sizeBytes';
  const trade = scatterSvg(paretoPoints(r.models), axis, c.recommended ?? null);
  if (trade) out.push({ id: 'trade-off', title: `Trade-off: accuracy against ${axis === 'latencyMs' ? 'latency' : 'size'}`, svg: trade });
  const loss = c.loss ? lineSvg('Training loss', c.loss, '#d9822b') : null;
  if (loss) out.push({ id: 'loss', title: 'Training loss', svg: loss });
  const acc = c.accuracy ? lineSvg('Validation accuracy', c.accuracy, '#3461d6', (v) => formatPercent(v, 1)) : null;
  if (acc) out.push({ id: 'accuracy', title: 'Validation accuracy', svg: acc });
  const strip = precisionStripSvg(r.layers);
  if (strip) out.push({ id: 'precision', title: 'Precision per layer', svg: strip });
  return out;
}

const sens = (l: LayerRow) => [l.sensitivity?.accuracyDrop != null ? `${l.sensitivity.accuracyDrop.toFixed(2)} pts` : '—', l.sensitivity?.sqnr != null ? `${l.sensitivity.sqnr.toFixed(1)} dB` : '—'];

function escapeMd(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function tableRows(models: ModelFigures[]): string[][] {
  const ref = models[0];
  return models.map((m) => [
    m.label,
    formatPercent(m.accuracy),
    formatPercent(m.agreement),
    formatBytes(m.sizeBytes),
    formatMs(m.latencyMs),
    m === ref ? 'reference' : `${formatRatio(ref?.sizeBytes, m.sizeBytes)} smaller`,
  ]);
}

const HEAD = ['Model', 'Accuracy', 'Agreement', 'Size', 'Latency p50', 'vs reference'];

export function markdownReport(r: ReportInput): string {
  const e = r.detail.experiment;
  const lines = [
    `# ${e.name}`,
    '',
    `- Kind: ${KIND_LABELS[e.kind] ?? e.kind}`,
    `- Status: ${STATUS_LABELS[e.status] ?? e.status}`,
    `- Created: ${formatDate(e.createdAt)}`,
    `- Id: \`${e.id}\``,
  ];
  if (e.tags.length) lines.push(`- Tags: ${e.tags.join(', ')}`);
  if (r.recommendation) lines.push('', `**Recommendation.** ${r.recommendation}`);
  if (r.models.length) {
    lines.push('', '## Before and after', '', `| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`);
    for (const row of tableRows(r.models)) lines.push(`| ${row.map(escapeMd).join(' | ')} |`);
  }
  const charts = reportCharts(r);
  if (charts.some((c) => c.id !== 'precision')) {
    lines.push('', '## Charts', '', '_Charts are embedded as SVG data-URI images; viewers that block data URIs (GitHub, for one) show only the alt text — open the HTML report instead._');
    for (const c of charts.filter((c) => c.id !== 'precision')) lines.push('', `![${escapeMd(c.title).replace(/[[\]]/g, '')}](${svgDataUri(c.svg)})`);
  }
  if (r.layers.length) {
    lines.push('', '## Precision per layer');
    const strip = charts.find((c) => c.id === 'precision');
    if (strip) lines.push('', `![Precision per layer](${svgDataUri(strip.svg)})`);
    const withSens = r.layers.some((l) => l.sensitivity);
    lines.push('', `| Layer | Op | Precision |${withSens ? ' Accuracy drop alone | SQNR |' : ''}`, `|---|---|---|${withSens ? '---|---|' : ''}`);
    for (const l of r.layers) lines.push(`| ${escapeMd(l.name)} | ${escapeMd(l.op)} | ${escapeMd(l.precision)} |${withSens ? ` ${sens(l).join(' | ')} |` : ''}`);
  }
  lines.push('', '## Settings', '', '```json', JSON.stringify(e.config, null, 2), '```');
  if (r.detail.notes.length) {
    lines.push('', '## Notes', '');
    for (const n of r.detail.notes) lines.push(`- ${formatDate(n.createdAt)}${n.author ? ` (${escapeMd(n.author)})` : ''}: ${escapeMd(n.body)}`);
  }
  return lines.join('\n') + '\n';
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function htmlReport(r: ReportInput): string {
  const e = r.detail.experiment;
  const table = (head: string[], rows: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const parts = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(e.name)} — Distillery report</title>`,
    '<style>body{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:2rem auto;padding:0 1rem;color:#1d2330}table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border-bottom:1px solid #dde2ea;padding:.4rem .6rem;text-align:left}th{background:#f3f5f9}pre{background:#f3f5f9;padding:1rem;overflow:auto}.rec{background:#eef6ff;border-left:4px solid #3b6fe0;padding:.6rem 1rem}figure.chart{margin:1rem 0}figure.chart svg{max-width:100%;height:auto}figcaption{color:#5b6475;font-size:.85rem}.charts{display:flex;flex-wrap:wrap;gap:1rem}</style>',
    '</head><body>',
    `<h1>${escapeHtml(e.name)}</h1>`,
    `<p>${escapeHtml(KIND_LABELS[e.kind] ?? e.kind)} · ${escapeHtml(STATUS_LABELS[e.status] ?? e.status)} · ${escapeHtml(formatDate(e.createdAt))} · <code>${escapeHtml(e.id)}</code></p>`,
  ];
  if (r.recommendation) parts.push(`<p class="rec">${escapeHtml(r.recommendation)}</p>`);
  if (r.models.length) parts.push('<h2>Before and after</h2>', table(HEAD, tableRows(r.models)));
  const charts = reportCharts(r);
  // The precision strip sits under its own heading; the others get a caption.
  const figure = (c: ReportChart) => `<figure class="chart" id="chart-${c.id}">${c.svg}${c.id === 'precision' ? '' : `<figcaption>${escapeHtml(c.title)}</figcaption>`}</figure>`;
  const trade = charts.find((c) => c.id === 'trade-off');
  if (trade) parts.push(figure(trade));
  const curves = charts.filter((c) => c.id === 'loss' || c.id === 'accuracy');
  if (curves.length) parts.push('<h2>Training</h2>', `<div class="charts">${curves.map(figure).join('')}</div>`);
  if (r.layers.length) {
    const withSens = r.layers.some((l) => l.sensitivity);
    const strip = charts.find((c) => c.id === 'precision');
    parts.push('<h2>Precision per layer</h2>');
    if (strip) parts.push(figure(strip));
    parts.push(table(['Layer', 'Op', 'Precision', ...(withSens ? ['Accuracy drop alone', 'SQNR'] : [])], r.layers.map((l) => [l.name, l.op, l.precision, ...(withSens ? sens(l) : [])])));
  }
  parts.push('<h2>Settings</h2>', `<pre>${escapeHtml(JSON.stringify(e.config, null, 2))}</pre>`);
  if (r.detail.notes.length) parts.push('<h2>Notes</h2><ul>', ...r.detail.notes.map((n) => `<li>${escapeHtml(formatDate(n.createdAt))}: ${escapeHtml(n.body)}</li>`), '</ul>');
  parts.push('</body></html>');
  return parts.join('\n');
}
