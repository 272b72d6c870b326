import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXPERIMENT_KINDS,
  EXPERIMENT_STATUSES,
  type Experiment,
  type ExperimentListQuery,
  type Store,
} from '../../app/store/index.js';
import { tempHistory } from './store-helpers.js';

// ~200 experiments with varied kinds, statuses, tags, names and metrics; every query result
// is compared against the same filter/sort done in plain JavaScript.
let h: ReturnType<typeof tempHistory>;
let store: Store;
let all: Experiment[];
const NAMES = ['MNIST student', 'fashion cnn', 'Int8 sweep', 'teacher pick', 'tiny mlp', '100%_done', 'under_score'];
const TAGS = ['mnist', 'int8', 'baseline', 'cnn'];

beforeAll(() => {
  h = tempHistory();
  store = h.open();
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  store.transaction(() => {
    for (let i = 0; i < 200; i++) {
      const e = store.experiments.create({
        kind: EXPERIMENT_KINDS[i % EXPERIMENT_KINDS.length]!,
        name: `${NAMES[i % NAMES.length]} ${i}`,
        tags: TAGS.filter(() => rand() < 0.35),
      });
      const status = EXPERIMENT_STATUSES[Math.floor(rand() * 4)]!;
      if (status !== 'queued') store.experiments.setStatus(e.id, 'running');
      if (status === 'succeeded' || status === 'failed') store.experiments.setStatus(e.id, status);
      if (i % 4 !== 0) store.experiments.update(e.id, { summary: { testAccuracy: Math.round(rand() * 1000) / 1000 } });
    }
  });
  all = store.experiments.list({ limit: 1000 }).rows;
});
afterAll(() => h.cleanup());

const acc = (e: Experiment) => (e.summary as { testAccuracy?: number } | null)?.testAccuracy ?? null;
const byNewest = (a: Experiment, b: Experiment) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);

function expected(q: ExperimentListQuery): Experiment[] {
  let rows = all.filter((e) => {
    if (q.search && !(e.name.toLowerCase().includes(q.search.toLowerCase()) || e.id.includes(q.search.toLowerCase()))) return false;
    if (q.kinds && !q.kinds.includes(e.kind)) return false;
    if (q.statuses && !q.statuses.includes(e.status)) return false;
    if (q.tags && !q.tags.every((t) => e.tags.includes(t))) return false;
    return true;
  });
  const dir = q.order === 'asc' ? 1 : -1;
  const sort = q.sort ?? 'createdAt';
  rows = [...rows].sort((a, b) => {
    if (sort === 'createdAt') return dir * (a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    let c = 0;
    if (typeof sort === 'object') {
      const x = acc(a);
      const y = acc(b);
      if (x === null || y === null) c = x === y ? 0 : x === null ? 1 : -1; // missing last, either order
      else c = dir * (x - y);
    } else {
      const key = sort as 'name' | 'status' | 'kind';
      const x = key === 'name' ? a.name.toLowerCase() : a[key];
      const y = key === 'name' ? b.name.toLowerCase() : b[key];
      c = dir * (x < y ? -1 : x > y ? 1 : 0);
    }
    return c || byNewest(a, b);
  });
  return rows;
}

function check(q: ExperimentListQuery) {
  const want = expected(q);
  const got = store.experiments.list({ ...q, limit: 1000 });
  expect(got.total).toBe(want.length);
  expect(got.rows.map((r) => r.id)).toEqual(want.map((r) => r.id));
  return want.length;
}

describe('experiments.list', () => {
  it('has all 200 rows, newest first by default, with tags', () => {
    expect(all).toHaveLength(200);
    expect(all.map((e) => e.id)).toEqual([...all].sort(byNewest).map((e) => e.id));
    expect(all.some((e) => e.tags.length > 1)).toBe(true);
    const e = all[0]!;
    expect(e.tags).toEqual(store.tags.list(e.id));
  });

  it.each<[string, ExperimentListQuery]>([
    ['kinds', { kinds: ['distill', 'quantize'] }],
    ['statuses', { statuses: ['failed'] }],
    ['kinds + statuses', { kinds: ['bench'], statuses: ['succeeded', 'running'] }],
    ['one tag', { tags: ['int8'] }],
    ['all of two tags', { tags: ['int8', 'mnist'] }],
    ['search, case-insensitive', { search: 'mnist' }],
    ['search + tag + kind', { search: 'student', tags: ['cnn'], kinds: ['distill'] }],
    ['sort name asc', { sort: 'name', order: 'asc' }],
    ['sort name desc', { sort: 'name', order: 'desc' }],
    ['sort status', { sort: 'status', order: 'asc' }],
    ['sort kind desc', { sort: 'kind' }],
    ['sort created asc', { sort: 'createdAt', order: 'asc' }],
    ['sort metric desc, missing last', { sort: { metric: 'testAccuracy' } }],
    ['sort metric asc, missing last', { sort: { metric: 'testAccuracy' }, order: 'asc' }],
    ['filter + metric sort', { statuses: ['succeeded'], sort: { metric: 'testAccuracy' } }],
  ])('%s', (_label, q) => {
    expect(check(q)).toBeGreaterThan(0);
  });

  it('returns nothing (total 0) when nothing matches', () => {
    expect(store.experiments.list({ search: 'no such name anywhere' })).toEqual({ rows: [], total: 0 });
    expect(store.experiments.list({ tags: ['never-used'] }).total).toBe(0);
  });

  it('pages are stable and complete', () => {
    const q: ExperimentListQuery = { sort: 'status', order: 'asc' };
    const want = expected(q).map((e) => e.id);
    const seen: string[] = [];
    for (let offset = 0; offset < 200; offset += 30) {
      const page = store.experiments.list({ ...q, limit: 30, offset });
      expect(page.total).toBe(200);
      seen.push(...page.rows.map((r) => r.id));
    }
    expect(seen).toEqual(want);
    expect(store.experiments.list({ limit: 50 }).rows).toHaveLength(50);
  });

  it('treats wildcard and quote characters in a search literally', () => {
    expect(check({ search: '%' })).toBeGreaterThan(0); // only the "100%_done" names
    expect(store.experiments.list({ search: '%' }).rows.every((r) => r.name.includes('%'))).toBe(true);
    // '_' is literal too: only names with '_' plus every id (ids contain "exp_") match.
    expect(check({ search: 'r_' })).toBe(store.experiments.list({ search: 'under_score' }).total);
    expect(store.experiments.list({ search: 'r_' }).rows.every((r) => r.name.includes('r_'))).toBe(true);
    for (const evil of ["' OR 1=1 --", '"; DROP TABLE experiments; --', "x') UNION SELECT id FROM tags --", '\\']) {
      expect(store.experiments.list({ search: evil })).toEqual({ rows: [], total: 0 });
    }
    expect(() => store.experiments.list({ search: 'a\u0000' })).toThrow(/control characters/);
    expect(store.experiments.list({ limit: 1000 }).total).toBe(200);
  });

  it('refuses sort keys, metrics and filters outside the allow-lists', () => {
    expect(() => store.experiments.list({ sort: 'config_json' as 'name' })).toThrow(/Cannot sort by "config_json"/);
    expect(() => store.experiments.list({ sort: 'id; DROP TABLE experiments' as 'name' })).toThrow(/Cannot sort by/);
    expect(() => store.experiments.list({ sort: { metric: "a') OR 1=1 --" } })).toThrow(/Cannot sort by metric/);
    expect(() => store.experiments.list({ order: 'sideways' as 'asc' })).toThrow(/order must be/);
    expect(() => store.experiments.list({ kinds: ['distill', "x' OR '1'='1" as 'distill'] })).toThrow(/kind must be one of/);
    expect(() => store.experiments.list({ limit: 0 })).toThrow(/limit must be an integer between 1 and 1000/);
    expect(() => store.experiments.list({ offset: -1 })).toThrow(/offset/);
    expect(() => store.experiments.list({ search: 'x'.repeat(201) })).toThrow(/at most 200/);
  });

  it('filters pinned experiments and children of a parent', () => {
    const parent = all[5]!;
    const child = store.experiments.create({ kind: 'quantize', name: 'child', parentId: parent.id });
    store.experiments.update(child.id, { pinned: true });
    try {
      expect(store.experiments.list({ pinned: true }).rows.map((r) => r.id)).toEqual([child.id]);
      expect(store.experiments.list({ parentId: parent.id }).rows.map((r) => r.id)).toEqual([child.id]);
      expect(store.experiments.list({ pinned: false }).total).toBe(200);
    } finally {
      store.experiments.delete(child.id);
    }
  });
});
