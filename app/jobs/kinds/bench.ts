// Benchmarks as a job: the engine's bench module measures every model on the same data and
// device; each model's figures become a benchmark result row of the experiment.
import type { BenchmarkConfig } from '../../contract/api.js';
import type { WorkerBenchmark } from '../../contract/jobs.js';
import { fileName, type JobKindModule } from './types.js';

/** What this job expects from app/engine/bench (loaded by name: the module is optional). */
interface BenchModule {
  compareModels(
    options: { models: string[]; data?: string; device?: string; threads?: number; batchSizes?: number[]; runs?: number; limit?: number },
    onProgress?: (message: string) => void,
    signal?: AbortSignal,
  ): Promise<{ environment?: Record<string, unknown>; results: Array<Record<string, unknown>>; pareto?: string[] }>;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export const benchJob: JobKindModule<BenchmarkConfig> = {
  kind: 'bench',
  prepare(config, ctx) {
    const { name, tags: _tags, parentId: _parent, device, threads, ...rest } = config;
    const params = { ...rest, device: device ?? ctx.device, ...((threads ?? ctx.threads) ? { threads: threads ?? ctx.threads } : {}) };
    return { name: name ?? `benchmark ${config.models.map(fileName).join(' vs ')}`, experimentKind: 'bench', config: params, params, resumable: false };
  },
  async run(params, ctx) {
    const spec = '../../engine/bench/index.js';
    let mod: BenchModule;
    try {
      mod = (await import(/* @vite-ignore */ spec)) as BenchModule;
    } catch {
      throw new Error('benchmarks are not available in this build yet (app/engine/bench is missing)');
    }
    if (typeof mod.compareModels !== 'function') throw new Error('benchmarks are not available in this build yet (no compareModels)');
    let step = 0;
    const out = await mod.compareModels(
      params as Parameters<BenchModule['compareModels']>[0],
      (message) => {
        ctx.log(message, 'info', 'bench');
        ctx.progress({ stage: 'bench', step: ++step, totalSteps: 0 });
      },
      ctx.signal,
    );
    const environment = out.environment ?? {};
    const benchmarks: WorkerBenchmark[] = out.results.map((r) => {
      const lat = (r.latencyMs ?? {}) as Record<string, unknown>;
      return {
        label: String(r.model ?? r.label ?? 'model'),
        device: String(r.device ?? params.device ?? 'cpu'),
        threads: num(r.threads),
        batchSize: num(r.batchSize) ?? 1,
        latencyMs: { p50: num(lat.p50) ?? 0, p95: num(lat.p95) ?? 0, p99: num(lat.p99) ?? 0 },
        throughput: (r.throughput ?? {}) as Record<string, number>,
        peakMemoryBytes: num(r.peakMemoryBytes),
        sizeBytes: num(r.sizeBytes),
        accuracy: num(r.accuracy),
        agreement: num(r.agreement),
        environment,
      };
    });
    return { summary: { environment, results: out.results, pareto: out.pareto ?? [] } as unknown, artifacts: [], benchmarks };
  },
};
