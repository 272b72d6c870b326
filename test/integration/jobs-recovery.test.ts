// Crash recovery: the app process dies mid-run (SIGKILL), the row is left 'running'; the next
// start marks it interrupted, and resumeJob continues from the checkpoint to the end.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../app/services/index.js';
import { collect, makeTeacher, quickDistill, ROOT, tempDir } from '../helpers/services-fixtures.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('jobs: crash recovery and resume', () => {
  const tmp = tempDir('recovery');
  let services: Services | undefined;
  afterAll(async () => {
    await services?.close();
    tmp.cleanup();
  });

  it('marks a run left running as interrupted and resumes it from its checkpoint', async () => {
    const teacher = await makeTeacher(tmp.dir);
    const config = quickDistill(teacher, { epochs: 12, name: 'crashy' });
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/services-child.ts'), tmp.dir, JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const first = await new Promise<{ jobId: string; experimentId: string; pid: number }>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{"jobId"'));
        if (line) resolve(JSON.parse(line));
      });
      child.on('exit', (code) => reject(new Error(`services child exited early (${code})`)));
    });
    // The checkpoint is written just after the epoch event; then the "app" crashes.
    const ckpt = join(tmp.dir, 'checkpoints', `${first.experimentId}.ckpt`);
    for (let i = 0; i < 300 && !existsSync(ckpt); i++) await new Promise((r) => setTimeout(r, 20));
    // The "app" crashes: its job's process notices the lost parent and stops too.
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 50 && isAlive(first.pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(first.pid)).toBe(false);
    expect(existsSync(join(tmp.dir, 'checkpoints', `${first.experimentId}.ckpt`))).toBe(true);

    services = createServices({ dataDir: tmp.dir });
    const before = await services.api.getExperiment({ id: first.experimentId });
    expect(before.experiment.status).toBe('interrupted');
    expect(before.resumable).toBe(true);

    const seen = collect(services);
    const resumed = await services.api.resumeJob({ experimentId: first.experimentId });
    expect(resumed.experimentId).toBe(first.experimentId);
    const done = await services.jobs.wait(resumed.jobId);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(seen.events.some((e) => e.name === 'job:log' && /resumed from step \d+/.test(e.payload.message))).toBe(true);
    // It did not start over: fewer epochs were run after the resume than configured.
    const epochsAfter = seen.events.filter((e) => e.name === 'job:epoch').length;
    expect(epochsAfter).toBeLessThan(12);
    const after = await services.api.getExperiment({ id: first.experimentId });
    expect(after.experiment.status).toBe('succeeded');
    expect(after.artifacts.map((a) => a.role)).toContain('student.onnx');
    expect(after.metrics.find((m) => m.name === 'epoch/loss')?.steps.length).toBe(12);
    await expect(services.api.resumeJob({ experimentId: first.experimentId })).rejects.toThrow(/succeeded/);
  });
});
