import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  SchemaTooNewError,
  StoreError,
  defaultDataDir,
  historyPath,
  latestVersion,
  migrate,
  openDatabase,
  type Migration,
} from '../../app/store/index.js';
import { tempHistory } from './store-helpers.js';

let h: ReturnType<typeof tempHistory>;
beforeEach(() => (h = tempHistory()));
afterEach(() => h.cleanup());

const tables = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[]);

describe('openDatabase', () => {
  it('creates the folder, migrates a fresh file and sets WAL, foreign keys and busy_timeout', () => {
    const path = join(h.dir, 'nested', 'deeper', 'history.sqlite');
    const store = h.open({ name: join('nested', 'deeper', 'history.sqlite') });
    expect(existsSync(path)).toBe(true);
    expect(store.schemaVersion).toBe(latestVersion());
    expect(store.db.pragma('user_version', { simple: true })).toBe(latestVersion());
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(tables(store.db)).toEqual(
      expect.arrayContaining(['projects', 'models', 'datasets', 'experiments', 'metrics', 'benchmark_results', 'artifacts', 'experiment_artifacts', 'notes', 'tags']),
    );
    expect(store.integrityCheck()).toEqual(['ok']);
  });

  it('re-opening is idempotent and keeps data', () => {
    const a = h.open();
    const exp = a.experiments.create({ kind: 'distill', name: 'first' });
    a.close();
    const b = h.open();
    expect(b.db.pragma('user_version', { simple: true })).toBe(latestVersion());
    expect(b.experiments.get(exp.id).name).toBe('first');
    expect(migrate(b.db).applied).toEqual([]);
  });

  it('refuses a history written by a newer version, without modifying it', () => {
    const raw = new Database(h.dbPath);
    raw.pragma('user_version = 40');
    raw.close();
    const before = readFileSync(h.dbPath);
    let caught: unknown;
    try {
      openDatabase(h.dbPath);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SchemaTooNewError);
    expect((caught as Error).message).toBe(
      `This history was written by a newer Distillery (schema 40, this version knows ${latestVersion()}). Update Distillery or choose another database.`,
    );
    expect(readFileSync(h.dbPath).equals(before)).toBe(true);
    expect(() => openDatabase(h.dbPath, { readonly: true })).toThrow(SchemaTooNewError);
  });

  it('refuses a SQLite file that belongs to something else, and a file that is not SQLite', () => {
    const raw = new Database(h.dbPath);
    raw.exec('CREATE TABLE people (name TEXT)');
    raw.close();
    expect(() => openDatabase(h.dbPath)).toThrow(/not a Distillery history/);
    const junk = join(h.dir, 'junk.sqlite');
    writeFileSync(junk, 'this is definitely not a database, just some text that is long enough'.repeat(20));
    expect(() => openDatabase(junk)).toThrow(/not a Distillery history/);
  });

  it('opens read-only without writing, and refuses writes', () => {
    const w = h.open();
    const exp = w.experiments.create({ kind: 'bench', name: 'x' });
    w.close();
    const r = openDatabase(h.dbPath, { readonly: true });
    try {
      expect(r.experiments.get(exp.id).name).toBe('x');
      expect(() => r.experiments.create({ kind: 'bench', name: 'y' })).toThrow(/readonly/);
    } finally {
      r.close();
    }
    expect(() => openDatabase(join(h.dir, 'missing.sqlite'), { readonly: true })).toThrow(/Cannot open the history/);
  });
});

describe('migrate', () => {
  const good20: Migration = { version: 20, name: 'runs', sql: 'CREATE TABLE extra (id INTEGER PRIMARY KEY); ALTER TABLE experiments ADD COLUMN note TEXT;' };
  const broken30: Migration = { version: 30, name: 'broken', sql: 'CREATE TABLE half_done (id INTEGER); SELECT * FROM no_such_table;' };

  it('a migration failing midway leaves an existing history at its old version', () => {
    const store = h.open();
    const exp = store.experiments.create({ kind: 'train', name: 'kept' });
    let caught: unknown;
    try {
      migrate(store.db, { migrations: [...MIGRATIONS, good20, broken30] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreError);
    expect((caught as StoreError).code).toBe('MIGRATION_FAILED');
    expect((caught as Error).message).toMatch(/schema 30 \(broken\).*still at schema 10/);
    expect(store.db.pragma('user_version', { simple: true })).toBe(10);
    // Step 20 ran before 30 failed and was rolled back with it.
    expect(tables(store.db)).not.toContain('extra');
    expect(tables(store.db)).not.toContain('half_done');
    const cols = store.db.prepare(`SELECT name FROM pragma_table_info('experiments')`).pluck().all();
    expect(cols).not.toContain('note');
    expect(store.experiments.get(exp.id).name).toBe('kept');
    expect(store.integrityCheck()).toEqual(['ok']);
    // The good step alone applies cleanly afterwards.
    expect(migrate(store.db, { migrations: [...MIGRATIONS, good20] })).toEqual({ from: 10, to: 20, applied: [20] });
  });

  it('a fresh file whose migrations fail stays empty at version 0', () => {
    expect(() => openDatabase(h.dbPath, { migrations: [...MIGRATIONS, broken30] })).toThrow(/schema 30/);
    const raw = new Database(h.dbPath);
    expect(raw.pragma('user_version', { simple: true })).toBe(0);
    expect(tables(raw)).toEqual([]);
    raw.close();
    // ...and opens normally later.
    expect(h.open().schemaVersion).toBe(10);
  });

  it('refuses a migration list that is not strictly increasing', () => {
    const db = new Database(':memory:');
    expect(() => migrate(db, { migrations: [good20, { ...good20, version: 20 }] })).toThrow(/strictly increasing/);
    db.close();
  });
});

describe('paths', () => {
  it('follows Electron userData conventions and honours DISTILLERY_HOME', () => {
    expect(defaultDataDir({ env: {}, platform: 'linux', home: '/home/ann' })).toBe('/home/ann/.config/Distillery');
    expect(defaultDataDir({ env: { XDG_CONFIG_HOME: '/xdg' }, platform: 'linux', home: '/home/ann' })).toBe('/xdg/Distillery');
    expect(defaultDataDir({ env: {}, platform: 'darwin', home: '/Users/ann' })).toBe('/Users/ann/Library/Application Support/Distillery');
    expect(defaultDataDir({ env: { APPDATA: '/c/Users/ann/AppData/Roaming' }, platform: 'win32', home: '/c/Users/ann' })).toBe(
      join('/c/Users/ann/AppData/Roaming', 'Distillery'),
    );
    expect(defaultDataDir({ env: { DISTILLERY_HOME: '/data/d', XDG_CONFIG_HOME: '/xdg' }, platform: 'linux' })).toBe('/data/d');
    expect(historyPath('/data/d')).toBe(join('/data/d', 'history.sqlite'));
  });
});
