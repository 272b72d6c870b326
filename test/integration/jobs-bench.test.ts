// A benchmark job end to end: child process per model, results recorded as benchmark rows.
import { afterAll, describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { ensemblesOf } from '../../app/contract/summaries.js';
import { createServices } from '../../app/services/index.js';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { saveModel } from '../../app/engine/onnx/io.js';
import { makeTeacher, SAMPLE_DATA, tempDir } from '../helpers/services-fixtures.js';

describe('jobs: bench', () => {
  const tmp = tempDir('bench');
  afterAll(() => tmp.cleanup());
  it('benchmarks two models on the sample test split and records both, with their ensemble', async () => {
    const a = await makeTeacher(tmp.dir);
    const b = join(tmp.dir, 'cnn.onnx');
    await saveModel(buildStudent({ template: parseTemplate('cnn:4,8/16'), sampleShape: [1, 28, 28], classes: 10, seed: 2 }), b);
    const s = createServices({ dataDir: tmp.dir });
    try {
      const started = await s.api.startBenchmark({ models: [a, b], data: SAMPLE_DATA, limit: 200, batchSizes: [1, 8], threads: 1, ensembles: true });
      const done = await s.jobs.wait(started.jobId);
      expect(done.status, done.error ?? '').toBe('succeeded');
      const d = await s.api.getExperiment({ id: started.experimentId });
      expect(d.benchmarks.map((r) => r.label)).toEqual(['teacher.onnx', 'cnn.onnx']);
      for (const r of d.benchmarks) {
        expect(r.latencyMs.p50).toBeGreaterThan(0);
        expect(r.accuracy).not.toBeNull();
        expect(Object.keys(r.throughput).sort()).toEqual(['1', '8']);
      }
      expect(d.benchmarks[0]!.agreement).toBe(1);
      const summary = d.experiment.summary as { recommendation: string; pareto: string[] };
      expect(summary.recommendation.length).toBeGreaterThan(10);
      expect(summary.pareto.length).toBeGreaterThan(0);
      // The ensemble travels in the summary and reads back through the contract.
      const [ensemble, ...more] = ensemblesOf(d.experiment.summary);
      expect(more).toEqual([]);
      expect([...ensemble!.members].sort()).toEqual([b, a].sort());
      // The most accurate model first (gains and losses are counted against it).
      const first = d.benchmarks.find((r) => r.label === basename(ensemble!.members[0]!))!;
      expect(first.accuracy).toBe(Math.max(...d.benchmarks.map((r) => r.accuracy!)));
      expect(ensemble!.samples).toBe(200);
      expect(ensemble!.latencyMs).toBeCloseTo(d.benchmarks[0]!.latencyMs.p50 + d.benchmarks[1]!.latencyMs.p50, 9);
      expect(ensemble!.sizeBytes).toBe(d.benchmarks[0]!.sizeBytes! + d.benchmarks[1]!.sizeBytes!);
      await expect(s.api.startBenchmark({ models: [a, b], ensembles: true })).rejects.toThrow(/'ensembles' needs 'data'/);
    } finally {
      await s.close();
    }
  });
});
