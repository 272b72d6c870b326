// Writes a comparison's per-model results into the history: the model (by content hash) and one
// benchmark row each, with the environment and the figures that have no column of their own.
import { basename, resolve } from 'node:path';
import type { ModelBenchmark } from '../engine/bench/index.js';
import type { Store } from '../store/index.js';

export function recordBenchmarks(
  store: Store,
  experimentId: string,
  results: readonly ModelBenchmark[],
  options: { extra?: Record<string, unknown>; label?: (path: string) => string } = {},
): void {
  const labelOf = options.label ?? ((path: string) => path);
  store.transaction(() => {
    for (const r of results) {
      const model = store.models.upsertByHash({ sha256: r.sha256, path: resolve(r.model), name: basename(r.model), sizeBytes: r.sizeBytes });
      store.benchmarks.add(experimentId, {
        modelId: model.id,
        label: labelOf(r.model),
        device: r.device,
        threads: r.threads,
        batchSize: r.latencyBatchSize,
        latencyMs: { p50: r.latencyMs.p50, p95: r.latencyMs.p95, p99: r.latencyMs.p99 },
        throughput: r.throughput,
        peakMemoryBytes: r.peakMemoryBytes,
        sizeBytes: r.sizeBytes,
        accuracy: r.accuracy,
        agreement: r.agreement,
        environment: { ...r.environment, latencyCi95: r.latencyMs.ci95, latencyRuns: r.latencyMs.runs, kl: r.kl, memory: r.memory, ...options.extra },
      });
    }
  });
}
