// One data-parallel training thread (see grad-workers.ts): 1-thread ONNX Runtime sessions of the
// gradient graph (its batch slice) and the apply graph (the whole update), its own copy of the
// weights and optimizer state, and the shared-memory exchange with the other threads. Requests
// are handled one at a time, in order.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { createSession } from '../runtime/index.js';
import { CONTROL, exchangeStride, transferables, type Arrays, type GradReply, type GradRequest, type GradWorkerData, type StepReply } from './grad-workers.js';

const port = parentPort!;
const init = workerData as GradWorkerData;
const stride = exchangeStride(init.params);
const exchange = new Float32Array(init.exchange);
const control = new Int32Array(init.control);
const tensor = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

const sessions = Promise.all([createSession(init.gradModel, { device: 'cpu', threads: 1 }), createSession(init.applyModel, { device: 'cpu', threads: 1 })]);
sessions.then(
  () => port.postMessage({ kind: 'ready' } satisfies GradReply),
  (err: unknown) => port.postMessage({ kind: 'error', message: String((err as Error)?.message ?? err) } satisfies GradReply),
);

/** This thread's weights and optimizer state, by apply-graph input name. */
let live = new Map<string, ort.Tensor>();
let parity = 0;
let steps = 0;
// Fault injection for tests: the second thread fails at this step, before the exchange.
const failAt = init.index === 1 ? Number(process.env.DISTILLERY_FAULT_GRAD_THREAD_FAIL_AT) : NaN;

class Aborted extends Error {}

/** Every thread has written this step's gradients (or another thread failed: throws). */
function barrier(): void {
  const generation = Atomics.load(control, CONTROL.generation);
  if (Atomics.add(control, CONTROL.arrived, 1) === init.count - 1) {
    Atomics.store(control, CONTROL.arrived, 0);
    Atomics.add(control, CONTROL.generation, 1);
    Atomics.notify(control, CONTROL.generation);
  } else {
    while (Atomics.load(control, CONTROL.generation) === generation && !Atomics.load(control, CONTROL.aborted)) Atomics.wait(control, CONTROL.generation, generation, 1000);
  }
  if (Atomics.load(control, CONTROL.aborted)) throw new Aborted('another training thread failed');
}

async function step(req: Extract<GradRequest, { kind: 'step' }>): Promise<StepReply> {
  const [grad, apply] = await sessions;
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, { data, dims }] of Object.entries(req.feeds)) feeds[name] = tensor(data, dims);
  for (const p of init.params) feeds[p.name] = live.get(p.name)!;
  const out = await grad.session.run(feeds);
  if (++steps === failAt) throw new Error(`injected fault at step ${steps} (DISTILLERY_FAULT_GRAD_THREAD_FAIL_AT)`);

  // Alternate halves: a fast thread writing the next step cannot overwrite what a slow one still sums.
  const half = parity * init.count * stride;
  parity ^= 1;
  const mine = half + init.index * stride;
  let at = mine;
  for (const p of init.params) {
    exchange.set(out[p.gradOutput]!.data as Float32Array, at);
    at += p.size;
  }
  init.lossOutputs.forEach((name, k) => (exchange[at + k] = (out[name]!.data as Float32Array)[0]!));
  barrier();

  // Summed in thread order by every thread: identical sums, so identical updates.
  const applyFeeds: Record<string, ort.Tensor> = {
    [init.applyFeeds.lr]: tensor(Float32Array.of(req.hyper.lr), []),
    [init.applyFeeds.bc1]: tensor(Float32Array.of(req.hyper.bc1), []),
    [init.applyFeeds.bc2]: tensor(Float32Array.of(req.hyper.bc2), []),
  };
  let offset = 0;
  for (const p of init.params) {
    const sum = exchange.slice(half + offset, half + offset + p.size);
    for (let w = 1; w < init.count; w++) {
      const from = half + w * stride + offset;
      for (let i = 0; i < p.size; i++) sum[i]! += exchange[from + i]!;
    }
    applyFeeds[p.gradInput] = tensor(sum, p.dims);
    offset += p.size;
  }
  const losses = [0, 0, 0];
  for (let w = 0; w < init.count; w++) for (let k = 0; k < 3; k++) losses[k]! += exchange[half + w * stride + offset + k]!;
  const [loss, lossKd, lossCe] = losses as [number, number, number];
  // A non-finite loss leaves the weights as they were (the last good ones), in every thread.
  const applied = Number.isFinite(loss);
  if (applied) {
    for (const [name, t] of live) applyFeeds[name] = t;
    const next = await apply.session.run(applyFeeds);
    const updated = new Map<string, ort.Tensor>();
    for (const p of init.params) {
      updated.set(p.name, next[p.output]!);
      for (const s of p.state) updated.set(s.input, next[s.output]!);
    }
    live = updated;
  }
  return { kind: 'stepped', loss, lossKd, lossCe, applied };
}

function handle(req: GradRequest): Promise<GradReply> | GradReply {
  if (req.kind === 'step') return step(req);
  if (req.kind === 'load') {
    live = new Map();
    for (const p of init.params) {
      live.set(p.name, tensor(req.weights[p.name]!, p.dims));
      for (const s of p.state) live.set(s.input, tensor(req.state[s.input]!, p.dims));
    }
    return { kind: 'loaded' };
  }
  const copy = (names: string[]): Arrays => Object.fromEntries(names.map((n) => [n, Float32Array.from(live.get(n)!.data as Float32Array)]));
  return { kind: 'snapshot', weights: copy(init.params.map((p) => p.name)), state: copy(init.params.flatMap((p) => p.state.map((s) => s.input))) };
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: GradRequest) => {
  queue = queue.then(async () => {
    try {
      const reply = await handle(req);
      port.postMessage(reply, transferables(reply));
    } catch (err) {
      // Release the others from the barrier before reporting.
      Atomics.store(control, CONTROL.aborted, 1);
      Atomics.notify(control, CONTROL.generation);
      port.postMessage({ kind: 'error', message: String((err as Error)?.message ?? err), secondary: err instanceof Aborted } satisfies GradReply);
    }
  });
});
