// The job queue with real child processes and real distillation runs (tiny: 512 samples, 1 epoch).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../app/services/index.js';
import { collect, makeTeacher, quickDistill, tempDir } from '../helpers/services-fixtures.js';

describe('jobs: queue, cancel, crash', () => {
  const tmp = tempDir('jobs');
  let teacher: string;
  let services: Services;

  beforeAll(async () => {
    teacher = await makeTeacher(tmp.dir);
    services = createServices({ dataDir: tmp.dir, concurrency: 2, killAfterMs: 3000 });
  });
  afterAll(async () => {
    await services?.close();
    tmp.cleanup();
  });

  it('runs two jobs at once and records both', async () => {
    const seen = collect(services);
    const a = await services.api.startDistill(quickDistill(teacher, { name: 'run a' }));
    const b = await services.api.startDistill(quickDistill(teacher, { name: 'run b', seed: 7 }));
    // Both children are alive at the same time (concurrency 2).
    await seen.until((e) => e.name === 'job:progress' && e.payload.jobId === a.jobId);
    await seen.until((e) => e.name === 'job:progress' && e.payload.jobId === b.jobId);
    const running = (await services.api.listJobs({})).filter((j) => j.status === 'running').map((j) => j.jobId);
    expect(running.sort()).toEqual([a.jobId, b.jobId].sort());

    const [ja, jb] = await Promise.all([services.jobs.wait(a.jobId), services.jobs.wait(b.jobId)]);
    expect(ja.status, ja.error ?? '').toBe('succeeded');
    expect(jb.status, jb.error ?? '').toBe('succeeded');
    // The device: requested ('auto' from the settings) until the child knows, then the real one.
    expect(ja.device).toBe('cpu');
    expect(jb.device).toBe('cpu');
    expect(seen.events.some((e) => e.name === 'job:progress' && e.payload.jobId === a.jobId && e.payload.device === 'cpu')).toBe(true);
    for (const started of [a, b]) {
      const d = await services.api.getExperiment({ id: started.experimentId });
      expect(d.experiment.status).toBe('succeeded');
      expect(d.experiment.startedAt).not.toBeNull();
      expect((d.experiment.summary as { testAccuracy: number }).testAccuracy).toBeGreaterThanOrEqual(0);
      expect(d.metrics.map((m) => m.name)).toContain('train/loss');
      expect(d.metrics.map((m) => m.name)).toContain('epoch/loss');
      const student = d.artifacts.find((x) => x.role === 'student.onnx');
      expect(student?.sizeBytes).toBeGreaterThan(0);
      expect(existsSync(student!.path)).toBe(true);
    }
    expect(seen.events.filter((e) => e.name === 'job:finished').map((e) => e.payload.status)).toEqual(['succeeded', 'succeeded']);
    expect(seen.events.some((e) => e.name === 'job:epoch')).toBe(true);
  });

  it('trains on 2 worker threads in the job child (workers: 2, device auto → CPU) and records them', async () => {
    const seen = collect(services);
    const s = await services.api.startDistill(quickDistill(teacher, { name: 'two workers', workers: 2, device: 'auto' }));
    const done = await services.jobs.wait(s.jobId);
    expect(done.status, done.error ?? '').toBe('succeeded');
    const logs = seen.events.flatMap((e) => (e.name === 'job:log' && e.payload.jobId === s.jobId ? [e.payload.message] : []));
    expect(logs).toContain('training on 2 worker threads (batch slices of 32–32)');
    const d = await services.api.getExperiment({ id: s.experimentId });
    expect(d.experiment.summary).toMatchObject({ workers: 2, trainedOn: 'cpu' });
    expect(d.experiment.config).toMatchObject({ workers: 2 });
  });

  it('cancels a running job', async () => {
    const seen = collect(services);
    const s = await services.api.startDistill(quickDistill(teacher, { epochs: 200, name: 'to cancel' }));
    await seen.until((e) => e.name === 'job:progress' && e.payload.jobId === s.jobId && e.payload.step > 0);
    expect(await services.api.cancelJob({ jobId: s.jobId })).toEqual({ cancelled: true });
    const done = await services.jobs.wait(s.jobId);
    expect(done.status).toBe('cancelled');
    expect((await services.api.getExperiment({ id: s.experimentId })).experiment.status).toBe('cancelled');
    const fin = await seen.until((e) => e.name === 'job:finished' && e.payload.jobId === s.jobId);
    expect(fin.payload).toMatchObject({ status: 'cancelled' });
  });

  it('a job whose process is killed (kill -9) fails with a plain message; the parent survives', async () => {
    const seen = collect(services);
    const s = await services.api.startDistill(quickDistill(teacher, { epochs: 200, name: 'to kill' }));
    await seen.until((e) => e.name === 'job:progress' && e.payload.jobId === s.jobId && e.payload.step > 0);
    const pid = services.jobs.pidOf(s.jobId)!;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const done = await services.jobs.wait(s.jobId);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/job's process stopped unexpectedly \(signal SIGKILL\)/);
    const d = await services.api.getExperiment({ id: s.experimentId });
    expect(d.experiment.status).toBe('failed');
    expect(d.experiment.error).toMatch(/signal SIGKILL/);
    // The parent still serves calls and runs jobs.
    expect((await services.api.listExperiments({})).total).toBeGreaterThan(0);
  });

  it('refuses bad params with a message naming the field', async () => {
    await expect(services.api.startDistill({ ...quickDistill(teacher), epochs: 0 })).rejects.toThrow(/'epochs' must be at least 1/);
    await expect(services.api.startDistill({ ...quickDistill(teacher), teachers: ['relative/t.onnx'] })).rejects.toThrow(/'teachers.0' must be an absolute path/);
    await expect(services.api.startDistill({ ...quickDistill(teacher), teachers: ['/nope/t.onnx'] })).rejects.toThrow(/teachers.0: \/nope\/t.onnx does not exist/);
  });

  it('keeps only the most recent finished jobs in memory; the history keeps every experiment', async () => {
    const dir = tempDir('jobs-keep');
    const few = createServices({ dataDir: dir.dir, concurrency: 1, keepFinishedJobs: 2 });
    try {
      const started = [];
      for (const seed of [1, 2, 3]) started.push(await few.api.startDistill(quickDistill(teacher, { seed, name: `keep ${seed}` })));
      for (const s of started) expect((await few.jobs.wait(s.jobId)).status).toBe('succeeded');
      expect((await few.api.listJobs({})).map((j) => j.jobId)).toEqual(started.slice(1).map((s) => s.jobId));
      expect((await few.api.listExperiments({})).total).toBe(3);
    } finally {
      await few.close();
      dir.cleanup();
    }
  });
});
