// The in-memory Split: samples as one flat float32 block plus int32 labels (-1 = unlabeled),
// and the small operations that build new splits from old ones.
import { DatasetError } from './errors.js';

export interface Split {
  /** count * product(sampleShape) values, sample-major (NCHW for images, [N, F] for CSV). */
  x: Float32Array;
  /** Class index per sample; -1 means unlabeled. */
  y: Int32Array;
  count: number;
  sampleShape: number[];
}

export const UNLABELED = -1;

export function sampleSize(sampleShape: readonly number[]): number {
  return sampleShape.reduce((a, b) => a * b, 1);
}

/** Builds a Split after checking that x, y and the shape agree. */
export function makeSplit(x: Float32Array, y: Int32Array, sampleShape: number[]): Split {
  const size = sampleSize(sampleShape);
  if (y.length * size !== x.length) {
    throw new DatasetError(
      `split has ${y.length} labels and ${x.length} values, which does not match samples of shape [${sampleShape.join(', ')}]`,
    );
  }
  return { x, y, count: y.length, sampleShape: [...sampleShape] };
}

/** A new Split holding the given samples in the given order (x and y are copied). */
export function subset(split: Split, indices: ArrayLike<number>): Split {
  const size = sampleSize(split.sampleShape);
  const x = new Float32Array(indices.length * size);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    if (!Number.isInteger(src) || src < 0 || src >= split.count) {
      throw new DatasetError(`index ${src} at position ${i} is outside the split (0..${split.count - 1})`);
    }
    x.set(split.x.subarray(src * size, (src + 1) * size), i * size);
    y[i] = split.y[src]!;
  }
  return { x, y, count: indices.length, sampleShape: [...split.sampleShape] };
}

/** a followed by b; both must have the same sample shape. */
export function concatSplits(a: Split, b: Split): Split {
  if (!sameShape(a.sampleShape, b.sampleShape)) {
    throw new DatasetError(
      `cannot concatenate splits with sample shapes [${a.sampleShape.join(', ')}] and [${b.sampleShape.join(', ')}]`,
    );
  }
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x, 0);
  x.set(b.x, a.x.length);
  const y = new Int32Array(a.count + b.count);
  y.set(a.y, 0);
  y.set(b.y, a.count);
  return { x, y, count: a.count + b.count, sampleShape: [...a.sampleShape] };
}

/**
 * Labelled samples per class. The array has numClasses entries when given, otherwise one more
 * than the largest label. Unlabeled samples are not counted (see countUnlabeled).
 */
export function classBalance(split: Split, numClasses?: number): number[] {
  let n = numClasses ?? 0;
  if (numClasses === undefined) for (const label of split.y) n = Math.max(n, label + 1);
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < split.count; i++) {
    const label = split.y[i]!;
    if (label === UNLABELED) continue;
    if (label < 0 || label >= n) {
      throw new DatasetError(`sample ${i} has label ${label}, outside 0..${n - 1}`);
    }
    counts[label]!++;
  }
  return counts;
}

export function countUnlabeled(split: Split): number {
  let n = 0;
  for (const label of split.y) if (label === UNLABELED) n++;
  return n;
}

/** Throws naming the first sample whose label is not -1 and not a valid class index. */
export function assertLabelsInRange(split: Split, numClasses: number, splitName: string): void {
  for (let i = 0; i < split.count; i++) {
    const label = split.y[i]!;
    if (label !== UNLABELED && (label < 0 || label >= numClasses)) {
      throw new DatasetError(
        `label ${label} is out of range: there are ${numClasses} classes (0..${numClasses - 1})`,
        `${splitName} sample ${i}`,
      );
    }
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
