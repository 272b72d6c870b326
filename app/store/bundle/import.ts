import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { copyFileSync, statSync } from 'node:fs';
import { open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { Store } from '../db.js';
import { SchemaTooNewError, StoreError } from '../errors.js';
import { BUNDLE_APP_ID, latestVersion, migrate, readUserVersion } from '../migrate.js';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, ROW_TABLES, rowSchemas, type BundleRow, type RowTable } from './format.js';

export interface ImportReport {
  /** Experiments added to this history. */
  imported: string[];
  /** Experiments left alone, with why (e.g. already in this history). */
  skipped: { id: string; reason: string }[];
  /** Artifact files newly written (already-present content is not counted). */
  artifacts: number;
  /** Things changed on the way in (dangling parent ids, runs that cannot still be running). */
  warnings: string[];
}

const bad = (message: string, cause?: unknown) =>
  new StoreError('INVALID_BUNDLE', `Not a valid experiment bundle: ${message}`, cause === undefined ? undefined : { cause });

/**
 * Runs a read of the bundle file. SQLite finds some damage only when it reaches it (a schema it
 * cannot parse, a malformed page that quick_check did not visit): that is a bad bundle, not a bug.
 */
function fromBundle<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw bad(`the file cannot be read (${(err as Error).message}).`, err);
  }
}

/** Iterates rows of the bundle, turning SQLite read errors into INVALID_BUNDLE. */
function* bundleRows(iter: IterableIterator<unknown>): Generator<unknown> {
  try {
    for (;;) {
      const next = fromBundle(() => iter.next());
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Stopped early (a bad row): release the statement, or the connection stays busy.
    iter.return?.();
  }
}

/** A bundle row table, validated. Everything but metrics (streamed) and blobs (hashed). */
type Rows = { [T in Exclude<RowTable, 'metrics'>]: BundleRow<T>[] };

/**
 * Imports a bundle made by exportBundle. Nothing in it is trusted: schema version, every row
 * (valibot), every reference and every artifact's hash are checked before anything is written;
 * existing experiments are never overwritten (they are reported as skipped); artifact files
 * are written only under their verified hash; all rows go in one transaction.
 */
export async function importBundle(store: Store, bundleFile: string): Promise<ImportReport> {
  if (store.readonly) throw new StoreError('INVALID_STATE', 'This history is open read-only; cannot import into it.');
  const bundle = openBundle(bundleFile);
  const staged = new Map<string, string>(); // sha256 → verified temp file
  try {
    const rows = fromBundle(() => readRows(bundle.db));
    fromBundle(() => checkReferences(bundle.db, rows));

    const skipped: ImportReport['skipped'] = [];
    const wanted = new Set<string>();
    for (const e of rows.experiments) {
      if (store.experiments.exists(e.id)) skipped.push({ id: e.id, reason: 'already in this history' });
      else wanted.add(e.id);
    }
    const neededShas = new Set(rows.experiment_artifacts.filter((l) => wanted.has(l.experiment_id)).map((l) => l.sha256));

    // Every blob is re-hashed; only those this history lacks are kept (as temp files) for writing.
    for (const a of rows.artifacts) {
      const keep = neededShas.has(a.sha256) && !(await hasIntactFile(store, a.sha256, a.size_bytes));
      const tmp = keep ? await store.artifacts.tempPath() : null;
      if (tmp) staged.set(a.sha256, tmp);
      await verifyBlob(bundle.db, a, tmp);
    }

    const created: string[] = [];
    try {
      for (const [sha, tmp] of staged) {
        const size = rows.artifacts.find((a) => a.sha256 === sha)!.size_bytes;
        if (await store.artifacts.adopt(tmp, sha, size)) created.push(sha);
      }
      const result = writeRows(store, bundle.db, rows, wanted);
      return { imported: result.imported, skipped: [...skipped, ...result.skipped], artifacts: created.length, warnings: result.warnings };
    } catch (err) {
      // Rows were rolled back; take back the files only this import put there.
      for (const sha of created) await rm(store.artifacts.path(sha), { force: true });
      throw err;
    }
  } finally {
    bundle.close();
    for (const tmp of staged.values()) await rm(tmp, { force: true });
  }
}

interface OpenBundle {
  db: Database.Database;
  close(): void;
}

function openBundle(file: string): OpenBundle {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new StoreError('NOT_FOUND', `Bundle ${file} does not exist.`, { cause: err });
  }
  if (!st.isFile()) throw bad(`${file} is not a file.`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw bad((err as Error).message, err);
  }
  let tempCopy: string | null = null;
  const close = () => {
    if (db.open) db.close();
    if (tempCopy) for (const f of [tempCopy, `${tempCopy}-journal`]) void unlink(f).catch(() => {});
  };
  try {
    // Views and triggers in a foreign file must not run functions with side effects.
    db.pragma('trusted_schema = OFF');
    let version: number;
    let appId: number;
    try {
      version = readUserVersion(db);
      appId = db.pragma('application_id', { simple: true }) as number;
    } catch (err) {
      throw bad((err as Error).message, err);
    }
    if (appId !== BUNDLE_APP_ID) throw bad('the file is not a Distillery bundle.');
    const known = latestVersion();
    if (version > known) throw new SchemaTooNewError(version, known, 'bundle');
    if (version < 10) throw bad(`unknown schema version ${version}.`);
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw bad(`the file is damaged (${String(check)}).`);
    checkTables(db);
    const meta = new Map(
      (db.prepare(`SELECT key, value FROM bundle_meta`).all() as { key: unknown; value: unknown }[]).map((r) => [r.key, r.value]),
    );
    if (meta.get('format') !== BUNDLE_FORMAT) throw bad('missing bundle header.');
    if (meta.get('format_version') !== String(BUNDLE_FORMAT_VERSION)) {
      throw bad(`bundle format ${String(meta.get('format_version'))} is not supported (this version reads ${BUNDLE_FORMAT_VERSION}).`);
    }
    if (version < known) {
      // An older bundle: upgrade a private copy with the same migrations a history would get.
      db.close();
      tempCopy = join(tmpdir(), `distillery-bundle-${randomBytes(6).toString('hex')}.sqlite`);
      copyFileSync(file, tempCopy);
      db = new Database(tempCopy);
      db.pragma('trusted_schema = OFF');
      migrate(db, { applicationId: BUNDLE_APP_ID });
    }
    return { db, close };
  } catch (err) {
    close();
    if (err instanceof StoreError) throw err;
    throw bad(`the file cannot be read (${(err as Error).message}).`, err);
  }
}

function checkTables(db: Database.Database): void {
  const kinds = new Map(
    (db.prepare(`SELECT name, type FROM sqlite_master`).all() as { name: string; type: string }[]).map((r) => [r.name, r.type]),
  );
  for (const t of [...ROW_TABLES, 'bundle_meta', 'artifact_chunks']) {
    if (kinds.get(t) !== 'table') throw bad(`table ${t} is missing.`);
  }
}

function validate<T extends RowTable>(table: T, row: unknown, index: number): BundleRow<T> {
  const res = v.safeParse(rowSchemas[table], row);
  if (res.success) return res.output as BundleRow<T>;
  const issue = res.issues[0];
  const field = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  throw bad(`${table} row ${index}${field ? `, field ${field}` : ''}: ${issue.message}.`);
}

function readRows(db: Database.Database): Rows {
  const read = <T extends Exclude<RowTable, 'metrics'>>(table: T): BundleRow<T>[] =>
    // Table names come from ROW_TABLES, checked by checkTables.
    db.prepare(`SELECT * FROM ${table}`).all().map((r, i) => validate(table, r, i));
  const rows: Rows = {
    projects: read('projects'),
    models: read('models'),
    datasets: read('datasets'),
    experiments: read('experiments'),
    tags: read('tags'),
    notes: read('notes'),
    benchmark_results: read('benchmark_results'),
    artifacts: read('artifacts'),
    experiment_artifacts: read('experiment_artifacts'),
  };
  if (rows.experiments.length === 0) throw bad('it contains no experiments.');
  return rows;
}

/** Every reference inside the bundle must point at a row of the bundle. */
function checkReferences(db: Database.Database, rows: Rows): void {
  const exps = new Set(rows.experiments.map((e) => e.id));
  const projects = new Set(rows.projects.map((p) => p.id));
  const models = new Set(rows.models.map((m) => m.id));
  const datasets = new Set(rows.datasets.map((d) => d.id));
  const artifacts = new Set(rows.artifacts.map((a) => a.sha256));
  const need = (ok: boolean, what: string) => {
    if (!ok) throw bad(what);
  };
  for (const e of rows.experiments) {
    need(e.project_id === null || projects.has(e.project_id), `experiment ${e.id} refers to a missing project.`);
    for (const m of [e.teacher_model_id, e.student_model_id]) need(m === null || models.has(m), `experiment ${e.id} refers to a missing model.`);
    need(e.dataset_id === null || datasets.has(e.dataset_id), `experiment ${e.id} refers to a missing dataset.`);
  }
  for (const t of [rows.tags, rows.notes, rows.benchmark_results, rows.experiment_artifacts]) {
    for (const r of t) need(exps.has(r.experiment_id), `a row refers to experiment ${r.experiment_id}, which the bundle does not contain.`);
  }
  for (const b of rows.benchmark_results) need(b.model_id === null || models.has(b.model_id), `benchmark result ${b.id} refers to a missing model.`);
  for (const l of rows.experiment_artifacts) need(artifacts.has(l.sha256), `artifact ${l.sha256} has no data in the bundle.`);
  const orphanMetrics = db
    .prepare(`SELECT count(*) FROM metrics WHERE experiment_id NOT IN (SELECT id FROM experiments)`)
    .pluck()
    .get() as number;
  need(orphanMetrics === 0, `${orphanMetrics} metric points refer to experiments the bundle does not contain.`);
}

async function hasIntactFile(store: Store, sha: string, size: number): Promise<boolean> {
  try {
    return statSync(store.artifacts.path(sha)).size === size && store.artifacts.get(sha) !== undefined;
  } catch {
    return false;
  }
}

/** Re-hashes an artifact's chunks (optionally writing them to `tmp`); any mismatch rejects the bundle. */
async function verifyBlob(db: Database.Database, a: BundleRow<'artifacts'>, tmp: string | null): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  let expectIdx = 0;
  const fh = tmp ? await open(tmp, 'wx') : null;
  try {
    const chunks = fromBundle(() => db.prepare(`SELECT idx, data FROM artifact_chunks WHERE sha256 = ? ORDER BY idx`).all(a.sha256)) as {
      idx: unknown;
      data: unknown;
    }[];
    for (const c of chunks) {
      if (c.idx !== expectIdx++ || !(c.data instanceof Uint8Array)) throw bad(`artifact ${a.sha256} has malformed chunks.`);
      size += c.data.byteLength;
      if (size > a.size_bytes) break;
      hash.update(c.data);
      if (fh) await fh.write(c.data);
    }
  } finally {
    await fh?.close();
  }
  if (expectIdx === 0) throw bad(`artifact ${a.sha256} has no data.`);
  if (size !== a.size_bytes || hash.digest('hex') !== a.sha256) {
    throw new StoreError('ARTIFACT_CORRUPT', `Not a valid experiment bundle: artifact ${a.sha256} does not match its hash (the bundle was damaged or tampered with).`);
  }
}

/** All rows of the wanted experiments in one transaction; ids of models/datasets/notes are re-mapped. */
function writeRows(
  store: Store,
  src: Database.Database,
  rows: Rows,
  wanted: ReadonlySet<string>,
): { imported: string[]; skipped: ImportReport['skipped']; warnings: string[] } {
  const db = store.db;
  const warnings: string[] = [];
  const skipped: ImportReport['skipped'] = [];
  const imported: string[] = [];
  const s = {
    projectExists: db.prepare(`SELECT 1 FROM projects WHERE id = ?`).pluck(),
    insertProject: db.prepare(`INSERT INTO projects (id, name, description, created_at) VALUES (@id, @name, @description, @created_at)`),
    modelByHash: db.prepare(`SELECT id FROM models WHERE sha256 = ?`).pluck(),
    insertModel: db.prepare(
      `INSERT INTO models (sha256, path, name, size_bytes, summary_json, created_at)
       VALUES (@sha256, @path, @name, @size_bytes, @summary_json, @created_at) RETURNING id`,
    ).pluck(),
    datasetByFp: db.prepare(`SELECT id FROM datasets WHERE fingerprint = ?`).pluck(),
    insertDataset: db.prepare(
      `INSERT INTO datasets (fingerprint, path, kind, summary_json, created_at)
       VALUES (@fingerprint, @path, @kind, @summary_json, @created_at) RETURNING id`,
    ).pluck(),
    expExists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
    insertExp: db.prepare(
      `INSERT INTO experiments (id, project_id, kind, name, status, config_json, summary_json, error, parent_id,
         teacher_model_id, student_model_id, dataset_id, created_at, started_at, finished_at, pinned)
       VALUES (@id, @project_id, @kind, @name, @status, @config_json, @summary_json, @error, @parent_id,
         @teacher_model_id, @student_model_id, @dataset_id, @created_at, @started_at, @finished_at, @pinned)
       ON CONFLICT (id) DO NOTHING`,
    ),
    insertTag: db.prepare(`INSERT OR IGNORE INTO tags (experiment_id, tag) VALUES (@experiment_id, @tag)`),
    insertNote: db.prepare(`INSERT INTO notes (experiment_id, author, body, created_at) VALUES (@experiment_id, @author, @body, @created_at)`),
    insertBench: db.prepare(
      `INSERT INTO benchmark_results (experiment_id, model_id, label, device, threads, batch_size, p50_ms, p95_ms, p99_ms,
         throughput_json, peak_memory_bytes, size_bytes, accuracy, agreement, environment_json, created_at)
       VALUES (@experiment_id, @model_id, @label, @device, @threads, @batch_size, @p50_ms, @p95_ms, @p99_ms,
         @throughput_json, @peak_memory_bytes, @size_bytes, @accuracy, @agreement, @environment_json, @created_at)`,
    ),
    insertArtifact: db.prepare(
      `INSERT INTO artifacts (sha256, size_bytes, media_type, created_at) VALUES (@sha256, @size_bytes, @media_type, @created_at)
       ON CONFLICT (sha256) DO NOTHING`,
    ),
    insertLink: db.prepare(
      `INSERT INTO experiment_artifacts (experiment_id, role, sha256, created_at) VALUES (@experiment_id, @role, @sha256, @created_at)
       ON CONFLICT DO NOTHING`,
    ),
    insertMetric: db.prepare(
      `INSERT INTO metrics (experiment_id, series, step, epoch, value, recorded_at)
       VALUES (@experiment_id, @series, @step, @epoch, @value, @recorded_at)`,
    ),
  };

  const run = db.transaction(() => {
    // Parents may come later in the bundle; checked at commit instead of per row.
    db.pragma('defer_foreign_keys = ON');
    const modelIds = new Map<number, number>();
    const datasetIds = new Map<number, number>();
    const mapModel = (id: number | null): number | null => {
      if (id === null) return null;
      let mapped = modelIds.get(id);
      if (mapped === undefined) {
        const m = rows.models.find((x) => x.id === id)!;
        mapped = (s.modelByHash.get(m.sha256) as number | undefined) ?? (s.insertModel.get(m) as number);
        modelIds.set(id, mapped);
      }
      return mapped;
    };
    const mapDataset = (id: number | null): number | null => {
      if (id === null) return null;
      let mapped = datasetIds.get(id);
      if (mapped === undefined) {
        const d = rows.datasets.find((x) => x.id === id)!;
        mapped = (s.datasetByFp.get(d.fingerprint) as number | undefined) ?? (s.insertDataset.get(d) as number);
        datasetIds.set(id, mapped);
      }
      return mapped;
    };

    const done = new Set<string>();
    for (const e of rows.experiments) {
      if (!wanted.has(e.id)) continue;
      if (e.project_id !== null && s.projectExists.get(e.project_id) === undefined) {
        s.insertProject.run(rows.projects.find((p) => p.id === e.project_id)!);
      }
      let parent = e.parent_id;
      if (parent !== null && !wanted.has(parent) && s.expExists.get(parent) === undefined) {
        warnings.push(`${e.id}: parent experiment ${parent} is not in this history; the link was dropped.`);
        parent = null;
      }
      let status = e.status;
      let finished = e.finished_at;
      if (status === 'running' || status === 'queued') {
        warnings.push(`${e.id} was ${status} when exported; imported as interrupted.`);
        status = 'interrupted';
        finished = finished ?? e.started_at ?? e.created_at;
      }
      const res = s.insertExp.run({
        ...e,
        status,
        finished_at: finished,
        parent_id: parent,
        teacher_model_id: mapModel(e.teacher_model_id),
        student_model_id: mapModel(e.student_model_id),
        dataset_id: mapDataset(e.dataset_id),
      });
      if (res.changes === 0) {
        skipped.push({ id: e.id, reason: 'already in this history' });
        continue;
      }
      done.add(e.id);
      imported.push(e.id);
    }
    for (const t of rows.tags) if (done.has(t.experiment_id)) s.insertTag.run(t);
    for (const n of rows.notes) if (done.has(n.experiment_id)) s.insertNote.run(n);
    for (const b of rows.benchmark_results) {
      if (done.has(b.experiment_id)) s.insertBench.run({ ...b, model_id: mapModel(b.model_id) });
    }
    // Only artifacts of imported experiments: their files were verified and put in place above.
    const linked = new Set(rows.experiment_artifacts.filter((l) => done.has(l.experiment_id)).map((l) => l.sha256));
    for (const a of rows.artifacts) if (linked.has(a.sha256)) s.insertArtifact.run(a);
    for (const l of rows.experiment_artifacts) if (done.has(l.experiment_id)) s.insertLink.run(l);
    let i = 0;
    const metrics = fromBundle(() => src.prepare(`SELECT * FROM metrics ORDER BY experiment_id, series, step`).iterate());
    for (const m of bundleRows(metrics)) {
      const row = validate('metrics', m, i++);
      if (done.has(row.experiment_id)) s.insertMetric.run(row);
    }
  });
  run.immediate();
  return { imported, skipped, warnings };
}
