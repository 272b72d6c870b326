// `distillery demo --quick`: the whole main job (distil, quantize, benchmark, record) in brief.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../app/store/index.js';
import { runCli } from '../helpers/cli.js';

describe('distillery demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-demo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs end to end and stores three experiments', async () => {
    const db = join(dir, 'history.sqlite');
    const r = await runCli(['demo', '--quick', '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/benchmarking teacher, student and int8 student/);
    const j = JSON.parse(r.stdout);
    expect(j.experiments).toHaveLength(3);
    for (const key of ['teacher', 'student', 'quantized'] as const) {
      const m = j[key];
      expect(m.sizeBytes).toBe(statSync(m.path).size);
      expect(m.latencyMs.p50).toBeGreaterThan(0);
      expect(m.accuracy).toBeGreaterThanOrEqual(0);
      expect(m.accuracy).toBeLessThanOrEqual(1);
    }
    // A quarter-size student, and int8 makes it about 4x smaller again.
    expect(j.student.sizeBytes).toBeLessThan(j.teacher.sizeBytes / 4);
    expect(j.quantized.sizeBytes).toBeLessThan(j.student.sizeBytes * 0.35);
    expect(j.teacher.accuracy).toBeGreaterThan(0.85);
    expect([j.teacher.path, j.student.path, j.quantized.path]).toContain(j.recommended);
    const store = openDatabase(db, { readonly: true });
    try {
      const kinds = j.experiments.map((id: string) => store.experiments.get(id)).map((e: { kind: string; status: string }) => `${e.kind}:${e.status}`);
      expect(kinds).toEqual(['distill:succeeded', 'quantize:succeeded', 'bench:succeeded']);
      expect(store.benchmarks.listForExperiment(j.experiments[2])).toHaveLength(3);
      expect(store.artifacts.listForExperiment(j.experiments[0]).map((a) => a.role)).toEqual(['student.onnx']);
      expect(store.integrityCheck()).toEqual(['ok']);
    } finally {
      store.close();
    }
  });
});
