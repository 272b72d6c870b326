// Fault injection: kill -9 at seeded random points of real distillation, quantization and
// benchmark jobs run through createServices in a child process, killing either that services
// process (an app crash) or the job's own process. After every kill the history is reopened
// with createServices and checked: integrity ok, every finished experiment intact (artifacts
// hash-verified), the killed run 'interrupted' or 'failed' with a plain message, never
// 'running', and every model file under <dataDir>/models/ a complete, loadable model.
import { createRng } from '../../app/engine/data/prng.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../app/engine/onnx/io.js';
import { createServices } from '../../app/services/index.js';
import { makeTeacher, quickDistill, ROOT, SAMPLE_DATA, tempDir } from '../helpers/services-fixtures.js';

type Kind = 'distill' | 'quantize' | 'bench';
const SEED = Number(process.env.DISTILLERY_FAULT_SEED ?? 20261125);

function mulberry32(seed: number): () => number {
  const r = createRng(seed); // the project's seeded stream (mulberry32)
  return () => r.next();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Running (a zombie waiting to be reaped by init counts as gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A services child (test/helpers/faults-services-child.ts) and its line protocol. */
class ServicesChild {
  readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private readonly lines: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<void>;
  private stderr = '';

  constructor(dataDir: string) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/faults-services-child.ts'), dataDir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.proc.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString();
      const parts = this.buf.split('\n');
      this.buf = parts.pop()!;
      for (const l of parts) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => this.proc.once('exit', () => r()));
    void this.exited.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The first line (from the start) matching `pred`, removed from the buffer. */
  async next<T>(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(pred);
      if (i >= 0) return this.lines.splice(i, 1)[0] as T;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`services child exited; stderr: ${this.stderr}`);
      if (Date.now() > until) throw new Error(`timed out; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  send(kind: Kind, config: unknown): void {
    this.proc.stdin.write(`${JSON.stringify({ kind, config })}\n`);
  }

  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

interface Finished {
  kind: Kind;
  artifacts: number;
}

/** Reopens the history and checks everything the brief promises after a kill. */
async function checkAfterKill(dataDir: string, finished: Map<string, Finished>, readOnly: boolean): Promise<{ tmpLeft: number }> {
  const services = createServices({ dataDir, readOnly });
  try {
    const { store } = services;
    expect(store.integrityCheck()).toEqual(['ok']);
    expect(store.experiments.list({ statuses: ['running'] }).total).toBe(0);
    for (const [id, f] of finished) {
      const e = await services.api.getExperiment({ id });
      expect(e.experiment.status, id).toBe('succeeded');
      expect(e.artifacts.length, id).toBe(f.artifacts);
      if (f.kind === 'bench') expect(e.benchmarks.length, id).toBeGreaterThan(0);
      for (const a of e.artifacts) {
        const bytes = readFileSync(store.artifacts.path(a.sha256));
        expect(bytes.byteLength).toBe(a.sizeBytes);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(a.sha256);
      }
    }
    // Models are written atomically: every visible file in models/ is a complete model; a
    // leftover temp file is hidden (".name.pid.xxx.tmp") and never attached as an artifact.
    let tmpLeft = 0;
    for (const f of walk(join(dataDir, 'models'))) {
      const name = f.split('/').pop()!;
      if (name.endsWith('.tmp')) {
        expect(name.startsWith('.'), f).toBe(true);
        tmpLeft++;
        continue;
      }
      expect(name, f).toMatch(/\.onnx$/);
      expect(statSync(f).size).toBeGreaterThan(0);
      await expect(loadModel(f), f).resolves.toBeDefined();
    }
    return { tmpLeft };
  } finally {
    await services.close();
  }
}

interface Tally {
  services: number;
  job: number;
  finishedFirst: number;
  tmpLeft: number;
}

/** One data folder, one loop: starts jobs of the given kinds and kills them at random points. */
async function killLoop(dataDir: string, plan: { kind: Kind; config: unknown; kills: number; maxDelayMs: number }[], rand: () => number): Promise<Record<string, Tally>> {
  const tally: Record<string, Tally> = {};
  const finished = new Map<string, Finished>();
  let child = new ServicesChild(dataDir);
  await child.next((l) => 'ready' in l);
  try {
    // One clean run of each kind first: the "previously finished" experiments to protect.
    for (const p of plan) {
      tally[p.kind] = { services: 0, job: 0, finishedFirst: 0, tmpLeft: 0 };
      child.send(p.kind, p.config);
      const s = await child.next<{ started: { jobId: string; experimentId: string } }>((l) => 'started' in l || 'startError' in l);
      const f = await child.next<{ finished: { status: string; error?: string } }>((l) => (l.finished as { jobId?: string } | undefined)?.jobId === s.started.jobId, 60_000);
      expect(f.finished.status, f.finished.error).toBe('succeeded');
      finished.set(s.started.experimentId, { kind: p.kind, artifacts: p.kind === 'bench' ? 0 : 1 });
    }
    const todo = plan.map((p) => ({ ...p, left: p.kills }));
    let guard = 0;
    while (todo.some((t) => t.left > 0)) {
      if (++guard > 400) throw new Error('too many rounds without enough kills');
      const open = todo.filter((t) => t.left > 0);
      const p = open[Math.floor(rand() * open.length)]!;
      const target: 'services' | 'job' = rand() < 0.5 ? 'services' : 'job';
      const delay = Math.floor(rand() * p.maxDelayMs);
      child.send(p.kind, p.config);
      const s = await child.next<{ started?: { jobId: string; experimentId: string; pid: number | null }; startError?: string }>((l) => 'started' in l || 'startError' in l);
      expect(s.startError).toBeUndefined();
      const { jobId, experimentId, pid } = s.started!;
      expect(pid).toBeTypeOf('number');
      await sleep(delay);
      const t = tally[p.kind]!;
      if (target === 'services') {
        await child.kill();
        // The job's process notices the lost parent and stops too.
        const t0 = Date.now();
        for (let i = 0; i < 250 && isAlive(pid!); i++) await sleep(20);
        expect(isAlive(pid!), `${p.kind} job process ${pid} outlived its parent by ${Date.now() - t0} ms (killed at ${delay} ms)`).toBe(false);
        // Reopen (recovery marks the run interrupted) and check.
        const services = createServices({ dataDir });
        const status = services.store.experiments.get(experimentId).status;
        await services.close();
        if (status === 'succeeded') {
          finished.set(experimentId, { kind: p.kind, artifacts: p.kind === 'bench' ? 0 : 1 });
          t.finishedFirst++;
        } else {
          expect(status, `${p.kind} ${experimentId} after a services kill at ${delay} ms`).toBe('interrupted');
          t.services++;
          p.left--;
        }
        t.tmpLeft = (await checkAfterKill(dataDir, finished, false)).tmpLeft;
        child = new ServicesChild(dataDir);
        await child.next((l) => 'ready' in l);
      } else {
        let delivered = true;
        try {
          process.kill(pid!, 'SIGKILL');
        } catch {
          delivered = false; // already gone: it finished first
        }
        const f = await child.next<{ finished: { status: string; error?: string } }>((l) => (l.finished as { jobId?: string } | undefined)?.jobId === jobId, 60_000);
        if (f.finished.status === 'succeeded') {
          finished.set(experimentId, { kind: p.kind, artifacts: p.kind === 'bench' ? 0 : 1 });
          t.finishedFirst++;
        } else {
          expect(delivered).toBe(true);
          expect(f.finished.status, `${p.kind} job kill at ${delay} ms: ${f.finished.error}`).toBe('failed');
          expect(f.finished.error).toMatch(/^The job's process stopped unexpectedly \(signal SIGKILL\)\./);
          expect(f.finished.error).not.toMatch(/\n\s+at /);
          t.job++;
          p.left--;
        }
        // The services process is still alive: browse the history beside it, read-only.
        const ro = createServices({ dataDir, readOnly: true });
        const e = ro.store.experiments.get(experimentId);
        await ro.close();
        expect(e.status).toBe(f.finished.status);
        t.tmpLeft = (await checkAfterKill(dataDir, finished, true)).tmpLeft;
      }
    }
  } finally {
    await child.kill();
  }
  return tally;
}

describe('faults: kill -9 during real jobs', () => {
  const a = tempDir('faults-kill-a');
  const b = tempDir('faults-kill-b');
  afterAll(() => {
    a.cleanup();
    b.cleanup();
  });

  it('survives 50+ kills of the services process or the job process, at random points', async () => {
    const started = Date.now();
    const teacherA = await makeTeacher(a.dir);
    const teacherB = await makeTeacher(b.dir);
    const rand = mulberry32(SEED);
    const randB = mulberry32(SEED ^ 0x5bd1e995);
    // Two data folders in parallel (two cores): distillation + quantization, and benchmarks.
    const [ta, tb] = await Promise.all([
      killLoop(
        a.dir,
        [
          { kind: 'distill', config: quickDistill(teacherA, { epochs: 3 }), kills: 22, maxDelayMs: 650 },
          { kind: 'quantize', config: { model: teacherA, method: 'dynamic', device: 'cpu', threads: 1 }, kills: 20, maxDelayMs: 450 },
        ],
        rand,
      ),
      killLoop(b.dir, [{ kind: 'bench', config: { models: [teacherB], data: SAMPLE_DATA, limit: 64, runs: 1, batchSizes: [1], device: 'cpu', threads: 1 }, kills: 10, maxDelayMs: 2200 }], randB),
    ]);
    const tally = { ...ta, ...tb };
    const total = Object.values(tally).reduce((n, t) => n + t.services + t.job, 0);
    console.log(`faults-kill seed ${SEED}: ${JSON.stringify(tally)}; ${total} kills in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(total).toBeGreaterThanOrEqual(50);
    for (const k of ['distill', 'quantize', 'bench']) {
      expect(tally[k]!.services, k).toBeGreaterThan(0);
      expect(tally[k]!.job, k).toBeGreaterThan(0);
    }
  });
});
