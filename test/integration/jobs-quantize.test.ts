// A quantization job end to end: child process, stored artifact, summary.
import { afterAll, describe, expect, it } from 'vitest';
import { createServices } from '../../app/services/index.js';
import { makeTeacher, SAMPLE_DATA, tempDir } from '../helpers/services-fixtures.js';

describe('jobs: quantize', () => {
  const tmp = tempDir('quant');
  afterAll(() => tmp.cleanup());
  it('runs dynamic int8 quantization as a job and stores the model', async () => {
    const teacher = await makeTeacher(tmp.dir);
    const s = createServices({ dataDir: tmp.dir });
    try {
      const started = await s.api.startQuantize({ model: teacher, method: 'dynamic' });
      const done = await s.jobs.wait(started.jobId);
      expect(done.status, done.error ?? '').toBe('succeeded');
      const d = await s.api.getExperiment({ id: started.experimentId });
      expect(d.experiment.kind).toBe('quantize');
      const summary = d.experiment.summary as { sizeBytes: { before: number; after: number } };
      expect(summary.sizeBytes.after).toBeLessThan(summary.sizeBytes.before);
      expect(d.artifacts.map((a) => a.role)).toEqual(['quantized.onnx']);
    } finally {
      await s.close();
    }
  });

  it('runs static int8 with an evaluation set: accuracy, agreement and latency before and after', async () => {
    const teacher = await makeTeacher(tmp.dir);
    const s = createServices({ dataDir: tmp.dir });
    try {
      const started = await s.api.startQuantize({ model: teacher, method: 'static', calib: SAMPLE_DATA, eval: SAMPLE_DATA, limit: 300 });
      const done = await s.jobs.wait(started.jobId);
      expect(done.status, done.error ?? '').toBe('succeeded');
      const summary = (await s.api.getExperiment({ id: started.experimentId })).experiment.summary as {
        accuracy: { before: number; after: number };
        agreement: number;
        latencyMs: { before: number; after: number };
        verdict: string;
        layers: { precision: string }[];
      };
      expect(summary.accuracy.before).toBeGreaterThanOrEqual(0);
      expect(summary.accuracy.after).toBeGreaterThanOrEqual(0);
      expect(summary.agreement).toBeGreaterThan(0.8);
      expect(summary.latencyMs.before).toBeGreaterThan(0);
      expect(summary.verdict).toMatch(/static: .*x smaller/);
      expect(summary.layers.some((l) => l.precision === 'int8')).toBe(true);
      // Mixed precision without calibration data is refused with the reason.
      const bad = await s.api.startQuantize({ model: teacher, method: 'mixed' });
      const failed = await s.jobs.wait(bad.jobId);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/mixed precision needs calibration data/);
    } finally {
      await s.close();
    }
  });
});
