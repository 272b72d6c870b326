// Fault injection: the disk fills up during a distillation, and the data folder becomes
// read-only. A 3 MB tmpfs holds the history and the data folder (root only: CI runs as root).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../app/services/index.js';
import { makeTeacher, quickDistill, tempDir } from '../helpers/services-fixtures.js';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

async function expectIntact(services: Services, id: string, sha: string): Promise<void> {
  const e = await services.api.getExperiment({ id });
  expect(e.experiment.status).toBe('succeeded');
  const a = e.artifacts.find((x) => x.role === 'quantized.onnx')!;
  expect(a.sha256).toBe(sha);
  expect(createHash('sha256').update(readFileSync(a.path)).digest('hex')).toBe(sha);
}

describe('faults: disk full and read-only data folder', () => {
  const tmp = tempDir('faults-disk');
  const mnt = join(tmp.dir, 'mnt');
  let teacher = '';
  let mounted = false;
  beforeAll(async () => {
    teacher = await makeTeacher(tmp.dir);
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    mounted = true;
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    tmp.cleanup();
  });

  let previous = { id: '', sha: '' };

  it('disk full during a distillation: a plain error naming the path; the history stays sound', async () => {
    let services = createServices({ dataDir: mnt });
    const q = await services.api.startQuantize({ model: teacher, method: 'dynamic', device: 'cpu', threads: 1 });
    expect((await services.jobs.wait(q.jobId)).status).toBe('succeeded');
    previous = { id: q.experimentId, sha: (await services.api.getExperiment({ id: q.experimentId })).artifacts[0]!.sha256 };

    // Leave 400 KB: room for the database, not for an mlp:256 student's checkpoint (~2.4 MB).
    const fs = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, new Uint8Array(fs.bavail * fs.bsize - 400 * 1024));
    const d = await services.api.startDistill(quickDistill(teacher, { student: 'mlp:256', epochs: 2 }));
    const info = await services.jobs.wait(d.jobId);
    expect(info.status).toBe('failed');
    expect(info.error).toMatch(/^\/.*: cannot be written: the disk is full \(ENOSPC\); free some space and try again$/);
    expect(info.error!.startsWith(mnt)).toBe(true);
    console.log(`disk full (distill): ${info.error!.replace(mnt, '<dataDir>')}`);

    // Storing an artifact that does not fit: the same kind of message, nothing left behind.
    const put = services.store.artifacts.put(new Uint8Array(1024 * 1024).fill(7));
    await expect(put).rejects.toMatchObject({ name: 'StoreError', code: 'CANNOT_WRITE' });
    await expect(put).rejects.toThrow(/^Cannot store the artifact in \/.*\/artifacts: the disk is full \(ENOSPC\); free some space and try again$/);
    console.log(`disk full (artifact): ${((await put.catch((e: Error) => e)) as Error).message.replace(mnt, '<dataDir>')}`);
    expect(services.store.integrityCheck()).toEqual(['ok']);
    await expectIntact(services, previous.id, previous.sha);
    await services.close();

    // No half-written model or temp file is left anywhere in the data folder.
    const files = walk(mnt).filter((f) => f !== filler);
    expect(files.filter((f) => /\.(tmp|part)$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.includes(d.experimentId) && f.endsWith('.onnx'))).toEqual([]);

    // Reopens (even while still full), integrity ok, the failed run recorded with its message.
    services = createServices({ dataDir: mnt });
    expect(services.store.integrityCheck()).toEqual(['ok']);
    const failed = await services.api.getExperiment({ id: d.experimentId });
    expect(failed.experiment.status).toBe('failed');
    expect(failed.experiment.error).toBe(info.error);
    await expectIntact(services, previous.id, previous.sha);
    await services.close();
    rmSync(filler);
  });

  it('read-only data folder: opening for writing says so; read-only mode still browses', async () => {
    expect(previous.id).not.toBe('');
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    let err: Error | undefined;
    try {
      createServices({ dataDir: mnt });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe(`Cannot open the history at ${join(mnt, 'history.sqlite')} for writing: the folder is on a read-only file system (EROFS). Open it read-only to browse it.`);
    expect((err as { code?: string }).code).toBe('CANNOT_WRITE');
    console.log(`read-only (write open): ${err!.message.replace(mnt, '<dataDir>')}`);

    const ro = createServices({ dataDir: mnt, readOnly: true });
    try {
      const list = await ro.api.listExperiments({});
      expect(list.total).toBe(2);
      expect(ro.store.integrityCheck()).toEqual(['ok']);
      await expectIntact(ro, previous.id, previous.sha);
      await expect(ro.api.startQuantize({ model: teacher, method: 'dynamic' })).rejects.toMatchObject({ code: 'READ_ONLY' });
    } finally {
      await ro.close();
    }
  });
});
