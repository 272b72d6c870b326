// One load run (see bench/load.ts): N jobs at once (distill, quantize, benchmark, kept topped up)
// plus a UI client on the browser-mode server that streams every event and polls the history.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ApiMethod, ApiParams, ApiResult, JobKind } from '../app/contract/api.js';
import type { ApiEvent } from '../app/contract/events.js';
import { openEventStream } from '../test/helpers/event-stream.js';

const ROOT = resolve(import.meta.dirname, '..');
const DATA = join(ROOT, 'resources', 'sample-data', 'fashion-mnist-small');
const TEACHER = join(ROOT, 'resources', 'sample-teacher', 'fashion-cnn.onnx');

export interface LoadOptions {
  minutes: number;
  parallel: number;
  /** Seconds of warm-up left out of the memory comparison (default 60). */
  warmupSeconds?: number;
  /** Memory sampling period (default 5 s). */
  sampleMs?: number;
  /** Small jobs (a tiny student, fewer images): the CI variant. */
  light?: boolean;
  /** Idle seconds after the last job before the final memory reading (default 10). */
  idleSeconds?: number;
}

/** What the server process reports about its memory (MB); the rss* parts only on Linux. */
interface MemParts {
  heapMb: number;
  rssMb: number;
  heapTotalMb: number;
  externalMb: number;
  newSpaceMb: number;
  oldSpaceMb: number;
  rssAnonMb?: number;
  rssFileMb?: number;
}

export interface MemSample extends MemParts {
  seconds: number;
}

export async function runLoad({ minutes, parallel, warmupSeconds = 60, sampleMs = 5_000, light = false, idleSeconds = 10 }: LoadOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-load-'));
  const serverProcess = startServerProcess(dir, parallel);
  const ready = (await serverProcess.next('ready')) as { url: string; token: string; subscribers: number };
  const server = { url: ready.url, token: ready.token };
  const subscribersBefore = ready.subscribers;

  const latencies: number[] = [];
  let apiErrors = 0;
  async function call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    const t0 = performance.now();
    const res = await fetch(`${server.url}api/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ params }),
    });
    const body = (await res.json()) as { ok: boolean; result?: ApiResult<M>; error?: { message: string } };
    latencies.push(performance.now() - t0);
    if (!body.ok) {
      apiErrors++;
      throw new Error(`${method}: ${body.error?.message}`);
    }
    return body.result!;
  }

  // The UI client: every event, and the time since the previous one while jobs run.
  const eventsByName = new Map<string, number>();
  let lastEventAt = performance.now();
  let longestSilenceMs = 0;
  let running = 0;
  const finished: Record<string, number> = {};
  const waiters = new Map<string, () => void>();
  const stream = await openEventStream(server, (e: ApiEvent) => {
    const now = performance.now();
    if (running > 0) longestSilenceMs = Math.max(longestSilenceMs, now - lastEventAt);
    lastEventAt = now;
    eventsByName.set(e.name, (eventsByName.get(e.name) ?? 0) + 1);
    if (e.name === 'job:finished') {
      const key = `${e.payload.kind}:${e.payload.status}`;
      finished[key] = (finished[key] ?? 0) + 1;
      if (e.payload.status === 'failed') console.error(`job ${e.payload.jobId} (${e.payload.kind}) failed: ${e.payload.error}`);
      waiters.get(e.payload.jobId)?.();
    }
  });

  const kinds: JobKind[] = ['distill', 'quantize', 'bench'];
  let started = 0;
  async function startOne(): Promise<string> {
    const kind = kinds[started++ % kinds.length]!;
    const common = { device: 'cpu' as const, threads: 1, tags: ['load'] };
    const images = light ? 256 : 2000;
    const job =
      kind === 'distill'
        ? await call('startDistill', { ...common, teachers: [TEACHER], data: DATA, student: light ? 'mlp:16' : 'cnn:8,16/32', epochs: 1, limit: images, batchSize: 64 })
        : kind === 'quantize'
          ? await call('startQuantize', { ...common, model: TEACHER, method: light ? 'dynamic' : 'static', calib: DATA, eval: DATA, limit: images / 4 })
          : await call('startBenchmark', { ...common, models: [TEACHER], data: DATA, limit: images / 4, batchSizes: [1, 32], runs: light ? 5 : 20 });
    return job.jobId;
  }

  async function worker(deadline: number): Promise<void> {
    while (performance.now() < deadline) {
      const jobId = await startOne();
      running++;
      await new Promise<void>((done) => waiters.set(jobId, done));
      waiters.delete(jobId);
      running--;
    }
  }

  const memory: MemSample[] = [];
  const t0 = performance.now();
  const deadline = t0 + minutes * 60_000;
  const sampler = setInterval(() => {
    void serverProcess.memory().then(({ subscribers: _s, ...parts }) => memory.push({ seconds: (performance.now() - t0) / 1000, ...parts }));
  }, sampleMs);
  // What the History and Home screens poll; failures are counted in apiErrors.
  const polls = new Set<Promise<unknown>>();
  const poll = (p: Promise<unknown>) => {
    const settled = p.catch(() => undefined).finally(() => polls.delete(settled));
    polls.add(settled);
  };
  const poller = setInterval(() => {
    poll(call('listExperiments', { limit: 50 }));
    poll(call('listJobs', {}));
  }, 1_000);

  await Promise.all(Array.from({ length: parallel }, () => worker(deadline)));
  clearInterval(sampler);
  clearInterval(poller);
  await Promise.all([...polls]);
  // The server idle again: V8 shrinks its young generation back, so RSS shows what stayed.
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const { subscribers: _s, ...afterLoad } = await serverProcess.memory();

  function slopePerMinute(xs: number[], ys: number[]): number {
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b, 0) / n;
    const my = ys.reduce((a, b) => a + b, 0) / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      num += (xs[i]! - mx) * (ys[i]! - my);
      den += (xs[i]! - mx) ** 2;
    }
    return den > 0 ? (num / den) * 60 : 0;
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
  const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))] ?? NaN;
  // After the warm-up (module loading, first sessions, SQLite cache).
  const steady = memory.filter((m) => m.seconds >= warmupSeconds);
  const firstMin = steady.filter((m) => m.seconds < warmupSeconds + 60);
  const lastMin = steady.filter((m) => m.seconds >= Math.max(warmupSeconds, minutes * 60 - 60));
  const experiments = await call('listExperiments', { limit: 1 });
  const summary = {
    minutes,
    parallelJobs: parallel,
    jobsFinished: finished,
    experimentsInHistory: experiments.total,
    events: Object.fromEntries(eventsByName),
    longestEventSilenceWhileRunningMs: Math.round(longestSilenceMs),
    api: { calls: latencies.length, errors: apiErrors, p50Ms: median(latencies), p95Ms: pct(latencies, 0.95), maxMs: Math.max(...latencies) },
    // Each part first minute → last minute and its slope, so growth can be attributed.
    memory: Object.fromEntries(
      (['heapMb', 'rssMb', 'heapTotalMb', 'newSpaceMb', 'oldSpaceMb', 'externalMb', 'rssAnonMb', 'rssFileMb'] as const).map((part) => {
        const of = (ms: MemSample[]) => ms.map((m) => m[part] ?? NaN);
        return [part, { firstMinute: median(of(firstMin)), lastMinute: median(of(lastMin)), slopePerMinute: slopePerMinute(steady.map((m) => m.seconds), of(steady)) }];
      }),
    ),
    /** RSS without V8's young generation, which grows with the allocation rate up to a fixed cap (16 MB semi-spaces). */
    rssLessYoungGenerationMb: ((of: (m: MemSample) => number) => ({
      firstMinute: median(firstMin.map(of)),
      lastMinute: median(lastMin.map(of)),
      slopePerMinute: slopePerMinute(steady.map((m) => m.seconds), steady.map(of)),
    }))((m) => m.rssMb - m.newSpaceMb),
    afterLoad: { idleSeconds, ...afterLoad },
    samples: memory,
  };
  stream.close();
  // The server drops the subscription when the socket closes: wait for it (leak check).
  let subscribersAfter = (await serverProcess.memory()).subscribers;
  for (let i = 0; i < 50 && subscribersAfter > subscribersBefore; i++) {
    await new Promise((r) => setTimeout(r, 20));
    subscribersAfter = (await serverProcess.memory()).subscribers;
  }
  await serverProcess.stop();
  rmSync(dir, { recursive: true, force: true });
  return { ...summary, subscribersBefore, subscribersAfter };
}

interface ServerMemory extends MemParts {
  subscribers: number;
}

/** bench/load-server.ts in a child process (with --expose-gc), driven by messages. */
function startServerProcess(dir: string, parallel: number) {
  const child = fork(join(import.meta.dirname, 'load-server.ts'), [dir, String(parallel)], {
    execArgv: ['--expose-gc', '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type: string) =>
    new Promise<unknown>((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      };
      const onExit = (code: number | null) => reject(new Error(`the load server exited (code ${code}) before '${type}'`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  let queue = Promise.resolve<unknown>(undefined);
  return {
    next,
    /** One request at a time, so answers cannot cross. */
    memory(): Promise<ServerMemory> {
      const asked = queue.then(() => {
        const answer = next('memory');
        child.send({ type: 'memory' });
        return answer;
      });
      queue = asked.catch(() => undefined);
      return asked as Promise<ServerMemory>;
    },
    async stop(): Promise<void> {
      const stopped = next('stopped');
      child.send({ type: 'stop' });
      await stopped;
    },
  };
}
