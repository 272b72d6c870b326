// benchmarkModel: one model measured in a child process of its own; compareModels: several
// models measured one after the other with the same data, order and settings, then analysed.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { subset, type Split } from '../data/split.js';
import type { Device, DeviceRequest } from '../runtime/index.js';
import { findRegressions, paretoFront, recommend, type Regression, type RegressionThresholds } from './analysis.js';
import { scoreEnsembles, type EnsembleScore } from './ensemble.js';
import type { LatencyOptions } from './latency.js';
import { runBenchJob, type BenchData, type BenchEnvironment, type BenchJob, type JobResult, type MemoryFigure, type ThroughputFigure } from './measure.js';
import { summarize } from './stats.js';
import type { FromWorker, ToWorker } from './worker.js';

export interface BenchmarkOptions {
  /** Labelled samples (normally a test split) and the class count: accuracy, real inputs for timing. */
  data?: BenchData | null;
  /** Reference logits on the same samples (e.g. the teacher's / baseline's): agreement and KL. */
  reference?: Float32Array | null;
  /** Default 'cpu' (a benchmark should say where it ran; 'auto' is allowed). */
  device?: DeviceRequest;
  /** Intra-op threads; default all available. */
  threads?: number;
  /** Default false. */
  spinning?: boolean;
  /** Default [1, 8, 32]. */
  batchSizes?: number[];
  /** Score at most this many samples of `data` (the first ones). Default: all. */
  accuracyLimit?: number;
  /** Batch-1 latency loop settings (see measureLatency). */
  latency?: LatencyOptions;
  /** Per throughput batch size; default throughputDefaults(latency): ≥ 1 s sustained each. */
  throughputLatency?: LatencyOptions;
  /** Return the model's logits on the data (to use as another model's reference). */
  returnLogits?: boolean;
  /** Keep the raw batch-1 latency samples (ms). */
  keepSamples?: boolean;
  /** Score the data (default true when data is given); false only times. */
  evaluate?: boolean;
  /**
   * Default true: run in a child process (own memory figure, no competing session). False runs
   * in this process and reports no memory figure.
   */
  isolate?: boolean;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ModelBenchmark {
  /** The path as given. */
  model: string;
  sha256: string;
  sizeBytes: number;
  device: Device;
  fallbackReason: string | null;
  threads: number;
  /** Batch size of latencyMs (1 unless the model fixes another). */
  latencyBatchSize: number;
  latencyMs: {
    p50: number;
    p95: number;
    p99: number;
    mean: number;
    min: number;
    max: number;
    /** 95 % CI of the median. */
    ci95: [number, number];
    runs: number;
    stoppedBy: 'ci' | 'maxRuns' | 'maxSeconds';
  };
  /** samples/s by batch size ("1", "8", "32"). */
  throughput: Record<string, number>;
  throughputDetail: ThroughputFigure[];
  skippedBatchSizes: Array<{ batchSize: number; reason: string }>;
  /** Peak RSS of the benchmark process above its baseline before the session; null in-process. */
  peakMemoryBytes: number | null;
  memory: MemoryFigure | null;
  accuracy: number | null;
  agreement: number | null;
  kl: number | null;
  evaluatedSamples: number;
  environment: BenchEnvironment;
  logits?: Float32Array;
  latencySamples?: number[];
}

/** The worker entry next to this module: worker.ts under tsx/vitest, worker.js in a build. */
export function workerEntry(): { path: string; execArgv: string[] } {
  const self = import.meta.url;
  const ts = /\.ts$/.test(new URL(self).pathname);
  const path = fileURLToPath(new URL(ts ? './worker.ts' : './worker.js', self));
  const execArgv = ['--expose-gc', '--max-semi-space-size=1'];
  if (ts) {
    // Under `tsx file.ts` the loader is in execArgv already; under bin/distillery.mjs (tsx's
    // register API) or vitest it is not, so add it by absolute path (cwd-independent).
    const inherited = process.execArgv;
    const hasTsx = inherited.some((a) => /[\\/]tsx[\\/]|^tsx$/.test(a));
    if (hasTsx) execArgv.push(...inherited.filter((a) => !a.startsWith('--inspect')));
    else execArgv.push('--import', pathToFileURL(createRequire(self).resolve('tsx')).href);
  }
  return { path, execArgv };
}

function runInChild(job: BenchJob, onProgress: (m: string) => void, signal?: AbortSignal): Promise<JobResult> {
  const { path, execArgv } = workerEntry();
  return new Promise<JobResult>((resolve, reject) => {
    const env = process.versions.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : process.env; // plain Node under Electron
    const child = fork(path, [], { execArgv, env, serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      child.kill();
      finish(() => reject(signal?.reason instanceof Error ? signal.reason : new Error('benchmark cancelled')));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: FromWorker) => {
      if (m.kind === 'ready') child.send({ kind: 'run', job } satisfies ToWorker);
      else if (m.kind === 'progress') onProgress(m.message);
      else if (m.kind === 'result') finish(() => resolve(m.result));
      else if (m.kind === 'error') finish(() => reject(new Error(m.message)));
    });
    child.on('error', (e) => finish(() => reject(e)));
    child.on('exit', (code, sig) => {
      const tail = output.trim().split('\n').slice(-3).join(' | ');
      finish(() => reject(new Error(`the benchmark process for ${job.modelPath} ended (${sig ?? `exit code ${code}`}) without a result${tail ? `: ${tail}` : ''}`)));
    });
  });
}

/** Size, latency, throughput, memory, accuracy and agreement of one ONNX model. */
export async function benchmarkModel(path: string, options: BenchmarkOptions = {}): Promise<ModelBenchmark> {
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `${path}: no such model file` : `${path}: cannot read (${e.message})`);
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sizeBytes = bytes.byteLength;

  let data = options.data ?? null;
  let reference = options.reference ?? null;
  if (data && options.accuracyLimit !== undefined && options.accuracyLimit < data.split.count) {
    const n = Math.max(1, Math.floor(options.accuracyLimit));
    data = { split: firstSamples(data.split, n), classes: data.classes };
    if (reference && reference.length > n * data.classes) reference = reference.slice(0, n * data.classes);
  }
  const job: BenchJob = {
    modelPath: path,
    device: options.device ?? 'cpu',
    threads: options.threads,
    spinning: options.spinning ?? false,
    batchSizes: options.batchSizes ?? [1, 8, 32],
    latency: options.latency,
    throughputLatency: options.throughputLatency,
    data,
    reference,
    evaluate: options.evaluate,
    returnLogits: options.returnLogits ?? false,
    keepSamples: options.keepSamples ?? false,
    measureMemory: options.isolate ?? true,
  };
  const progress = options.onProgress ?? (() => undefined);
  const r = (options.isolate ?? true) ? await runInChild(job, progress, options.signal) : await runBenchJob(job, progress);

  const { latency } = r;
  const out: ModelBenchmark = {
    model: path,
    sha256,
    sizeBytes,
    device: r.device,
    fallbackReason: r.fallbackReason,
    threads: r.threads,
    latencyBatchSize: r.latencyBatchSize,
    latencyMs: {
      p50: latency.p50,
      p95: latency.p95,
      p99: latency.p99,
      mean: latency.mean,
      min: latency.min,
      max: latency.max,
      ci95: latency.ci95,
      runs: latency.runs,
      stoppedBy: latency.stoppedBy,
    },
    throughput: Object.fromEntries(r.throughput.map((t) => [String(t.batchSize), t.samplesPerSecond])),
    throughputDetail: r.throughput,
    skippedBatchSizes: r.skippedBatchSizes,
    peakMemoryBytes: r.memory?.peakBytes ?? null,
    memory: r.memory,
    accuracy: r.accuracy,
    agreement: r.agreement,
    kl: r.kl,
    evaluatedSamples: r.evaluatedSamples,
    environment: r.environment,
  };
  if (r.logits) out.logits = r.logits;
  if (latency.samples) out.latencySamples = latency.samples;
  return out;
}

function firstSamples(split: Split, n: number): Split {
  return subset(split, Int32Array.from({ length: n }, (_, i) => i));
}

export interface CompareOptions extends Omit<BenchmarkOptions, 'reference' | 'returnLogits' | 'onProgress'> {
  /**
   * Measurement rounds. Round 1 runs the models in the given order and scores the data; each
   * further round times them again in reversed, then original order (A B, B A, ...) and pools
   * the latency samples, so slow drift of the machine hits every model alike. Default 1.
   */
  rounds?: number;
  regressionThresholds?: RegressionThresholds;
  /**
   * Also score the averaged-softmax ensembles of the best 2 and best 3 models on the labelled
   * data (teacher selection). Keeps every model's logits until the end: samples × classes × 4
   * bytes each.
   */
  ensembles?: boolean;
  onProgress?: (e: { model: string; index: number; round: number; message: string }) => void;
}

export interface Comparison {
  /** Where it ran (from the first model's benchmark process). */
  environment: BenchEnvironment;
  /** In the given order; the first is the baseline. Agreement and KL are against the baseline. */
  results: ModelBenchmark[];
  baseline: string;
  /** Models not dominated on accuracy ↑, p50 latency ↓, size ↓. */
  pareto: string[];
  regressions: Regression[];
  /** Plain words: which model to use and why. */
  recommendation: string;
  recommended: string | null;
  rounds: number;
  /** With options.ensembles and labelled data: the best 2 (and 3) models' ensembles; else empty. */
  ensembles: EnsembleScore[];
}

/**
 * Benchmarks every model with the same data, order and settings, one child process per model,
 * one after the other (never two sessions at once). The first model is the baseline: its logits
 * are the reference for the others' agreement.
 */
export async function compareModels(paths: readonly string[], options: CompareOptions = {}): Promise<Comparison> {
  if (paths.length === 0) throw new Error('nothing to compare: give at least one model');
  const rounds = Math.max(1, Math.floor(options.rounds ?? 1));
  const { rounds: _r, regressionThresholds, onProgress, ensembles: withEnsembles, ...base } = options;
  const results: ModelBenchmark[] = [];
  const logits: Float32Array[] = [];
  let reference: Float32Array | null = null;
  for (const [index, model] of paths.entries()) {
    const r = await benchmarkModel(model, {
      ...base,
      reference: index === 0 ? null : reference,
      returnLogits: Boolean(base.data) && (index === 0 || Boolean(withEnsembles)),
      keepSamples: rounds > 1,
      onProgress: (message) => onProgress?.({ model, index, round: 1, message }),
    });
    if (index === 0 && r.logits) {
      reference = r.logits;
      // The baseline against itself: full agreement, zero KL by definition.
      r.agreement = 1;
      r.kl = 0;
    }
    if (withEnsembles && r.logits) logits[index] = r.logits;
    delete r.logits;
    results.push(r);
  }

  // Extra rounds: timing only, alternating order; pool batch-1 samples, average throughput.
  const maxBatch = Math.max(...(base.batchSizes ?? [1, 8, 32]), 1);
  const timingData = base.data ? { split: firstSamples(base.data.split, Math.min(maxBatch, base.data.split.count)), classes: base.data.classes } : null;
  for (let round = 2; round <= rounds; round++) {
    const order = round % 2 === 0 ? [...paths.keys()].reverse() : [...paths.keys()];
    for (const index of order) {
      const model = paths[index]!;
      const r = await benchmarkModel(model, {
        ...base,
        data: timingData,
        evaluate: false,
        keepSamples: true,
        onProgress: (message) => onProgress?.({ model, index, round, message }),
      });
      pool(results[index]!, r, round);
    }
  }
  for (const r of results) delete r.latencySamples;

  // The scored samples are the first evaluatedSamples of the data (see accuracyLimit).
  const labels = base.data?.split.y.subarray(0, results[0]!.evaluatedSamples);
  const ensembles = withEnsembles && base.data && labels ? scoreEnsembles(results.map((r, i) => ({ ...r, logits: logits[i] })), labels, base.data.classes) : [];
  const rec = recommend(results);
  return {
    environment: results[0]!.environment,
    results,
    baseline: paths[0]!,
    pareto: paretoFront(results),
    regressions: findRegressions(results, regressionThresholds),
    recommendation: rec.text,
    recommended: rec.model,
    rounds,
    ensembles,
  };
}

/** Merges round `round` (2, 3, ...) of a model into its result so far. */
function pool(into: ModelBenchmark, more: ModelBenchmark, round: number): void {
  const samples = [...(into.latencySamples ?? []), ...(more.latencySamples ?? [])];
  if (samples.length) {
    const s = summarize(samples);
    into.latencyMs = { ...s, stoppedBy: into.latencyMs.stoppedBy };
    into.latencySamples = samples;
  }
  // Throughput: per-round medians cannot be pooled exactly; take the mean of the rounds' figures.
  for (const t of more.throughputDetail) {
    const prev = into.throughputDetail.find((x) => x.batchSize === t.batchSize);
    if (!prev) continue;
    const avg = (a: number, b: number): number => (a * (round - 1) + b) / round;
    prev.samplesPerSecond = avg(prev.samplesPerSecond, t.samplesPerSecond);
    prev.sustainedSamplesPerSecond = avg(prev.sustainedSamplesPerSecond, t.sustainedSamplesPerSecond);
    prev.runs += t.runs;
    prev.seconds += t.seconds;
    into.throughput[String(t.batchSize)] = prev.samplesPerSecond;
  }
  if (more.peakMemoryBytes !== null) into.peakMemoryBytes = Math.max(into.peakMemoryBytes ?? 0, more.peakMemoryBytes);
}
