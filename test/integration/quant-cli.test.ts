// `distillery quantize` spawned as a user would run it: JSON contract, history record, and the
// one-line errors for the common mistakes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { saveModel } from '../../app/engine/onnx/io.js';

const TEACHER = 'resources/sample-teacher/fashion-cnn.onnx';
const DATA = 'resources/sample-data/fashion-mnist-small';
let dir: string;

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/distillery.mjs', 'quantize', ...args], { encoding: 'utf8', timeout: 110_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distillery-quant-cli-'));
  const rgb = buildStudent({ template: parseTemplate('cnn:4/8'), sampleShape: [3, 28, 28], classes: 10, seed: 1 });
  await saveModel(rgb, join(dir, 'rgb.onnx'));
  const old = buildStudent({ template: parseTemplate('mlp:16'), sampleShape: [784], classes: 10, seed: 1 });
  old.opsetImports = [{ domain: '', version: 9 }];
  await saveModel(old, join(dir, 'opset9.onnx'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('distillery quantize', () => {
  it('static: JSON per the contract, and a quantize experiment in the history', () => {
    const out = join(dir, 'q.onnx');
    const db = join(dir, 'h.db');
    const r = cli(TEACHER, '--method', 'static', '--calib', DATA, '--eval', DATA, '--limit', '1000', '--out', out, '--db', db, '--json');
    expect(r.stderr).not.toMatch(/distillery:/);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.method).toBe('static');
    expect(j.output).toBe(out);
    expect(j.sizeBytes.after / j.sizeBytes.before).toBeLessThan(0.27);
    expect(j.accuracy.before).toBeGreaterThan(0.85);
    expect(j.accuracy.before - j.accuracy.after).toBeLessThan(0.01);
    expect(j.agreement).toBeGreaterThan(0.97);
    expect(j.latencyMs.before).toBeGreaterThan(0);
    expect(j.latencyMs.after).toBeGreaterThan(0);
    expect(j.layers.filter((l: { precision: string }) => l.precision === 'int8').map((l: { name: string }) => l.name)).toEqual(
      expect.arrayContaining(['conv2', 'fc1', 'head']),
    );
    // The first Conv reads the 1-channel image: kept float (int8 is slower there), and says why.
    const conv1 = j.layers.find((l: { name: string }) => l.name === 'conv1');
    expect(conv1.precision).toBe('float32');
    expect(JSON.stringify(conv1)).toMatch(/first Conv kept float/);
    expect(typeof j.verdict).toBe('string');
    const store = new Database(db, { readonly: true });
    const rows = store.prepare("SELECT * FROM experiments WHERE kind = 'quantize'").all() as Array<{ id: string; status: string }>;
    store.close();
    expect(rows.map((x) => x.id)).toContain(j.experimentId);
    expect(rows[0]!.status).toMatch(/succeeded|done|completed/);

    // The quantized file is refused as input.
    const again = cli(out, '--method', 'dynamic', '--out', join(dir, 'qq.onnx'), '--db', db);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already quantized/);
  });

  it('mixed: per-layer report with sensitivity and the trade-off path', () => {
    const r = cli(TEACHER, '--method', 'mixed', '--calib', DATA, '--eval', DATA, '--limit', '800', '--calib-samples', '128', '--max-accuracy-drop', '0.5', '--out', join(dir, 'm.onnx'), '--db', join(dir, 'h.db'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.method).toBe('mixed');
    expect(j.mixed.layers).toHaveLength(4);
    for (const l of j.mixed.layers) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['name', 'op', 'params', 'sensitivity', 'precision']));
      expect(typeof l.sensitivity.sqnr).toBe('number');
      expect(typeof l.sensitivity.accuracyDrop).toBe('number');
    }
    expect(j.mixed.path.length).toBeGreaterThanOrEqual(1);
    expect(j.sizeBytes.after).toBeLessThan(j.sizeBytes.before * 0.27);
    expect(j.mixed.objective).toBe('size');
  });

  it("mixed --objective latency: int8 or float32 per layer, never int4 or float16", () => {
    const r = cli(TEACHER, '--method', 'mixed', '--objective', 'latency', '--calib', DATA, '--eval', DATA, '--limit', '800', '--calib-samples', '128', '--max-accuracy-drop', '0.5', '--out', join(dir, 'ml.onnx'), '--db', join(dir, 'h.db'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mixed.objective).toBe('latency');
    for (const l of j.mixed.layers) expect(['int8', 'float32']).toContain(l.precision);
    for (const step of j.mixed.path) for (const p of Object.values(step.plan)) expect(['int8', 'float32']).toContain(p);
    const bad = cli(TEACHER, '--method', 'mixed', '--objective', 'fast', '--calib', DATA, '--out', join(dir, 'x.onnx'), '--db', join(dir, 'h.db'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/size, latency/);
  });

  it('int4: convolutions too, or float with --keep-conv-float', () => {
    const run = (...extra: string[]) => {
      const r = cli(TEACHER, '--method', 'int4', '--block-size', '64', '--out', join(dir, `i4${extra.length}.onnx`), '--db', join(dir, 'h.db'), '--json', ...extra);
      expect(r.stderr).not.toMatch(/distillery:/);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      return { j, precision: Object.fromEntries(j.layers.map((l: { name: string; precision: string }) => [l.name, l.precision])) };
    };
    const all = run();
    expect(all.precision).toEqual({ conv1: 'int4', conv2: 'int4', fc1: 'int4', head: 'int4' });
    const kept = run('--keep-conv-float');
    expect(kept.precision).toEqual({ conv1: 'float32', conv2: 'float32', fc1: 'int4', head: 'int4' });
    // The teacher's convs hold 18,816 weights: 73.5 KB as float32.
    expect(kept.j.sizeBytes.after - all.j.sizeBytes.after).toBeGreaterThan(60_000);
    expect(all.j.sizeBytes.after / all.j.sizeBytes.before).toBeLessThan(0.16);
  });

  it('says what is wrong in one line', () => {
    const db = join(dir, 'h.db');
    const noCalib = cli(TEACHER, '--method', 'static', '--out', join(dir, 'x.onnx'), '--db', db);
    expect(noCalib.code).not.toBe(0);
    expect(noCalib.stderr).toMatch(/add --calib DATASET/);

    const misfit = cli(join(dir, 'rgb.onnx'), '--method', 'static', '--calib', DATA, '--limit', '50', '--out', join(dir, 'x.onnx'), '--db', db);
    expect(misfit.code).not.toBe(0);
    expect(misfit.stderr).toMatch(/input/);
    expect(misfit.stderr).toMatch(/3, 28, 28/);
    expect(misfit.stderr).toMatch(/1, 28, 28/);

    const old = cli(join(dir, 'opset9.onnx'), '--method', 'dynamic', '--out', join(dir, 'x.onnx'), '--db', db);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toMatch(/opset 9/);
    expect(old.stderr).toMatch(/opset 13 or newer/);
    for (const r of [noCalib, misfit, old]) expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('distillery:'))).toHaveLength(1);
  });
});
