// `distillery bench MODEL.onnx [MODEL.onnx ...] [--data DATASET] [--device ...] [--json]`
// Measures every model in its own child process, one after the other, with the same data and
// settings; the first model is the baseline. Records a 'bench' experiment with one
// benchmark_results row per model.
import { recordBenchmarks } from '../../services/benchmarks.js';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { RegisterCommand } from './index.js';
import { compareModels, fmtBytes, fmtMs, type Comparison, type EnsembleScore, type ModelBenchmark } from '../../engine/bench/index.js';
import { loadDataset, planSplits, type Normalize } from '../../engine/data/index.js';
import { classifierInfo } from '../../engine/distill/teacher.js';
import { decodeModelFile } from '../../engine/onnx/io.js';
import type { DeviceRequest } from '../../engine/runtime/index.js';
import { UserError } from '../errors.js';
import { openHistory } from '../history.js';
import { printJson } from '../output.js';
import { parseDevice, parseInteger, parseNormalize, parseNumber } from '../parse.js';
import { createProgress } from '../progress.js';

export function parseBatchSizes(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  const sizes = parts.map(Number);
  if (parts.length === 0 || sizes.some((n, i) => !/^\d+$/.test(parts[i]!) || n < 1 || n > 65536)) {
    throw new InvalidArgumentError(`'${value}' should be batch sizes separated by commas, e.g. 1,8,32.`);
  }
  return [...new Set(sizes)];
}

export interface BenchCliOptions {
  data?: string;
  normalize?: Normalize;
  labelColumn?: string;
  seed: number;
  device: DeviceRequest;
  threads?: number;
  batchSizes: number[];
  accuracyLimit?: number;
  rounds: number;
  maxSeconds: number;
  targetCi: number;
  spinning?: boolean;
  /** Also score the best 2 and 3 models' averaged-softmax ensembles (needs --data). */
  ensembles?: boolean;
  db?: string;
  json?: boolean;
}

/** The `bench` JSON document (DESIGN.md "CLI contract"). */
export interface BenchJson {
  experimentId: string;
  environment: Comparison['environment'];
  results: Array<{
    model: string;
    sha256: string;
    sizeBytes: number;
    device: string;
    threads: number;
    fallbackReason: string | null;
    latencyBatchSize: number;
    latencyMs: { p50: number; p95: number; p99: number; mean: number; ci95: [number, number]; runs: number };
    throughput: Record<string, number>;
    skippedBatchSizes: Array<{ batchSize: number; reason: string }>;
    peakMemoryBytes: number | null;
    memoryMethod: string | null;
    accuracy: number | null;
    agreement: number | null;
    kl: number | null;
    evaluatedSamples: number;
  }>;
  baseline: string;
  pareto: string[];
  regressions: Comparison['regressions'];
  recommendation: string;
  recommended: string | null;
  /** With --ensembles: the best 2 (and 3) models' averaged softmax, scored on the same samples. */
  ensembles: EnsembleScore[];
  data: { source: string; testFrom: 'dataset' | 'seeded'; samples: number; classes: number; seed: number } | null;
  settings: { device: string; threads: number | null; batchSizes: number[]; rounds: number; maxSeconds: number; targetRelCi: number; spinning: boolean };
}

export async function runBench(models: string[], o: BenchCliOptions): Promise<BenchJson> {
  for (const m of models) {
    const s = await stat(m).catch(() => null);
    if (!s?.isFile()) throw new UserError(`${m}: no such model file`);
  }
  if (o.ensembles && (!o.data || models.length < 2)) throw new UserError('--ensembles needs --data (labelled samples to score on) and at least two models');
  const progress = createProgress();
  let data: { split: import('../../engine/data/index.js').Split; classes: number } | null = null;
  let dataInfo: BenchJson['data'] = null;
  if (o.data) {
    progress.stage(`reading ${o.data}`);
    let classes: number;
    try {
      const bytes = new Uint8Array(await readFile(models[0]!));
      classes = classifierInfo(models[0]!, bytes, await decodeModelFile(models[0]!, bytes)).classes;
    } catch (err) {
      throw new UserError(`--data needs classifiers: ${(err as Error).message}`);
    }
    try {
      const dataset = await loadDataset(o.data, { numClasses: classes, normalize: o.normalize, labelColumn: o.labelColumn });
      const plan = dataset.test ? null : planSplits(dataset, { seed: o.seed });
      const split = dataset.test ?? plan!.test;
      data = { split, classes };
      dataInfo = { source: dataset.source, testFrom: dataset.test ? 'dataset' : 'seeded', samples: Math.min(split.count, o.accuracyLimit ?? Infinity), classes, seed: o.seed };
    } catch (err) {
      throw new UserError((err as Error).message);
    }
  }

  const history = await openHistory(o.db);
  const settings = {
    device: o.device,
    threads: o.threads ?? null,
    batchSizes: o.batchSizes,
    rounds: o.rounds,
    maxSeconds: o.maxSeconds,
    targetRelCi: o.targetCi,
    spinning: Boolean(o.spinning),
  };
  const experiment = history.start('bench', `bench ${models.map((m) => basename(m)).join(' vs ')}`, { models, data: o.data ?? null, seed: o.seed, ...settings });
  let cmp: Comparison;
  try {
    cmp = await compareModels(models, {
      data,
      device: o.device,
      threads: o.threads,
      spinning: o.spinning,
      batchSizes: o.batchSizes,
      accuracyLimit: o.accuracyLimit,
      rounds: o.rounds,
      ensembles: o.ensembles === true,
      latency: { maxSeconds: o.maxSeconds, targetRelCi: o.targetCi },
      onProgress: (e) => progress.info(`${basename(e.model)}${o.rounds > 1 ? ` (round ${e.round})` : ''}: ${e.message}`),
    });
    recordBenchmarks(history.store, experiment.id, cmp.results, { extra: { data: dataInfo } });
  } catch (err) {
    progress.stop();
    experiment.fail(err);
    history.close();
    throw err instanceof Error && !(err instanceof UserError) ? new UserError(err.message) : err;
  }
  progress.stop();
  const json: BenchJson = {
    experimentId: experiment.id,
    environment: cmp.environment,
    results: cmp.results.map(resultJson),
    baseline: cmp.baseline,
    pareto: cmp.pareto,
    regressions: cmp.regressions,
    recommendation: cmp.recommendation,
    recommended: cmp.recommended,
    ensembles: cmp.ensembles,
    data: dataInfo,
    settings: { ...settings, threads: cmp.environment.threads },
  };
  experiment.succeed({
    baseline: json.baseline,
    recommended: json.recommended,
    recommendation: json.recommendation,
    pareto: json.pareto,
    regressions: json.regressions.length,
    ...(json.ensembles.length ? { ensembles: json.ensembles } : {}),
    results: json.results.map((r) => ({ model: r.model, sizeBytes: r.sizeBytes, p50Ms: r.latencyMs.p50, accuracy: r.accuracy, agreement: r.agreement })),
  });
  history.close();
  if (o.json) printJson(json);
  else process.stdout.write(formatTable(json));
  return json;
}

function resultJson(r: ModelBenchmark): BenchJson['results'][number] {
  return {
    model: r.model,
    sha256: r.sha256,
    sizeBytes: r.sizeBytes,
    device: r.device,
    threads: r.threads,
    fallbackReason: r.fallbackReason,
    latencyBatchSize: r.latencyBatchSize,
    latencyMs: { p50: r.latencyMs.p50, p95: r.latencyMs.p95, p99: r.latencyMs.p99, mean: r.latencyMs.mean, ci95: r.latencyMs.ci95, runs: r.latencyMs.runs },
    throughput: r.throughput,
    skippedBatchSizes: r.skippedBatchSizes,
    peakMemoryBytes: r.peakMemoryBytes,
    memoryMethod: r.memory?.method ?? null,
    accuracy: r.accuracy,
    agreement: r.agreement,
    kl: r.kl,
    evaluatedSamples: r.evaluatedSamples,
  };
}

const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);

/** The readable table printed without --json. */
export function formatTable(j: BenchJson): string {
  const batches = j.settings.batchSizes;
  const head = ['', 'model', 'size', 'p50', 'p95', 'p99', ...batches.map((b) => `samples/s @${b}`), 'memory', 'accuracy', 'agreement'];
  const rows = j.results.map((r, i) => [
    `${i === 0 ? 'B' : ' '}${j.pareto.includes(r.model) ? '*' : ' '}`,
    basename(r.model),
    fmtBytes(r.sizeBytes),
    fmtMs(r.latencyMs.p50),
    fmtMs(r.latencyMs.p95),
    fmtMs(r.latencyMs.p99),
    ...batches.map((b) => (r.throughput[String(b)] === undefined ? '-' : Math.round(r.throughput[String(b)]!).toLocaleString('en-US'))),
    r.peakMemoryBytes === null ? 'n/a' : fmtBytes(r.peakMemoryBytes),
    pct(r.accuracy),
    i === 0 ? (r.agreement === null ? 'n/a' : 'baseline') : pct(r.agreement),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => cells.map((s, c) => (c <= 1 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ').trimEnd();
  const env = j.environment;
  const flags = Object.entries(env.cpu.flags).filter(([k, v]) => v && ['avx2', 'avx512', 'vnni', 'neon', 'dotprod', 'amx'].includes(k)).map(([k]) => k);
  const out = [
    `${env.cpu.model}${flags.length ? ` (${flags.join(', ')})` : ''}, ONNX Runtime ${env.onnxruntime.version}, ${env.device} with ${env.threads} thread${env.threads === 1 ? '' : 's'}${env.spinning ? ', spinning' : ''}`,
    '',
    line(head),
    ...rows.map(line),
    '',
    'B = baseline (agreement is with it), * = on the Pareto front (accuracy, p50 latency, size)',
  ];
  for (const r of j.results) if (r.fallbackReason) out.push(`${basename(r.model)}: ${r.fallbackReason}`);
  for (const r of j.results) for (const s of r.skippedBatchSizes) out.push(`${basename(r.model)}: batch ${s.batchSize} skipped: ${s.reason}`);
  if (j.data) out.push(`Accuracy on ${j.data.samples} ${j.data.testFrom === 'dataset' ? "samples of the dataset's test split" : `samples of a seeded test split (seed ${j.data.seed})`}.`);
  if (j.ensembles.length) {
    out.push('', 'Ensembles (averaged softmax; latency and size are the sums of the members\'):');
    for (const e of j.ensembles) {
      out.push(`  ${e.members.map((m) => basename(m)).join(' + ')}: ${pct(e.accuracy)} on ${e.samples} samples (${e.gains} right where ${basename(e.members[0]!)} is wrong, ${e.losses} the reverse), ${fmtMs(e.latencyMs)}, ${fmtBytes(e.sizeBytes)}`);
    }
  }
  if (j.regressions.length) {
    out.push('', 'Regressions against the baseline:');
    for (const r of j.regressions) out.push(`  - ${r.message}`);
  }
  out.push('', j.recommendation, `Experiment ${j.experimentId}`, '');
  return out.join('\n');
}

export const registerBench: RegisterCommand = (program) => {
  program
    .command('bench')
    .description('Measure models side by side: latency, throughput, memory, size, accuracy, agreement with the first')
    .argument('<models...>', '.onnx files; the first is the baseline')
    .option('--data <dataset>', 'labelled data for accuracy (its test split, or a seeded one)')
    .option('--normalize <mean,std>', 'normalise inputs as the models were trained: (x - mean) / std', parseNormalize)
    .option('--label-column <name>', 'CSV label column', 'label')
    .option('--seed <n>', 'seed of the test split when the dataset has none', parseInteger, 42)
    .addOption(new Option('--device <device>', 'where to run').argParser(parseDevice).default('cpu'))
    .option('--threads <n>', 'CPU threads (default: all)', parseInteger)
    .option('--batch-sizes <list>', 'throughput batch sizes', parseBatchSizes, [1, 8, 32])
    .option('--accuracy-limit <n>', 'score at most N samples', parseInteger)
    .option('--rounds <n>', 'timing rounds, alternating the model order (A B, B A, ...)', parseInteger, 1)
    .option('--max-seconds <s>', 'time budget of the batch-1 latency loop per model', parseNumber, 10)
    .option('--target-ci <fraction>', 'stop timing when the median is known to within this fraction', parseNumber, 0.02)
    .option('--spinning', 'let ORT threads spin while idle (lower latency, burns CPU)')
    .option('--ensembles', "also score the best 2 and 3 models' averaged-softmax ensembles (teacher candidates; needs --data)")
    .option('--db <path>', 'experiment history database')
    .option('--json', 'print one JSON document on stdout')
    .action(async (models: string[], o: BenchCliOptions) => {
      if (o.threads !== undefined && o.threads < 1) throw new UserError('--threads must be at least 1');
      if (o.rounds < 1) throw new UserError('--rounds must be at least 1');
      if (!(o.maxSeconds > 0)) throw new UserError('--max-seconds must be positive');
      if (!(o.targetCi > 0 && o.targetCi < 1)) throw new UserError('--target-ci must be a fraction between 0 and 1');
      if (o.accuracyLimit !== undefined && o.accuracyLimit < 1) throw new UserError('--accuracy-limit must be at least 1');
      await runBench(models, o);
    });
};

export type { Command };
