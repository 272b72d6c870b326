// An execution provider failing mid-run, through the real job manager (a distill job in its own
// child process, the history in a real SQLite file). The failure is injected at the runtime
// layer (DISTILLERY_FAULT_EP_LOST_AFTER, app/engine/runtime/fault-injection.ts), set in the
// environment the job's process inherits.
// - WebGPU (Mesa lavapipe) losing its device during training: the job moves to the CPU, says so
//   in its log and in the experiment, and succeeds. Skipped without lavapipe, unless CI=true or
//   DISTILLERY_REQUIRE_WEBGPU=1.
// - A failure on the CPU: the job fails with one plain sentence; nothing is retried.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../app/contract/api.js';
import { speedDevice } from '../../app/cli/commands/distill.js';
import { createServices, type Services } from '../../app/services/index.js';
import { lavapipeEnv, WEBGPU_REQUIRED } from '../helpers/lavapipe.js';
import { collect, makeTeacher, quickDistill, tempDir } from '../helpers/services-fixtures.js';

/** The job must end on its own: a hang fails here, not at the test timeout. */
const JOB_LIMIT_MS = 90_000;

/**
 * A fresh history and a quickDistill job of 3 epochs (7 steps each) with `env` set. Its ONNX
 * Runtime runs, in order: 5 teacher batches (train, validation, test), then per epoch one train
 * run (8 steps fused) and one evaluation run — so run 8 is the train run that starts at step 8.
 */
async function runJob(dir: string, extra: Record<string, unknown>, env: Record<string, string>) {
  const services = createServices({ dataDir: dir });
  const teacher = await makeTeacher(dir);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env); // the job's process is forked with this environment
  try {
    const seen = collect(services);
    const job = await services.api.startDistill(quickDistill(teacher, { epochs: 3, ...extra }) as never);
    const done = await Promise.race([
      services.jobs.wait(job.jobId),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the job did not end within ${JOB_LIMIT_MS / 1000} s`)), JOB_LIMIT_MS)),
    ]);
    return { services, job, done: done as JobInfo, seen };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('jobs: an execution provider failing mid-run', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  const opened: Services[] = [];
  const fresh = () => {
    const t = tempDir('ep-failure');
    dirs.push(t);
    return t.dir;
  };
  afterAll(async () => {
    for (const s of opened) await s.close();
    for (const t of dirs) t.cleanup();
  });

  it('WebGPU lost during training: the job continues on the CPU and the experiment says so', { timeout: 600_000 }, async () => {
    const lvp = lavapipeEnv();
    if ('unavailable' in lvp) {
      if (WEBGPU_REQUIRED) throw new Error(`scripts/lavapipe.sh failed and WebGPU is required here: ${lvp.unavailable}`);
      console.warn(`lavapipe unavailable (${lvp.unavailable}); WebGPU fallback in a job not checked`);
      return;
    }
    const { services, job, done, seen } = await runJob(fresh(), { device: 'webgpu', name: 'gpu lost' }, { ...lvp.env, DISTILLERY_FAULT_EP_LOST_AFTER: '8' });
    opened.push(services);
    expect(done.status, done.error ?? '').toBe('succeeded');
    const warning = 'The GPU (webgpu) stopped responding at step 8; continuing on the CPU.';
    const logged = seen.events.filter((e) => e.name === 'job:log' && e.payload.jobId === job.jobId && e.payload.message === warning);
    expect(logged.map((e) => e.payload)).toEqual([expect.objectContaining({ level: 'warn' })]);
    expect(done.log).toContain(warning);
    expect(done.warnings).toEqual([warning]); // what the run monitor shows as a notice
    expect(done.device).toBe('cpu');

    const { experiment, metrics } = await services.api.getExperiment({ id: job.experimentId });
    const summary = experiment.summary as { device: string; trainedOn: string; fallbackReason: string; deviceLoss: { device: 'webgpu'; step: number; reason: string; message: string; during?: string } };
    expect(summary.device).toBe('cpu');
    expect(summary.trainedOn).toBe('cpu');
    expect(summary.deviceLoss.during).toBeUndefined();
    expect(speedDevice(summary)).toBe('webgpu until step 8, then cpu');
    expect(summary.fallbackReason).toBe(warning);
    expect(summary.deviceLoss).toMatchObject({ device: 'webgpu', reason: expect.stringMatching(/WebGPU device lost/) });
    // Every epoch was trained and recorded, before and after the move.
    expect(metrics.find((m) => m.name === 'epoch/loss')?.steps.length).toBe(3);
  });

  it('WebGPU lost while measuring the student: trained on the GPU, measured on the CPU, and both are said', { timeout: 600_000 }, async () => {
    const lvp = lavapipeEnv();
    if ('unavailable' in lvp) {
      if (WEBGPU_REQUIRED) throw new Error(`scripts/lavapipe.sh failed and WebGPU is required here: ${lvp.unavailable}`);
      console.warn(`lavapipe unavailable (${lvp.unavailable}); WebGPU loss while measuring not checked`);
      return;
    }
    // Runs 1-11 are the teacher batches and 3 epochs of training and evaluation; 12 measures the student.
    const { services, job, done } = await runJob(fresh(), { device: 'webgpu', name: 'gpu lost measuring' }, { ...lvp.env, DISTILLERY_FAULT_EP_LOST_AFTER: '12' });
    opened.push(services);
    expect(done.status, done.error ?? '').toBe('succeeded');
    const warning = 'The GPU (webgpu) stopped responding while measuring the student; continuing on the CPU.';
    expect(done.warnings).toEqual([warning]);
    const { experiment } = await services.api.getExperiment({ id: job.experimentId });
    const summary = experiment.summary as { device: string; trainedOn: string; deviceLoss: { device: 'webgpu'; step: number; reason: string; message: string; during?: string } };
    expect(summary).toMatchObject({ device: 'cpu', trainedOn: 'webgpu', deviceLoss: { device: 'webgpu', during: 'measuring the student', message: warning } });
    // The CLI's speed line names where training ran, not where the run ended.
    expect(speedDevice(summary)).toBe('webgpu');
  });

  it('a failure on the CPU fails the job with a plain message, without retrying', async () => {
    const dir = fresh();
    const { services, job, done, seen } = await runJob(dir, { name: 'cpu fails' }, { DISTILLERY_FAULT_EP_DEVICE: 'cpu', DISTILLERY_FAULT_EP_LOST_AFTER: '8' });
    opened.push(services);
    expect(done.status).toBe('failed');
    expect(done.warnings).toEqual([]);
    expect(done.error).toBe(
      'ONNX Runtime failed on the CPU at step 8 (Failed to allocate memory for requested buffer of size 1048576 [fault injected by DISTILLERY_FAULT_EP_LOST_AFTER=8]); training stopped.',
    );
    expect(seen.events.some((e) => e.name === 'job:log' && /stopped responding/.test(e.payload.message))).toBe(false);
    const { experiment } = await services.api.getExperiment({ id: job.experimentId });
    expect(experiment.status).toBe('failed');
    expect(experiment.error).toBe(done.error);
    // The weights before the failed run were kept: the job can be resumed.
    expect(existsSync(join(dir, 'checkpoints', `${job.experimentId}.ckpt`))).toBe(true);
  });
});
