// `distillery distill` end to end: real teacher, real data, real training, JSON per the contract.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../app/engine/onnx/io.js';
import { openDatabase } from '../../app/store/index.js';
import { runCli, SAMPLE_DATA, SAMPLE_TEACHER } from '../helpers/cli.js';

describe('distillery distill', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-distill-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'history.sqlite');

  it('distils the sample teacher into an MLP and reports the contract fields', async () => {
    const out = join(dir, 'student.onnx');
    const r = await runCli(['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'mlp:64', '--epochs', '2', '--limit', '3000', '--out', out, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.experimentId).toMatch(/^exp_/);
    expect(j.device).toBe('cpu');
    expect(j.student.path).toBe(out);
    expect(j.student.parameters).toBe(784 * 64 + 64 + 64 * 10 + 10);
    expect(j.student.sizeBytes).toBe(statSync(out).size);
    expect(j.teacher.testAccuracy).toBeGreaterThan(0.85);
    // A 2-epoch MLP on 2,160 images learns most of the task and follows its teacher.
    expect(j.metrics.testAccuracy).toBeGreaterThan(0.7);
    expect(j.metrics.agreement).toBeGreaterThan(0.7);
    expect(j.metrics.samplesPerSecond).toBeGreaterThan(0);
    expect(j.metrics.epochs).toHaveLength(2);
    for (const e of j.metrics.epochs) for (const k of ['epoch', 'loss', 'valAccuracy', 'agreement', 'seconds']) expect(e).toHaveProperty(k);
    expect(j.metrics.epochs[1].loss).toBeLessThan(j.metrics.epochs[0].loss);
    // The exported student is an inference model: no training inputs or optimizer nodes.
    const student = await loadModel(out);
    expect(student.graph.inputs.map((i) => i.name)).toEqual(['input']);
    expect(student.graph.nodes.map((n) => n.opType)).toEqual(['Flatten', 'Gemm', 'Relu', 'Gemm']);
    // The run is in the history with its metrics.
    const store = openDatabase(db, { readonly: true });
    try {
      const exp = store.experiments.get(j.experimentId);
      expect(exp.status).toBe('succeeded');
      expect(store.metrics.names(j.experimentId)).toContain('epoch/accuracy');
    } finally {
      store.close();
    }
  });

  it('learns from the teacher alone with few labels (--labels-per-class, alpha 1)', async () => {
    const r = await runCli(['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'mlp:32', '--epochs', '3', '--limit', '3000', '--labels-per-class', '5', '--alpha', '1', '--out', join(dir, 's2.onnx'), '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.data.labelled).toBe(50);
    expect(j.metrics.agreement).toBeGreaterThan(0.6);
  });

  it('matches a student tensor to a teacher tensor (--feature-match) and exports the student alone', async () => {
    const out = join(dir, 'fm.onnx');
    const r = await runCli(['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'mlp:64', '--epochs', '2', '--limit', '3000', '--feature-match', 'relu_2:relu:0.5', '--out', out, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/reading the teacher's 'relu_2' features/);
    const j = JSON.parse(r.stdout);
    expect(j.metrics.testAccuracy).toBeGreaterThan(0.7);
    const student = await loadModel(out);
    expect(student.graph.initializers.map((t) => t.name)).toEqual(['fc1.weight', 'fc1.bias', 'head.weight', 'head.bias']);
    const bad = await runCli(['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'mlp:8', '--limit', '500', '--feature-match', 'nope:relu', '--out', join(dir, 'x.onnx'), '--db', db]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/the teacher has no tensor 'nope'/);
  });

  it('trains a CNN on 2 worker threads (--workers 2) and records the workers', async () => {
    const out = join(dir, 'dp.onnx');
    const r = await runCli(['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'cnn:4,8/16', '--epochs', '1', '--limit', '1024', '--workers', '2', '--out', out, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training on 2 worker threads/);
    const j = JSON.parse(r.stdout);
    expect(j.workers).toBe(2);
    expect(j.trainedOn).toBe('cpu');
    expect(Number.isFinite(j.metrics.epochs[0].loss) && j.metrics.epochs[0].loss > 0).toBe(true);
    expect(j.student.sizeBytes).toBe(statSync(out).size);
    expect((await loadModel(out)).graph.inputs.map((i) => i.name)).toEqual(['input']);
    const store = openDatabase(db, { readonly: true });
    try {
      const exp = store.experiments.get(j.experimentId);
      expect(exp.summary).toMatchObject({ workers: 2 });
    } finally {
      store.close();
    }
  });

  it("chooses the workers itself by default: threads for a CNN on this machine's cores, one session for an MLP", async () => {
    const expected = Math.max(1, Math.min(availableParallelism(), 4));
    const base = ['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--epochs', '1', '--limit', '512', '--db', db, '--json'];
    const cnn = await runCli([...base, '--student', 'cnn:4,8/16', '--out', join(dir, 'auto-cnn.onnx')]);
    expect(cnn.code, cnn.stderr).toBe(0);
    expect(JSON.parse(cnn.stdout).workers).toBe(expected);
    if (expected > 1) expect(cnn.stderr).toMatch(new RegExp(`${expected} worker threads: a convolutional student on ${expected} CPU threads`));
    const mlp = await runCli([...base, '--student', 'mlp:16', '--workers', 'auto', '--out', join(dir, 'auto-mlp.onnx')]);
    expect(mlp.code, mlp.stderr).toBe(0);
    expect(JSON.parse(mlp.stdout).workers).toBe(1);
    expect(mlp.stderr).toMatch(/training in one session: the student has no convolution/);
  });

  it('refuses --workers out of range, fractional, or on a GPU device, naming the fix', async () => {
    const base = ['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'cnn:4,8/16', '--limit', '500', '--out', join(dir, 'x.onnx'), '--db', db];
    for (const [value, why] of [['0', /'0' is out of range; use 1 to 8/], ['9', /'9' is out of range; use 1 to 8/], ['1.5', /'1\.5' is not 'auto' or a whole number from 1 to 8/], ['all', /'all' is not 'auto' or a whole number from 1 to 8/]] as const) {
      const bad = await runCli([...base, '--workers', value]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(why);
    }
    const gpu = await runCli([...base, '--workers', '2', '--device', 'webgpu']);
    expect(gpu.code).not.toBe(0);
    expect(gpu.stderr).toMatch(/--workers 2 trains on CPU threads only; use --device cpu \(or auto\), or --workers 1 to train on webgpu/);
  });

  it('fails with one clear line for a bad template and for a missing teacher', async () => {
    const bad = await runCli(['distill', '--teacher', SAMPLE_TEACHER, '--data', SAMPLE_DATA, '--student', 'cnn:8,x/3', '--out', join(dir, 'x.onnx'), '--db', db]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n').pop()).toMatch(/^distillery: student template 'cnn:8,x\/3': channel count 'x' must be a whole number/);
    const missing = await runCli(['distill', '--teacher', join(dir, 'nope.onnx'), '--data', SAMPLE_DATA, '--out', join(dir, 'x.onnx'), '--db', db]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/nope\.onnx: cannot read the teacher model \(ENOENT\)/);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
