// One model's benchmark inside the current process: session, latency at batch 1, throughput
// per batch size, accuracy and agreement on data, and the process's memory high-water mark
// above a baseline taken just before the session was created. Normally run in a child process
// (worker.ts) so the memory figure is the session's alone and no other session competes.
import { writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { checkAgainstModelInput } from '../data/model-input.js';
import { sampleSize, type Split } from '../data/split.js';
import { createRng } from '../data/prng.js';
import { createSession, DeviceLostError, probeModelBytes, runtimeInfo, type DeviceRequest, type Device, type RuntimeInfo } from '../runtime/index.js';
import { evaluateLogits } from '../training/metrics.js';
import { latencyDefaults, measureLatency, type LatencyOptions, type LatencyResult } from './latency.js';

export interface BenchData {
  /** Samples to score (normally the test split). Labels of -1 count as unlabeled. */
  split: Split;
  classes: number;
}

export interface BenchJob {
  modelPath: string;
  device?: DeviceRequest;
  threads?: number;
  /** ORT thread spinning; default false (see ENGINE-NOTES G). */
  spinning?: boolean;
  /** Default [1, 8, 32]. */
  batchSizes?: number[];
  /** For the batch-1 latency. */
  latency?: LatencyOptions;
  /** For each throughput batch size; see throughputDefaults. */
  throughputLatency?: LatencyOptions;
  /** Labelled data: accuracy, the feeds for timing (real samples), agreement with `reference`. */
  data?: BenchData | null;
  /** Reference logits [data.split.count × classes] (e.g. the baseline model's) for agreement and KL. */
  reference?: Float32Array | null;
  /** Run the data through the model for accuracy / agreement (default true when data is given). */
  evaluate?: boolean;
  /** Return the model's logits on data.split (to serve as the reference for other models). */
  returnLogits?: boolean;
  /** Keep raw latency samples (ms) of the batch-1 measurement. */
  keepSamples?: boolean;
  /** Seed of the random inputs used without data. Default 1. */
  seed?: number;
  /** Measure memory (meaningful only in a fresh process that runs nothing else). Default true. */
  measureMemory?: boolean;
}

export interface BenchEnvironment extends RuntimeInfo {
  /** Execution provider that really ran. */
  device: Device;
  requestedDevice: DeviceRequest;
  fallbackReason: string | null;
  threads: number;
  spinning: boolean;
  graphOptimization: string;
  sessionConfig: Record<string, string>;
}

export interface MemoryFigure {
  /** Peak RSS during the benchmark minus the baseline (session, weights, arenas, run buffers). */
  peakBytes: number;
  baselineRssBytes: number;
  peakRssBytes: number;
  /**
   * 'maxRSS': the OS high-water mark (getrusage) after the benchmark, exact — on Linux the mark
   * is reset to the baseline first (peakReset); elsewhere it counts only when it rose above the
   * pre-baseline mark. 'sampled': it did not (start-up had been higher), so the peak is the
   * largest RSS sampled between phases, a lower bound.
   */
  method: 'maxRSS' | 'sampled';
  /** The high-water mark was reset at the baseline (Linux /proc/self/clear_refs). */
  peakReset: boolean;
}

export interface ThroughputFigure {
  batchSize: number;
  /**
   * batchSize / median time per batch: the rate of a typical run. Robust to stalls caused by
   * other processes on a shared machine, so two models compare fairly.
   */
  samplesPerSecond: number;
  /** batchSize / mean time per batch: the sustained rate with every stall counted. */
  sustainedSamplesPerSecond: number;
  /** Timed seconds behind the figure. */
  seconds: number;
  /** Time per batch. */
  latencyMs: { p50: number; mean: number; ci95: [number, number] };
  runs: number;
}

export interface JobResult {
  model: string;
  device: Device;
  fallbackReason: string | null;
  threads: number;
  /** Batch size of `latency` (1 unless the model fixes another). */
  latencyBatchSize: number;
  latency: LatencyResult;
  throughput: ThroughputFigure[];
  /** Batch sizes that could not run, with why (e.g. the model fixes its batch size). */
  skippedBatchSizes: Array<{ batchSize: number; reason: string }>;
  memory: MemoryFigure | null;
  accuracy: number | null;
  /** Top-1 agreement with the reference logits. */
  agreement: number | null;
  /** Mean KL(softmax(reference) ‖ softmax(model)). */
  kl: number | null;
  /** Samples scored (labelled ones count for accuracy). */
  evaluatedSamples: number;
  logits?: Float32Array;
  environment: BenchEnvironment;
}

/**
 * Throughput loops run back to back for at least a second (at most half the latency budget) so
 * the sustained (mean) rate averages its stalls; the CI rule then applies as for latency.
 */
export function throughputDefaults(latency: LatencyOptions = {}): LatencyOptions {
  const maxSeconds = (latency.maxSeconds ?? latencyDefaults.maxSeconds) / 2;
  return {
    warmup: 5,
    minRuns: 10,
    maxRuns: 1_000_000,
    minSeconds: Math.min(1, maxSeconds),
    maxSeconds,
    targetRelCi: latency.targetRelCi ?? latencyDefaults.targetRelCi,
  };
}

const rssNow = (): number => process.memoryUsage.rss();

/** Linux ≥ 4.0: writing 5 to /proc/self/clear_refs resets VmHWM (the peak RSS). False elsewhere. */
function resetPeakRss(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
const maxRssBytes = (): number => process.resourceUsage().maxRSS * 1024;

interface InputSpec {
  name: string;
  type: string;
  /** Per-sample dims (batch excluded), all known. */
  sample: number[];
  fixedBatch: number | null;
}

function describeInputs(session: ort.InferenceSession): Array<{ name: string; type: string; shape: Array<number | string> }> {
  return session.inputMetadata.map((m) => {
    if (!m.isTensor) throw new Error(`input '${m.name}' is not a tensor; only tensor inputs can be benchmarked`);
    return { name: m.name, type: m.type, shape: [...m.shape] };
  });
}

/** Input feed makers for a batch size: real samples for a classifier with data, else seeded random values. */
function feedMaker(session: ort.InferenceSession, data: BenchData | null | undefined, seed: number): { specs: InputSpec[]; make: (batch: number) => Record<string, ort.Tensor> } {
  const inputs = describeInputs(session);
  if (data) {
    if (inputs.length !== 1) throw new Error(`the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); scoring on a dataset needs exactly one`);
    const input = inputs[0]!;
    if (input.type !== 'float32') throw new Error(`input '${input.name}' takes ${input.type}; datasets are fed as float32`);
    const fit = checkAgainstModelInput(data.split, input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : String(d))), { inputName: input.name });
    const size = sampleSize(data.split.sampleShape);
    const count = data.split.count;
    if (count === 0) throw new Error('the data has no samples');
    return {
      specs: [{ name: input.name, type: 'float32', sample: fit.modelSampleShape, fixedBatch: fit.fixedBatchSize }],
      make: (batch) => {
        const x = new Float32Array(batch * size);
        for (let i = 0; i < batch; i++) {
          const src = i % count;
          x.set(data.split.x.subarray(src * size, (src + 1) * size), i * size);
        }
        return { [input.name]: new ort.Tensor('float32', x, [batch, ...fit.modelSampleShape]) };
      },
    };
  }
  const specs: InputSpec[] = inputs.map((i) => {
    if (i.shape.length === 0) return { name: i.name, type: i.type, sample: [], fixedBatch: null };
    const [b, ...rest] = i.shape;
    const unknown = rest.filter((d) => typeof d !== 'number' || d < 1);
    if (unknown.length) throw new Error(`input '${i.name}' has open dimensions [${i.shape.join(', ')}] besides the batch; give --data so real samples decide them`);
    return { name: i.name, type: i.type, sample: rest as number[], fixedBatch: typeof b === 'number' && b > 0 ? b : null };
  });
  return {
    specs,
    make: (batch) => {
      const rng = createRng(seed);
      const feeds: Record<string, ort.Tensor> = {};
      for (const s of specs) {
        const dims = s.sample.length === 0 && s.fixedBatch === null ? [] : [batch, ...s.sample];
        const n = dims.reduce((a, d) => a * d, 1);
        if (s.type === 'float32') feeds[s.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => rng.next()), dims);
        else if (s.type === 'int64') feeds[s.name] = new ort.Tensor('int64', new BigInt64Array(n), dims);
        else if (s.type === 'int32') feeds[s.name] = new ort.Tensor('int32', new Int32Array(n), dims);
        else throw new Error(`input '${s.name}' takes ${s.type}; only float32, int64 and int32 inputs can be fed without data`);
      }
      return feeds;
    },
  };
}

/** Runs one benchmark job in this process. */
export async function runBenchJob(job: BenchJob, onProgress: (message: string) => void = () => undefined): Promise<JobResult> {
  const batchSizes = job.batchSizes ?? [1, 8, 32];
  for (const b of batchSizes) if (!Number.isInteger(b) || b < 1) throw new Error(`batch sizes must be positive whole numbers, got ${b}`);
  const measureMemory = job.measureMemory ?? true;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (measureMemory) {
    // ORT's one-time process costs (environment, kernel registries, first allocations) are paid
    // by a one-node probe session before the baseline, so they are not charged to the model.
    const probe = await createSession(probeModelBytes(), { device: job.device ?? 'cpu', threads: job.threads, spinning: job.spinning ?? false });
    // The probe is Add(x, y) over [3, 4, 5] floats; a failed run only makes the baseline lower.
    const feeds = Object.fromEntries(probe.session.inputNames.map((n) => [n, new ort.Tensor('float32', new Float32Array(60), [3, 4, 5])]));
    await probe.session.run(feeds).catch(() => undefined);
    await probe.session.release();
    gc?.();
  }
  // Linux: reset the process's RSS high-water mark to its current RSS, so start-up, data loading
  // and the probe do not hide the model's peak (getrusage's maxRSS follows the reset).
  const hwmReset = measureMemory && resetPeakRss();
  const baselineRss = rssNow();
  const maxRssBefore = maxRssBytes();
  let sampledPeak = baselineRss;
  const sample = (): void => {
    sampledPeak = Math.max(sampledPeak, rssNow());
  };

  onProgress('creating the session');
  const created = await createSession(job.modelPath, { device: job.device ?? 'cpu', threads: job.threads, spinning: job.spinning ?? false });
  const { session } = created;
  try {
    sample();
    const { specs, make } = feedMaker(session, job.data, job.seed ?? 1);
    const fixed = specs.find((s) => s.fixedBatch !== null)?.fixedBatch ?? null;
    const latencyBatch = fixed ?? 1;

    onProgress(`latency at batch ${latencyBatch}`);
    const latency = await measureLatency(session, make(latencyBatch), { ...job.latency, keepSamples: job.keepSamples ?? false });
    sample();

    const throughput: ThroughputFigure[] = [];
    const skippedBatchSizes: JobResult['skippedBatchSizes'] = [];
const tOpts: LatencyOptions = { ...throughputDefaults(job.latency), ...job.throughputLatency };
    for (const b of batchSizes) {
      if (fixed !== null && b !== fixed) {
        skippedBatchSizes.push({ batchSize: b, reason: `the model's input has a fixed batch size of ${fixed}` });
        continue;
      }
      onProgress(`throughput at batch ${b}`);
      const r = await measureLatency(session, make(b), { ...tOpts, keepSamples: false });
      throughput.push({
        batchSize: b,
        samplesPerSecond: (b * 1000) / r.p50,
        sustainedSamplesPerSecond: (b * 1000) / r.mean,
        latencyMs: { p50: r.p50, mean: r.mean, ci95: r.ci95 },
        runs: r.runs,
        seconds: (r.mean * r.runs) / 1000,
      });
      sample();
    }

    let accuracy: number | null = null;
    let agreement: number | null = null;
    let kl: number | null = null;
    let logits: Float32Array | undefined;
    let evaluated = 0;
    if (job.data && (job.evaluate ?? true)) {
      onProgress(`scoring ${job.data.split.count} samples`);
      logits = await logitsOn(session, job.data, specs[0]!, fixed ?? Math.max(...batchSizes, 1));
      sample();
      const classes = job.data.classes;
      if (job.reference && job.reference.length !== logits.length) {
        throw new Error(`reference logits have ${job.reference.length} values, this model gives ${logits.length} (different class counts?)`);
      }
      const m = evaluateLogits(logits, job.data.split.y, job.reference ? [job.reference] : [], classes);
      accuracy = m.accuracy;
      agreement = m.agreement;
      kl = m.kl;
      evaluated = job.data.split.count;
    }

    let memory: MemoryFigure | null = null;
    if (measureMemory) {
      const maxRssAfter = maxRssBytes();
      sample();
      memory = maxRssAfter > maxRssBefore || hwmReset
        ? { peakBytes: Math.max(0, maxRssAfter - baselineRss), baselineRssBytes: baselineRss, peakRssBytes: maxRssAfter, method: 'maxRSS', peakReset: hwmReset }
        : { peakBytes: sampledPeak - baselineRss, baselineRssBytes: baselineRss, peakRssBytes: sampledPeak, method: 'sampled', peakReset: false };
    }

    const environment: BenchEnvironment = {
      ...runtimeInfo(),
      device: created.device,
      requestedDevice: created.requested,
      fallbackReason: created.fallbackReason ?? null,
      threads: created.threads,
      spinning: job.spinning ?? false,
      graphOptimization: created.graphOptimization,
      sessionConfig: created.sessionConfig,
    };
    const result: JobResult = {
      model: job.modelPath,
      device: created.device,
      fallbackReason: created.fallbackReason ?? null,
      threads: created.threads,
      latencyBatchSize: latencyBatch,
      latency,
      throughput,
      skippedBatchSizes,
      memory,
      accuracy,
      agreement,
      kl,
      evaluatedSamples: evaluated,
      environment,
    };
    if (job.returnLogits && logits) result.logits = logits;
    return result;
  } catch (err) {
    // No fallback here: latency measured partly on another device would mean nothing.
    if (err instanceof DeviceLostError) {
      throw new Error(`${job.modelPath}: the GPU (${err.device}) stopped responding during the benchmark (${err.reason}); the benchmark stopped. Run it again, or benchmark on the CPU.`, { cause: err });
    }
    throw err;
  } finally {
    // A session on a lost device may fail to release; that must not hide the real error.
    await session.release().catch(() => undefined);
  }
}

/** Logits [count × classes] of the model on every sample, in order (last batch zero-padded for a fixed batch). */
async function logitsOn(session: ort.InferenceSession, data: BenchData, input: InputSpec, batchSize: number): Promise<Float32Array> {
  const { split, classes } = data;
  const size = sampleSize(split.sampleShape);
  const out = new Float32Array(split.count * classes);
  const outputName = session.outputNames[0]!;
  const full = new Float32Array((input.fixedBatch ?? batchSize) * size);
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    const fed = input.fixedBatch ?? n;
    // One reused input buffer (zero-padded tail for a fixed batch size): little garbage.
    const x = fed * size === full.length ? full : new Float32Array(fed * size);
    if (n < fed) x.fill(0);
    x.set(split.x.subarray(start * size, (start + n) * size));
    const res = await session.run({ [input.name]: new ort.Tensor('float32', x, [fed, ...input.sample]) });
    const y = res[outputName]!;
    if (y.type !== 'float32') throw new Error(`output '${outputName}' is ${y.type}; expected float32 logits`);
    if (y.dims.length !== 2 || y.dims[1] !== classes) {
      throw new Error(`output '${outputName}' has shape [${y.dims.join(', ')}]; expected [batch, ${classes}] for ${classes} classes`);
    }
    out.set((y.data as Float32Array).subarray(0, n * classes), start * classes);
  }
  return out;
}
