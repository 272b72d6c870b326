// kill -9 in the middle of database writes, again and again: every committed experiment and its
// metrics survive, the file passes integrity_check, and runs left 'running' become 'interrupted'.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../app/store/index.js';
import { ROOT } from '../helpers/cli.js';

function writeUntilKilled(db: string, afterMs: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/store-writer-child.ts'), db], { stdio: ['ignore', 'pipe', 'pipe'] });
    const committed = new Map<string, number>();
    let buf = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), afterMs);
        else {
          const [id, count] = line.split(' ');
          committed.set(id!, Number(count));
        }
      }
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(committed) : reject(new Error(`writer exited by itself: ${err}`))));
  });
}

describe('store: kill -9 during writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-kill-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loses nothing that was committed, over 12 kills', async () => {
    const db = join(dir, 'history.sqlite');
    const all = new Map<string, number>();
    for (let round = 0; round < 12; round++) {
      const committed = await writeUntilKilled(db, 30 + ((round * 37) % 200));
      for (const [id, n] of committed) all.set(id, n);
      const store = openDatabase(db);
      try {
        expect(store.integrityCheck()).toEqual(['ok']);
        for (const [id, n] of all) {
          expect(store.experiments.find(id), id).toBeDefined();
          expect(store.metrics.count(id)).toBe(n);
        }
        // What a restarting app does: runs left 'running' by the crash become 'interrupted'.
        const marked = store.experiments.markInterrupted();
        expect(marked).toBeGreaterThanOrEqual(committed.size);
        expect(store.experiments.list({ statuses: ['running'] }).total).toBe(0);
      } finally {
        store.close();
      }
    }
    expect(all.size).toBeGreaterThan(12);
  });
});
