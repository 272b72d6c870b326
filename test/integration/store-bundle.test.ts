import Database from 'better-sqlite3';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SchemaTooNewError,
  StoreError,
  exportBundle,
  importBundle,
  openDatabase,
  type Experiment,
  type Store,
} from '../../app/store/index.js';
import { tempHistory } from '../unit/store-helpers.js';

let h: ReturnType<typeof tempHistory>;
let src: Store;
let dst: Store;
let ids: { parent: string; distill: string; quantize: string; running: string };
let shas: { student: string; report: string };

const SHA_T = '1'.repeat(64);
const SHA_S = '2'.repeat(64);

beforeEach(async () => {
  h = tempHistory();
  src = h.open({ name: 'a/history.sqlite' });
  dst = h.open({ name: 'b/history.sqlite' });
  const project = src.projects.create({ name: 'MNIST' });
  const teacher = src.models.upsertByHash({ sha256: SHA_T, path: '/m/t.onnx', name: 'teacher', sizeBytes: 100, summary: { opset: 17 } });
  const student = src.models.upsertByHash({ sha256: SHA_S, path: '/m/s.onnx', name: 'student', sizeBytes: 10 });
  const dataset = src.datasets.upsertByFingerprint({ fingerprint: 'fp-mnist', path: '/d/mnist', kind: 'idx', summary: { classes: 10 } });
  const parent = src.experiments.create({ kind: 'bench', name: 'baseline' });
  const distill = src.experiments.create({
    kind: 'distill',
    name: 'student v1',
    projectId: project.id,
    parentId: parent.id,
    teacherModelId: teacher.id,
    studentModelId: student.id,
    datasetId: dataset.id,
    config: { epochs: 2, alpha: 0.5 },
    tags: ['mnist', 'cnn'],
  });
  src.experiments.setStatus(distill.id, 'running');
  src.metrics.append(
    distill.id,
    Array.from({ length: 500 }, (_, i) => ({ series: i % 2 ? 'loss' : 'valAccuracy', step: i, epoch: i >> 8, value: i % 7 === 0 ? Number.NaN : 1 / (i + 1) })),
  );
  src.experiments.update(distill.id, { summary: { testAccuracy: 0.97 }, pinned: true });
  src.experiments.setStatus(distill.id, 'succeeded');
  const quantize = src.experiments.create({ kind: 'quantize', name: 'int8', parentId: distill.id, studentModelId: student.id, tags: ['int8'] });
  src.benchmarks.add(quantize.id, {
    modelId: student.id,
    label: 's.onnx',
    device: 'cpu',
    threads: 2,
    batchSize: 1,
    latencyMs: { p50: 1, p95: 2, p99: 3 },
    throughput: { '1': 900 },
    environment: { cpu: 'x' },
  });
  src.experiments.setStatus(quantize.id, 'running');
  src.experiments.setStatus(quantize.id, 'succeeded');
  src.notes.add(distill.id, { author: 'ann', body: 'Best so far.' });
  const running = src.experiments.create({ kind: 'train', name: 'still running' });
  src.experiments.setStatus(running.id, 'running');
  const studentBytes = Buffer.alloc(64 * 1024 + 3, 7);
  studentBytes.write('ONNX', 0);
  shas = {
    student: await src.artifacts.put(studentBytes, 'application/onnx'),
    report: await src.artifacts.put(Buffer.from('# Report'), 'text/markdown'),
  };
  src.artifacts.attach(distill.id, shas.student, 'student.onnx');
  src.artifacts.attach(distill.id, shas.report, 'report.md');
  src.artifacts.attach(quantize.id, shas.report, 'report.md');
  ids = { parent: parent.id, distill: distill.id, quantize: quantize.id, running: running.id };
});
afterEach(() => h.cleanup());

const bundlePath = () => join(h.dir, 'share.distillery');
const count = (s: Store, table: string) => s.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
/** Edit a bundle the way an attacker could: raw SQL, constraints off. */
function tamper(sql: string, ...params: unknown[]) {
  const db = new Database(bundlePath());
  db.pragma('ignore_check_constraints = ON');
  db.pragma('foreign_keys = OFF');
  db.prepare(sql).run(...params);
  db.close();
}
const modelSha = (s: Store, id: number | null) => (id === null ? null : s.models.get(id)!.sha256);
function comparable(s: Store, e: Experiment) {
  return { ...e, teacherModelId: modelSha(s, e.teacherModelId), studentModelId: modelSha(s, e.studentModelId), datasetId: e.datasetId && s.datasets.get(e.datasetId)!.fingerprint };
}

describe('exportBundle / importBundle', () => {
  it('round-trips rows and artifacts into another history', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 3, 9); // more than one 8 MiB chunk
    big.write('checkpoint', 4096);
    const ckpt = await src.artifacts.put(big);
    src.artifacts.attach(ids.quantize, ckpt, 'checkpoint/epoch-1');
    const exp = await exportBundle(src, [ids.distill, ids.quantize], bundlePath());
    expect(exp).toMatchObject({ experiments: [ids.distill, ids.quantize], artifacts: 3 });
    expect(readdirSync(h.dir).filter((f) => f.includes('share'))).toEqual(['share.distillery']); // one file, no temp or -wal

    // Give the target its own model first so ids differ between the two histories.
    dst.models.upsertByHash({ sha256: 'f'.repeat(64), path: '/other.onnx', name: 'other', sizeBytes: 1 });
    const report = await importBundle(dst, bundlePath());
    expect(report.imported.sort()).toEqual([ids.distill, ids.quantize].sort());
    expect(report.skipped).toEqual([]);
    expect(report.artifacts).toBe(3);
    expect(readFileSync(dst.artifacts.path(ckpt)).equals(big)).toBe(true);
    expect(report.warnings).toEqual([`${ids.distill}: parent experiment ${ids.parent} is not in this history; the link was dropped.`]);

    for (const id of [ids.distill, ids.quantize]) {
      const a = src.experiments.get(id);
      const b = dst.experiments.get(id);
      expect(comparable(dst, b)).toEqual({ ...comparable(src, a), parentId: id === ids.distill ? null : a.parentId });
      expect(dst.metrics.series(id)).toEqual(src.metrics.series(id));
      expect(dst.notes.list(id).map(({ id: _, ...n }) => n)).toEqual(src.notes.list(id).map(({ id: _, ...n }) => n));
      const strip = (s: Store, r: ReturnType<Store['benchmarks']['listForExperiment']>) =>
        r.map(({ id: _, modelId, ...rest }) => ({ ...rest, model: modelSha(s, modelId) }));
      expect(strip(dst, dst.benchmarks.listForExperiment(id))).toEqual(strip(src, src.benchmarks.listForExperiment(id)));
      expect(dst.artifacts.listForExperiment(id)).toEqual(src.artifacts.listForExperiment(id));
    }
    expect(dst.metrics.count(ids.distill)).toBe(500);
    expect(dst.metrics.series(ids.distill, 'valAccuracy')[0]!.values[0]).toBeNull(); // NaN survived as null
    for (const sha of Object.values(shas)) {
      expect(readFileSync(dst.artifacts.path(sha)).equals(readFileSync(src.artifacts.path(sha)))).toBe(true);
    }
    expect(dst.models.getByHash(SHA_T)?.summary).toEqual({ opset: 17 });
    expect(dst.projects.list().map((p) => p.name)).toEqual(['MNIST']);
    expect(dst.integrityCheck()).toEqual(['ok']);
    expect(dst.db.pragma('foreign_key_check')).toEqual([]);
  });

  it('importing twice skips what is already there and never overwrites', async () => {
    await exportBundle(src, [ids.distill, ids.quantize], bundlePath());
    await importBundle(dst, bundlePath());
    dst.experiments.update(ids.distill, { name: 'renamed locally' });
    const counts = ['experiments', 'metrics', 'notes', 'tags', 'benchmark_results', 'models', 'artifacts'].map((t) => count(dst, t));
    const again = await importBundle(dst, bundlePath());
    expect(again.imported).toEqual([]);
    expect(again.skipped).toEqual([
      { id: ids.distill, reason: 'already in this history' },
      { id: ids.quantize, reason: 'already in this history' },
    ].sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(again.artifacts).toBe(0);
    expect(['experiments', 'metrics', 'notes', 'tags', 'benchmark_results', 'models', 'artifacts'].map((t) => count(dst, t))).toEqual(counts);
    expect(dst.experiments.get(ids.distill).name).toBe('renamed locally');
  });

  it('reuses models already known by hash and imports running runs as interrupted', async () => {
    const mine = dst.models.upsertByHash({ sha256: SHA_S, path: '/mine/s.onnx', name: 'my copy', sizeBytes: 10 });
    await exportBundle(src, [ids.quantize, ids.running], bundlePath());
    const report = await importBundle(dst, bundlePath());
    expect(report.imported.sort()).toEqual([ids.quantize, ids.running].sort());
    expect(dst.experiments.get(ids.quantize).studentModelId).toBe(mine.id);
    expect(dst.models.get(mine.id)?.path).toBe('/mine/s.onnx'); // not overwritten
    expect(count(dst, 'models')).toBe(1);
    expect(dst.experiments.get(ids.running).status).toBe('interrupted');
    expect(report.warnings).toContain(`${ids.running} was running when exported; imported as interrupted.`);
    expect(report.warnings.some((w) => w.includes('parent experiment'))).toBe(true);
  });

  it('rejects a tampered artifact and writes nothing', async () => {
    await exportBundle(src, [ids.distill], bundlePath());
    tamper(`UPDATE artifact_chunks SET data = ? WHERE sha256 = ? AND idx = 0`, Buffer.alloc(64 * 1024 + 3, 8), shas.student);
    const err = await importBundle(dst, bundlePath()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('ARTIFACT_CORRUPT');
    expect((err as Error).message).toContain(shas.student);
    expect(count(dst, 'experiments')).toBe(0);
    expect(existsSync(dst.artifacts.path(shas.student))).toBe(false);
    expect(existsSync(dst.artifacts.path(shas.report))).toBe(false);
    expect(readdirSync(join(h.dir, 'b', 'artifacts', '.tmp'))).toEqual([]);
  });

  it('refuses a bundle from a newer schema', async () => {
    await exportBundle(src, [ids.distill], bundlePath());
    tamper('PRAGMA user_version = 9990');
    const err = await importBundle(dst, bundlePath()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toMatch(/This bundle was written by a newer Distillery \(schema 9990, this version knows 10\)/);
  });

  it('refuses path-traversal hashes and roles, naming the bad row', async () => {
    await exportBundle(src, [ids.distill], bundlePath());
    tamper(`UPDATE experiment_artifacts SET role = '../../outside' WHERE role = 'report.md'`);
    await expect(importBundle(dst, bundlePath())).rejects.toThrow(/experiment_artifacts row \d+, field role: is not a valid role/);

    await exportBundle(src, [ids.distill], bundlePath(), { overwrite: true });
    const evil = '../../../../tmp/evil';
    tamper(`UPDATE artifacts SET sha256 = ? WHERE sha256 = ?`, evil, shas.report);
    await expect(importBundle(dst, bundlePath())).rejects.toThrow(/artifacts row \d+, field sha256: is not a sha256/);
    expect(count(dst, 'experiments')).toBe(0);
  });

  it('validates every row and reference', async () => {
    await exportBundle(src, [ids.distill], bundlePath());
    tamper(`UPDATE experiments SET kind = 'rm -rf'`);
    await expect(importBundle(dst, bundlePath())).rejects.toThrow(/Not a valid experiment bundle: experiments row 0, field kind/);

    await exportBundle(src, [ids.distill], bundlePath(), { overwrite: true });
    tamper(`UPDATE notes SET experiment_id = 'exp_somewhereelse000'`);
    await expect(importBundle(dst, bundlePath())).rejects.toThrow(/refers to experiment exp_somewhereelse000/);
  });

  it('rolls back everything, files included, when a row fails during the write', async () => {
    await exportBundle(src, [ids.distill], bundlePath());
    tamper(`UPDATE metrics SET step = -5 WHERE step = 499`); // only checked while streaming metrics
    await expect(importBundle(dst, bundlePath())).rejects.toThrow(/metrics row \d+, field step: .*received -5/);
    expect(count(dst, 'experiments')).toBe(0);
    expect(count(dst, 'artifacts')).toBe(0);
    expect(existsSync(dst.artifacts.path(shas.student))).toBe(false);
    expect(dst.integrityCheck()).toEqual(['ok']);
  });

  it('refuses files that are not bundles', async () => {
    await expect(importBundle(dst, src.path)).rejects.toThrow(/not a Distillery bundle/);
    const junk = join(h.dir, 'junk.distillery');
    writeFileSync(junk, Buffer.alloc(4096, 0x41));
    await expect(importBundle(dst, junk)).rejects.toThrow(/Not a valid experiment bundle/);
    await expect(importBundle(dst, join(h.dir, 'missing.distillery'))).rejects.toThrow(/does not exist/);
    await exportBundle(src, [ids.distill], bundlePath());
    const ro = openDatabase(dst.path, { readonly: true });
    try {
      await expect(importBundle(ro, bundlePath())).rejects.toThrow(/read-only/);
    } finally {
      ro.close();
    }
  });

  it('export checks its inputs and never clobbers a file unasked', async () => {
    await expect(exportBundle(src, [], bundlePath())).rejects.toThrow(/at least one experiment/);
    await expect(exportBundle(src, ['exp_doesnotexist0000'], bundlePath())).rejects.toThrow(/No experiment/);
    writeFileSync(bundlePath(), 'precious');
    await expect(exportBundle(src, [ids.distill], bundlePath())).rejects.toThrow(/already exists/);
    expect(readFileSync(bundlePath(), 'utf8')).toBe('precious');
    expect(readdirSync(h.dir).filter((f) => f.includes('share'))).toEqual(['share.distillery']);
  });
});
