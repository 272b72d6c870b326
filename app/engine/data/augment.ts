// Deterministic image augmentation for distillation: extra views of each training image
// (small shifts, optional horizontal flips, optional mixtures of two images). The teacher labels
// every view, so the student learns to match the teacher's function around and between the
// images, not only at them — the main reason distillation keeps improving on a small data set.
import { DatasetError } from './errors.js';
import { createRng, deriveSeed } from './prng.js';
import { sampleSize, UNLABELED, type Split } from './split.js';

export interface AugmentOptions {
  /** Views per image, including the original (1 = no augmentation). */
  views: number;
  /** Largest shift in pixels, in each direction. */
  maxShift: number;
  /** Also mirror left-right (only where that keeps the label: clothes yes, digits no). */
  flip: boolean;
  /**
   * The last half of the views (rounded down) become blends λ·a + (1 − λ)·b with another view,
   * λ uniform in [0, 1], with no label: only the teacher's soft targets teach them. Measured on
   * the demo (docs/BENCHMARKS.md): at equal steps, +0.25–0.34 points held-out over shifts alone.
   */
  mix?: boolean;
  seed: number;
}

export type AugmentPreset = 'none' | 'shift' | 'shift-flip';

export function augmentPreset(preset: AugmentPreset, views: number, seed: number, mix = false): AugmentOptions {
  return { views: preset === 'none' ? 1 : views, maxShift: 2, flip: preset === 'shift-flip', ...(mix && preset !== 'none' ? { mix: true } : {}), seed };
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
  if (o.mix) mixViews(x, y, split.count, size, o);
  return { x, y, count, sampleShape: [...split.sampleShape] };
}

/**
 * The last ⌊views / 2⌋ views become unlabelled blends λ·own + (1 − λ)·partner, the partner drawn
 * from all views in order of blending (earlier blends included, so some mix three or more images).
 */
function mixViews(x: Float32Array, y: Int32Array, count: number, size: number, o: AugmentOptions): void {
  const total = o.views * count;
  const rng = createRng(deriveSeed(o.seed, 'mix'));
  for (let k = (o.views - Math.floor(o.views / 2)) * count; k < total; k++) {
    const j = rng.int(total);
    const lambda = rng.next();
    const [dst, src] = [k * size, j * size];
    for (let e = 0; e < size; e++) x[dst + e] = lambda * x[dst + e]! + (1 - lambda) * x[src + e]!;
    y[k] = UNLABELED;
  }
}
