import * as v from 'valibot';
import { EXPERIMENT_ID_RE, PROJECT_ID_RE, SHA256_RE } from '../ids.js';
import { EXPERIMENT_KINDS, EXPERIMENT_STATUSES } from '../types.js';
import { MEDIA_TYPE_RE, ROLE_RE, TAG_RE } from '../validate.js';

/*
 * Experiment bundle format (version 1)
 * ------------------------------------
 * A bundle is ONE SQLite file (journal mode DELETE, so no -wal/-shm companions) holding:
 *  - PRAGMA application_id = 0x44535442 ('DSTB'); PRAGMA user_version = the history schema version;
 *  - the history's own tables (same migrations), with only the exported experiments and the rows
 *    they reference: projects, models, datasets, metrics, benchmark_results, notes, tags,
 *    artifacts, experiment_artifacts. Integer ids (models, datasets, notes, results) are local to
 *    the bundle; models and datasets are matched on import by sha256 / fingerprint;
 *  - bundle_meta(key, value): format = 'distillery-bundle', format_version = '1', created_at,
 *    experiment_ids (JSON array);
 *  - artifact_chunks(sha256, idx, data): each artifact's bytes in CHUNK_SIZE pieces, idx 0..n-1.
 * An importer trusts nothing in it: every row is validated, every artifact is re-hashed, and
 * files are written only under the verified hash.
 */

export const BUNDLE_FORMAT = 'distillery-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const CHUNK_SIZE = 8 * 1024 * 1024;

export const BUNDLE_TABLES_SQL = /* sql */ `
CREATE TABLE bundle_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE artifact_chunks (
  sha256 TEXT NOT NULL,
  idx    INTEGER NOT NULL,
  data   BLOB NOT NULL,
  UNIQUE (sha256, idx)
) STRICT;
`;

/** History tables a bundle carries, in an order where referenced rows come first. */
export const ROW_TABLES = [
  'projects',
  'models',
  'datasets',
  'experiments',
  'tags',
  'notes',
  'benchmark_results',
  'artifacts',
  'experiment_artifacts',
  'metrics',
] as const;
export type RowTable = (typeof ROW_TABLES)[number];

// ---- row schemas (snake_case, as stored) ----

const int = v.pipe(v.number(), v.safeInteger());
const count = v.pipe(int, v.minValue(0));
const rowId = v.pipe(int, v.minValue(1));
const time = count;
const str = (max: number, min = 1) => v.pipe(v.string(), v.minLength(min), v.maxLength(max));
const isJson = (s: string): boolean => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};
const jsonText = (max: number) => v.pipe(v.string(), v.maxLength(max), v.check(isJson, 'is not valid JSON'));
const expId = v.pipe(v.string(), v.regex(EXPERIMENT_ID_RE, 'is not an experiment id'));
const prjId = v.pipe(v.string(), v.regex(PROJECT_ID_RE, 'is not a project id'));
const sha = v.pipe(v.string(), v.regex(SHA256_RE, 'is not a sha256'));
const num = v.number();

export const rowSchemas = {
  projects: v.object({ id: prjId, name: str(200), description: str(10_000, 0), created_at: time }),
  models: v.object({
    id: rowId,
    sha256: sha,
    path: str(4096),
    name: str(500),
    size_bytes: count,
    summary_json: v.nullable(jsonText(10_000_000)),
    created_at: time,
  }),
  datasets: v.object({
    id: rowId,
    fingerprint: str(200),
    path: str(4096),
    kind: str(64),
    summary_json: v.nullable(jsonText(10_000_000)),
    created_at: time,
  }),
  experiments: v.object({
    id: expId,
    project_id: v.nullable(prjId),
    kind: v.picklist(EXPERIMENT_KINDS),
    name: str(200),
    status: v.picklist(EXPERIMENT_STATUSES),
    config_json: jsonText(10_000_000),
    summary_json: v.nullable(jsonText(10_000_000)),
    error: v.nullable(str(20_000, 0)),
    parent_id: v.nullable(expId),
    teacher_model_id: v.nullable(rowId),
    student_model_id: v.nullable(rowId),
    dataset_id: v.nullable(rowId),
    created_at: time,
    started_at: v.nullable(time),
    finished_at: v.nullable(time),
    pinned: v.picklist([0, 1]),
  }),
  tags: v.object({ experiment_id: expId, tag: v.pipe(v.string(), v.regex(TAG_RE, 'is not a valid tag')) }),
  notes: v.object({ id: rowId, experiment_id: expId, author: str(200), body: str(100_000), created_at: time }),
  benchmark_results: v.object({
    id: rowId,
    experiment_id: expId,
    model_id: v.nullable(rowId),
    label: str(500),
    device: str(64),
    threads: v.nullable(count),
    batch_size: rowId,
    p50_ms: num,
    p95_ms: num,
    p99_ms: num,
    throughput_json: jsonText(1_000_000),
    peak_memory_bytes: v.nullable(count),
    size_bytes: v.nullable(count),
    accuracy: v.nullable(num),
    agreement: v.nullable(num),
    environment_json: jsonText(1_000_000),
    created_at: time,
  }),
  artifacts: v.object({
    sha256: sha,
    size_bytes: count,
    media_type: v.pipe(v.string(), v.regex(MEDIA_TYPE_RE, 'is not a media type')),
    created_at: time,
  }),
  experiment_artifacts: v.object({
    experiment_id: expId,
    role: v.pipe(v.string(), v.regex(ROLE_RE, 'is not a valid role')),
    sha256: sha,
    created_at: time,
  }),
  metrics: v.object({
    experiment_id: expId,
    series: str(128),
    step: count,
    epoch: v.nullable(count),
    value: v.nullable(num),
    recorded_at: time,
  }),
} satisfies Record<RowTable, v.GenericSchema>;

export type BundleRow<T extends RowTable> = v.InferOutput<(typeof rowSchemas)[T]>;
