// How many data-parallel training threads a run gets when the user leaves it to us ('auto').
// Measured on 2 cores (docs/BENCHMARKS.md): convolutional students train 1.5–1.6x faster per step
// on 2 threads (cnn:8,16/32: 8.8 against 14.0 ms at batch 128) while a small MLP's step is too
// short to repay the exchange (mlp:128: 2.5 against 1.4 ms), so only students with a Conv get
// threads. More than 2 cores was not measured here; the count is capped at 4.
import { availableParallelism } from 'node:os';
import type { Model } from '../onnx/ir.js';
import type { DeviceRequest } from '../runtime/providers.js';

export type WorkersRequest = number | 'auto';

export interface WorkersChoice {
  workers: number;
  /** Why, in a sentence for the run log (only for 'auto'). */
  reason?: string;
}

const MAX_AUTO = 4;
/** Below this many samples per thread the slices are too thin to repay the exchange. */
const MIN_SLICE = 16;

export function chooseWorkers(o: {
  request: WorkersRequest;
  student: Model;
  device: DeviceRequest | undefined;
  threads: number | undefined;
  batchSize: number;
  featureMatch: boolean;
  cores?: number;
}): WorkersChoice {
  if (o.request !== 'auto') return { workers: o.request };
  const one = (why: string): WorkersChoice => ({ workers: 1, reason: `training in one session: ${why}` });
  if (o.featureMatch) return one('feature matching runs in one session');
  if ((o.device ?? 'cpu') !== 'cpu') return one(`device '${o.device}' (worker threads are for the CPU)`);
  if (!o.student.graph.nodes.some((n) => n.opType === 'Conv')) return one('the student has no convolution (its steps are too short to split)');
  const cores = Math.min(o.threads ?? o.cores ?? availableParallelism(), MAX_AUTO, Math.floor(o.batchSize / MIN_SLICE));
  if (cores < 2) return one(o.batchSize < 2 * MIN_SLICE ? `a batch of ${o.batchSize} is too small to split` : 'one CPU thread available');
  return { workers: cores, reason: `${cores} worker threads: a convolutional student on ${cores} CPU threads` };
}
