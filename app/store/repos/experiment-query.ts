import type Database from 'better-sqlite3';
import { invalid } from '../errors.js';
import { EXPERIMENT_KINDS, EXPERIMENT_STATUSES, type ExperimentListQuery } from '../types.js';
import * as check from '../validate.js';

// Builds the list/count SQL for the history screen. Only fixed fragments from this file go into
// the SQL text (chosen by which filters are present and by an allow-listed sort key); every
// user-supplied value is a bound parameter. Statements are cached per shape.

const SORT_COLUMNS = {
  createdAt: 'e.created_at',
  name: 'e.name COLLATE NOCASE',
  status: 'e.status',
  kind: 'e.kind',
  finishedAt: 'e.finished_at',
} as const;
const NULLABLE_SORTS = new Set(['finishedAt', 'metric']);

/** Metric names that may appear in a JSON path. Bound as a parameter anyway. */
const METRIC_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const MAX_LIMIT = 1000;
const MAX_SEARCH = 200;

export interface PreparedListQuery {
  idsStmt: Database.Statement;
  countStmt: Database.Statement;
  params: Record<string, unknown>;
  pageParams: Record<string, unknown>;
}

/** `%`, `_` and `\` in a search are literal characters, not wildcards. */
function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class ExperimentQueryBuilder {
  private readonly cache = new Map<string, { ids: Database.Statement; count: Database.Statement }>();

  constructor(private readonly db: Database.Database) {}

  build(q: ExperimentListQuery): PreparedListQuery {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const shape: string[] = [];

    if (q.search !== undefined && q.search !== '') {
      if (typeof q.search !== 'string' || q.search.length > MAX_SEARCH) {
        throw invalid(`search must be a string of at most ${MAX_SEARCH} characters.`);
      }
      // SQLite's LIKE stops at a NUL, which would turn the pattern into "match everything".
      if (/[\u0000-\u001f\u007f]/.test(q.search)) throw invalid('search must not contain control characters.');
      where.push(`(e.name LIKE @search ESCAPE '\\' OR e.id LIKE @search ESCAPE '\\')`);
      params.search = likePattern(q.search);
      shape.push('s');
    }
    if (q.kinds !== undefined) {
      const kinds = [...new Set(q.kinds.map((k) => check.oneOf(k, EXPERIMENT_KINDS, 'kind')))];
      where.push(`e.kind IN (SELECT value FROM json_each(@kinds))`);
      params.kinds = JSON.stringify(kinds);
      shape.push('k');
    }
    if (q.statuses !== undefined) {
      const statuses = [...new Set(q.statuses.map((s) => check.oneOf(s, EXPERIMENT_STATUSES, 'status')))];
      where.push(`e.status IN (SELECT value FROM json_each(@statuses))`);
      params.statuses = JSON.stringify(statuses);
      shape.push('st');
    }
    if (q.tags !== undefined && q.tags.length > 0) {
      const tags = [...new Set(q.tags.map(check.tag))];
      where.push(
        `e.id IN (SELECT experiment_id FROM tags WHERE tag IN (SELECT value FROM json_each(@tags))
                  GROUP BY experiment_id HAVING count(*) = @tagCount)`,
      );
      params.tags = JSON.stringify(tags);
      params.tagCount = tags.length;
      shape.push('t');
    }
    if (q.projectId !== undefined) {
      where.push('e.project_id = @projectId');
      params.projectId = check.projectId(q.projectId);
      shape.push('p');
    }
    if (q.parentId !== undefined) {
      where.push('e.parent_id = @parentId');
      params.parentId = check.experimentId(q.parentId);
      shape.push('par');
    }
    if (q.pinned !== undefined) {
      if (typeof q.pinned !== 'boolean') throw invalid('pinned must be true or false.');
      where.push('e.pinned = @pinned');
      params.pinned = q.pinned ? 1 : 0;
      shape.push('pin');
    }

    const sort = q.sort ?? 'createdAt';
    let sortExpr: string;
    let sortKey: string;
    if (typeof sort === 'object' && sort !== null) {
      if (typeof sort.metric !== 'string' || !METRIC_RE.test(sort.metric)) {
        throw invalid(`Cannot sort by metric ${JSON.stringify(sort.metric)}: use letters, digits and _.`);
      }
      sortExpr = `json_extract(e.summary_json, @metricPath)`;
      params.metricPath = `$.${sort.metric}`;
      sortKey = 'metric';
    } else if (typeof sort === 'string' && Object.hasOwn(SORT_COLUMNS, sort)) {
      sortExpr = SORT_COLUMNS[sort];
      sortKey = sort;
    } else {
      throw invalid(`Cannot sort by ${JSON.stringify(sort)}; use ${Object.keys(SORT_COLUMNS).join(', ')} or {metric}.`);
    }
    const order = q.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw invalid(`order must be 'asc' or 'desc'.`);
    const dir = order === 'asc' ? 'ASC' : 'DESC';
    const nulls = NULLABLE_SORTS.has(sortKey) ? ' NULLS LAST' : '';
    // Ties fall back to newest first, then id, so paging never repeats or drops a row.
    const orderBy =
      sortKey === 'createdAt' ? `e.created_at ${dir}, e.id ${dir}` : `${sortExpr} ${dir}${nulls}, e.created_at DESC, e.id DESC`;

    const limit = q.limit === undefined ? 50 : check.int(q.limit, 'limit', 1, MAX_LIMIT);
    const offset = q.offset === undefined ? 0 : check.int(q.offset, 'offset', 0);

    const key = `${shape.join(',')}|${sortKey}|${dir}`;
    let stmts = this.cache.get(key);
    if (!stmts) {
      const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      stmts = {
        ids: this.db
          .prepare(`SELECT e.id FROM experiments e ${whereSql} ORDER BY ${orderBy} LIMIT @limit OFFSET @offset`)
          .pluck(),
        count: this.db.prepare(`SELECT count(*) FROM experiments e ${whereSql}`).pluck(),
      };
      this.cache.set(key, stmts);
    }
    const countParams = { ...params };
    delete countParams.metricPath; // the count statement does not sort
    return {
      idsStmt: stmts.ids,
      countStmt: stmts.count,
      params: countParams,
      pageParams: { ...params, limit, offset },
    };
  }
}
