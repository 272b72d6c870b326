import type Database from 'better-sqlite3';
import { fromJson, toJsonOrNull } from '../json.js';
import type { Dataset, Model, NewDataset, NewModel } from '../types.js';
import * as check from '../validate.js';
import type { Clock } from './clock.js';

interface ModelRow {
  id: number;
  sha256: string;
  path: string;
  name: string;
  size_bytes: number;
  summary_json: string | null;
  created_at: number;
}

const toModel = (r: ModelRow): Model => ({
  id: r.id,
  sha256: r.sha256,
  path: r.path,
  name: r.name,
  sizeBytes: r.size_bytes,
  summary: fromJson(r.summary_json),
  createdAt: r.created_at,
});

/** Models are identified by content: the same file seen twice is one row. */
export class ModelsRepo {
  private readonly s;

  constructor(db: Database.Database, private readonly clock: Clock) {
    this.s = {
      // Seen again: keep id and created_at, refresh where it is and what we know about it.
      upsert: db.prepare(
        `INSERT INTO models (sha256, path, name, size_bytes, summary_json, created_at)
         VALUES (@sha256, @path, @name, @size_bytes, @summary_json, @created_at)
         ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, name = excluded.name,
           size_bytes = excluded.size_bytes, summary_json = coalesce(excluded.summary_json, models.summary_json)
         RETURNING *`,
      ),
      get: db.prepare(`SELECT * FROM models WHERE id = ?`),
      byHash: db.prepare(`SELECT * FROM models WHERE sha256 = ?`),
      list: db.prepare(`SELECT * FROM models ORDER BY created_at DESC, id DESC`),
    };
  }

  upsertByHash(m: NewModel): Model {
    const row = {
      sha256: check.sha256(m.sha256),
      path: check.text(m.path, 'Model path', 4096),
      name: check.text(m.name, 'Model name', 500),
      size_bytes: check.int(m.sizeBytes, 'sizeBytes'),
      summary_json: toJsonOrNull(m.summary, 'Model summary'),
      created_at: this.clock(),
    };
    return toModel(this.s.upsert.get(row) as ModelRow);
  }

  get(id: number): Model | undefined {
    const r = this.s.get.get(id) as ModelRow | undefined;
    return r && toModel(r);
  }

  getByHash(sha256: string): Model | undefined {
    const r = this.s.byHash.get(check.sha256(sha256)) as ModelRow | undefined;
    return r && toModel(r);
  }

  list(): Model[] {
    return (this.s.list.all() as ModelRow[]).map(toModel);
  }
}

interface DatasetRow {
  id: number;
  fingerprint: string;
  path: string;
  kind: string;
  summary_json: string | null;
  created_at: number;
}

const toDataset = (r: DatasetRow): Dataset => ({
  id: r.id,
  fingerprint: r.fingerprint,
  path: r.path,
  kind: r.kind,
  summary: fromJson(r.summary_json),
  createdAt: r.created_at,
});

/** Datasets are identified by a fingerprint of their contents (computed by the data layer). */
export class DatasetsRepo {
  private readonly s;

  constructor(db: Database.Database, private readonly clock: Clock) {
    this.s = {
      upsert: db.prepare(
        `INSERT INTO datasets (fingerprint, path, kind, summary_json, created_at)
         VALUES (@fingerprint, @path, @kind, @summary_json, @created_at)
         ON CONFLICT (fingerprint) DO UPDATE SET path = excluded.path, kind = excluded.kind,
           summary_json = coalesce(excluded.summary_json, datasets.summary_json)
         RETURNING *`,
      ),
      get: db.prepare(`SELECT * FROM datasets WHERE id = ?`),
      byFingerprint: db.prepare(`SELECT * FROM datasets WHERE fingerprint = ?`),
      list: db.prepare(`SELECT * FROM datasets ORDER BY created_at DESC, id DESC`),
    };
  }

  upsertByFingerprint(d: NewDataset): Dataset {
    const row = {
      fingerprint: check.text(d.fingerprint, 'Dataset fingerprint', 200),
      path: check.text(d.path, 'Dataset path', 4096),
      kind: check.text(d.kind, 'Dataset kind', 64),
      summary_json: toJsonOrNull(d.summary, 'Dataset summary'),
      created_at: this.clock(),
    };
    return toDataset(this.s.upsert.get(row) as DatasetRow);
  }

  get(id: number): Dataset | undefined {
    const r = this.s.get.get(id) as DatasetRow | undefined;
    return r && toDataset(r);
  }

  getByFingerprint(fingerprint: string): Dataset | undefined {
    const r = this.s.byFingerprint.get(fingerprint) as DatasetRow | undefined;
    return r && toDataset(r);
  }

  list(): Dataset[] {
    return (this.s.list.all() as DatasetRow[]).map(toDataset);
  }
}
