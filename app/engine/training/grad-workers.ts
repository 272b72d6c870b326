// The worker threads of data-parallel training (grad-worker.ts). Each thread keeps its own copy
// of the weights and optimizer state, computes its slice's gradients, exchanges them with the
// other threads through shared memory, sums them in thread order and applies the same update:
// the copies stay identical without the weights ever crossing threads during training. The
// main thread only sends batch slices and reads the weights back for evaluation and checkpoints.
// A thread that fails or exits fails the pending request with a plain message and releases the
// others from the exchange; the pool is then unusable and the trainer stops (no fall-back).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** One trained tensor as the threads see it: its gradient output and place in a flat group. */
export interface ReplicaParam {
  name: string;
  dims: number[];
  /** Gradient output of the gradient graph. */
  gradOutput: string;
  group: number;
  offset: number;
  size: number;
  /** Its optimizer-state names outside the threads (checkpoints), one per group state. */
  state: string[];
}

/** A flat group of the apply graph (buildFlatApplyStep). */
export interface ReplicaGroup {
  input: string;
  dims: number[];
  size: number;
  output: string;
  state: { input: string; output: string }[];
  /** One gradient input per thread, summed in this order. */
  gradInputs: string[];
}

export interface GradWorkerData {
  index: number;
  count: number;
  gradModel: Uint8Array;
  applyModel: Uint8Array;
  params: ReplicaParam[];
  groups: ReplicaGroup[];
  lossOutputs: [loss: string, lossKd: string, lossCe: string];
  applyFeeds: { lr: string; bc1: string; bc2: string };
  /** Float32 gradients (groups back to back) + 3 loss parts per thread, twice (alternate steps). */
  exchange: SharedArrayBuffer;
  /** Int32 [arrived, generation, aborted]: the barrier between writing and summing. */
  control: SharedArrayBuffer;
}

export type Arrays = Record<string, Float32Array>;
export type GradFeeds = Record<string, { data: Float32Array; dims: number[] }>;
export interface StepHyper {
  lr: number;
  bc1: number;
  bc2: number;
}
export type GradRequest =
  | { kind: 'load'; weights: Arrays; state: Arrays }
  /** Several steps back to back (one message for K batches: no round trip to the main thread between them). */
  | { kind: 'step'; steps: Array<{ feeds: GradFeeds; hyper: StepHyper }> }
  | { kind: 'snapshot' };
export interface StepResult {
  loss: number;
  lossKd: number;
  lossCe: number;
  /** False when the batch's loss was not finite: the update was skipped in every thread. */
  applied: boolean;
}
/** One result per step run; a step whose update was skipped ends the list (the rest are not run). */
export interface StepReply {
  kind: 'stepped';
  results: StepResult[];
}
export type GradReply =
  | { kind: 'ready' }
  | { kind: 'loaded' }
  | StepReply
  | { kind: 'snapshot'; weights: Arrays; state: Arrays }
  /** `secondary`: this thread stopped because another one failed (that one reports why). */
  | { kind: 'error'; message: string; secondary?: boolean };

export const CONTROL = { arrived: 0, generation: 1, aborted: 2 } as const;

/** Floats each thread writes per step: every group's gradient, then loss, KD and CE parts. */
export function exchangeStride(groups: ReplicaGroup[]): number {
  return groups.reduce((s, g) => s + g.size, 0) + 3;
}

export class GradWorkerError extends Error {}

/** The bundled entry next to this file in the built app, else the tsx boot file (development). */
function workerEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(here, 'grad-worker.js');
  return existsSync(built) ? built : join(here, 'grad-worker-boot.mjs');
}

interface Pending {
  resolve: (m: GradReply) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Replies come back in request order. */
  pending: Pending[];
}

export class GradWorkers {
  private failure: GradWorkerError | null = null;
  private closing = false;

  private constructor(
    private readonly slots: Slot[],
    private readonly control: Int32Array,
  ) {}

  /** One thread per gradient model (slices may differ in size, so each has its own graph). */
  static async start(o: Omit<GradWorkerData, 'index' | 'count' | 'gradModel' | 'exchange' | 'control'> & { gradModels: Uint8Array[] }): Promise<GradWorkers> {
    const entry = workerEntry();
    const count = o.gradModels.length;
    const exchange = new SharedArrayBuffer(2 * count * exchangeStride(o.groups) * 4);
    const control = new SharedArrayBuffer(3 * 4);
    const slots: Slot[] = o.gradModels.map((gradModel, index) => {
      const workerData: GradWorkerData = { index, count, gradModel, applyModel: o.applyModel, params: o.params, groups: o.groups, lossOutputs: o.lossOutputs, applyFeeds: o.applyFeeds, exchange, control };
      return { worker: new Worker(entry, { workerData }), pending: [] };
    });
    const pool = new GradWorkers(slots, new Int32Array(control));
    const started = slots.map(
      (slot, i) =>
        new Promise<void>((resolve, reject) => {
          const onReady = (m: GradReply) => {
            if (m.kind === 'ready') resolve();
            else if (m.kind === 'error') reject(new GradWorkerError(`training worker thread ${i + 1} could not start its ONNX Runtime sessions (${m.message})`));
          };
          slot.worker.once('message', onReady);
          slot.worker.once('error', (err) => reject(new GradWorkerError(`training worker thread ${i + 1} failed to start (${err.message})`)));
        }),
    );
    try {
      await Promise.all(started);
    } catch (err) {
      await pool.terminate();
      throw err;
    }
    slots.forEach((slot, i) => pool.watch(slot, i));
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Sends one request to every thread (per-thread payloads, buffers transferred); resolves with their replies in thread order. */
  request(messages: GradRequest[]): Promise<GradReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    return Promise.all(
      this.slots.map(
        (slot, i) =>
          new Promise<GradReply>((resolve, reject) => {
            slot.pending.push({ resolve, reject });
            const m = messages[i]!;
            slot.worker.postMessage(m, transferables(m));
          }),
      ),
    );
  }

  /** Asks one thread only (e.g. thread 0 for the weights, which every thread holds identically). */
  ask(index: number, message: GradRequest): Promise<GradReply> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.slots[index]!;
    return new Promise<GradReply>((resolve, reject) => {
      slot.pending.push({ resolve, reject });
      slot.worker.postMessage(message, transferables(message));
    });
  }

  async terminate(): Promise<void> {
    this.closing = true;
    this.abortExchange();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Wakes every thread waiting at the barrier; they then fail their step. */
  private abortExchange(): void {
    Atomics.store(this.control, CONTROL.aborted, 1);
    Atomics.notify(this.control, CONTROL.generation);
  }

  private watch(slot: Slot, i: number): void {
    const fail = (why: string) => {
      if (this.closing) return;
      this.failure ??= new GradWorkerError(`training worker thread ${i + 1} ${why}; training stopped`);
      this.abortExchange();
      for (const s of this.slots) for (const p of s.pending.splice(0)) p.reject(this.failure);
    };
    slot.worker.on('message', (m: GradReply) => {
      if (m.kind === 'error') return m.secondary ? undefined : fail(`failed (${m.message})`);
      slot.pending.shift()?.resolve(m);
    });
    slot.worker.on('error', (err) => fail(`crashed (${err.message})`));
    slot.worker.on('exit', (code) => fail(`exited unexpectedly (code ${code})`));
  }
}

/** The buffers of a message's arrays, moved rather than copied (the sender must not reuse them). */
export function transferables(m: GradRequest | GradReply): ArrayBuffer[] {
  const arrays: Float32Array[] = [];
  if (m.kind === 'load' || m.kind === 'snapshot') arrays.push(...Object.values('weights' in m ? m.weights : {}), ...Object.values('state' in m ? m.state : {}));
  if (m.kind === 'step') arrays.push(...m.steps.flatMap((s) => Object.values(s.feeds).map((f) => f.data)));
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
}
