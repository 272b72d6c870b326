// Deterministic image augmentation for distillation: extra views of each training image
// (small shifts, optional horizontal flips). The teacher labels every view, so the student
// learns to match the teacher's function around each image, not only at it — the main reason
// distillation keeps improving with more steps on a small data set.
import { DatasetError } from './errors.js';
import { createRng, deriveSeed } from './prng.js';
import { sampleSize, type Split } from './split.js';

export interface AugmentOptions {
  /** Views per image, including the original (1 = no augmentation). */
  views: number;
  /** Largest shift in pixels, in each direction. */
  maxShift: number;
  /** Also mirror left-right (only where that keeps the label: clothes yes, digits no). */
  flip: boolean;
  seed: number;
}

export type AugmentPreset = 'none' | 'shift' | 'shift-flip';

export function augmentPreset(preset: AugmentPreset, views: number, seed: number): AugmentOptions {
  return { views: preset === 'none' ? 1 : views, maxShift: 2, flip: preset === 'shift-flip', seed };
}

/**
 * The split with `views - 1` augmented copies appended after the originals (labels copied).
 * Shifted-in pixels take the image's corner value (the background in centred images).
 */
export function augmentSplit(split: Split, o: AugmentOptions): Split {
  if (o.views <= 1) return split;
  if (split.sampleShape.length !== 3) {
    throw new DatasetError(`augmentation works on images [channels, height, width]; these samples are [${split.sampleShape}]`);
  }
  const [c, h, w] = split.sampleShape as [number, number, number];
  const size = sampleSize(split.sampleShape);
  const count = split.count * o.views;
  const x = new Float32Array(count * size);
  const y = new Int32Array(count);
  x.set(split.x);
  y.set(split.y);
  const rng = createRng(deriveSeed(o.seed, 'augment'));
  for (let v = 1; v < o.views; v++) {
    for (let i = 0; i < split.count; i++) {
      const dx = rng.int(2 * o.maxShift + 1) - o.maxShift;
      const dy = rng.int(2 * o.maxShift + 1) - o.maxShift;
      const flip = o.flip && rng.next() < 0.5;
      const src = i * size;
      const dst = (v * split.count + i) * size;
      for (let ch = 0; ch < c; ch++) {
        const base = src + ch * h * w;
        const fill = split.x[base]!;
        for (let r = 0; r < h; r++) {
          const sr = r - dy;
          for (let col = 0; col < w; col++) {
            const sc0 = col - dx;
            const sc = flip ? w - 1 - sc0 : sc0;
            x[dst + ch * h * w + r * w + col] = sr >= 0 && sr < h && sc >= 0 && sc < w ? split.x[base + sr * w + sc]! : fill;
          }
        }
      }
      y[v * split.count + i] = split.y[i]!;
    }
  }
  return { x, y, count, sampleShape: [...split.sampleShape] };
}
