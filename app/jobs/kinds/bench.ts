// Benchmarks as a job: the engine's bench module measures every model on the same data and
// device; each model's figures become a benchmark result row of the experiment.
import type { BenchmarkConfig, EnsembleScore } from '../../contract/api.js';
import type { WorkerBenchmark } from '../../contract/jobs.js';
import { fileName, type JobKindModule } from './types.js';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export const benchJob: JobKindModule<BenchmarkConfig> = {
  kind: 'bench',
  prepare(config, ctx) {
    const { name, tags: _tags, parentId: _parent, device, threads, ...rest } = config;
    const params = { ...rest, device: device ?? ctx.device, ...((threads ?? ctx.threads) ? { threads: threads ?? ctx.threads } : {}) };
    return { name: name ?? `benchmark ${config.models.map(fileName).join(' vs ')}`, experimentKind: 'bench', config: params, params, resumable: false };
  },
  async run(params, ctx) {
    const [{ compareModels }, data] = await Promise.all([import('../../engine/bench/index.js'), import('../../engine/data/index.js')]);
    const p = params as { models: string[]; data?: string; device?: string; threads?: number; batchSizes?: number[]; runs?: number; limit?: number; ensembles?: boolean };
    let split: { split: import('../../engine/data/index.js').Split; classes: number } | null = null;
    if (p.data) {
      const dataset = await data.loadDataset(p.data, { limit: p.limit });
      const test = dataset.test ?? data.planSplits(dataset, { seed: 42 }).test;
      split = { split: test, classes: dataset.classes.length };
    }
    let step = 0;
    const out = await compareModels(p.models, {
      data: split,
      device: (p.device ?? 'cpu') as 'cpu',
      threads: p.threads,
      batchSizes: p.batchSizes,
      rounds: p.runs,
      accuracyLimit: p.limit,
      ensembles: p.ensembles,
      signal: ctx.signal,
      onProgress: (e) => {
        ctx.log(`${fileName(e.model)}: ${e.message}`, 'info', 'bench');
        ctx.progress({ stage: 'bench', step: ++step, totalSteps: 0 });
      },
    });
    const environment = out.environment as unknown as Record<string, unknown>;
    const benchmarks: WorkerBenchmark[] = out.results.map((r) => {
      const lat = r.latencyMs as unknown as Record<string, unknown>;
      return {
        label: fileName(r.model),
        device: r.device,
        threads: num(r.threads),
        batchSize: r.latencyBatchSize,
        latencyMs: { p50: num(lat.p50) ?? 0, p95: num(lat.p95) ?? 0, p99: num(lat.p99) ?? 0 },
        throughput: (r.throughput ?? {}) as Record<string, number>,
        peakMemoryBytes: num(r.peakMemoryBytes),
        sizeBytes: num(r.sizeBytes),
        accuracy: num(r.accuracy),
        agreement: num(r.agreement),
        environment,
      };
    });
    const ensembles: EnsembleScore[] = out.ensembles; // the engine's shape is the contract's
    const results = out.results.map(({ logits: _l, latencySamples: _s, environment: _e, ...rest }) => rest);
    return {
      summary: { environment, results, pareto: out.pareto, regressions: out.regressions, recommendation: out.recommendation, recommended: out.recommended, ensembles } as unknown,
      artifacts: [],
      benchmarks,
    };
  },
};
