// Options shared by every reader: value normalisation, sample limits and the memory cap.
// Splits live in memory as float32, so the cap refuses a dataset before allocating it.
import { DatasetError } from './errors.js';

export interface Normalize {
  mean: number;
  std: number;
}

/**
 * Default cap on the float32 bytes a dataset may occupy (train + test). Fashion-MNIST in full
 * needs about 220 MB; 1 GiB leaves room while failing clearly long before the heap would.
 */
export const DEFAULT_MAX_DATASET_BYTES = 2 ** 30;

export function checkNormalize(normalize: Normalize | undefined): void {
  if (!normalize) return;
  if (!Number.isFinite(normalize.mean)) throw new DatasetError(`normalize mean must be a finite number, got ${normalize.mean}`);
  if (!Number.isFinite(normalize.std) || normalize.std <= 0) {
    throw new DatasetError(`normalize std must be a positive number, got ${normalize.std}`);
  }
}

export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new DatasetError(`limit must be a positive integer, got ${limit}`);
  }
}

/** 256-entry table from a pixel byte to its float: byte/255, then (v - mean) / std. */
export function pixelTable(normalize: Normalize | undefined): Float32Array {
  const table = new Float32Array(256);
  for (let b = 0; b < 256; b++) table[b] = applyNormalize(b / 255, normalize);
  return table;
}

export function applyNormalize(value: number, normalize: Normalize | undefined): number {
  return normalize ? (value - normalize.mean) / normalize.std : value;
}

/** Tracks float32 bytes claimed across splits and refuses to go over the cap. */
export class ByteBudget {
  private used = 0;
  constructor(readonly cap: number = DEFAULT_MAX_DATASET_BYTES) {}

  claim(bytes: number, what: string): void {
    if (this.used + bytes > this.cap) {
      throw new DatasetError(
        `needs ${mb(this.used + bytes)} in memory as float32, over the ${mb(this.cap)} cap (maxBytes); ` +
          'use a limit or a smaller dataset',
        what,
      );
    }
    this.used += bytes;
  }
}

const mb = (bytes: number): string => (bytes < 2 ** 20 ? `${bytes} bytes` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
