// One data-parallel training thread (see grad-workers.ts): 1-thread ONNX Runtime sessions of the
// gradient graph (its batch slice) and the flat apply graph (the whole update), its own copy of
// the weights and optimizer state as flat groups (each weight fed to the gradient graph as a view
// into its group, without copying), and the shared-memory exchange with the other threads.
// Requests are handled one at a time, in order.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { createSession } from '../runtime/index.js';
import { CONTROL, exchangeStride, transferables, type GradFeeds, type GradReply, type GradRequest, type GradWorkerData, type StepHyper, type StepReply, type StepResult } from './grad-workers.js';

const port = parentPort!;
const init = workerData as GradWorkerData;
const stride = exchangeStride(init.groups);
/** Where each group starts in a thread's exchange region. */
const groupStart = init.groups.map((_, g) => init.groups.slice(0, g).reduce((s, x) => s + x.size, 0));
const exchange = new Float32Array(init.exchange);
const control = new Int32Array(init.control);
const tensor = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

const sessions = Promise.all([createSession(init.gradModel, { device: 'cpu', threads: 1 }), createSession(init.applyModel, { device: 'cpu', threads: 1 })]);
sessions.then(
  () => port.postMessage({ kind: 'ready' } satisfies GradReply),
  (err: unknown) => port.postMessage({ kind: 'error', message: String((err as Error)?.message ?? err) } satisfies GradReply),
);

/** This thread's weights (one flat array per group) and optimizer state (by flat input name). */
let weights: Float32Array[] = [];
let state = new Map<string, ort.Tensor>();
let parity = 0;
let stepCount = 0;
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

/** The request's steps in order; after a step whose update was skipped (non-finite loss) the rest are not run. */
async function steps(req: Extract<GradRequest, { kind: 'step' }>): Promise<StepReply> {
  const results: StepResult[] = [];
  for (const s of req.steps) {
    const r = await step(s.feeds, s.hyper);
    results.push(r);
    if (!r.applied) break; // every thread sees the same losses, so all stop here
  }
  return { kind: 'stepped', results };
}

async function step(gradFeeds: GradFeeds, hyper: StepHyper): Promise<StepResult> {
  const [grad, apply] = await sessions;
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, { data, dims }] of Object.entries(gradFeeds)) feeds[name] = tensor(data, dims);
  for (const p of init.params) feeds[p.name] = tensor(weights[p.group]!.subarray(p.offset, p.offset + p.size), p.dims);
  const out = await grad.session.run(feeds);
  if (++stepCount === failAt) throw new Error(`injected fault at step ${stepCount} (DISTILLERY_FAULT_GRAD_THREAD_FAIL_AT)`);

  // Alternate halves: a fast thread writing the next step cannot overwrite what a slow one still reads.
  const half = parity * init.count * stride;
  parity ^= 1;
  const mine = half + init.index * stride;
  for (const p of init.params) exchange.set(out[p.gradOutput]!.data as Float32Array, mine + groupStart[p.group]! + p.offset);
  init.lossOutputs.forEach((name, k) => (exchange[mine + stride - 3 + k] = (out[name]!.data as Float32Array)[0]!));
  barrier();

  // Every thread feeds the same gradients to the same graph (summed there in thread order): identical updates.
  const losses = [0, 0, 0];
  for (let w = 0; w < init.count; w++) for (let k = 0; k < 3; k++) losses[k]! += exchange[half + (w + 1) * stride - 3 + k]!;
  const [loss, lossKd, lossCe] = losses as [number, number, number];
  // A non-finite loss leaves the weights as they were (the last good ones), in every thread.
  const applied = Number.isFinite(loss);
  if (applied) {
    const applyFeeds: Record<string, ort.Tensor> = {
      [init.applyFeeds.lr]: tensor(Float32Array.of(hyper.lr), []),
      [init.applyFeeds.bc1]: tensor(Float32Array.of(hyper.bc1), []),
      [init.applyFeeds.bc2]: tensor(Float32Array.of(hyper.bc2), []),
    };
    init.groups.forEach((g, i) => {
      applyFeeds[g.input] = tensor(weights[i]!, g.dims);
      // Copied out of shared memory: ONNX Runtime does not take SharedArrayBuffer tensors.
      g.gradInputs.forEach((input, w) => {
        const at = half + w * stride + groupStart[i]!;
        applyFeeds[input] = tensor(exchange.slice(at, at + g.size), g.dims);
      });
    });
    for (const [name, t] of state) applyFeeds[name] = t;
    const next = await apply.session.run(applyFeeds);
    weights = init.groups.map((g) => next[g.output]!.data as Float32Array);
    for (const g of init.groups) for (const s of g.state) state.set(s.input, next[s.output]!);
  }
  return { loss, lossKd, lossCe, applied };
}

function handle(req: GradRequest): Promise<GradReply> | GradReply {
  if (req.kind === 'step') return steps(req);
  if (req.kind === 'load') {
    weights = init.groups.map((g) => new Float32Array(g.size));
    state = new Map(init.groups.flatMap((g) => g.state.map((s) => [s.input, tensor(new Float32Array(g.size), g.dims)] as const)));
    for (const p of init.params) {
      weights[p.group]!.set(req.weights[p.name]!, p.offset);
      p.state.forEach((name, k) => (state.get(init.groups[p.group]!.state[k]!.input)!.data as Float32Array).set(req.state[name]!, p.offset));
    }
    return { kind: 'loaded' };
  }
  const snapshot: Extract<GradReply, { kind: 'snapshot' }> = { kind: 'snapshot', weights: {}, state: {} };
  for (const p of init.params) {
    snapshot.weights[p.name] = weights[p.group]!.slice(p.offset, p.offset + p.size);
    p.state.forEach((name, k) => (snapshot.state[name] = (state.get(init.groups[p.group]!.state[k]!.input)!.data as Float32Array).slice(p.offset, p.offset + p.size)));
  }
  return snapshot;
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
