import type Database from 'better-sqlite3';
import { StoreError, invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { fromJson, toJson, toJsonOrNull } from '../json.js';
import {
  EXPERIMENT_KINDS,
  EXPERIMENT_STATUSES,
  type Experiment,
  type ExperimentList,
  type ExperimentListQuery,
  type ExperimentPatch,
  type ExperimentStatus,
  type NewExperiment,
} from '../types.js';
import * as check from '../validate.js';
import { ExperimentQueryBuilder } from './experiment-query.js';
import type { Clock } from './clock.js';

export interface ExperimentRow {
  id: string;
  project_id: string | null;
  kind: string;
  name: string;
  status: string;
  config_json: string;
  summary_json: string | null;
  error: string | null;
  parent_id: string | null;
  teacher_model_id: number | null;
  student_model_id: number | null;
  dataset_id: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  pinned: number;
}

function toExperiment(row: ExperimentRow, tags: string[]): Experiment {
  return {
    id: row.id,
    projectId: row.project_id,
    kind: row.kind as Experiment['kind'],
    name: row.name,
    status: row.status as ExperimentStatus,
    config: fromJson(row.config_json),
    summary: fromJson(row.summary_json),
    error: row.error,
    parentId: row.parent_id,
    teacherModelId: row.teacher_model_id,
    studentModelId: row.student_model_id,
    datasetId: row.dataset_id,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    pinned: row.pinned === 1,
    tags,
  };
}

/** Which status changes are legal. Succeeded is final; failed/cancelled/interrupted can be re-queued. */
const TRANSITIONS: Record<ExperimentStatus, readonly ExperimentStatus[]> = {
  queued: ['running', 'cancelled', 'failed', 'interrupted'],
  running: ['succeeded', 'failed', 'cancelled', 'interrupted'],
  interrupted: ['queued', 'running', 'failed', 'cancelled'],
  failed: ['queued'],
  cancelled: ['queued'],
  succeeded: [],
};
const FINISHED = new Set<ExperimentStatus>(['succeeded', 'failed', 'cancelled', 'interrupted']);

/** Patch keys → columns. The only column names an update can name. */
const PATCH_COLUMNS = {
  name: 'name',
  projectId: 'project_id',
  config: 'config_json',
  summary: 'summary_json',
  parentId: 'parent_id',
  teacherModelId: 'teacher_model_id',
  studentModelId: 'student_model_id',
  datasetId: 'dataset_id',
  pinned: 'pinned',
} as const satisfies Record<keyof ExperimentPatch, string>;

const MAX_NAME = 200;

export class ExperimentsRepo {
  private readonly query: ExperimentQueryBuilder;
  private readonly updateCache = new Map<string, Database.Statement>();
  private readonly s;
  private readonly refChecks: readonly [string, Database.Statement, string][];

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {
    this.query = new ExperimentQueryBuilder(db);
    // Table names come from this fixed list, never from input.
    const ref = (table: string) => db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`);
    this.refChecks = [
      ['project_id', ref('projects'), 'project'],
      ['parent_id', ref('experiments'), 'parent experiment'],
      ['teacher_model_id', ref('models'), 'teacher model'],
      ['student_model_id', ref('models'), 'student model'],
      ['dataset_id', ref('datasets'), 'dataset'],
    ];
    this.s = {
      insert: db.prepare(
        `INSERT INTO experiments (id, project_id, kind, name, status, config_json, parent_id,
           teacher_model_id, student_model_id, dataset_id, created_at)
         VALUES (@id, @project_id, @kind, @name, 'queued', @config_json, @parent_id,
           @teacher_model_id, @student_model_id, @dataset_id, @created_at)`,
      ),
      get: db.prepare(`SELECT * FROM experiments WHERE id = ?`),
      exists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
      tagsOf: db.prepare(`SELECT tag FROM tags WHERE experiment_id = ? ORDER BY tag`).pluck(),
      insertTag: db.prepare(`INSERT OR IGNORE INTO tags (experiment_id, tag) VALUES (?, ?)`),
      manyById: db.prepare(`SELECT * FROM experiments WHERE id IN (SELECT value FROM json_each(?))`),
      tagsOfMany: db.prepare(
        `SELECT experiment_id, tag FROM tags WHERE experiment_id IN (SELECT value FROM json_each(?)) ORDER BY tag`,
      ),
      setStatus: db.prepare(
        `UPDATE experiments SET status = @to, started_at = @started_at, finished_at = @finished_at, error = @error
         WHERE id = @id AND status = @from`,
      ),
      markInterrupted: db.prepare(
        `UPDATE experiments SET status = 'interrupted', finished_at = @now
         WHERE status IN ('running', 'queued')`,
      ),
      delete: db.prepare(`DELETE FROM experiments WHERE id = ?`),
    };
  }

  create(input: NewExperiment): Experiment {
    const kind = check.oneOf(input.kind, EXPERIMENT_KINDS, 'kind');
    const name = check.text(input.name, 'Experiment name', MAX_NAME);
    const createdAt = input.createdAt === undefined ? this.clock() : check.int(input.createdAt, 'createdAt');
    const tags = (input.tags ?? []).map(check.tag);
    const row = {
      id: newId('exp', createdAt),
      project_id: check.optional(input.projectId, check.projectId),
      kind,
      name,
      config_json: toJson(input.config ?? {}, 'config'),
      parent_id: check.optional(input.parentId, check.experimentId),
      teacher_model_id: check.optional(input.teacherModelId, (v) => check.int(v, 'teacherModelId', 1)),
      student_model_id: check.optional(input.studentModelId, (v) => check.int(v, 'studentModelId', 1)),
      dataset_id: check.optional(input.datasetId, (v) => check.int(v, 'datasetId', 1)),
      created_at: createdAt,
    };
    this.db.transaction(() => {
      this.checkRefs(row);
      this.s.insert.run(row);
      for (const t of tags) this.s.insertTag.run(row.id, t);
    })();
    return this.get(row.id);
  }

  /** Throws NOT_FOUND if absent. */
  get(id: string): Experiment {
    const found = this.find(id);
    if (!found) throw notFound('experiment', id);
    return found;
  }

  find(id: string): Experiment | undefined {
    const row = this.s.get.get(check.experimentId(id)) as ExperimentRow | undefined;
    return row ? toExperiment(row, this.s.tagsOf.all(row.id) as string[]) : undefined;
  }

  exists(id: string): boolean {
    return this.s.exists.get(id) !== undefined;
  }

  update(id: string, patch: ExperimentPatch): Experiment {
    check.experimentId(id);
    const values: Record<string, unknown> = { id };
    const keys = (Object.keys(patch) as (keyof ExperimentPatch)[]).filter((k) => patch[k] !== undefined).sort();
    for (const key of keys) {
      if (!Object.hasOwn(PATCH_COLUMNS, key)) throw invalid(`Unknown experiment field ${JSON.stringify(key)}.`);
      values[PATCH_COLUMNS[key]] = this.patchValue(key, patch[key]);
    }
    if (keys.length === 0) return this.get(id);
    let stmt = this.updateCache.get(keys.join(','));
    if (!stmt) {
      const sets = keys.map((k) => `${PATCH_COLUMNS[k]} = @${PATCH_COLUMNS[k]}`).join(', ');
      stmt = this.db.prepare(`UPDATE experiments SET ${sets} WHERE id = @id`);
      this.updateCache.set(keys.join(','), stmt);
    }
    this.db.transaction(() => {
      this.checkRefs(values);
      if (values.parent_id === id) throw invalid('An experiment cannot be its own parent.');
      if (stmt.run(values).changes === 0) throw notFound('experiment', id);
    })();
    return this.get(id);
  }

  private patchValue(key: keyof ExperimentPatch, value: unknown): unknown {
    switch (key) {
      case 'name':
        return check.text(value, 'Experiment name', MAX_NAME);
      case 'projectId':
        return check.optional(value as string | null, check.projectId);
      case 'config':
        return toJson(value ?? {}, 'config');
      case 'summary':
        return toJsonOrNull(value, 'summary');
      case 'parentId':
        return check.optional(value as string | null, check.experimentId);
      case 'pinned':
        if (typeof value !== 'boolean') throw invalid('pinned must be true or false.');
        return value ? 1 : 0;
      default:
        return check.optional(value as number | null, (v) => check.int(v, key, 1));
    }
  }

  /** Turn foreign-key failures into messages that say which reference is missing. */
  private checkRefs(row: Record<string, unknown>): void {
    for (const [col, stmt, what] of this.refChecks) {
      const v = row[col];
      if (v === null || v === undefined) continue;
      if (stmt.get(v) === undefined) throw notFound(what, v as string | number);
    }
  }

  /**
   * Moves an experiment to a new status, stamping started/finished times. Illegal moves (e.g.
   * succeeded → running) are refused so a stale worker cannot rewrite history.
   */
  setStatus(id: string, to: ExperimentStatus, opts: { error?: string | null; at?: number } = {}): Experiment {
    check.oneOf(to, EXPERIMENT_STATUSES, 'status');
    const at = opts.at ?? this.clock();
    return this.db.transaction(() => {
      const current = this.get(id);
      // Same status again (a repeated report from a worker) changes nothing but the error text.
      if (current.status === to && opts.error === undefined) return current;
      if (current.status !== to && !TRANSITIONS[current.status].includes(to)) {
        throw new StoreError('INVALID_STATE', `Experiment ${id} is ${current.status}; it cannot become ${to}.`);
      }
      const error =
        opts.error !== undefined ? check.optional(opts.error, (e) => check.text(e, 'error', 20_000, { multiline: true })) : to === 'failed' ? current.error : null;
      this.s.setStatus.run({
        id,
        from: current.status,
        to,
        started_at: to === 'running' ? (current.startedAt ?? at) : to === 'queued' ? null : current.startedAt,
        finished_at: FINISHED.has(to) ? at : null,
        error,
      });
      return this.get(id);
    })();
  }

  /** At start-up after a crash: nothing can still be running. Returns how many were marked. */
  markInterrupted(at: number = this.clock()): number {
    return this.s.markInterrupted.run({ now: at }).changes;
  }

  list(q: ExperimentListQuery = {}): ExperimentList {
    const built = this.query.build(q);
    // Ids first, then rows: the sorter then only carries ids, not every config_json.
    return this.db.transaction(() => {
      const ids = built.idsStmt.all(built.pageParams) as string[];
      const total = built.countStmt.get(built.params) as number;
      return { rows: this.getMany(ids), total };
    })();
  }

  /** Rows for these ids, in the given order (missing ids are left out). */
  getMany(ids: readonly string[]): Experiment[] {
    if (ids.length === 0) return [];
    const json = JSON.stringify(ids);
    const byId = new Map<string, ExperimentRow>();
    for (const r of this.s.manyById.all(json) as ExperimentRow[]) byId.set(r.id, r);
    const tags = new Map<string, string[]>();
    for (const t of this.s.tagsOfMany.all(json) as { experiment_id: string; tag: string }[]) {
      let list = tags.get(t.experiment_id);
      if (!list) tags.set(t.experiment_id, (list = []));
      list.push(t.tag);
    }
    const out: Experiment[] = [];
    for (const id of ids) {
      const row = byId.get(id);
      if (row) out.push(toExperiment(row, tags.get(id) ?? []));
    }
    return out;
  }

  /** Deletes the experiment and (by cascade) its metrics, results, notes, tags and artifact links. */
  delete(id: string): boolean {
    return this.s.delete.run(check.experimentId(id)).changes > 0;
  }
}
