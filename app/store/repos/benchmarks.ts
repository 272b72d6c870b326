import type Database from 'better-sqlite3';
import { invalid, notFound } from '../errors.js';
import { fromJson, toJson } from '../json.js';
import type { BenchmarkResult, NewBenchmarkResult } from '../types.js';
import * as check from '../validate.js';
import type { Clock } from './clock.js';

interface Row {
  id: number;
  experiment_id: string;
  model_id: number | null;
  label: string;
  device: string;
  threads: number | null;
  batch_size: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  throughput_json: string;
  peak_memory_bytes: number | null;
  size_bytes: number | null;
  accuracy: number | null;
  agreement: number | null;
  environment_json: string;
  created_at: number;
}

function toResult(r: Row): BenchmarkResult {
  return {
    id: r.id,
    experimentId: r.experiment_id,
    modelId: r.model_id,
    label: r.label,
    device: r.device,
    threads: r.threads,
    batchSize: r.batch_size,
    latencyMs: { p50: r.p50_ms, p95: r.p95_ms, p99: r.p99_ms },
    throughput: fromJson(r.throughput_json) as Record<string, number>,
    peakMemoryBytes: r.peak_memory_bytes,
    sizeBytes: r.size_bytes,
    accuracy: r.accuracy,
    agreement: r.agreement,
    environment: fromJson(r.environment_json) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

function fraction(v: number | null | undefined, what: string): number | null {
  return check.optional(v, (x) => {
    check.finite(x, what);
    if (x < 0 || x > 1) throw invalid(`${what} must be a fraction in [0, 1].`);
    return x;
  });
}

export class BenchmarksRepo {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO benchmark_results (experiment_id, model_id, label, device, threads, batch_size,
           p50_ms, p95_ms, p99_ms, throughput_json, peak_memory_bytes, size_bytes, accuracy, agreement,
           environment_json, created_at)
         VALUES (@experiment_id, @model_id, @label, @device, @threads, @batch_size, @p50_ms, @p95_ms, @p99_ms,
           @throughput_json, @peak_memory_bytes, @size_bytes, @accuracy, @agreement, @environment_json, @created_at)
         RETURNING *`,
      ),
      list: db.prepare(`SELECT * FROM benchmark_results WHERE experiment_id = ? ORDER BY id`),
      expExists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
      modelExists: db.prepare(`SELECT 1 FROM models WHERE id = ?`).pluck(),
    };
  }

  add(experimentId: string, r: NewBenchmarkResult): BenchmarkResult {
    check.experimentId(experimentId);
    if (typeof r !== 'object' || r === null) throw invalid('A benchmark result must be an object.');
    const lat = r.latencyMs ?? ({} as NewBenchmarkResult['latencyMs']);
    const throughput = r.throughput ?? {};
    for (const [batch, sps] of Object.entries(throughput)) check.finite(sps, `throughput[${batch}]`);
    if (typeof r.environment !== 'object' || r.environment === null) throw invalid('environment must be an object.');
    const row = {
      experiment_id: experimentId,
      model_id: check.optional(r.modelId, (v) => check.int(v, 'modelId', 1)),
      label: check.text(r.label, 'label', 500),
      device: check.text(r.device, 'device', 64),
      threads: check.optional(r.threads, (v) => check.int(v, 'threads', 0, 4096)),
      batch_size: check.int(r.batchSize, 'batchSize', 1),
      p50_ms: check.finite(lat.p50, 'latencyMs.p50'),
      p95_ms: check.finite(lat.p95, 'latencyMs.p95'),
      p99_ms: check.finite(lat.p99, 'latencyMs.p99'),
      throughput_json: toJson(throughput, 'throughput'),
      peak_memory_bytes: check.optional(r.peakMemoryBytes, (v) => check.int(v, 'peakMemoryBytes')),
      size_bytes: check.optional(r.sizeBytes, (v) => check.int(v, 'sizeBytes')),
      accuracy: fraction(r.accuracy, 'accuracy'),
      agreement: fraction(r.agreement, 'agreement'),
      environment_json: toJson(r.environment, 'environment'),
      created_at: r.createdAt === undefined ? this.clock() : check.int(r.createdAt, 'createdAt'),
    };
    return this.db.transaction(() => {
      if (this.s.expExists.get(experimentId) === undefined) throw notFound('experiment', experimentId);
      if (row.model_id !== null && this.s.modelExists.get(row.model_id) === undefined) throw notFound('model', row.model_id);
      return toResult(this.s.insert.get(row) as Row);
    })();
  }

  listForExperiment(experimentId: string): BenchmarkResult[] {
    return (this.s.list.all(check.experimentId(experimentId)) as Row[]).map(toResult);
  }
}
