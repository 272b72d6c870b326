// The worker threads of data-parallel training: one gradient session each (grad-worker.ts),
// one request at a time per worker. A worker that fails or exits fails the pending step with a
// plain message; the pool is then unusable and the trainer stops (it does not fall back).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface GradWorkerData {
  model: Uint8Array;
  /** Output names to send back. */
  outputs: string[];
}
export type GradFeeds = Record<string, { data: Float32Array; dims: number[] }>;
export interface GradRequest {
  id: number;
  feeds: GradFeeds;
}
export type GradReply =
  | { kind: 'ready' }
  | { kind: 'result'; id: number; outputs: Record<string, Float32Array> }
  | { kind: 'error'; id?: number; message: string };

export class GradWorkerError extends Error {}

/** The bundled entry next to this file in the built app, else the tsx boot file (development). */
function workerEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(here, 'grad-worker.js');
  return existsSync(built) ? built : join(here, 'grad-worker-boot.mjs');
}

interface Slot {
  worker: Worker;
  pending: { resolve: (o: Record<string, Float32Array>) => void; reject: (e: Error) => void } | null;
}

export class GradWorkers {
  private failure: GradWorkerError | null = null;
  private nextId = 0;
  private closing = false;

  private constructor(private readonly slots: Slot[]) {}

  /** One worker per model (slices may differ in size, so each has its own graph). */
  static async start(models: Uint8Array[], outputs: string[]): Promise<GradWorkers> {
    const entry = workerEntry();
    const slots: Slot[] = models.map((model) => ({ worker: new Worker(entry, { workerData: { model, outputs } satisfies GradWorkerData }), pending: null }));
    const pool = new GradWorkers(slots);
    const started = slots.map(
      (slot, i) =>
        new Promise<void>((resolve, reject) => {
          const onReady = (m: GradReply) => {
            if (m.kind === 'ready') resolve();
            else if (m.kind === 'error') reject(new GradWorkerError(`training worker thread ${i + 1} could not start its ONNX Runtime session (${m.message})`));
          };
          slot.worker.once('message', onReady);
          slot.worker.once('error', (err) => reject(new GradWorkerError(`training worker thread ${i + 1} failed to start (${err.message})`)));
        }),
    );
    slots.forEach((slot, i) => pool.watch(slot, i));
    try {
      await Promise.all(started);
    } catch (err) {
      await pool.terminate();
      throw err;
    }
    return pool;
  }

  /** One request per worker, in worker order; resolves with their outputs in the same order. */
  run(feeds: GradFeeds[]): Promise<Array<Record<string, Float32Array>>> {
    if (this.failure) return Promise.reject(this.failure);
    return Promise.all(
      this.slots.map(
        (slot, i) =>
          new Promise<Record<string, Float32Array>>((resolve, reject) => {
            slot.pending = { resolve, reject };
            const f = feeds[i]!;
            const transfer = Object.values(f).map((t) => t.data.buffer as ArrayBuffer);
            slot.worker.postMessage({ id: this.nextId++, feeds: f } satisfies GradRequest, transfer);
          }),
      ),
    );
  }

  async terminate(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private watch(slot: Slot, i: number): void {
    const fail = (why: string) => {
      if (this.closing) return;
      this.failure ??= new GradWorkerError(`training worker thread ${i + 1} ${why}; training stopped`);
      for (const s of this.slots) {
        s.pending?.reject(this.failure);
        s.pending = null;
      }
    };
    slot.worker.on('message', (m: GradReply) => {
      if (m.kind === 'result') {
        const p = slot.pending;
        slot.pending = null;
        p?.resolve(m.outputs);
      } else if (m.kind === 'error' && m.id !== undefined) {
        fail(`failed in ONNX Runtime (${m.message})`);
      }
    });
    slot.worker.on('error', (err) => fail(`crashed (${err.message})`));
    slot.worker.on('exit', (code) => fail(`exited unexpectedly (code ${code})`));
  }
}
