import { describe, expect, it } from 'vitest';
import { accuracy, agreement, sqnr, top1 } from '../../app/engine/quantize/index.js';

describe('metrics', () => {
  it('sqnr is 20·log10(‖ref‖/‖ref − test‖)', () => {
    expect(sqnr([3, 4], [3, 4])).toBe(Infinity);
    // ‖ref‖ = 5, noise ‖(0.05, 0)‖ = 0.05 → 40 dB.
    expect(sqnr([3, 4], [3.05, 4])).toBeCloseTo(40, 6);
    expect(sqnr(new Float32Array([1, 1, 1, 1]), new Float32Array([0, 0, 0, 0]))).toBeCloseTo(0, 6);
    expect(() => sqnr([1], [1, 2])).toThrow(/1 values/);
  });

  it('agreement and accuracy compare top-1 classes per row', () => {
    const ref = [0.1, 0.9, 0.0, /**/ 0.5, 0.2, 0.3, /**/ 0, 0, 1];
    const test = [0.2, 0.8, 0.0, /**/ 0.1, 0.6, 0.3, /**/ 0, 0, 2];
    expect(Array.from(top1(ref, 3))).toEqual([1, 0, 2]);
    expect(agreement(ref, test, 3)).toBeCloseTo(2 / 3, 10);
    expect(accuracy(ref, [1, 0, 0], 3)).toBeCloseTo(2 / 3, 10);
    expect(() => agreement([1, 2, 3, 4], [1, 2, 3, 4], 3)).toThrow(/rows of 3/);
  });
});
