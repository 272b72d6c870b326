// Child-process entry of a benchmark: receives one BenchJob over IPC (advanced serialization,
// so typed arrays cross as they are), runs it, sends the result and exits. One model per
// process: its memory high-water mark is its own and no other ORT session spins beside it.
import { runBenchJob, type BenchJob, type JobResult } from './measure.js';

export type ToWorker = { kind: 'run'; job: BenchJob };
export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'progress'; message: string }
  | { kind: 'result'; result: JobResult }
  | { kind: 'error'; message: string; stack?: string };

const send = (m: FromWorker): Promise<void> =>
  new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });

if (!process.send) {
  process.stderr.write('app/engine/bench/worker.ts is started by benchmarkModel() through child_process.fork\n');
  process.exit(2);
}

process.once('message', (msg: ToWorker) => {
  void (async () => {
    try {
      if (msg?.kind !== 'run') throw new Error('unexpected message to the benchmark worker');
      const result = await runBenchJob(msg.job, (message) => void send({ kind: 'progress', message }));
      await send({ kind: 'result', result });
      process.exit(0);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      await send({ kind: 'error', message: e.message, stack: e.stack });
      process.exit(1);
    }
  })();
});
void send({ kind: 'ready' });
