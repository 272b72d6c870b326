// The services in-process on a real SQLite file: history methods, compare, settings, samples,
// dataset inspection, bundles, read-only mode.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../app/services/index.js';
import { openDatabase } from '../../app/store/index.js';
import { makeTeacher, ROOT, SAMPLE_DATA, tempDir } from '../helpers/services-fixtures.js';

describe('services: the contract in-process', () => {
  const tmp = tempDir('services');
  const dataDir = join(tmp.dir, 'data');
  let s: Services;
  let ids: string[] = [];
  let teacher: string;

  beforeAll(async () => {
    teacher = await makeTeacher(tmp.dir);
    // Seed a history directly: two finished runs and one left 'running' by a "crash".
    const store = openDatabase(join(dataDir, 'history.sqlite'));
    const mk = (name: string, epochs: number, acc: number) => {
      const e = store.experiments.create({ kind: 'distill', name, config: { epochs, lr: 0.003, student: 'mlp:16' } });
      store.experiments.setStatus(e.id, 'running');
      store.experiments.update(e.id, { summary: { testAccuracy: acc, sizeBytes: 1000 } });
      store.experiments.setStatus(e.id, 'succeeded');
      return e.id;
    };
    ids = [mk('a', 1, 0.5), mk('b', 3, 0.7)];
    const stuck = store.experiments.create({ kind: 'distill', name: 'stuck', config: {} });
    store.experiments.setStatus(stuck.id, 'running');
    ids.push(stuck.id);
    store.close();
    s = createServices({ dataDir, resourcesDir: join(ROOT, 'resources') });
  });
  afterAll(async () => {
    await s?.close();
    tmp.cleanup();
  });

  it('marks runs left running as interrupted at start-up', async () => {
    expect((await s.api.getExperiment({ id: ids[2]! })).experiment.status).toBe('interrupted');
    expect((await s.api.getExperiment({ id: ids[2]! })).resumable).toBe(false); // no checkpoint
    await expect(s.api.resumeJob({ experimentId: ids[2]! })).rejects.toThrow(/cannot be resumed|no checkpoint/);
  });

  it('lists, pins, tags, notes and compares (diff-only, pinned baseline)', async () => {
    const list = await s.api.listExperiments({ statuses: ['succeeded'] });
    expect(list.total).toBe(2);
    await s.api.setPinned({ id: ids[1]!, pinned: true });
    expect((await s.api.addTag({ id: ids[0]!, tag: 'baseline-ish' })).tags).toEqual(['baseline-ish']);
    const note = await s.api.addNote({ id: ids[0]!, body: 'looks fine' });
    expect((await s.api.getExperiment({ id: ids[0]! })).notes.map((n) => n.body)).toEqual(['looks fine']);
    expect(await s.api.deleteNote({ noteId: note.id })).toEqual({ deleted: true });
    expect((await s.api.removeTag({ id: ids[0]!, tag: 'baseline-ish' })).tags).toEqual([]);

    const c = await s.api.compareExperiments({ ids: [ids[0]!, ids[1]!] });
    expect(c.baseline).toBe(ids[1]); // the pinned one
    expect(c.columns.map((x) => x.id)).toEqual([ids[1], ids[0]]);
    const keys = c.rows.map((r) => r.key);
    expect(keys).toContain('config.epochs');
    expect(keys).toContain('metrics.testAccuracy');
    expect(keys).not.toContain('config.lr'); // same in both: diff-only
    const acc = c.rows.find((r) => r.key === 'metrics.testAccuracy')!;
    expect(acc.values).toEqual([0.7, 0.5]);
    expect(acc.deltas[1]).toBeCloseTo(-0.2);
    const all = await s.api.compareExperiments({ ids: [ids[0]!, ids[1]!], baseline: ids[0]!, all: true });
    expect(all.baseline).toBe(ids[0]);
    expect(all.rows.map((r) => r.key)).toContain('config.lr');
    await expect(s.api.compareExperiments({ ids: [ids[0]!, 'exp_zzzzzzzzzzzzzzzzzzz'] })).rejects.toThrow(/No experiment/);
  });

  it('keeps settings in the data folder', async () => {
    expect(await s.api.getSettings({})).toEqual({ device: 'auto', threads: null, theme: 'system', concurrency: 1 });
    const next = await s.api.updateSettings({ theme: 'dark', concurrency: 2, threads: 2 });
    expect(next).toMatchObject({ theme: 'dark', concurrency: 2, threads: 2 });
    expect(s.jobs.concurrency).toBe(2);
    expect(existsSync(join(dataDir, 'settings.json'))).toBe(true);
  });

  it('lists the bundled samples and inspects a dataset and a model', async () => {
    const samples = await s.api.listSamples({});
    expect(samples.datasets.map((d) => d.name)).toContain('fashion-mnist-small');
    const d = await s.api.inspectDataset({ path: SAMPLE_DATA, limit: 300, samples: 4 });
    expect(d).toMatchObject({ kind: 'idx', sampleShape: [1, 28, 28] });
    expect(d.classes).toHaveLength(10);
    expect(d.train.count).toBe(300);
    expect(d.train.balance.reduce((a, b) => a + b, 0)).toBe(300);
    expect(d.limited).toBe(true);
    expect(d.samples).toHaveLength(4);
    expect(d.samples[0]!.image).toMatch(/^data:image\/png;base64,/);
    const m = await s.api.inspectModel({ path: teacher });
    expect(m.inputs[0]!.shape).toEqual(expect.arrayContaining([1, 28, 28]));
    expect(m.parameters).toBeGreaterThan(0);
    // The graph for the inspector's view: every node, in order, with value names.
    expect(m.graph!.truncated).toBe(false);
    expect(m.graph!.nodes).toHaveLength(m.nodes);
    expect(m.graph!.nodes.map((n) => n.opType).sort()).toEqual(Object.entries(m.ops).flatMap(([op, k]) => Array<string>(k).fill(op)).sort());
    expect(m.graph!.nodes[0]!.inputs).toContain(m.inputs[0]!.name);
    expect(m.graph!.nodes.at(-1)!.outputs).toContain(m.outputs[0]!.name);
    await expect(s.api.inspectModel({ path: join(tmp.dir, 'missing.onnx') })).rejects.toThrow(/does not exist/);
    await expect(s.api.inspectModel({ path: tmp.dir })).rejects.toThrow(/not a regular file/);
  });

  it('exports and imports bundles; deletes', async () => {
    const file = join(tmp.dir, 'two.distillery');
    const rep = await s.api.exportBundle({ ids: [ids[0]!, ids[1]!], path: file });
    expect(rep.experiments.sort()).toEqual([ids[0], ids[1]].sort());
    expect(await s.api.deleteExperiment({ id: ids[0]! })).toEqual({ deleted: true });
    const imp = await s.api.importBundle({ path: file });
    expect(imp.imported).toEqual([ids[0]]);
    expect(imp.skipped.map((x) => x.id)).toEqual([ids[1]]);
    await expect(s.api.exportBundle({ ids: [ids[0]!], path: join(tmp.dir, 'no-such-dir', 'x.distillery') })).rejects.toThrow(/does not exist/);
  });

  it('read-only services refuse every mutating method with a clear error', async () => {
    const ro = createServices({ dataDir, readOnly: true });
    try {
      expect((await ro.api.appInfo({})).readOnly).toBe(true);
      expect((await ro.api.listExperiments({})).total).toBeGreaterThan(0);
      await expect(ro.api.setPinned({ id: ids[1]!, pinned: false })).rejects.toMatchObject({ code: 'READ_ONLY' });
      await expect(ro.api.startDistill({ teachers: [teacher], data: SAMPLE_DATA })).rejects.toThrow(/read-only; startDistill is not allowed/);
      await expect(ro.api.updateSettings({ theme: 'light' })).rejects.toMatchObject({ code: 'READ_ONLY' });
    } finally {
      await ro.close();
    }
  });
});
