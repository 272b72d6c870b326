// A quantization job end to end: child process, stored artifact, summary.
import { afterAll, describe, expect, it } from 'vitest';
import { createServices } from '../../app/services/index.js';
import { makeTeacher, tempDir } from '../helpers/services-fixtures.js';

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
});
