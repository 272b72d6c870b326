// Mini-batches over a Split. Each batch owns fresh arrays, so a consumer may keep or transfer
// them (e.g. to a worker) without the next batch overwriting them.
import { DatasetError } from './errors.js';
import { createRng, permutation } from './prng.js';
import { sampleSize, type Split } from './split.js';

export interface Batch {
  x: Float32Array;
  y: Int32Array;
  /** Positions of these samples in the source split. */
  indices: Int32Array;
  size: number;
}

export interface BatchOptions {
  /** Shuffle the order once per call; needs a seed (use e.g. seed + epoch for a new order each epoch). */
  shuffle?: boolean;
  seed?: number;
  /** Drop a last batch smaller than batchSize. */
  dropLast?: boolean;
}

export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

export function* batches(split: Split, batchSize: number, options: BatchOptions = {}): Generator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DatasetError(`batch size must be a positive integer, got ${batchSize}`);
  }
  if (options.shuffle && options.seed === undefined) {
    throw new DatasetError('shuffled batches need a seed so the order can be reproduced');
  }
  const order = options.shuffle ? permutation(split.count, createRng(options.seed!)) : null;
  const size = sampleSize(split.sampleShape);
  const n = batchCount(split.count, batchSize, options.dropLast);
  for (let b = 0; b < n; b++) {
    const start = b * batchSize;
    const end = Math.min(start + batchSize, split.count);
    const count = end - start;
    const indices = new Int32Array(count);
    const x = new Float32Array(count * size);
    const y = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const src = order ? order[start + i]! : start + i;
      indices[i] = src;
      y[i] = split.y[src]!;
      x.set(split.x.subarray(src * size, (src + 1) * size), i * size);
    }
    yield { x, y, indices, size: count };
  }
}
