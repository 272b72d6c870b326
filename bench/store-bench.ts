/**
 * History store benchmark: 10,000 experiments with tags and summaries, one metric series of
 * 100,000 points. Measures the queries the history screen makes (first page of 50 + total)
 * and a full series read. Run: npx tsx bench/store-bench.ts [--json]
 * Target (issue): list/filter/sort under 50 ms; prints the median of several runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EXPERIMENT_KINDS,
  openDatabase,
  type ExperimentListQuery,
  type Store,
} from '../app/store/index.js';

const EXPERIMENTS = 10_000;
const POINTS = 100_000;
const RUNS = 15;
const TAGS = ['mnist', 'fashion', 'int8', 'int4', 'fp16', 'baseline', 'cnn', 'mlp', 'ensemble', 'review'];
const WORDS = ['student', 'teacher', 'sweep', 'tiny', 'wide', 'deep', 'fast', 'int8', 'pruned', 'final'];

function seeded(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function populate(store: Store): string {
  const rand = seeded(7);
  const t0 = Date.UTC(2025, 0, 1);
  let seriesOwner = '';
  store.transaction(() => {
    const upd = store.db.prepare(`UPDATE experiments SET status = ?, summary_json = ?, finished_at = ? WHERE id = ?`);
    for (let i = 0; i < EXPERIMENTS; i++) {
      const tags = TAGS.filter(() => rand() < 0.2);
      const e = store.experiments.create({
        kind: EXPERIMENT_KINDS[i % EXPERIMENT_KINDS.length]!,
        name: `${WORDS[Math.floor(rand() * WORDS.length)]} ${WORDS[Math.floor(rand() * WORDS.length)]} #${i}`,
        config: { epochs: 1 + (i % 10), lr: 0.001 * (1 + (i % 5)), temperature: 2 + (i % 4) },
        tags,
        createdAt: t0 + i * 60_000,
      });
      const r = rand();
      const status = r < 0.7 ? 'succeeded' : r < 0.85 ? 'failed' : r < 0.95 ? 'cancelled' : 'interrupted';
      const summary = status === 'succeeded' ? JSON.stringify({ testAccuracy: rand(), agreement: rand(), sizeBytes: Math.floor(rand() * 1e7) }) : null;
      upd.run(status, summary, t0 + i * 60_000 + 30_000, e.id);
      if (i === 0) seriesOwner = e.id;
    }
  });
  const points = Array.from({ length: POINTS }, (_, step) => ({ series: 'loss', step, epoch: Math.floor(step / 10_000), value: 1 / (1 + step) }));
  const t = performance.now();
  store.metrics.append(seriesOwner, points);
  console.error(`appended ${POINTS} points in ${(performance.now() - t).toFixed(0)} ms`);
  return seriesOwner;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => unknown): { median: number; max: number } {
  fn(); // warm: prepares and caches the statement, loads pages
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
  }
  return { median: median(xs), max: Math.max(...xs) };
}

const dir = mkdtempSync(join(tmpdir(), 'distillery-store-bench-'));
try {
  const store = openDatabase(join(dir, 'history.sqlite'));
  const t = performance.now();
  const seriesOwner = populate(store);
  console.error(`created ${EXPERIMENTS} experiments + series in ${(performance.now() - t).toFixed(0)} ms`);
  store.db.pragma('optimize');

  const queries: [string, ExperimentListQuery][] = [
    ['newest first (default)', {}],
    ['oldest first', { order: 'asc' }],
    ['sort by name', { sort: 'name', order: 'asc' }],
    ['sort by status', { sort: 'status' }],
    ['sort by kind', { sort: 'kind' }],
    ['sort by metric testAccuracy', { sort: { metric: 'testAccuracy' } }],
    ['search "student"', { search: 'student' }],
    ['search, no match', { search: 'zzz-nothing' }],
    ['filter kind + status', { kinds: ['distill', 'quantize'], statuses: ['succeeded'] }],
    ['filter tag', { tags: ['int8'] }],
    ['filter 2 tags + search + metric sort', { tags: ['int8', 'cnn'], search: 'tiny', sort: { metric: 'testAccuracy' } }],
    ['deep page (offset 9000)', { offset: 9000 }],
  ];
  const results: { name: string; total: number; medianMs: number; maxMs: number }[] = [];
  for (const [name, q] of queries) {
    let total = 0;
    const r = time(() => (total = store.experiments.list({ limit: 50, ...q }).total));
    results.push({ name: `list: ${name}`, total, medianMs: r.median, maxMs: r.max });
  }
  let points = 0;
  const s = time(() => (points = store.metrics.series(seriesOwner, 'loss')[0]!.steps.length));
  results.push({ name: `metric series read (${POINTS} points)`, total: points, medianMs: s.median, maxMs: s.max });
  const thin = time(() => (points = store.metrics.series(seriesOwner, 'loss', { maxPoints: 2000 })[0]!.steps.length));
  results.push({ name: `metric series thinned for a chart (maxPoints 2000)`, total: points, medianMs: thin.median, maxMs: thin.max });

  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ experiments: EXPERIMENTS, points: POINTS, runs: RUNS, results }, null, 2));
  } else {
    console.log(`store bench: ${EXPERIMENTS} experiments, ${POINTS}-point series, median of ${RUNS} runs (ms)`);
    console.log('| query | matches | median ms | max ms |');
    console.log('|---|---:|---:|---:|');
    for (const r of results) console.log(`| ${r.name} | ${r.total} | ${r.medianMs.toFixed(2)} | ${r.maxMs.toFixed(2)} |`);
    const slow = results.filter((r) => r.name.startsWith('list') && r.medianMs >= 50);
    console.log(slow.length === 0 ? 'all list queries under 50 ms' : `OVER 50 ms: ${slow.map((r) => r.name).join(', ')}`);
  }
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
