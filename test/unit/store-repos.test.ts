import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError, type Store } from '../../app/store/index.js';
import { sortedByStep } from '../../app/store/repos/metrics.js';
import { tempHistory } from './store-helpers.js';

let h: ReturnType<typeof tempHistory>;
let store: Store;
beforeEach(() => {
  h = tempHistory();
  store = h.open();
});
afterEach(() => h.cleanup());

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe('experiments', () => {
  it('creates, reads and updates an experiment with all its references', () => {
    const project = store.projects.create({ name: 'MNIST shrink' });
    const teacher = store.models.upsertByHash({ sha256: SHA_A, path: '/m/teacher.onnx', name: 'teacher', sizeBytes: 1000 });
    const dataset = store.datasets.upsertByFingerprint({ fingerprint: 'fp1', path: '/d/mnist', kind: 'idx' });
    const parent = store.experiments.create({ kind: 'bench', name: 'baseline' });
    const exp = store.experiments.create({
      kind: 'distill',
      name: 'student v1',
      projectId: project.id,
      config: { epochs: 3, temperature: 4 },
      parentId: parent.id,
      teacherModelId: teacher.id,
      datasetId: dataset.id,
      tags: ['mnist', 'cnn'],
    });
    expect(exp.id).toMatch(/^exp_[0-9a-z]{19}$/);
    expect(exp).toMatchObject({
      status: 'queued',
      config: { epochs: 3, temperature: 4 },
      summary: null,
      projectId: project.id,
      parentId: parent.id,
      teacherModelId: teacher.id,
      datasetId: dataset.id,
      pinned: false,
      tags: ['cnn', 'mnist'],
      startedAt: null,
    });
    const student = store.models.upsertByHash({ sha256: SHA_B, path: '/m/s.onnx', name: 's', sizeBytes: 10 });
    const updated = store.experiments.update(exp.id, {
      name: 'student v1 (final)',
      summary: { testAccuracy: 0.97 },
      pinned: true,
      studentModelId: student.id,
    });
    expect(updated).toMatchObject({ name: 'student v1 (final)', summary: { testAccuracy: 0.97 }, pinned: true, studentModelId: student.id });
    expect(store.experiments.update(exp.id, { parentId: null }).parentId).toBeNull();
    expect(store.experiments.get(exp.id).config).toEqual({ epochs: 3, temperature: 4 });
  });

  it('gives clear errors for bad input and missing references', () => {
    expect(() => store.experiments.create({ kind: 'magic' as 'distill', name: 'x' })).toThrow(/kind must be one of distill/);
    expect(() => store.experiments.create({ kind: 'distill', name: '' })).toThrow(/must not be empty/);
    expect(() => store.experiments.create({ kind: 'distill', name: 'x', teacherModelId: 999 })).toThrow(/No teacher model with id 999/);
    expect(() => store.experiments.create({ kind: 'distill', name: 'x', parentId: 'exp_0000000000000000000' })).toThrow(/No parent experiment/);
    expect(() => store.experiments.get('exp_zzzzzzzzzzzzzzzzzzz')).toThrow(/No experiment with id/);
    expect(() => store.experiments.get("'; DROP TABLE experiments; --")).toThrow(/Not an experiment id/);
    const e = store.experiments.create({ kind: 'distill', name: 'x' });
    expect(() => store.experiments.update(e.id, { config: { n: 1n } as unknown })).toThrow(/not JSON-serialisable/);
    expect(() => store.experiments.update(e.id, { parentId: e.id })).toThrow(/own parent/);
    expect(() => store.experiments.update(e.id, { bogus: 1 } as never)).toThrow(/Unknown experiment field/);
    expect(store.experiments.get(e.id).name).toBe('x');
  });

  it('stamps times through the status lifecycle and refuses illegal moves', () => {
    const e = store.experiments.create({ kind: 'train', name: 'run' });
    const running = store.experiments.setStatus(e.id, 'running', { at: 5000 });
    expect(running).toMatchObject({ status: 'running', startedAt: 5000, finishedAt: null });
    const failed = store.experiments.setStatus(e.id, 'failed', { at: 9000, error: 'out of memory' });
    expect(failed).toMatchObject({ status: 'failed', finishedAt: 9000, error: 'out of memory' });
    const requeued = store.experiments.setStatus(e.id, 'queued');
    expect(requeued).toMatchObject({ status: 'queued', startedAt: null, finishedAt: null, error: null });
    store.experiments.setStatus(e.id, 'running', { at: 10_000 });
    const ok = store.experiments.setStatus(e.id, 'succeeded', { at: 12_000 });
    expect(ok).toMatchObject({ status: 'succeeded', startedAt: 10_000, finishedAt: 12_000 });
    expect(store.experiments.setStatus(e.id, 'succeeded', { at: 99_000 }).finishedAt).toBe(12_000); // repeat: no-op
    let caught: unknown;
    try {
      store.experiments.setStatus(e.id, 'running');
    } catch (err) {
      caught = err;
    }
    expect((caught as StoreError).code).toBe('INVALID_STATE');
    expect((caught as Error).message).toMatch(/is succeeded; it cannot become running/);
    expect(store.experiments.get(e.id).status).toBe('succeeded');
  });

  it('markInterrupted marks only running and queued experiments', () => {
    const queued = store.experiments.create({ kind: 'train', name: 'q' });
    const running = store.experiments.create({ kind: 'train', name: 'r' });
    const done = store.experiments.create({ kind: 'train', name: 'd' });
    store.experiments.setStatus(running.id, 'running');
    store.experiments.setStatus(done.id, 'running');
    store.experiments.setStatus(done.id, 'succeeded');
    expect(store.experiments.markInterrupted(77_000)).toBe(2);
    expect(store.experiments.get(queued.id)).toMatchObject({ status: 'interrupted', finishedAt: 77_000 });
    expect(store.experiments.get(running.id).status).toBe('interrupted');
    expect(store.experiments.get(done.id).status).toBe('succeeded');
    expect(store.experiments.markInterrupted()).toBe(0);
    // An interrupted run can resume.
    expect(store.experiments.setStatus(running.id, 'running').status).toBe('running');
  });

  it('delete cascades to metrics, notes, tags and results', () => {
    const e = store.experiments.create({ kind: 'train', name: 'gone', tags: ['t'] });
    store.metrics.append(e.id, [{ series: 'loss', step: 0, value: 1 }]);
    store.notes.add(e.id, { author: 'ann', body: 'hi' });
    expect(store.experiments.delete(e.id)).toBe(true);
    expect(store.experiments.delete(e.id)).toBe(false);
    for (const t of ['metrics', 'notes', 'tags']) {
      expect(store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()).toBe(0);
    }
  });
});

describe('metrics', () => {
  it('appends in batches, orders by step, replaces re-logged steps and keeps NaN as null', () => {
    const e = store.experiments.create({ kind: 'distill', name: 'm' });
    const n = store.metrics.append(e.id, [
      { series: 'loss', step: 2, epoch: 0, value: 0.5 },
      { series: 'loss', step: 1, epoch: 0, value: 0.9 },
      { series: 'valAccuracy', step: 1, epoch: 0, value: 0.8, recordedAt: 123 },
      { series: 'loss', step: 3, epoch: 1, value: Number.NaN },
    ]);
    expect(n).toBe(4);
    store.metrics.append(e.id, [{ series: 'loss', step: 2, epoch: 0, value: 0.4 }]);
    const all = store.metrics.series(e.id);
    expect(all.map((s) => s.name)).toEqual(['loss', 'valAccuracy']);
    expect(all[0]).toMatchObject({ steps: [1, 2, 3], epochs: [0, 0, 1], values: [0.9, 0.4, null] });
    expect(all[1]).toMatchObject({ steps: [1], values: [0.8], recordedAt: [123] });
    expect(store.metrics.series(e.id, 'valAccuracy')).toHaveLength(1);
    expect(store.metrics.series(e.id, 'nope')).toEqual([]);
    expect(store.metrics.names(e.id)).toEqual(['loss', 'valAccuracy']);
    expect(store.metrics.count(e.id)).toBe(4);
  });

  it('thins a long series to at most maxPoints, keeping the first and last points', () => {
    const e = store.experiments.create({ kind: 'train', name: 'long' });
    store.metrics.append(e.id, Array.from({ length: 1001 }, (_, i) => ({ series: 'loss', step: i * 2, value: i })));
    const [thin] = store.metrics.series(e.id, 'loss', { maxPoints: 100 });
    expect(thin!.steps.length).toBeLessThanOrEqual(100);
    expect(thin!.steps.length).toBeGreaterThan(90);
    expect(thin!.steps[0]).toBe(0);
    expect(thin!.steps.at(-1)).toBe(2000);
    expect(thin!.values.every((v, i) => v === thin!.steps[i]! / 2)).toBe(true);
    expect(thin!.steps.every((s, i) => i === 0 || s > thin!.steps[i - 1]!)).toBe(true);
    expect(store.metrics.series(e.id, 'loss', { maxPoints: 5000 })[0]!.steps).toHaveLength(1001);
    expect(() => store.metrics.series(e.id, 'loss', { maxPoints: 1 })).toThrow(/maxPoints/);
  });

  it('rejects a bad point without writing any of the batch', () => {
    const e = store.experiments.create({ kind: 'distill', name: 'm' });
    expect(() =>
      store.metrics.append(e.id, [
        { series: 'loss', step: 0, value: 1 },
        { series: 'loss', step: -1, value: 1 },
      ]),
    ).toThrow(/metric point 1: step must be an integer/);
    expect(() => store.metrics.append(e.id, [{ series: 'loss', step: 0, value: Infinity }])).toThrow(/finite/);
    expect(() => store.metrics.append('exp_nothinghere00000', [{ series: 'loss', step: 0, value: 1 }])).toThrow(/No experiment/);
    expect(store.metrics.count(e.id)).toBe(0);
  });
});

describe('sortedByStep', () => {
  it('reorders all columns together when steps arrive out of order', () => {
    const s = { name: 'loss', steps: [3, 1, 2], epochs: [1, 0, null], values: [0.3, null, 0.2], recordedAt: [30, 10, 20] };
    expect(sortedByStep(s)).toEqual({ name: 'loss', steps: [1, 2, 3], epochs: [0, null, 1], values: [null, 0.2, 0.3], recordedAt: [10, 20, 30] });
    const inOrder = { name: 'x', steps: [1, 2], epochs: [0, 0], values: [1, 2], recordedAt: [1, 2] };
    expect(sortedByStep(inOrder)).toBe(inOrder);
  });
});

describe('benchmarks', () => {
  it('adds and lists results with their environment', () => {
    const e = store.experiments.create({ kind: 'bench', name: 'b' });
    const m = store.models.upsertByHash({ sha256: SHA_A, path: '/m/a.onnx', name: 'a', sizeBytes: 5 });
    const r = store.benchmarks.add(e.id, {
      modelId: m.id,
      label: 'a.onnx',
      device: 'cpu',
      threads: 2,
      batchSize: 1,
      latencyMs: { p50: 1.5, p95: 2.5, p99: 3 },
      throughput: { '1': 600, '32': 4000 },
      peakMemoryBytes: 1 << 20,
      sizeBytes: 5,
      accuracy: 0.91,
      agreement: 0.99,
      environment: { cpu: 'Test CPU', ort: '1.30.0' },
    });
    expect(r.id).toBeGreaterThan(0);
    const list = store.benchmarks.listForExperiment(e.id);
    expect(list).toEqual([r]);
    expect(list[0]).toMatchObject({ latencyMs: { p50: 1.5, p95: 2.5, p99: 3 }, throughput: { '32': 4000 }, environment: { ort: '1.30.0' } });
    expect(() =>
      store.benchmarks.add(e.id, { label: 'x', device: 'cpu', batchSize: 1, latencyMs: { p50: 1, p95: 1, p99: 1 }, accuracy: 91, environment: {} }),
    ).toThrow(/accuracy must be a fraction/);
    expect(() =>
      store.benchmarks.add(e.id, { modelId: 42, label: 'x', device: 'cpu', batchSize: 1, latencyMs: { p50: 1, p95: 1, p99: 1 }, environment: {} }),
    ).toThrow(/No model with id 42/);
  });
});

describe('models and datasets', () => {
  it('upsert by content keeps one row and its id', () => {
    const a = store.models.upsertByHash({ sha256: SHA_A, path: '/old.onnx', name: 'old', sizeBytes: 5, summary: { opset: 17 } });
    const b = store.models.upsertByHash({ sha256: SHA_A, path: '/new.onnx', name: 'new', sizeBytes: 5 });
    expect(b.id).toBe(a.id);
    expect(b).toMatchObject({ path: '/new.onnx', name: 'new', summary: { opset: 17 }, createdAt: a.createdAt });
    expect(store.models.list()).toHaveLength(1);
    expect(store.models.getByHash(SHA_A)?.id).toBe(a.id);
    expect(() => store.models.upsertByHash({ sha256: 'ABC', path: '/x', name: 'x', sizeBytes: 1 })).toThrow(/Not a sha256/);

    const d1 = store.datasets.upsertByFingerprint({ fingerprint: 'f', path: '/a', kind: 'csv', summary: { rows: 10 } });
    const d2 = store.datasets.upsertByFingerprint({ fingerprint: 'f', path: '/b', kind: 'csv' });
    expect(d2).toMatchObject({ id: d1.id, path: '/b', summary: { rows: 10 } });
    expect(store.datasets.getByFingerprint('f')?.id).toBe(d1.id);
    expect(store.datasets.list()).toHaveLength(1);
  });
});

describe('notes, tags, projects', () => {
  it('adds, lists and deletes notes', () => {
    const e = store.experiments.create({ kind: 'demo', name: 'n' });
    const n1 = store.notes.add(e.id, { author: 'ann', body: 'Looks good.\nShip it.' });
    const n2 = store.notes.add(e.id, { author: 'bob', body: 'Agreed' });
    expect(store.notes.list(e.id).map((n) => n.body)).toEqual(['Looks good.\nShip it.', 'Agreed']);
    expect(store.notes.delete(n1.id)).toBe(true);
    expect(store.notes.delete(n1.id)).toBe(false);
    expect(store.notes.list(e.id)).toEqual([n2]);
    expect(() => store.notes.add(e.id, { author: 'ann', body: '' })).toThrow(/must not be empty/);
  });

  it('tags are unique per experiment, trimmed and validated', () => {
    const e = store.experiments.create({ kind: 'demo', name: 't' });
    const f = store.experiments.create({ kind: 'demo', name: 'u' });
    store.tags.add(e.id, ' int8 ');
    store.tags.add(e.id, 'int8');
    store.tags.add(e.id, 'baseline');
    store.tags.add(f.id, 'int8');
    expect(store.tags.list(e.id)).toEqual(['baseline', 'int8']);
    expect(store.tags.all()).toEqual([
      { tag: 'baseline', count: 1 },
      { tag: 'int8', count: 2 },
    ]);
    expect(store.tags.remove(e.id, 'int8')).toBe(true);
    expect(store.tags.remove(e.id, 'int8')).toBe(false);
    expect(store.tags.list(e.id)).toEqual(['baseline']);
    expect(() => store.tags.add(e.id, 'a,b')).toThrow(/Not a valid tag/);
    expect(() => store.tags.add(e.id, '')).toThrow(/Not a valid tag/);
    expect(() => store.tags.add('exp_missingmissing000', 'x')).toThrow(/No experiment/);
  });

  it('projects are created and listed by name', () => {
    const b = store.projects.create({ name: 'beta' });
    const a = store.projects.create({ name: 'Alpha', description: 'first' });
    expect(store.projects.list().map((p) => p.id)).toEqual([a.id, b.id]);
    expect(store.projects.get(a.id)).toEqual(a);
  });

  it('the database stays consistent', () => {
    const e = store.experiments.create({ kind: 'demo', name: 'x', tags: ['a'] });
    store.metrics.append(e.id, [{ series: 'loss', step: 0, value: 1 }]);
    expect(store.integrityCheck()).toEqual(['ok']);
    expect(store.db.pragma('foreign_key_check')).toEqual([]);
  });
});
