import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, normalizeSeed, permutation } from '../../app/engine/data/prng.js';

describe('seeded PRNG', () => {
  it('repeats the same stream for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(sa);
  });

  it('stays in [0, 1) and is roughly uniform', () => {
    const rng = createRng(7);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const v = rng.next();
      expect(v >= 0 && v < 1).toBe(true);
      bins[Math.floor(v * 10)]++;
    }
    for (const n of bins) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });

  it('int(n) covers 0..n-1 and rejects bad n', () => {
    const rng = createRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(rng.int(5));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(() => rng.int(0)).toThrow(/positive integer/);
  });

  it('permutation is a reproducible permutation', () => {
    const p = permutation(100, createRng(3));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...permutation(100, createRng(3))]).toEqual([...p]);
    expect([...p]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('derives distinct seeds per purpose and refuses non-integer seeds', () => {
    expect(deriveSeed(5, 'validation')).not.toBe(deriveSeed(5, 'test'));
    expect(deriveSeed(5, 'test')).toBe(deriveSeed(5, 'test'));
    expect(normalizeSeed(2 ** 40 + 1)).not.toBe(normalizeSeed(1));
    expect(() => createRng(1.5)).toThrow(/safe integer/);
  });
});
