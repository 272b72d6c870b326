// The child process of one job. Receives {type:'start'} then maybe {type:'cancel'}; sends
// progress/epoch/log and finally one result or error, each with a sequence number. A native
// crash here (ONNX Runtime) ends only this process; the parent records the experiment as failed.
// The same process also serves one-shot probes ({type:'probe'}, app/services/probes.ts).
import type { ParentToWorker, WorkerToParent } from '../contract/jobs.js';
import { isProbeRequest, serveProbe } from '../services/probe-child.js';
import { jobKindModule } from './kinds/index.js';

type Outgoing = WorkerToParent extends infer T ? (T extends { seq: number } ? Omit<T, 'seq'> : never) : never;

let seq = 0;
const controller = new AbortController();
let started = false;

function send(msg: Outgoing): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send({ ...msg, seq: ++seq }, undefined, {}, () => resolve());
  });
}

async function start(msg: Extract<ParentToWorker, { type: 'start' }>): Promise<void> {
  const mod = jobKindModule(msg.kind);
  try {
    const result = await mod.run(msg.params as Record<string, unknown>, {
      signal: controller.signal,
      progress: (p) =>
        void send({
          type: 'progress',
          stage: p.stage,
          step: p.step,
          totalSteps: p.totalSteps,
          epoch: p.epoch ?? null,
          loss: p.loss ?? null,
          samplesPerSecond: p.samplesPerSecond ?? null,
          etaSeconds: p.etaSeconds ?? null,
        }),
      epoch: (e) => void send({ type: 'epoch', ...e }),
      log: (message, level = 'info', stage) => void send({ type: 'log', level, message, ...(stage ? { stage } : {}) }),
      device: (device) => void send({ type: 'device', device }),
    });
    if (controller.signal.aborted) await send({ type: 'error', message: 'cancelled', cancelled: true });
    else await send({ type: 'result', result });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await send({ type: 'error', message: message.split('\n')[0]!.slice(0, 2000), cancelled: controller.signal.aborted });
  }
  process.disconnect?.();
  process.exit(0);
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentToWorker;
  if (msg?.type === 'start' && !started) {
    started = true;
    void start(msg);
  } else if (msg?.type === 'cancel') {
    controller.abort();
  } else if (isProbeRequest(raw) && !started) {
    started = true;
    void serveProbe(raw);
  }
});
// The parent went away: nobody can record the result, stop now.
process.on('disconnect', () => process.exit(started ? 1 : 0));
void send({ type: 'ready', pid: process.pid });
