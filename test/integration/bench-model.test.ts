// A real benchmark of real models: built students on the bundled Fashion-MNIST sample, each
// measured in its own child process. Few runs (fast), and no timing is asserted: only that the
// figures are sane, the environment is recorded, and the CLI / history plumbing works.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { benchmarkModel, compareModels, type BenchData, type LatencyOptions } from '../../app/engine/bench/index.js';
import { main } from '../../app/cli/main.js';
import { loadDataset } from '../../app/engine/data/index.js';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { saveModel } from '../../app/engine/onnx/io.js';
import { openDatabase } from '../../app/store/index.js';

const DATA = 'resources/sample-data/fashion-mnist-small';
const quick: LatencyOptions = { warmup: 3, minRuns: 10, maxRuns: 40, maxSeconds: 0.5 };
const quickThroughput: LatencyOptions = { warmup: 2, minRuns: 10, maxRuns: 20, maxSeconds: 0.3 };

let dir: string;
let cnn: string;
let mlp: string;
let data: BenchData;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distillery-bench-'));
  cnn = join(dir, 'cnn.onnx');
  mlp = join(dir, 'mlp.onnx');
  await saveModel(buildStudent({ template: parseTemplate('cnn:8,16/32'), sampleShape: [1, 28, 28], classes: 10, seed: 1 }), cnn);
  await saveModel(buildStudent({ template: parseTemplate('mlp:32'), sampleShape: [1, 28, 28], classes: 10, seed: 1 }), mlp);
  const ds = await loadDataset(DATA, { numClasses: 10, limit: 100 });
  data = { split: ds.test!, classes: 10 };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('benchmarkModel', () => {
  it('measures a real model in a child process: sane positive figures and the environment', async () => {
    const messages: string[] = [];
    const r = await benchmarkModel(cnn, {
      data,
      device: 'cpu',
      threads: 1,
      batchSizes: [1, 4],
      latency: quick,
      throughputLatency: quickThroughput,
      returnLogits: true,
      onProgress: (m) => messages.push(m),
    });
    expect(r.sizeBytes).toBe((await stat(cnn)).size);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.device).toBe('cpu');
    expect(r.threads).toBe(1);
    expect(r.latencyBatchSize).toBe(1);
    const l = r.latencyMs;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p95);
    expect(l.p95).toBeLessThanOrEqual(l.p99);
    expect(l.ci95[0]).toBeLessThanOrEqual(l.p50);
    expect(l.ci95[1]).toBeGreaterThanOrEqual(l.p50);
    expect(l.runs).toBeGreaterThanOrEqual(10);
    expect(l.runs).toBeLessThanOrEqual(40);
    expect(Object.keys(r.throughput).sort()).toEqual(['1', '4']);
    for (const v of Object.values(r.throughput)) expect(v).toBeGreaterThan(0);
    expect(r.peakMemoryBytes).toBeGreaterThan(0);
    expect(r.memory?.baselineRssBytes).toBeGreaterThan(0);
    // Accuracy of an untrained model is near chance; only its range and sample count are known.
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(r.evaluatedSamples).toBe(100);
    expect(r.agreement).toBeNull();
    expect(r.logits).toHaveLength(100 * 10);
    expect(r.environment).toMatchObject({ device: 'cpu', requestedDevice: 'cpu', threads: 1, spinning: false, fallbackReason: null });
    expect(r.environment.onnxruntime.version).toMatch(/^\d+\.\d+/);
    expect(r.environment.distillery.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.environment.cpu.model.length).toBeGreaterThan(0);
    expect(r.environment.cpu.logicalCores).toBeGreaterThan(0);
    expect(messages).toContain('latency at batch 1');

    // The same model against its own logits: full agreement, zero KL.
    const again = await benchmarkModel(cnn, { data, reference: r.logits!, threads: 1, batchSizes: [1], latency: quick, throughputLatency: quickThroughput, isolate: false });
    expect(again.agreement).toBe(1);
    expect(again.kl).toBeCloseTo(0, 6);
    expect(again.accuracy).toBe(r.accuracy);
    expect(again.peakMemoryBytes).toBeNull(); // in-process: no trustworthy memory figure
  });

  it('times without data on seeded random inputs, and names a missing file', async () => {
    const r = await benchmarkModel(mlp, { threads: 1, batchSizes: [2], latency: quick, throughputLatency: quickThroughput });
    expect(r.accuracy).toBeNull();
    expect(r.agreement).toBeNull();
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(Object.keys(r.throughput)).toEqual(['2']);
    await expect(benchmarkModel(join(dir, 'missing.onnx'))).rejects.toThrow(/no such model file/);
  });

  it('reports an error from the child with its message', async () => {
    const wrong: BenchData = { split: { ...data.split, x: new Float32Array(100 * 5), sampleShape: [5] }, classes: 10 };
    await expect(benchmarkModel(cnn, { data: wrong, threads: 1, latency: quick })).rejects.toThrow(/expects samples of shape/);
  });
});

describe('compareModels', () => {
  it('benchmarks each model the same way and analyses the set', async () => {
    const c = await compareModels([cnn, mlp], { data, threads: 1, batchSizes: [1, 4], latency: quick, throughputLatency: quickThroughput });
    expect(c.results.map((r) => r.model)).toEqual([cnn, mlp]);
    expect(c.baseline).toBe(cnn);
    expect(c.results[0]!.agreement).toBe(1);
    expect(c.results[1]!.agreement).toBeGreaterThanOrEqual(0);
    expect(c.results[1]!.agreement).toBeLessThanOrEqual(1);
    expect(c.results[1]!.kl).toBeGreaterThanOrEqual(0);
    for (const r of c.results) expect(r.logits).toBeUndefined();
    expect(c.pareto.length).toBeGreaterThan(0);
    expect(c.pareto.every((m) => [cnn, mlp].includes(m))).toBe(true);
    expect(c.recommended === cnn || c.recommended === mlp).toBe(true);
    expect(c.recommendation).toMatch(/^Use (cnn|mlp)\.onnx/);
    expect(Array.isArray(c.regressions)).toBe(true);
    expect(c.environment.device).toBe('cpu');
  });

  it('pools the timing of alternating rounds', async () => {
    const order: string[] = [];
    const c = await compareModels([mlp, cnn], {
      threads: 1,
      batchSizes: [1],
      latency: quick,
      throughputLatency: quickThroughput,
      rounds: 2,
      onProgress: (e) => {
        if (e.message === 'creating the session') order.push(`${e.round}:${e.index}`);
      },
    });
    expect(c.rounds).toBe(2);
    expect(order).toEqual(['1:0', '1:1', '2:1', '2:0']); // A B, then B A
    for (const r of c.results) {
      expect(r.latencyMs.runs).toBeGreaterThanOrEqual(20); // two rounds of at least 10 runs each
      expect(r.latencySamples).toBeUndefined();
    }
  });
});

describe('distillery bench', () => {
  it('prints the JSON contract and records a bench experiment with one result per model', async () => {
    const db = join(dir, 'history.db');
    let out = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main(['bench', cnn, mlp, '--data', DATA, '--threads', '1', '--batch-sizes', '1,4', '--accuracy-limit', '100', '--max-seconds', '0.4', '--ensembles', '--db', db, '--json']);
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['environment', 'results', 'pareto', 'regressions', 'recommendation', 'experimentId']));
    expect(j.environment.onnxruntime.version).toMatch(/^\d/);
    expect(j.results).toHaveLength(2);
    for (const r of j.results) {
      expect(r.latencyMs.p50).toBeGreaterThan(0);
      expect(Object.keys(r.throughput).sort()).toEqual(['1', '4']);
      expect(r.peakMemoryBytes).toBeGreaterThan(0);
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.accuracy).toBeLessThanOrEqual(1);
      expect(r.evaluatedSamples).toBe(100);
    }
    expect(j.results[0].agreement).toBe(1);
    expect(j.data).toMatchObject({ testFrom: 'dataset', samples: 100, classes: 10 });
    // --ensembles: the pair, most accurate member first, scored on the same 100 samples.
    expect(j.ensembles).toHaveLength(1);
    const [e] = j.ensembles;
    const best = [...j.results].sort((a: { accuracy: number }, b: { accuracy: number }) => b.accuracy - a.accuracy)[0];
    expect(e.members[0]).toBe(best.model);
    expect(e.samples).toBe(100);
    expect(e.accuracy).toBeCloseTo(best.accuracy + (e.gains - e.losses) / 100, 9);
    expect(e.sizeBytes).toBe(j.results[0].sizeBytes + j.results[1].sizeBytes);

    const store = openDatabase(db);
    try {
      const exp = store.experiments.get(j.experimentId);
      expect(exp).toMatchObject({ kind: 'bench', status: 'succeeded' });
      expect((exp!.summary as { ensembles: unknown[] }).ensembles).toEqual(j.ensembles);
      const rows = store.benchmarks.listForExperiment(j.experimentId);
      expect(rows.map((r) => r.label)).toEqual([cnn, mlp]);
      expect(rows[0]!.modelId).not.toBeNull();
      expect(rows[0]!.latencyMs.p50).toBeCloseTo(j.results[0].latencyMs.p50, 9);
      expect(rows[0]!.environment).toMatchObject({ device: 'cpu', threads: 1 });
    } finally {
      store.close();
    }
  });

  /** Runs the CLI, returning its exit code and what it wrote to stderr. */
  async function mainWithStderr(args: string[]): Promise<{ code: number; errOut: string }> {
    let errOut = '';
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      errOut += String(chunk);
      return true;
    });
    try {
      return { code: await main(args), errOut };
    } finally {
      err.mockRestore();
    }
  }

  it('fails with a one-line reason for a missing model', async () => {
    const { code, errOut } = await mainWithStderr(['bench', join(dir, 'nope.onnx'), '--db', join(dir, 'h2.db'), '--json']);
    expect(code).toBe(1);
    expect(errOut).toMatch(/nope\.onnx: no such model file/);
  });

  it('refuses --ensembles without labelled data', async () => {
    const { code, errOut } = await mainWithStderr(['bench', cnn, mlp, '--ensembles', '--db', join(dir, 'h3.db'), '--json']);
    expect(code).toBe(1);
    expect(errOut).toMatch(/--ensembles needs --data/);
  });
});
