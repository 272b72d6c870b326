// Experiment report as Markdown or a self-contained HTML page (no scripts).
import type { ExperimentDetail } from '../../../app/contract/api.js';
import { formatBytes, formatDate, formatMs, formatPercent, formatRatio, KIND_LABELS, STATUS_LABELS } from './format.js';
import type { LayerRow, ModelFigures } from './results.js';

export interface ReportInput {
  detail: ExperimentDetail;
  models: ModelFigures[];
  layers: LayerRow[];
  recommendation: string | null;
}

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
  if (r.layers.length) {
    lines.push('', '## Precision per layer', '', '| Layer | Op | Precision |', '|---|---|---|');
    for (const l of r.layers) lines.push(`| ${escapeMd(l.name)} | ${escapeMd(l.op)} | ${escapeMd(l.precision)} |`);
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
    '<style>body{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:2rem auto;padding:0 1rem;color:#1d2330}table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border-bottom:1px solid #dde2ea;padding:.4rem .6rem;text-align:left}th{background:#f3f5f9}pre{background:#f3f5f9;padding:1rem;overflow:auto}.rec{background:#eef6ff;border-left:4px solid #3b6fe0;padding:.6rem 1rem}</style>',
    '</head><body>',
    `<h1>${escapeHtml(e.name)}</h1>`,
    `<p>${escapeHtml(KIND_LABELS[e.kind] ?? e.kind)} · ${escapeHtml(STATUS_LABELS[e.status] ?? e.status)} · ${escapeHtml(formatDate(e.createdAt))} · <code>${escapeHtml(e.id)}</code></p>`,
  ];
  if (r.recommendation) parts.push(`<p class="rec">${escapeHtml(r.recommendation)}</p>`);
  if (r.models.length) parts.push('<h2>Before and after</h2>', table(HEAD, tableRows(r.models)));
  if (r.layers.length) parts.push('<h2>Precision per layer</h2>', table(['Layer', 'Op', 'Precision'], r.layers.map((l) => [l.name, l.op, l.precision])));
  parts.push('<h2>Settings</h2>', `<pre>${escapeHtml(JSON.stringify(e.config, null, 2))}</pre>`);
  if (r.detail.notes.length) parts.push('<h2>Notes</h2><ul>', ...r.detail.notes.map((n) => `<li>${escapeHtml(formatDate(n.createdAt))}: ${escapeHtml(n.body)}</li>`), '</ul>');
  parts.push('</body></html>');
  return parts.join('\n');
}
