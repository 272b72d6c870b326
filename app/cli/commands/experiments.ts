// `distillery experiments list|show ID|compare ID ID...`: browse the history from a terminal.
import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import type { RegisterCommand } from './index.js';
import { printJson } from '../output.js';
import { UserError } from '../errors.js';
import { createServices, type Services } from '../../services/index.js';
import { defaultDataDir, historyPath } from '../../store/index.js';
import type { CompareResult, Json } from '../../contract/api.js';
import { ApiError } from '../../contract/errors.js';

async function withServices<T>(db: string | undefined, fn: (s: Services) => Promise<T>): Promise<T> {
  const dbPath = resolve(db ?? historyPath(defaultDataDir()));
  // recover: false — another process (the app, `serve`) may be running jobs in this history.
  const services = createServices({ dataDir: dirname(dbPath), dbPath, recover: false });
  try {
    return await fn(services);
  } catch (err) {
    if (err instanceof ApiError) throw new UserError(err.message);
    throw err;
  } finally {
    await services.close();
  }
}

const fmtTime = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const cell = (v: Json): string => {
  if (v === null) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return typeof v === 'string' ? (v.length > 40 ? `${v.slice(0, 37)}...` : v) : JSON.stringify(v);
};

export function formatCompare(c: CompareResult): string {
  if (c.rows.length === 0) return 'No differences.';
  const head = ['', ...c.columns.map((col, i) => `${col.id}${i === 0 ? ' (baseline)' : ''}`)];
  const body = c.rows.map((r) => [r.key, ...r.values.map((v, i) => (i > 0 && r.deltas[i] !== null && r.deltas[i] !== 0 ? `${cell(v)} (${r.deltas[i]! > 0 ? '+' : ''}${cell(r.deltas[i]!)})` : cell(v)))]);
  return table([head, ...body]);
}

export const registerExperiments: RegisterCommand = (program) => {
  const cmd: Command = program.command('experiments').description('Browse the experiment history');
  cmd
    .command('list')
    .description('List experiments, newest first')
    .option('--db <path>', 'experiment history database')
    .option('--limit <n>', 'at most N experiments', (v) => Number.parseInt(v, 10), 100)
    .option('--json', 'print one JSON document on stdout')
    .action(async (o: { db?: string; json?: boolean; limit: number }) => {
      const list = await withServices(o.db, (s) => s.api.listExperiments({ limit: Math.max(1, Math.min(1000, o.limit || 100)) }));
      const experiments = list.rows.map((e) => ({ id: e.id, kind: e.kind, status: e.status, createdAt: e.createdAt, name: e.name }));
      if (o.json) return printJson({ experiments, total: list.total });
      if (experiments.length === 0) return void process.stdout.write('No experiments yet.\n');
      process.stdout.write(`${table([['ID', 'KIND', 'STATUS', 'CREATED', 'NAME'], ...list.rows.map((e) => [e.id, e.kind, e.status, fmtTime(e.createdAt), `${e.pinned ? '* ' : ''}${e.name}`])])}\n`);
    });
  cmd
    .command('show <id>')
    .description('Show one experiment: config, metrics, notes, artifacts')
    .option('--db <path>', 'experiment history database')
    .option('--json', 'print one JSON document on stdout')
    .action(async (id: string, o: { db?: string; json?: boolean }) => {
      const d = await withServices(o.db, (s) => s.api.getExperiment({ id }));
      if (o.json) return printJson({ experiment: { ...d.experiment, metrics: d.metrics, notes: d.notes, benchmarks: d.benchmarks, artifacts: d.artifacts } });
      const e = d.experiment;
      const lines = [
        `${e.id}  ${e.name}`,
        `  kind ${e.kind}, status ${e.status}${e.pinned ? ', pinned' : ''}`,
        `  created ${fmtTime(e.createdAt)}, started ${fmtTime(e.startedAt)}, finished ${fmtTime(e.finishedAt)}`,
      ];
      if (e.error) lines.push(`  error: ${e.error}`);
      if (e.tags.length) lines.push(`  tags: ${e.tags.join(', ')}`);
      lines.push(`  config: ${JSON.stringify(e.config)}`);
      if (e.summary) lines.push(`  summary: ${JSON.stringify(e.summary)}`);
      for (const m of d.metrics) lines.push(`  metric ${m.name}: ${m.values.length} points, last ${cell(m.values.at(-1) ?? null)}`);
      for (const a of d.artifacts) lines.push(`  artifact ${a.role}: ${a.sizeBytes} bytes, ${a.path}`);
      for (const n of d.notes) lines.push(`  note (${n.author}, ${fmtTime(n.createdAt)}): ${n.body}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  cmd
    .command('compare <ids...>')
    .description('Compare experiments: rows that differ from the first (or the pinned) one')
    .option('--db <path>', 'experiment history database')
    .option('--all', 'show rows that do not differ too')
    .option('--json', 'print one JSON document on stdout')
    .action(async (ids: string[], o: { db?: string; json?: boolean; all?: boolean }) => {
      if (ids.length < 2) throw new UserError('compare needs at least two experiment ids.');
      const c = await withServices(o.db, (s) => s.api.compareExperiments({ ids, ...(o.all ? { all: true } : {}) }));
      if (o.json) return printJson(c);
      process.stdout.write(`${formatCompare(c)}\n`);
    });
};
