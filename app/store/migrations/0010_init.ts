import type { Migration } from './types.js';

// SQL lives in a .ts string (not a .sql file read at run time) so it survives bundling into
// the Electron main process, where import.meta.url and relative files are not available.
export const migration0010: Migration = {
  version: 10,
  name: 'init',
  sql: /* sql */ `
CREATE TABLE projects (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE models (
  id           INTEGER PRIMARY KEY,
  sha256       TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
  path         TEXT NOT NULL,
  name         TEXT NOT NULL,
  size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
  summary_json TEXT CHECK (summary_json IS NULL OR json_valid(summary_json)),
  created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE datasets (
  id           INTEGER PRIMARY KEY,
  fingerprint  TEXT NOT NULL UNIQUE,
  path         TEXT NOT NULL,
  kind         TEXT NOT NULL,
  summary_json TEXT CHECK (summary_json IS NULL OR json_valid(summary_json)),
  created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE experiments (
  id               TEXT PRIMARY KEY,
  project_id       TEXT REFERENCES projects(id) ON DELETE SET NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('distill', 'quantize', 'bench', 'train', 'demo')),
  name             TEXT NOT NULL,
  status           TEXT NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  config_json      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config_json)),
  summary_json     TEXT CHECK (summary_json IS NULL OR json_valid(summary_json)),
  error            TEXT,
  parent_id        TEXT REFERENCES experiments(id) ON DELETE SET NULL,
  teacher_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  student_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  dataset_id       INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  pinned           INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1))
) STRICT;
-- The list screen sorts by creation time by default; id breaks ties so pages are stable.
CREATE INDEX experiments_created ON experiments (created_at, id);
CREATE INDEX experiments_status ON experiments (status, created_at);
CREATE INDEX experiments_kind ON experiments (kind, created_at);
CREATE INDEX experiments_name ON experiments (name COLLATE NOCASE);
CREATE INDEX experiments_project ON experiments (project_id, created_at);
CREATE INDEX experiments_parent ON experiments (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX experiments_pinned ON experiments (created_at) WHERE pinned = 1;
CREATE INDEX experiments_teacher ON experiments (teacher_model_id) WHERE teacher_model_id IS NOT NULL;
CREATE INDEX experiments_student ON experiments (student_model_id) WHERE student_model_id IS NOT NULL;
CREATE INDEX experiments_dataset ON experiments (dataset_id) WHERE dataset_id IS NOT NULL;

-- One row per (series, step): re-logging a step after a resume replaces it.
-- value is NULL when the metric was NaN (SQLite cannot store NaN), e.g. a diverged loss.
CREATE TABLE metrics (
  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  series        TEXT NOT NULL,
  step          INTEGER NOT NULL,
  epoch         INTEGER,
  value         REAL,
  recorded_at   INTEGER NOT NULL,
  PRIMARY KEY (experiment_id, series, step)
) STRICT, WITHOUT ROWID;

CREATE TABLE benchmark_results (
  id                INTEGER PRIMARY KEY,
  experiment_id     TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  model_id          INTEGER REFERENCES models(id) ON DELETE SET NULL,
  label             TEXT NOT NULL,
  device            TEXT NOT NULL,
  threads           INTEGER,
  batch_size        INTEGER NOT NULL CHECK (batch_size >= 1),
  p50_ms            REAL NOT NULL,
  p95_ms            REAL NOT NULL,
  p99_ms            REAL NOT NULL,
  throughput_json   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(throughput_json)),
  peak_memory_bytes INTEGER,
  size_bytes        INTEGER,
  accuracy          REAL,
  agreement         REAL,
  environment_json  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(environment_json)),
  created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX benchmark_results_experiment ON benchmark_results (experiment_id, id);
CREATE INDEX benchmark_results_model ON benchmark_results (model_id) WHERE model_id IS NOT NULL;

-- Files live in <artifacts>/<sha[0:2]>/<sha[2:]>; this table says what they are.
CREATE TABLE artifacts (
  sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  media_type TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE experiment_artifacts (
  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  role          TEXT NOT NULL,
  sha256        TEXT NOT NULL REFERENCES artifacts(sha256),
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (experiment_id, role, sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX experiment_artifacts_sha ON experiment_artifacts (sha256);

CREATE TABLE notes (
  id            INTEGER PRIMARY KEY,
  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  author        TEXT NOT NULL,
  body          TEXT NOT NULL,
  created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_experiment ON notes (experiment_id, created_at);

CREATE TABLE tags (
  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  tag           TEXT NOT NULL,
  PRIMARY KEY (experiment_id, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX tags_tag ON tags (tag, experiment_id);
`,
};
