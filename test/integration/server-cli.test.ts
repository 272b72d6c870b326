// `distillery serve` and `distillery experiments` as real processes.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../app/store/index.js';
import { ROOT, tempDir } from '../helpers/services-fixtures.js';

const CLI = join(ROOT, 'app', 'cli', 'main.ts');

describe('cli: serve and experiments', () => {
  const tmp = tempDir('cli');
  afterAll(() => tmp.cleanup());

  it('serve prints the URL with its token, answers, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', '--data-dir', tmp.dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      child.on('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const u = new URL(url);
    const res = await fetch(`${u.origin}/api/appInfo`, { method: 'POST', headers: { authorization: `Bearer ${u.searchParams.get('token')}`, 'content-type': 'application/json' }, body: '{"params":{}}' });
    expect(await res.json()).toMatchObject({ ok: true, result: { dataDir: tmp.dir } });
    expect((await fetch(`${u.origin}/api/appInfo`, { method: 'POST' })).status).toBe(401);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(stderr).not.toContain(u.searchParams.get('token')!);
  });

  it('experiments list/show/compare print the documented JSON', () => {
    const db = join(tmp.dir, 'hist.sqlite');
    const store = openDatabase(db);
    const a = store.experiments.create({ kind: 'distill', name: 'first', config: { epochs: 1, lr: 0.1 } });
    const b = store.experiments.create({ kind: 'distill', name: 'second', config: { epochs: 2, lr: 0.1 } });
    store.experiments.update(b.id, { pinned: true, summary: { testAccuracy: 0.8 } });
    store.close();
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'experiments', ...args, '--db', db], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const list = JSON.parse(run('list', '--json'));
    expect(list.experiments.map((e: { id: string }) => e.id).sort()).toEqual([a.id, b.id].sort());
    expect(Object.keys(list.experiments[0]).sort()).toEqual(['createdAt', 'id', 'kind', 'name', 'status']);
    expect(JSON.parse(run('show', a.id, '--json')).experiment).toMatchObject({ id: a.id, name: 'first', metrics: [] });
    const cmp = JSON.parse(run('compare', a.id, b.id, '--json'));
    expect(cmp.baseline).toBe(b.id); // pinned
    expect(cmp.rows.map((r: { key: string }) => r.key)).toEqual(['config.epochs', 'metrics.testAccuracy']);
    const text = run('compare', a.id, b.id);
    expect(text).toMatch(/config\.epochs/);
    expect(text).not.toMatch(/config\.lr/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'experiments', 'show', 'exp_zzzzzzzzzzzzzzzzzzz', '--db', db], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/No experiment/);
  });
});
