// Runs a probe (probe-tasks.ts) in a short-lived child process: the job worker's entry, forked
// like a job. ONNX Runtime then never opens a user's model or GPU driver inside the services
// process (the Electron main process in the desktop app), so a native crash or a hang there
// ends only the child and comes back as one plain ApiError; the app carries on.
import { fork, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { ApiError } from '../contract/errors.js';
import { resolveWorkerEntry } from '../jobs/job-manager.js';
import type { ProbeReply, ProbeRequest } from './probe-child.js';
import type { ProbeName, ProbeParams, ProbeResult } from './probe-tasks.js';

export const DEFAULT_PROBE_TIMEOUT_MS: Record<ProbeName, number> = { inspectModel: 60_000, detectDevices: 20_000 };

export interface ProbeRunnerOptions {
  /** Kill a probe's process after this many ms (defaults: DEFAULT_PROBE_TIMEOUT_MS). */
  timeoutMs?: Partial<Record<ProbeName, number>>;
  /** Probe processes at once (default 2): dropping 20 models must not start 20 ONNX Runtimes. */
  concurrency?: number;
  /** Override the worker entry (benchmarks of the built bundle). */
  workerEntry?: string;
}

/** What the user reads when the probe's process dies or hangs. */
const WORDING: Record<ProbeName, { doing: (params: never) => string; crashed: string; hung: string }> = {
  inspectModel: {
    doing: (p: ProbeParams<'inspectModel'>) => `opening ${basename(p.path)}`,
    crashed: 'The file may be corrupt or use an operator this version cannot run.',
    hung: 'The file may be too large for this machine, or make ONNX Runtime hang.',
  },
  detectDevices: {
    doing: () => 'probing the devices',
    crashed: 'A GPU driver may be broken; jobs set to the CPU device do not touch it.',
    hung: 'A GPU driver may be hanging; jobs set to the CPU device do not touch it.',
  },
};

export function crashMessage<P extends ProbeName>(probe: P, params: ProbeParams<P>, how: string, lastLine?: string): string {
  const w = WORDING[probe];
  const last = lastLine ? ` Last message: ${lastLine}` : '';
  return `ONNX Runtime crashed while ${w.doing(params as never)} (${how}). ${w.crashed} Nothing else was affected.${last}`;
}

export function timeoutMessage<P extends ProbeName>(probe: P, params: ProbeParams<P>, ms: number): string {
  const w = WORDING[probe];
  return `ONNX Runtime did not finish ${w.doing(params as never)} within ${ms / 1000} s and was stopped. ${w.hung} Nothing else was affected.`;
}

export class ProbeRunner {
  private readonly live = new Set<ChildProcess>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;
  private readonly worker: { entry: string; execArgv: string[] };

  constructor(private readonly o: ProbeRunnerOptions = {}) {
    this.worker = resolveWorkerEntry(o.workerEntry);
  }

  /** Runs one probe in its own process; rejects with an ApiError if that process crashes or hangs. */
  async run<P extends ProbeName>(probe: P, params: ProbeParams<P>): Promise<ProbeResult<P>> {
    while (this.live.size >= Math.max(1, this.o.concurrency ?? 2)) await new Promise<void>((r) => this.waiting.push(r));
    if (this.closed) throw new ApiError('INVALID_STATE', 'The app is shutting down.');
    const timeoutMs = this.o.timeoutMs?.[probe] ?? DEFAULT_PROBE_TIMEOUT_MS[probe];
    let child: ChildProcess;
    try {
      child = fork(this.worker.entry, [], {
        execArgv: this.worker.execArgv,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        // Under Electron, forked children must run as plain Node.
        env: { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}) },
        serialization: 'advanced',
      });
    } catch (err) {
      throw new ApiError('FAILED', `Cannot start the helper process for ONNX Runtime: ${(err as Error).message}`);
    }
    this.live.add(child);
    try {
      return await this.talk(child, { type: 'probe', probe, params } as ProbeRequest, timeoutMs) as ProbeResult<P>;
    } finally {
      this.live.delete(child);
      this.waiting.shift()?.();
    }
  }

  /** Kills the probes still running (their callers get an error) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const c of this.live) c.kill('SIGKILL');
    for (const wake of this.waiting.splice(0)) wake();
  }

  private talk(child: ChildProcess, req: ProbeRequest, timeoutMs: number): Promise<unknown> {
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL'); // a hang in native code answers no gentler signal
        settle(() => reject(new ApiError('FAILED', timeoutMessage(req.probe, req.params as never, timeoutMs))));
      }, timeoutMs);
      let started = false;
      child.on('message', (raw) => {
        const m = raw as ProbeReply | { type: 'ready' };
        if (m?.type === 'ready') {
          started = true;
          try {
            child.send(req);
          } catch {
            /* the exit handler reports it */
          }
        } else if (m?.type === 'probe-result') settle(() => resolve(m.result));
        else if (m?.type === 'probe-error') settle(() => reject(new Error(m.message)));
      });
      child.on('error', (err) => settle(() => reject(new ApiError('FAILED', `Cannot start the helper process for ONNX Runtime: ${err.message}`))));
      // 'close', not 'exit': it comes after the IPC channel has delivered every message.
      child.on('close', (code, signal) => {
        if (this.closed) return settle(() => reject(new ApiError('INVALID_STATE', 'The app is shutting down.')));
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const last = lastMessage(stderr);
        const message = started ? crashMessage(req.probe, req.params as never, how, last) : `The helper process for ONNX Runtime could not start (${how}).${last ? ` Last message: ${last}` : ''}`;
        settle(() => reject(new ApiError('FAILED', message)));
      });
    });
  }
}

/** The last line of a dead process's stderr that says what went wrong (warnings and stack frames are not). */
export function lastMessage(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => !l.startsWith('at '));
  return lines.findLast((l) => /error|what\(\)|terminate|abort/i.test(l))?.slice(0, 300);
}
