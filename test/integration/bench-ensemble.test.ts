// Teacher ensembles on real models: the bundled Fashion-MNIST teacher and a small MLP trained on
// the labels here, each benchmarked in its own child process. The ensemble's accuracy must equal
// an independent computation: both models run again in ORT in this process, softmax in float64,
// averaged, argmax against the labels of the same 500 test items.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareModels, type BenchData } from '../../app/engine/bench/index.js';
import { loadDataset, planSplits } from '../../app/engine/data/index.js';
import { distill } from '../../app/engine/distill/distill.js';
import { ROOT, SAMPLE_DATA } from '../helpers/services-fixtures.js';

const TEACHER = join(ROOT, 'resources', 'sample-teacher', 'fashion-cnn.onnx');
const ITEMS = 500;
let dir: string;
let mlp: string;
let data: BenchData;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distillery-ensemble-'));
  mlp = join(dir, 'mlp.onnx');
  // A second, independent teacher: trained on the labels alone (no teacher), 2 epochs.
  await distill({ teachers: [], alpha: 0, data: SAMPLE_DATA, student: 'mlp:64', epochs: 2, limit: 3000, out: mlp, device: 'cpu', threads: 1 });
  const ds = await loadDataset(SAMPLE_DATA);
  data = { split: ds.test ?? planSplits(ds, { seed: 42 }).test, classes: ds.classes.length };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Predicted class per item of the averaged float64 softmax of the models' outputs, and each model's own. */
async function directPredictions(paths: string[], n: number): Promise<{ ensemble: number[]; single: number[][] }> {
  const { split, classes } = data;
  const size = 28 * 28;
  const probs = new Float64Array(n * classes);
  const single: number[][] = [];
  for (const p of paths) {
    const session = await ort.InferenceSession.create(p, { intraOpNumThreads: 1 });
    const x = split.x.slice(0, n * size);
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
    const logits = out[session.outputNames[0]!]!.data as Float32Array;
    await session.release();
    const own: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const sum = e.reduce((s, v) => s + v, 0);
      for (let c = 0; c < classes; c++) probs[i * classes + c]! += e[c]! / sum / paths.length;
      own.push(row.indexOf(max));
    }
    single.push(own);
  }
  const ensemble = Array.from({ length: n }, (_, i) => {
    const row = Array.from(probs.subarray(i * classes, (i + 1) * classes));
    return row.indexOf(Math.max(...row));
  });
  return { ensemble, single };
}

describe('ensembles in compareModels', () => {
  it('scores the averaged softmax of two real teachers exactly as a direct computation does', async () => {
    const out = await compareModels([mlp, TEACHER], {
      data,
      accuracyLimit: ITEMS,
      ensembles: true,
      device: 'cpu',
      threads: 1,
      batchSizes: [1],
      latency: { warmup: 3, minRuns: 10, maxRuns: 40, maxSeconds: 0.5 },
      throughputLatency: { warmup: 2, minRuns: 10, maxRuns: 20, maxSeconds: 0.3 },
    });
    expect(out.ensembles).toHaveLength(1); // two models: a pair, no triple
    const e = out.ensembles[0]!;
    // The more accurate model comes first: the bundled teacher (about 92 % against the MLP's 80s).
    expect(e.members).toEqual([TEACHER, mlp]);

    const labels = Array.from(data.split.y.subarray(0, ITEMS));
    const direct = await directPredictions([TEACHER, mlp], ITEMS);
    const right = (pred: number[]) => pred.filter((p, i) => p === labels[i]).length;
    const [teacherRow, mlpRow] = [out.results[1]!, out.results[0]!];
    expect(teacherRow.accuracy).toBe(right(direct.single[0]!) / ITEMS);
    expect(mlpRow.accuracy).toBe(right(direct.single[1]!) / ITEMS);
    expect(teacherRow.accuracy!).toBeGreaterThan(mlpRow.accuracy!);

    expect(e.samples).toBe(ITEMS);
    expect(e.accuracy).toBe(right(direct.ensemble) / ITEMS);
    const gains = labels.filter((y, i) => direct.ensemble[i] === y && direct.single[0]![i] !== y).length;
    const losses = labels.filter((y, i) => direct.ensemble[i] !== y && direct.single[0]![i] === y).length;
    expect([e.gains, e.losses]).toEqual([gains, losses]);
    // The two models disagree on some items, so the ensemble is not a copy of either.
    expect(gains + losses).toBeGreaterThan(0);
    expect(e.latencyMs).toBeCloseTo(teacherRow.latencyMs.p50 + mlpRow.latencyMs.p50, 9);
    expect(e.sizeBytes).toBe((await stat(TEACHER)).size + (await stat(mlp)).size);
    console.log(`[ensemble] teacher ${teacherRow.accuracy}, mlp ${mlpRow.accuracy}, ensemble ${e.accuracy} on ${ITEMS} items (gains ${gains}, losses ${losses})`);
  });
  it('is the teacher accuracy a distillation from both reports (the same soft-target averaging)', async () => {
    const r = await distill({ teachers: [TEACHER, mlp], data: SAMPLE_DATA, student: 'mlp:16', epochs: 1, limit: ITEMS, out: join(dir, 'student.onnx'), device: 'cpu', threads: 1 });
    // With limit, the test split is the first ITEMS items of the dataset's own test file.
    expect(r.data).toMatchObject({ testFrom: 'dataset', test: ITEMS });
    const labels = Array.from(data.split.y.subarray(0, ITEMS));
    const { ensemble } = await directPredictions([TEACHER, mlp], ITEMS);
    expect(r.teacher.testAccuracy).toBe(ensemble.filter((p, i) => p === labels[i]).length / ITEMS);
  });
});
