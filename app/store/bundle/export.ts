import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, basename } from 'node:path';
import type { Store } from '../db.js';
import { StoreError, invalid, notFound } from '../errors.js';
import { BUNDLE_APP_ID, migrate } from '../migrate.js';
import * as check from '../validate.js';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, BUNDLE_TABLES_SQL, CHUNK_SIZE, ROW_TABLES, type RowTable } from './format.js';

export interface ExportReport {
  file: string;
  experiments: string[];
  artifacts: number;
  bytes: number;
}

/** Which rows of each table belong to the exported set (@ids is a JSON array of experiment ids). */
const SELECTIONS: Record<RowTable, string> = {
  experiments: `SELECT * FROM experiments WHERE id IN (SELECT value FROM json_each(@ids))`,
  projects: `SELECT * FROM projects WHERE id IN
      (SELECT project_id FROM experiments WHERE id IN (SELECT value FROM json_each(@ids)))`,
  models: `SELECT * FROM models WHERE id IN (
      SELECT teacher_model_id FROM experiments WHERE id IN (SELECT value FROM json_each(@ids))
      UNION SELECT student_model_id FROM experiments WHERE id IN (SELECT value FROM json_each(@ids))
      UNION SELECT model_id FROM benchmark_results WHERE experiment_id IN (SELECT value FROM json_each(@ids)))`,
  datasets: `SELECT * FROM datasets WHERE id IN
      (SELECT dataset_id FROM experiments WHERE id IN (SELECT value FROM json_each(@ids)))`,
  tags: `SELECT * FROM tags WHERE experiment_id IN (SELECT value FROM json_each(@ids))`,
  notes: `SELECT * FROM notes WHERE experiment_id IN (SELECT value FROM json_each(@ids))`,
  benchmark_results: `SELECT * FROM benchmark_results WHERE experiment_id IN (SELECT value FROM json_each(@ids))`,
  artifacts: `SELECT * FROM artifacts WHERE sha256 IN
      (SELECT sha256 FROM experiment_artifacts WHERE experiment_id IN (SELECT value FROM json_each(@ids)))`,
  experiment_artifacts: `SELECT * FROM experiment_artifacts WHERE experiment_id IN (SELECT value FROM json_each(@ids))`,
  metrics: `SELECT * FROM metrics WHERE experiment_id IN (SELECT value FROM json_each(@ids))`,
};

function columnsOf(db: Database.Database, table: RowTable): string[] {
  return (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
}

/**
 * Writes the given experiments, everything they reference and their artifact bytes to one
 * bundle file (see format.ts). The file appears only when complete (temp file + rename).
 */
export async function exportBundle(
  store: Store,
  experimentIds: readonly string[],
  outFile: string,
  options: { overwrite?: boolean } = {},
): Promise<ExportReport> {
  const ids = [...new Set(experimentIds.map(check.experimentId))];
  if (ids.length === 0) throw invalid('Choose at least one experiment to export.');
  for (const id of ids) if (!store.experiments.exists(id)) throw notFound('experiment', id);
  const target = resolve(outFile);
  if (!options.overwrite && existsSync(target)) {
    throw new StoreError('ALREADY_EXISTS', `${target} already exists; choose another file or allow overwriting.`);
  }
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const out = new Database(tmp);
  let artifacts: { sha256: string; size_bytes: number }[] = [];
  try {
    // A private temp file that is deleted on any failure: no journal, no per-commit fsync;
    // one fsync before the rename makes it durable.
    out.pragma('journal_mode = OFF');
    out.pragma('synchronous = OFF');
    // The bundle keeps parent ids of experiments it does not carry; the importer resolves them.
    out.pragma('foreign_keys = OFF');
    migrate(out, { applicationId: BUNDLE_APP_ID });
    out.exec(BUNDLE_TABLES_SQL);

    out.exec('BEGIN');
    const meta = out.prepare(`INSERT INTO bundle_meta (key, value) VALUES (?, ?)`);
    meta.run('format', BUNDLE_FORMAT);
    meta.run('format_version', String(BUNDLE_FORMAT_VERSION));
    meta.run('created_at', String(Date.now()));
    meta.run('experiment_ids', JSON.stringify(ids));

    // One read transaction on the history: a consistent snapshot even while jobs write.
    store.db.transaction(() => {
      const params = { ids: JSON.stringify(ids) };
      for (const table of ROW_TABLES) {
        const cols = columnsOf(out, table);
        const insert = out.prepare(
          `INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`,
        );
        for (const row of store.db.prepare(SELECTIONS[table]).iterate(params)) insert.run(row as Record<string, unknown>);
      }
    })();
    artifacts = out.prepare(`SELECT sha256, size_bytes FROM artifacts ORDER BY sha256`).all() as typeof artifacts;

    const putChunk = out.prepare(`INSERT INTO artifact_chunks (sha256, idx, data) VALUES (?, ?, ?)`);
    for (const a of artifacts) await copyArtifact(store.artifacts.path(a.sha256), a, putChunk);
    out.exec('COMMIT');
    out.close();
    await fsyncFile(tmp);
    await rename(tmp, target);
  } catch (err) {
    if (out.open) out.close();
    await rm(tmp, { force: true });
    await rm(`${tmp}-journal`, { force: true });
    throw err;
  }
  return { file: target, experiments: ids, artifacts: artifacts.length, bytes: (await stat(target)).size };
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Streams one artifact into chunks, re-hashing it so a damaged local file is never exported. */
async function copyArtifact(
  path: string,
  a: { sha256: string; size_bytes: number },
  putChunk: Database.Statement,
): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new StoreError('ARTIFACT_CORRUPT', `Artifact ${a.sha256} is missing from the artifacts folder (${(err as Error).message}).`);
  }
  const hash = createHash('sha256');
  let size = 0;
  try {
    for (let idx = 0; ; idx++) {
      const buf = Buffer.allocUnsafe(CHUNK_SIZE);
      const { bytesRead } = await fh.read(buf, 0, CHUNK_SIZE, null);
      if (bytesRead === 0 && idx > 0) break;
      const data = buf.subarray(0, bytesRead);
      hash.update(data);
      size += bytesRead;
      putChunk.run(a.sha256, idx, data);
      if (bytesRead < CHUNK_SIZE) break;
    }
  } finally {
    await fh.close();
  }
  if (size !== a.size_bytes || hash.digest('hex') !== a.sha256) {
    throw new StoreError('ARTIFACT_CORRUPT', `Artifact ${a.sha256} in the artifacts folder is damaged (its content no longer matches its hash).`);
  }
}
