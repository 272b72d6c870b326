import Database from 'better-sqlite3';
import { accessSync, constants as fsConstants, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SchemaTooNewError, StoreError, writeFailure } from './errors.js';
import { HISTORY_APP_ID, checkOwnership, latestVersion, migrate, readUserVersion } from './migrate.js';
import type { Migration } from './migrations/index.js';
import { ArtifactsRepo } from './repos/artifacts.js';
import { BenchmarksRepo } from './repos/benchmarks.js';
import { systemClock, type Clock } from './repos/clock.js';
import { ExperimentsRepo } from './repos/experiments.js';
import { MetricsRepo } from './repos/metrics.js';
import { DatasetsRepo, ModelsRepo } from './repos/models.js';
import { NotesRepo, ProjectsRepo, TagsRepo } from './repos/annotations.js';

export interface OpenOptions {
  /** Open without writing anything (browse a colleague's history, `serve --read-only`). */
  readonly?: boolean;
  /** Defaults to `<folder of the database>/artifacts`; none for ':memory:' unless given. */
  artifactsDir?: string;
  /** Test hook: where timestamps come from. */
  clock?: Clock;
  /** Test hook: replace the built-in migration list. */
  migrations?: readonly Migration[];
  /** How long a writer waits for another connection's lock, in ms (default 5000). */
  busyTimeoutMs?: number;
}

export interface Store {
  /** The raw connection, for the bundle code and for tests; repositories are the API. */
  readonly db: Database.Database;
  readonly path: string;
  readonly readonly: boolean;
  readonly schemaVersion: number;
  readonly projects: ProjectsRepo;
  readonly experiments: ExperimentsRepo;
  readonly metrics: MetricsRepo;
  readonly benchmarks: BenchmarksRepo;
  readonly models: ModelsRepo;
  readonly datasets: DatasetsRepo;
  readonly notes: NotesRepo;
  readonly tags: TagsRepo;
  readonly artifacts: ArtifactsRepo;
  /** Runs fn in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T;
  /** `PRAGMA integrity_check` result: ['ok'] when healthy. */
  integrityCheck(): string[];
  close(): void;
}

const IN_MEMORY = new Set([':memory:', '']);

/**
 * Opens (creating if needed) a history database: WAL, foreign keys on, schema migrated in one
 * transaction. A database from a newer Distillery is refused before anything is written to it.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Store {
  const memory = IN_MEMORY.has(path);
  const readonly = options.readonly === true;
  const migrations = options.migrations;
  const known = latestVersion(migrations);
  if (!memory && !readonly) {
    // A read-only or full disk is the user's to fix: say so, instead of SQLite's "unable to open".
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true });
      accessSync(dirname(resolve(path)), fsConstants.W_OK);
    } catch (err) {
      const mapped = writeFailure(`Cannot open the history at ${path} for writing`, err);
      if (mapped instanceof StoreError) {
        mapped.message += '. Open it read-only to browse it.';
        throw mapped;
      }
      throw err;
    }
  }

  let db: Database.Database;
  try {
    db = new Database(path, readonly ? { readonly: true, fileMustExist: true } : {});
  } catch (err) {
    throw new StoreError('NOT_A_HISTORY', `Cannot open the history at ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    let version: number;
    try {
      version = readUserVersion(db);
    } catch (err) {
      // A WAL history on a read-only file system: SQLite cannot create the shared-memory file
      // it needs even to read. Nobody can change the file there, so browse a copy in memory
      // (header switched from WAL to rollback so SQLite reads it without -shm).
      if (!(readonly && !memory && (err as { code?: string }).code === 'SQLITE_CANTOPEN' && !folderWritable(path))) {
        throw new StoreError('NOT_A_HISTORY', `${path} is not a Distillery history: ${(err as Error).message}`, { cause: err });
      }
      db.close();
      try {
        db = new Database(readSnapshot(path), { readonly: true });
        version = readUserVersion(db);
      } catch (err2) {
        throw new StoreError('NOT_A_HISTORY', `${path} is not a Distillery history: ${(err2 as Error).message}`, { cause: err2 });
      }
    }
    // Check before touching anything: even switching to WAL rewrites the file header.
    if (version > known) throw new SchemaTooNewError(version, known);
    checkOwnership(db, version, HISTORY_APP_ID);
    db.pragma('foreign_keys = ON');
    if (readonly) {
      if (version < known) {
        throw new StoreError(
          'SCHEMA_TOO_OLD',
          `This history uses an older schema (${version}, this version knows ${known}). Open it once without read-only to upgrade it.`,
        );
      }
    } else {
      if (!memory) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new StoreError('NOT_A_HISTORY', `Cannot switch ${path} to WAL mode (got ${String(mode)}).`);
      }
      db.pragma('synchronous = NORMAL');
      migrate(db, migrations ? { migrations } : {});
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return makeStore(db, path, readonly, known, options, memory);
}

function folderWritable(path: string): boolean {
  try {
    accessSync(dirname(resolve(path)), fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The history file's bytes with the WAL flag cleared (header bytes 18-19), for a read-only
 * copy in memory. Only for read-only media: commits still in a -wal file there are not seen.
 */
function readSnapshot(path: string): Buffer {
  const bytes = readFileSync(path);
  if (bytes.length >= 100 && bytes[18] === 2 && bytes[19] === 2) {
    bytes[18] = 1;
    bytes[19] = 1;
  }
  return bytes;
}

function makeStore(db: Database.Database, path: string, readonly: boolean, version: number, options: OpenOptions, memory: boolean): Store {
  const clock = options.clock ?? systemClock;
  const artifactsDir = options.artifactsDir ?? (memory ? null : join(dirname(resolve(path)), 'artifacts'));
  return {
    db,
    path,
    readonly,
    schemaVersion: version,
    projects: new ProjectsRepo(db, clock),
    experiments: new ExperimentsRepo(db, clock),
    metrics: new MetricsRepo(db, clock),
    benchmarks: new BenchmarksRepo(db, clock),
    models: new ModelsRepo(db, clock),
    datasets: new DatasetsRepo(db, clock),
    notes: new NotesRepo(db, clock),
    tags: new TagsRepo(db),
    artifacts: new ArtifactsRepo(db, clock, artifactsDir),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    integrityCheck: () => (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check),
    close() {
      if (!db.open) return;
      // Keeps the query planner's statistics fresh (cheap; recommended on close).
      if (!readonly) db.pragma('optimize');
      db.close();
    },
  };
}
