import type Database from 'better-sqlite3';
import { notFound } from '../errors.js';
import type { MetricPointInput, MetricSeries } from '../types.js';
import * as check from '../validate.js';
import type { Clock } from './clock.js';

const MAX_SERIES_NAME = 128;

export class MetricsRepo {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {
    this.s = {
      exists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
      // Re-logging a step (after resuming from a checkpoint) replaces the old point.
      upsert: db.prepare(
        `INSERT INTO metrics (experiment_id, series, step, epoch, value, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (experiment_id, series, step) DO UPDATE
         SET epoch = excluded.epoch, value = excluded.value, recorded_at = excluded.recorded_at`,
      ),
      columns: db.prepare(
        `SELECT json_group_array(step) AS s, json_group_array(epoch) AS e,
                json_group_array(value) AS v, json_group_array(recorded_at) AS r
         FROM (SELECT step, epoch, value, recorded_at FROM metrics
               WHERE experiment_id = ? AND series = ? ORDER BY step)`,
      ),
      names: db.prepare(`SELECT DISTINCT series FROM metrics WHERE experiment_id = ? ORDER BY series`).pluck(),
      count: db.prepare(`SELECT count(*) FROM metrics WHERE experiment_id = ?`).pluck(),
    };
  }

  /**
   * Appends points in one transaction (one fsync for a whole batch, not one per point).
   * NaN values are stored as NULL. Returns the number of points written.
   */
  append(experimentId: string, points: readonly MetricPointInput[]): number {
    check.experimentId(experimentId);
    if (!Array.isArray(points)) throw new TypeError('points must be an array');
    const now = this.clock();
    const rows = points.map((p, i) => {
      const where = `metric point ${i}`;
      const value = typeof p.value === 'number' && Number.isNaN(p.value) ? null : check.finite(p.value, `${where}: value`);
      return [
        check.text(p.series, `${where}: series`, MAX_SERIES_NAME),
        check.int(p.step, `${where}: step`),
        check.optional(p.epoch, (e) => check.int(e, `${where}: epoch`)),
        value,
        p.recordedAt === undefined ? now : check.int(p.recordedAt, `${where}: recordedAt`),
      ] as const;
    });
    this.db.transaction(() => {
      if (this.s.exists.get(experimentId) === undefined) throw notFound('experiment', experimentId);
      for (const r of rows) this.s.upsert.run(experimentId, ...r);
    })();
    return rows.length;
  }

  /** Every series of an experiment (or just one), each sorted by step, as columns. */
  /**
   * `maxPoints` thins long series for charts (every k-th point plus the last), so a 100k-point
   * series does not cross IPC or the WebSocket in full.
   */
  series(experimentId: string, name?: string, opts: { maxPoints?: number } = {}): MetricSeries[] {
    check.experimentId(experimentId);
    const maxPoints = opts.maxPoints === undefined ? null : check.int(opts.maxPoints, 'maxPoints', 2);
    const names = name === undefined ? (this.s.names.all(experimentId) as string[]) : [name];
    const out: MetricSeries[] = [];
    for (const n of names) {
      const r = this.s.columns.get(experimentId, n) as { s: string; e: string; v: string; r: string };
      // SQLite builds the four arrays as JSON text: ~3x faster than 100k row objects.
      const series: MetricSeries = {
        name: n,
        steps: JSON.parse(r.s) as number[],
        epochs: JSON.parse(r.e) as (number | null)[],
        values: JSON.parse(r.v) as (number | null)[],
        recordedAt: JSON.parse(r.r) as number[],
      };
      if (series.steps.length > 0) out.push(thin(sortedByStep(series), maxPoints));
    }
    return out;
  }

  names(experimentId: string): string[] {
    return this.s.names.all(check.experimentId(experimentId)) as string[];
  }

  count(experimentId: string): number {
    return this.s.count.get(check.experimentId(experimentId)) as number;
  }
}

/**
 * The primary-key scan yields steps in order, but SQL does not promise that an aggregate sees
 * its subquery's order; check (cheap) and sort only if needed.
 */
export function sortedByStep(s: MetricSeries): MetricSeries {
  let sorted = true;
  for (let i = 1; i < s.steps.length && sorted; i++) sorted = s.steps[i - 1]! < s.steps[i]!;
  if (sorted) return s;
  const idx = s.steps.map((_, i) => i).sort((a, b) => s.steps[a]! - s.steps[b]!);
  return {
    name: s.name,
    steps: idx.map((i) => s.steps[i]!),
    epochs: idx.map((i) => s.epochs[i]!),
    values: idx.map((i) => s.values[i]!),
    recordedAt: idx.map((i) => s.recordedAt[i]!),
  };
}

/** Every k-th point plus the last, so at most maxPoints remain. */
export function thin(s: MetricSeries, maxPoints: number | null): MetricSeries {
  const n = s.steps.length;
  if (maxPoints === null || n <= maxPoints) return s;
  const k = Math.ceil(n / (maxPoints - 1));
  const keep = (_: unknown, i: number) => i % k === 0 || i === n - 1;
  return {
    name: s.name,
    steps: s.steps.filter(keep),
    epochs: s.epochs.filter(keep),
    values: s.values.filter(keep),
    recordedAt: s.recordedAt.filter(keep),
  };
}
