// Opens the experiment history for a CLI command (--db PATH or the default location).
import { dirname, join } from 'node:path';
import { openDatabase, defaultDataDir, historyPath, type Store } from '../store/index.js';
import { ExperimentRecorder, type RunEventLike } from '../services/recorder.js';

export interface CliHistory {
  store: Store;
  cacheDir: string;
  start(kind: 'distill' | 'quantize' | 'bench' | 'demo', name: string, config: unknown, parentId?: string): CliRun;
  close(): void;
}

export interface CliRun {
  id: string;
  event(e: RunEventLike): void;
  succeed(summary: unknown): string;
  fail(err: unknown): void;
}

export async function openHistory(dbPath?: string): Promise<CliHistory> {
  const path = dbPath ?? historyPath(defaultDataDir());
  const store = openDatabase(path);
  return {
    store,
    cacheDir: join(dirname(path), 'cache', 'teacher-logits'),
    start(kind, name, config, parentId) {
      const rec = ExperimentRecorder.start(store, kind, name, config, parentId);
      return {
        id: rec.id,
        event: (e) => rec.event(e),
        succeed: (summary) => {
          rec.succeed(summary);
          return rec.id;
        },
        // Recording the failure must never replace the real error with one of its own.
        fail: (err) => {
          try {
            rec.fail(err);
          } catch {
            /* the command still reports the original error */
          }
        },
      };
    },
    close: () => store.close(),
  };
}
