// Runs jobs, each in its own child process, at most `concurrency` at once. The parent is the
// single SQLite writer: it turns the child's messages into experiment status, metrics,
// artifacts and benchmark rows (through ExperimentRecorder) and into ApiEvents.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JobInfo, JobKind, JobProgress, JobStatus } from '../contract/api.js';
import type { ApiEventName, ApiEvents } from '../contract/events.js';
import type { ParentToWorker, WorkerResult, WorkerToParent } from '../contract/jobs.js';
import type { Store } from '../store/index.js';
import { ExperimentRecorder } from '../services/recorder.js';

export type Emit = <K extends ApiEventName>(name: K, payload: ApiEvents[K]) => void;

export interface JobManagerOptions {
  store: Store;
  emit: Emit;
  /** Jobs at once (default 1). */
  concurrency?: number;
  /** After a cancel, SIGKILL the child if it has not exited within this many ms (default 5000). */
  killAfterMs?: number;
  /** Override the worker entry (tests). Default: worker-entry.js next to this file, else worker-entry.ts through tsx. */
  workerEntry?: string;
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
  /** Finished jobs kept in memory for list() (default 100). */
  keepFinished?: number;
}

interface Job {
  info: JobInfo;
  params: Record<string, unknown>;
  child: ChildProcess | null;
  recorder: ExperimentRecorder | null;
  cancelRequested: boolean;
  killTimer: NodeJS.Timeout | null;
  outcome: { type: 'result'; result: WorkerResult } | { type: 'error'; message: string; cancelled: boolean } | null;
  lastSeq: number;
  stderr: string[];
  done: Promise<JobInfo>;
  resolve: (info: JobInfo) => void;
}

const MAX_LOG = 50;
const MAX_WARNINGS = 10;
/** Finished jobs kept in memory for listJobs by default (results live in the history; older ones
 *  are dropped so a long-running app does not grow with every job it ever ran). */
const KEEP_FINISHED_JOBS = 100;

export function newJobId(): string {
  return `job_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

/** The file to fork and the Node options it needs (tsx for a .ts entry). */
export function resolveWorkerEntry(override?: string): { entry: string; execArgv: string[] } {
  const here = dirname(fileURLToPath(import.meta.url));
  const entry = override ?? (existsSync(join(here, 'worker-entry.js')) ? join(here, 'worker-entry.js') : join(here, 'worker-entry.ts'));
  // tsx by absolute URL: a bare 'tsx' resolves from the cwd, which may be anywhere.
  return { entry, execArgv: entry.endsWith('.ts') ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [] };
}

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  private concurrencyLimit: number;
  private closed = false;
  private readonly worker: { entry: string; execArgv: string[] };

  constructor(private readonly o: JobManagerOptions) {
    this.concurrencyLimit = clampConcurrency(o.concurrency ?? 1);
    this.worker = resolveWorkerEntry(o.workerEntry);
  }

  get concurrency(): number {
    return this.concurrencyLimit;
  }

  setConcurrency(n: number): void {
    this.concurrencyLimit = clampConcurrency(n);
    this.pump();
  }

  /** Queues a job for an experiment that exists in the store (status 'queued' or 'interrupted'). */
  enqueue(kind: JobKind, experimentId: string, params: Record<string, unknown>): JobInfo {
    if (this.closed) throw new Error('The job queue is shutting down.');
    let resolve!: (info: JobInfo) => void;
    const done = new Promise<JobInfo>((r) => (resolve = r));
    const job: Job = {
      info: { jobId: newJobId(), experimentId, kind, status: 'queued', createdAt: Date.now(), startedAt: null, finishedAt: null, progress: null, error: null, log: [], warnings: [], device: typeof params.device === 'string' ? params.device : null },
      params,
      child: null,
      recorder: null,
      cancelRequested: false,
      killTimer: null,
      outcome: null,
      lastSeq: 0,
      stderr: [],
      done,
      resolve,
    };
    this.jobs.set(job.info.jobId, job);
    this.queue.push(job);
    queueMicrotask(() => this.pump());
    return snapshot(job);
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map(snapshot);
  }

  get(jobId: string): JobInfo | undefined {
    const j = this.jobs.get(jobId);
    return j && snapshot(j);
  }

  /** The active (queued or running) job of an experiment. */
  activeFor(experimentId: string): JobInfo | undefined {
    for (const j of this.jobs.values()) if (j.info.experimentId === experimentId && isActive(j.info.status)) return snapshot(j);
    return undefined;
  }

  /** The child's process id while it runs (tests, diagnostics). */
  pidOf(jobId: string): number | undefined {
    return this.jobs.get(jobId)?.child?.pid;
  }

  /** Resolves when the job has finished and everything is recorded. */
  wait(jobId: string): Promise<JobInfo> {
    const j = this.jobs.get(jobId);
    if (!j) return Promise.reject(new Error(`No job ${jobId}.`));
    return j.done;
  }

  /** Cancels a queued or running job. Returns false if it had already finished. */
  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job || !isActive(job.info.status)) return false;
    if (job.info.status === 'queued') {
      this.queue.splice(this.queue.indexOf(job), 1);
      this.finish(job, 'cancelled', null);
      return true;
    }
    if (job.cancelRequested) return true;
    job.cancelRequested = true;
    this.pushLog(job, 'cancelling…', 'info');
    this.send(job, { type: 'cancel' });
    job.killTimer = setTimeout(() => {
      if (job.child && job.child.exitCode === null && job.child.signalCode === null) job.child.kill('SIGKILL');
    }, this.o.killAfterMs ?? 5000);
    job.killTimer.unref();
    return true;
  }

  /** Cancels everything and waits for the children to exit (SIGKILL after killAfterMs). */
  async close(): Promise<void> {
    this.closed = true;
    const active = [...this.jobs.values()].filter((j) => isActive(j.info.status));
    for (const j of active) this.cancel(j.info.jobId);
    await Promise.all(active.map((j) => j.done));
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrencyLimit && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.launch(job);
    }
  }

  private launch(job: Job): void {
    const { store, emit } = this.o;
    const id = job.info.experimentId;
    try {
      store.experiments.setStatus(id, 'running', { error: null });
    } catch (err) {
      this.finish(job, 'failed', `Cannot start: ${(err as Error).message}`, false);
      return;
    }
    this.running++;
    job.recorder = new ExperimentRecorder(store, id);
    job.info.status = 'running';
    job.info.startedAt = Date.now();
    emit('experiments:changed', { ids: [id], reason: 'status', status: 'running' });
    for (const key of ['out', 'checkpointPath']) {
      const p = job.params[key];
      if (typeof p === 'string') mkdirSync(dirname(p), { recursive: true });
    }
    let child: ChildProcess;
    try {
      child = fork(this.worker.entry, [], {
        execArgv: this.worker.execArgv,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        // Under Electron, forked children must run as plain Node.
        env: { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}), ...this.o.env },
        serialization: 'json',
      });
    } catch (err) {
      this.running--;
      this.finish(job, 'failed', `Cannot start the job's process: ${(err as Error).message}`);
      return;
    }
    job.child = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line.trim()) continue;
        job.stderr.push(line);
        if (job.stderr.length > 20) job.stderr.shift();
      }
    });
    child.on('message', (raw) => this.onMessage(job, raw as WorkerToParent));
    child.on('error', (err) => this.pushLog(job, `process error: ${err.message}`, 'warn'));
    child.on('exit', (code, signal) => void this.onExit(job, code, signal));
    this.send(job, { type: 'start', jobId: job.info.jobId, experimentId: id, kind: job.info.kind, params: job.params });
  }

  private send(job: Job, msg: ParentToWorker): void {
    const c = job.child;
    if (c && c.connected) {
      try {
        c.send(msg);
      } catch {
        /* the exit handler reports it */
      }
    }
  }

  private onMessage(job: Job, msg: WorkerToParent): void {
    if (!msg || typeof msg !== 'object' || typeof msg.seq !== 'number') return;
    if (msg.seq <= job.lastSeq) return; // stale or repeated
    job.lastSeq = msg.seq;
    const { emit } = this.o;
    const ids = { jobId: job.info.jobId, experimentId: job.info.experimentId };
    try {
      switch (msg.type) {
        case 'ready':
          return;
        case 'progress': {
          const p: JobProgress = { ...ids, stage: msg.stage, step: msg.step, totalSteps: msg.totalSteps, epoch: msg.epoch, loss: msg.loss, samplesPerSecond: msg.samplesPerSecond, etaSeconds: msg.etaSeconds, device: job.info.device };
          job.info.progress = p;
          if (msg.loss !== null && msg.step > 0) {
            const step = { kind: 'step', step: msg.step, epoch: (msg.epoch ?? 1) - 1, loss: msg.loss, samplesPerSecond: msg.samplesPerSecond ?? NaN };
            job.recorder?.event(step);
          }
          emit('job:progress', p);
          return;
        }
        case 'epoch':
          job.recorder?.event({ kind: 'epoch', ...msg });
          emit('job:epoch', { ...ids, epoch: msg.epoch, loss: msg.loss, valAccuracy: msg.accuracy, agreement: msg.agreement, seconds: msg.seconds });
          return;
        case 'log':
          this.pushLog(job, msg.message, msg.level);
          return;
        case 'device':
          if (typeof msg.device === 'string' && msg.device) {
            job.info.device = msg.device.slice(0, 40);
            // Live views learn it from the progress stream.
            if (job.info.progress) {
              job.info.progress = { ...job.info.progress, device: job.info.device };
              emit('job:progress', job.info.progress);
            }
          }
          return;
        case 'result':
        case 'error':
          job.outcome = msg.type === 'result' ? { type: 'result', result: msg.result } : { type: 'error', message: msg.message, cancelled: msg.cancelled };
          return;
      }
    } catch (err) {
      this.pushLog(job, `could not record: ${(err as Error).message}`, 'warn');
    }
  }

  private pushLog(job: Job, message: string, level: 'info' | 'warn'): void {
    job.info.log.push(message);
    if (job.info.log.length > MAX_LOG) job.info.log.shift();
    if (level === 'warn' && job.info.warnings.length < MAX_WARNINGS) job.info.warnings.push(message);
    this.o.emit('job:log', { jobId: job.info.jobId, experimentId: job.info.experimentId, level, message });
  }

  private async onExit(job: Job, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (job.killTimer) clearTimeout(job.killTimer);
    job.child = null;
    try {
      const out = job.outcome;
      if (out?.type === 'result' && !job.cancelRequested) {
        try {
          await this.record(job, out.result);
          this.finish(job, 'succeeded', null);
        } catch (err) {
          this.finish(job, 'failed', `The job finished but its results could not be stored: ${(err as Error).message}`);
        }
      } else if (job.cancelRequested || (out?.type === 'error' && out.cancelled)) {
        this.finish(job, 'cancelled', null);
      } else if (out?.type === 'error') {
        this.finish(job, 'failed', out.message);
      } else {
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const last = job.stderr.filter((l) => !/^\s+at /.test(l)).pop();
        this.finish(job, 'failed', `The job's process stopped unexpectedly (${how}).${last ? ` Last message: ${last.slice(0, 300)}` : ''}`);
      }
    } finally {
      this.running--;
      this.pump();
    }
  }

  /** Stores the result: artifacts (content-addressed) attached under their roles, benchmark rows. */
  private async record(job: Job, result: WorkerResult): Promise<void> {
    const { store } = this.o;
    const id = job.info.experimentId;
    const attached: { role: string; sha256: string }[] = [];
    for (const a of result.artifacts) {
      const sha = await store.artifacts.put(a.path, a.mediaType);
      attached.push({ role: a.role, sha256: sha });
    }
    store.transaction(() => {
      for (const a of attached) {
        store.artifacts.detach(id, a.role);
        store.artifacts.attach(id, a.sha256, a.role);
      }
      for (const b of result.benchmarks ?? []) store.benchmarks.add(id, b);
    });
    const device = (result.summary as { device?: unknown } | null)?.device;
    if (typeof device === 'string' && device) job.info.device = device;
    job.recorder?.succeed(result.summary);
  }

  private finish(job: Job, status: Exclude<JobStatus, 'queued' | 'running'>, error: string | null, touchStore = true): void {
    const { store, emit } = this.o;
    const id = job.info.experimentId;
    if (touchStore && status !== 'succeeded') {
      try {
        job.recorder?.flush();
        store.experiments.setStatus(id, status, { error });
      } catch {
        /* the experiment may have been deleted meanwhile */
      }
    }
    job.info.status = status;
    job.info.error = error;
    job.info.finishedAt = Date.now();
    emit('experiments:changed', { ids: [id], reason: 'status', status });
    emit('job:finished', { jobId: job.info.jobId, experimentId: id, kind: job.info.kind, status, ...(error ? { error } : {}) });
    job.resolve(snapshot(job));
    this.forgetOldFinished();
  }

  private forgetOldFinished(): void {
    const finished = [...this.jobs.values()].filter((j) => !isActive(j.info.status));
    finished.sort((a, b) => (a.info.finishedAt ?? 0) - (b.info.finishedAt ?? 0));
    const keep = this.o.keepFinished ?? KEEP_FINISHED_JOBS;
    for (const j of finished.slice(0, Math.max(0, finished.length - keep))) this.jobs.delete(j.info.jobId);
  }
}

function clampConcurrency(n: number): number {
  return Math.max(1, Math.min(4, Math.floor(Number.isFinite(n) ? n : 1)));
}

function isActive(s: JobStatus): boolean {
  return s === 'queued' || s === 'running';
}

function snapshot(job: Job): JobInfo {
  return { ...job.info, progress: job.info.progress && { ...job.info.progress }, log: [...job.info.log], warnings: [...job.info.warnings] };
}
