import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type OpenOptions, type Store } from '../../app/store/index.js';

/** A temp folder removed after the test file; every store opened through it is closed first. */
export function tempHistory() {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-store-'));
  const stores: Store[] = [];
  return {
    dir,
    dbPath: join(dir, 'history.sqlite'),
    open(opts: OpenOptions & { name?: string } = {}): Store {
      const s = openDatabase(join(dir, opts.name ?? 'history.sqlite'), { clock: stepClock(), ...opts });
      stores.push(s);
      return s;
    },
    cleanup() {
      for (const s of stores) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A clock that advances 1 s per call from a fixed start, so orderings are deterministic. */
export function stepClock(start = Date.UTC(2025, 0, 1)): () => number {
  let t = start;
  return () => (t += 1000);
}
