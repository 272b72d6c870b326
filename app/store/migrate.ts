import type Database from 'better-sqlite3';
import { SchemaTooNewError, StoreError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/** PRAGMA application_id of a history ('DSTH') and of an exported bundle ('DSTB'). */
export const HISTORY_APP_ID = 0x44535448;
export const BUNDLE_APP_ID = 0x44535442;

export interface MigrateOptions {
  /** Test-only: replace the built-in migration list (e.g. to inject a broken step). */
  readonly migrations?: readonly Migration[];
  /** application_id stamped on the file on first migration. */
  readonly applicationId?: number;
}

export interface MigrateResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly number[];
}

export function latestVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

function checkList(migrations: readonly Migration[]): void {
  let prev = 0;
  for (const m of migrations) {
    if (!Number.isSafeInteger(m.version) || m.version <= prev) {
      throw new Error(`Migration list is not strictly increasing at ${m.version}_${m.name}.`);
    }
    prev = m.version;
  }
}

export function readUserVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the schema up to date. All pending steps and the user_version bump run in ONE
 * immediate transaction: a failure anywhere rolls everything back, so a database is never
 * left half-migrated, and two processes opening the file at once cannot both migrate.
 */
export function migrate(db: Database.Database, options: MigrateOptions = {}): MigrateResult {
  const migrations = options.migrations ?? MIGRATIONS;
  const applicationId = options.applicationId ?? HISTORY_APP_ID;
  checkList(migrations);
  const known = latestVersion(migrations);

  const run = db.transaction((): MigrateResult => {
    const from = readUserVersion(db);
    if (from > known) throw new SchemaTooNewError(from, known);
    checkOwnership(db, from, applicationId);
    const pending = migrations.filter((m) => m.version > from);
    for (const m of pending) {
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new StoreError(
          'MIGRATION_FAILED',
          `Could not upgrade the history to schema ${m.version} (${m.name}): ${(err as Error).message}. ` +
            `Nothing was changed; the history is still at schema ${from}.`,
          { cause: err },
        );
      }
    }
    if (pending.length > 0) {
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) {
        throw new StoreError('MIGRATION_FAILED', `Upgrade to schema ${known} broke ${broken.length} foreign keys; nothing was changed.`);
      }
      // Integers from our own code, not user input: PRAGMA cannot take bound parameters.
      db.pragma(`user_version = ${known | 0}`);
      if (from === 0) db.pragma(`application_id = ${applicationId | 0}`);
    }
    return { from, to: pending.length > 0 ? known : from, applied: pending.map((m) => m.version) };
  });
  return run.immediate();
}

/** Refuse to "migrate" some other program's SQLite file or a bundle opened as a history. */
export function checkOwnership(db: Database.Database, version: number, applicationId: number): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId !== 0 && appId !== applicationId) {
    throw new StoreError(
      'NOT_A_HISTORY',
      appId === BUNDLE_APP_ID
        ? 'This file is an experiment bundle, not a history. Import it instead of opening it.'
        : 'This file is not a Distillery history (it belongs to another application).',
    );
  }
  if (version === 0) {
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
    if (tables.n > 0) {
      throw new StoreError('NOT_A_HISTORY', 'This SQLite file is not a Distillery history (it already holds other tables).');
    }
  }
}
