// Fuzzing bundle import: a small real bundle is exported once, then each case damages a copy —
// blind byte mutations of the SQLite file, or tampered rows and schema (path traversal in
// artifact keys and roles, huge and unsafe integers, wrong types in de-STRICTed tables,
// dangling references, NUL bytes, non-UTF-8 text, broken chunks, newer/older schema versions,
// views in place of tables...) — and imports it into a fresh copy of a populated history.
// Each import must either succeed consistently (rows and artifacts present and verified) or
// fail with a StoreError and leave the history exactly as it was: integrity_check ok, the same
// row counts, and no file written anywhere but the artifacts folder.
//
// DISTILLERY_FUZZ_CASES=5000 npx vitest run test/fuzz/bundle-import   (longer local run)
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBundle, importBundle, openDatabase, StoreError, type Store } from '../../app/store/index.js';
import { byteMutations, failureReport, fuzzCases, fuzzSeed, newStats, noteMessage, Rng, runCase, summary } from './fuzz-helpers.js';
import { stepClock } from '../unit/store-helpers.js';

const CASES = fuzzCases(500);
const SEED = fuzzSeed(0xb0d1e);
const CASE_BUDGET_MS = 10_000; // catches hangs; not a speed limit (shared, loaded machines)
const RSS_GROWTH_LIMIT_MB = 1024;

// On tmpfs when there is one: every case opens, imports into and closes a history, and the
// fsyncs of a disk would make the run I/O-bound rather than testing anything more.
const scratch = existsSync('/dev/shm') && statSync('/dev/shm').isDirectory() ? '/dev/shm' : tmpdir();
const root = mkdtempSync(join(scratch, 'distillery-fuzz-bundle-'));
const work = join(root, 'work'); // everything a case may touch lives here
const BUNDLE = join(root, 'base.distillery');
const PRISTINE = join(root, 'pristine'); // the target history, closed, copied for every case
const TABLES = ['projects', 'models', 'datasets', 'experiments', 'tags', 'notes', 'benchmark_results', 'artifacts', 'experiment_artifacts', 'metrics'];
let bundleIds: string[] = [];
let shas: string[] = [];
let existingId = '';

beforeAll(async () => {
  // Source history: two experiments with models, dataset, metrics, notes, tags, a benchmark and artifacts.
  const src = openDatabase(join(root, 'src', 'history.sqlite'), { clock: stepClock() });
  const project = src.projects.create({ name: 'Fashion' });
  const teacher = src.models.upsertByHash({ sha256: 'a'.repeat(64), path: '/m/t.onnx', name: 'teacher', sizeBytes: 3_298_885, summary: { opset: 17 } });
  const student = src.models.upsertByHash({ sha256: 'b'.repeat(64), path: '/m/s.onnx', name: 'student', sizeBytes: 40_000 });
  const dataset = src.datasets.upsertByFingerprint({ fingerprint: 'fp-fashion', path: '/d/fashion', kind: 'idx', summary: { classes: 10 } });
  const distill = src.experiments.create({
    kind: 'distill', name: 'cnn student', projectId: project.id, teacherModelId: teacher.id, studentModelId: student.id, datasetId: dataset.id,
    config: { epochs: 2, alpha: 0.5 }, tags: ['fashion', 'cnn'],
  });
  src.experiments.setStatus(distill.id, 'running');
  src.metrics.append(distill.id, Array.from({ length: 60 }, (_, i) => ({ series: i % 2 ? 'loss' : 'valAccuracy', step: i, epoch: i >> 4, value: 1 / (i + 1) })));
  src.experiments.setStatus(distill.id, 'succeeded');
  const quantize = src.experiments.create({ kind: 'quantize', name: 'int8', parentId: distill.id, studentModelId: student.id, tags: ['int8'] });
  src.benchmarks.add(quantize.id, {
    modelId: student.id, label: 's.onnx', device: 'cpu', threads: 2, batchSize: 1, latencyMs: { p50: 1, p95: 2, p99: 3 }, throughput: { '1': 900 }, environment: { cpu: 'x' },
  });
  src.notes.add(distill.id, { author: 'ann', body: 'Best so far.' });
  const onnx = Buffer.alloc(20_000, 3);
  onnx.write('ONNX', 0);
  shas = [await src.artifacts.put(onnx, 'application/onnx'), await src.artifacts.put(Buffer.from('# Report'), 'text/markdown')];
  src.artifacts.attach(distill.id, shas[0]!, 'student.onnx');
  src.artifacts.attach(distill.id, shas[1]!, 'report.md');
  src.artifacts.attach(quantize.id, shas[1]!, 'report.md');
  bundleIds = [distill.id, quantize.id];
  await exportBundle(src, bundleIds, BUNDLE);
  src.close();

  // Target history with something of its own to protect (and one experiment the bundle also has).
  const dst = openDatabase(join(PRISTINE, 'history.sqlite'), { clock: stepClock(Date.UTC(2025, 5, 1)) });
  const mine = dst.experiments.create({ kind: 'bench', name: 'my own run', tags: ['mine'] });
  dst.metrics.append(mine.id, [{ series: 'loss', step: 0, epoch: 0, value: 0.5 }]);
  dst.artifacts.attach(mine.id, await dst.artifacts.put(Buffer.from('mine'), 'text/plain'), 'notes.txt');
  existingId = mine.id;
  dst.close(); // checkpoints the WAL: the folder is a complete, closed history
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

// ─── tampering ──────────────────────────────────────────────────────────────────────────

type Tamper = (db: Database.Database, rng: Rng) => string;

/** Recreates a table without STRICT and without column types, so any value of any type fits. */
function loosen(db: Database.Database, table: string): void {
  const cols = (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).map((c) => `"${c}"`);
  db.exec(`CREATE TABLE "${table}__loose" (${cols.join(', ')});
    INSERT INTO "${table}__loose" SELECT * FROM "${table}";
    DROP TABLE "${table}";
    ALTER TABLE "${table}__loose" RENAME TO "${table}";`);
}

const TEXT_COLUMNS: Record<string, string[]> = {
  projects: ['id', 'name', 'description'],
  models: ['sha256', 'path', 'name', 'summary_json'],
  datasets: ['fingerprint', 'path', 'kind', 'summary_json'],
  experiments: ['id', 'project_id', 'kind', 'name', 'status', 'config_json', 'summary_json', 'error', 'parent_id'],
  tags: ['experiment_id', 'tag'],
  notes: ['experiment_id', 'author', 'body'],
  benchmark_results: ['experiment_id', 'label', 'device', 'throughput_json', 'environment_json'],
  artifacts: ['sha256', 'media_type'],
  experiment_artifacts: ['experiment_id', 'role', 'sha256'],
  metrics: ['experiment_id', 'series'],
};
const INT_COLUMNS: Record<string, string[]> = {
  models: ['id', 'size_bytes', 'created_at'],
  datasets: ['id', 'created_at'],
  experiments: ['teacher_model_id', 'student_model_id', 'dataset_id', 'created_at', 'started_at', 'finished_at', 'pinned'],
  notes: ['id', 'created_at'],
  benchmark_results: ['id', 'model_id', 'threads', 'batch_size', 'peak_memory_bytes', 'size_bytes', 'created_at'],
  artifacts: ['size_bytes', 'created_at'],
  experiment_artifacts: ['created_at'],
  metrics: ['step', 'epoch', 'recorded_at'],
};

const EVIL_TEXT = [
  '../../../../tmp/evil', '/etc/passwd', '..\\..\\evil', 'a/../../b', 'report.md\u0000.exe', '\u0000', '', ' ', 'x'.repeat(70_000),
  '../' + 'a'.repeat(61), 'A'.repeat(64), 'g'.repeat(64), 'exp_../../x', 'exp_00000000', '{"__proto__":{"polluted":1}}', '{', 'null', '[]',
  'ｅｘｐ', '\ud800', 'application/../../x', 'running', 'interrupted', 'nope',
];
const EVIL_INT = [-1, 0, 1, 2 ** 31, 2 ** 53, 2 ** 62, -(2 ** 63), 9_007_199_254_740_993n, 1e308, -0, 0.5, 999_999];

function sqlValue(rng: Rng): { sql: string; show: string } {
  const r = rng.next();
  if (r < 0.45) {
    const s = rng.pick(EVIL_TEXT);
    return { sql: `'${s.replaceAll("'", "''")}'`, show: JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s) };
  }
  if (r < 0.75) {
    const v = rng.pick(EVIL_INT);
    return { sql: String(v), show: String(v) };
  }
  if (r < 0.85) return { sql: `CAST(x'${rng.pick(['ff', 'c328', 'e28228', 'f0288cbc', '80', 'fffe4100'])}' AS TEXT)`, show: 'non-UTF-8 text' };
  if (r < 0.95) return { sql: `x'${Buffer.from(rng.bytes(1 + rng.int(16))).toString('hex')}'`, show: 'a blob' };
  return { sql: 'NULL', show: 'NULL' };
}

const tampers: Record<string, Tamper> = {
  setText(db, rng) {
    const table = rng.pick(Object.keys(TEXT_COLUMNS));
    const col = rng.pick(TEXT_COLUMNS[table]!);
    const v = sqlValue(rng);
    if (!v.sql.startsWith("'")) loosen(db, table); // a non-text value needs the STRICT table gone
    db.exec(`UPDATE "${table}" SET "${col}" = ${v.sql} WHERE rowid IN (SELECT rowid FROM "${table}" LIMIT ${1 + rng.int(3)})`);
    return `${table}.${col} = ${v.show}`;
  },
  setInt(db, rng) {
    const table = rng.pick(Object.keys(INT_COLUMNS));
    const col = rng.pick(INT_COLUMNS[table]!);
    const v = sqlValue(rng);
    loosen(db, table);
    db.exec(`UPDATE "${table}" SET "${col}" = ${v.sql} WHERE rowid IN (SELECT rowid FROM "${table}" LIMIT 1)`);
    return `${table}.${col} = ${v.show}`;
  },
  traversalSha(db, rng) {
    // The same bad key everywhere, so only validation (not a missing join) can stop it.
    const bad = rng.pick(['../../../../tmp/evil-' + '0'.repeat(50), '/tmp/' + 'a'.repeat(59), 'A'.repeat(64), 'aa/' + 'b'.repeat(61), '..']);
    const old = shas[0]!;
    for (const t of ['artifacts', 'experiment_artifacts', 'artifact_chunks']) loosen(db, t); // past the CHECK constraints
    for (const t of ['artifacts', 'experiment_artifacts', 'artifact_chunks']) db.prepare(`UPDATE ${t} SET sha256 = ? WHERE sha256 = ?`).run(bad, old);
    return `artifact key → ${JSON.stringify(bad)}`;
  },
  traversalRole(db, rng) {
    const role = rng.pick(['../../../etc/passwd', '/abs/path', 'a/../../../b', 'report.md\u0000', '..', 'con', 'a\\..\\b', 'r'.repeat(300)]);
    db.prepare(`UPDATE experiment_artifacts SET role = ? WHERE rowid = (SELECT min(rowid) FROM experiment_artifacts)`).run(role);
    return `role → ${JSON.stringify(role.slice(0, 40))}`;
  },
  otherContent(db) {
    // Consistent metadata, different bytes: the re-hash must catch it.
    db.prepare(`UPDATE artifact_chunks SET data = ? WHERE sha256 = ?`).run(Buffer.alloc(20_000, 4), shas[0]);
    return 'artifact bytes replaced (same size)';
  },
  chunks(db, rng) {
    const r = rng.int(6);
    const sha = rng.pick(shas);
    if (r === 0) db.prepare(`DELETE FROM artifact_chunks WHERE sha256 = ?`).run(sha);
    else if (r === 1) db.prepare(`UPDATE artifact_chunks SET idx = idx + 1 WHERE sha256 = ?`).run(sha);
    else if (r === 2) db.prepare(`INSERT INTO artifact_chunks (sha256, idx, data) SELECT sha256, idx + 1, data FROM artifact_chunks WHERE sha256 = ?`).run(sha);
    else if (r === 3) db.prepare(`UPDATE artifact_chunks SET data = zeroblob(?) WHERE sha256 = ?`).run(1 + rng.int(1 << 22), sha);
    else if (r === 4) {
      loosen(db, 'artifact_chunks');
      db.prepare(`UPDATE artifact_chunks SET data = ?, idx = ? WHERE sha256 = ?`).run(rng.pick(['text', 1.5, 7]), rng.pick([0, -1, 0.5, '0']), sha);
    } else db.prepare(`INSERT INTO artifact_chunks (sha256, idx, data) VALUES (?, 0, x'00')`).run('c'.repeat(64));
    return `chunks of ${sha.slice(0, 6)}: op ${r}`;
  },
  dangling(db, rng) {
    const ops = [
      `UPDATE experiments SET teacher_model_id = 999`,
      `UPDATE experiments SET dataset_id = 77`,
      `UPDATE experiments SET project_id = 'prj_0000000000000000'`,
      `UPDATE experiments SET parent_id = 'exp_zzzzzzzzzzzz'`,
      `UPDATE benchmark_results SET model_id = 4242`,
      `DELETE FROM artifacts WHERE rowid = (SELECT min(rowid) FROM artifacts)`,
      `DELETE FROM models`,
      `UPDATE tags SET experiment_id = 'exp_nothere0000'`,
      `UPDATE notes SET experiment_id = 'exp_nothere0000'`,
      `UPDATE metrics SET experiment_id = 'exp_nothere0000' WHERE rowid = (SELECT min(rowid) FROM metrics)`,
      `DELETE FROM experiments WHERE rowid = (SELECT min(rowid) FROM experiments)`,
      `DELETE FROM experiments`,
    ];
    const op = rng.pick(ops);
    db.exec(op);
    return op;
  },
  collide(db) {
    // One bundled experiment takes the id of an experiment the target already has.
    db.prepare(`UPDATE experiments SET id = ? WHERE id = ?`).run(existingId, bundleIds[1]);
    for (const t of ['tags', 'notes', 'benchmark_results', 'experiment_artifacts', 'metrics']) {
      db.prepare(`UPDATE ${t} SET experiment_id = ? WHERE experiment_id = ?`).run(existingId, bundleIds[1]);
    }
    return 'experiment id collides with one in the target';
  },
  meta(db, rng) {
    const ops = [
      `UPDATE bundle_meta SET value = '2' WHERE key = 'format_version'`,
      `DELETE FROM bundle_meta WHERE key = 'format'`,
      `UPDATE bundle_meta SET value = 'not json' WHERE key = 'experiment_ids'`,
      `DELETE FROM bundle_meta`,
      `PRAGMA user_version = 9999`,
      `PRAGMA user_version = 5`,
      `PRAGMA user_version = -1`,
      `PRAGMA application_id = 0`,
      `PRAGMA application_id = 1145590853`, // the history's id, not the bundle's
    ];
    const op = rng.pick(ops);
    db.exec(op);
    return op;
  },
  schema(db, rng) {
    const table = rng.pick(TABLES);
    const r = rng.int(5);
    if (r === 0) db.exec(`DROP TABLE "${table}"`);
    else if (r === 1) db.exec(`ALTER TABLE "${table}" RENAME TO "${table}_x"; CREATE VIEW "${table}" AS SELECT * FROM "${table}_x"`);
    else if (r === 2) {
      const col = (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).at(-1)!;
      loosen(db, table);
      db.exec(`ALTER TABLE "${table}" DROP COLUMN "${col}"`);
      return `${table}: column ${col} dropped`;
    } else if (r === 3) {
      loosen(db, table);
      db.exec(`ALTER TABLE "${table}" ADD COLUMN extra`);
      db.exec(`UPDATE "${table}" SET extra = 'x'`);
    } else {
      db.exec(`CREATE TABLE side_effect (x); CREATE TRIGGER t_${table} AFTER INSERT ON bundle_meta BEGIN INSERT INTO side_effect VALUES (1); END;`);
    }
    return `schema of ${table}: op ${r}`;
  },
  bigRows(db, rng) {
    const r = rng.int(3);
    if (r === 0) db.prepare(`UPDATE experiments SET config_json = ? WHERE rowid = (SELECT min(rowid) FROM experiments)`).run(JSON.stringify({ a: 'x'.repeat(12_000_000) }));
    else if (r === 1) {
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
         INSERT INTO metrics (experiment_id, series, step, epoch, value, recorded_at) SELECT ?, 'loss', i, 0, 0.1, 1 FROM n`,
      ).run(bundleIds[0]);
    } else db.prepare(`UPDATE notes SET body = ?`).run('n'.repeat(100_001));
    return `big rows: op ${r}`;
  },
  lateMetric(db, rng) {
    // Metrics are validated while they stream into the target, inside its transaction: a bad row
    // there must roll back everything (and release the bundle's statement).
    const v = rng.pick(['-5', "'x'", 'NULL', '1e300', "x'00'"]);
    if (v !== '-5') loosen(db, 'metrics');
    db.exec(`UPDATE metrics SET step = ${v} WHERE rowid = (SELECT max(rowid) FROM metrics)`);
    return `last metric step = ${v}`;
  },
  unicode(db, rng) {
    const s = rng.pick(['名前', '\u202Eevil', 'tab\tname', 'line\nbreak', '\u0000nul', '😀'.repeat(100), 'é'.repeat(199)]);
    db.prepare(`UPDATE experiments SET name = ? WHERE rowid = (SELECT min(rowid) FROM experiments)`).run(s);
    db.prepare(`UPDATE tags SET tag = ? WHERE rowid = (SELECT min(rowid) FROM tags)`).run(s.slice(0, 20));
    return `unicode text ${JSON.stringify(s.slice(0, 12))}`;
  },
};

// ─── checks ──────────────────────────────────────────────────────────────────────────────

function listFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), e.isFile() ? createHash('sha1').update(readFileSync(p)).digest('hex') : 'other');
    }
  };
  walk(dir);
  return out;
}

function counts(store: Store): Record<string, number> {
  return Object.fromEntries(TABLES.map((t) => [t, store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number]));
}

/** Files that may change in a history folder: the database and its WAL, and the artifacts folder. */
const allowedWrite = (rel: string) => /^history\.sqlite(-wal|-shm)?$/.test(rel) || rel.startsWith('artifacts/');

describe('bundle import fuzz', () => {
  it(`survives ${CASES} damaged and tampered bundles (seed ${SEED})`, async () => {
    const rng = new Rng(SEED);
    const stats = newStats();
    const pristineCounts = (() => {
      const s = openDatabase(join(PRISTINE, 'history.sqlite'), { readonly: true });
      try {
        return counts(s);
      } finally {
        s.close();
      }
    })();
    const baseBytes = readFileSync(BUNDLE);
    const tmpBefore = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('distillery-bundle-')));
    const rootBefore = new Set(readdirSync(root));
    const tamperNames = Object.keys(tampers);

    for (let i = 0; i < CASES; i++) {
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      const historyDir = join(work, 'history');
      cpSync(PRISTINE, historyDir, { recursive: true });
      const bundle = join(work, 'in.distillery');
      const steps: string[] = [];
      if (rng.next() < 0.3) {
        const op = rng.pick(Object.keys(byteMutations));
        const res = byteMutations[op]!(rng, baseBytes);
        writeFileSync(bundle, res.bytes);
        steps.push(`bytes: ${res.what}`);
      } else {
        copyFileSync(BUNDLE, bundle);
        const db = new Database(bundle);
        db.pragma('synchronous = OFF');
        try {
          const n = 1 + (rng.next() < 0.7 ? 0 : rng.int(3));
          for (let k = 0; k < n; k++) {
            const name = rng.pick(tamperNames);
            try {
              steps.push(tampers[name]!(db, rng));
            } catch (err) {
              steps.push(`${name} (not applicable: ${(err as Error).message.slice(0, 60)})`);
            }
          }
        } finally {
          db.close();
        }
      }
      const what = steps.join(' + ');
      const filesBefore = listFiles(historyDir);

      await runCase(stats, i, what, null, CASE_BUDGET_MS, async () => {
        const store = openDatabase(join(historyDir, 'history.sqlite'));
        let outcome: 'accepted' | 'rejected';
        try {
          try {
            const report = await importBundle(store, bundle);
            outcome = 'accepted';
            // Consistent success: every imported experiment is complete and its artifacts verified.
            for (const id of report.imported) {
              store.experiments.get(id);
              for (const a of store.artifacts.listForExperiment(id)) {
                const bytes = readFileSync(store.artifacts.path(a.sha256));
                if (createHash('sha256').update(bytes).digest('hex') !== a.sha256) throw new Error(`artifact ${a.sha256} does not match its hash`);
              }
            }
            if (report.imported.length + report.skipped.length === 0) throw new Error('import reported nothing imported and nothing skipped');
            if ((store.db.pragma('foreign_key_check') as unknown[]).length) throw new Error('foreign_key_check failed after import');
          } catch (err) {
            if (!(err instanceof StoreError)) throw err;
            if (!err.message || err.message.length < 10) throw new Error(`StoreError without a message (${err.code})`);
            noteMessage(stats, `${err.code}: ${err.message.replaceAll(work, 'WORK')}`);
            outcome = 'rejected';
            const now = counts(store);
            if (JSON.stringify(now) !== JSON.stringify(pristineCounts)) throw new Error(`rows changed after a failed import: ${JSON.stringify(now)}`);
          }
          const check = store.integrityCheck();
          if (check.join() !== 'ok') throw new Error(`integrity_check: ${check.join('; ')}`);
        } finally {
          store.close();
        }
        // Files: nothing outside the artifacts folder; after a failure, nothing new at all.
        const filesAfter = listFiles(historyDir);
        for (const [rel, hash] of filesAfter) {
          const changed = filesBefore.get(rel) !== hash;
          if (changed && !allowedWrite(rel)) throw new Error(`import wrote ${rel}`);
          if (changed && outcome === 'rejected' && rel.startsWith('artifacts/') && !rel.startsWith('artifacts/.tmp/')) {
            throw new Error(`failed import left artifact file ${rel}`);
          }
        }
        const strays = readdirSync(work).filter((n) => n !== 'history' && n !== 'in.distillery');
        if (strays.length) throw new Error(`import wrote ${strays.join(', ')} next to the history`);
        return outcome;
      });
      if (stats.failures.length && stats.failures.at(-1)!.index === i) {
        const keep = join(tmpdir(), 'distillery-fuzz-failures', `bundle-case-${i}.distillery`);
        mkdirSync(join(keep, '..'), { recursive: true });
        copyFileSync(bundle, keep);
        stats.failures.at(-1)!.saved = keep;
      }
      if (stats.failures.length >= 20) break;
    }
    // Nothing left behind: no upgraded temp copies in the temp folder, nothing outside `work`.
    await new Promise((r) => setTimeout(r, 50));
    const tmpAfter = readdirSync(tmpdir()).filter((n) => n.startsWith('distillery-bundle-') && !tmpBefore.has(n));
    const rootAfter = readdirSync(root).filter((n) => !rootBefore.has(n) && n !== 'work');

    console.log(summary('bundle-import fuzz', stats));
    if (stats.failures.length) console.log(failureReport(stats));
    expect(stats.failures.map((f) => `#${f.index} [${f.what}] ${f.problem.split('\n')[0]}`)).toEqual([]);
    expect(tmpAfter).toEqual([]);
    expect(rootAfter).toEqual([]);
    expect(stats.rssPeakGrowthMb).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(stats.accepted).toBeGreaterThan(CASES * 0.05);
    expect(stats.rejected).toBeGreaterThan(CASES * 0.3);
  }, Math.max(120_000, CASES * 150 * 3));
});
