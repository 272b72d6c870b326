import { describe, expect, it } from 'vitest';
import {
  batchCount,
  batches,
  classBalance,
  concatSplits,
  countUnlabeled,
  keepLabelsPerClass,
  makeSplit,
  makeTestSplit,
  planSplits,
  splitTrainValidation,
  subset,
  type Split,
} from '../../app/engine/data/index.js';

/** n samples of shape [2]; x = [i, -i]; labels cycle with an imbalanced pattern. */
function toySplit(labels: number[]): Split {
  const x = new Float32Array(labels.length * 2);
  labels.forEach((_, i) => x.set([i, -i], i * 2));
  return makeSplit(x, Int32Array.from(labels), [2]);
}

// 300 samples: class 0 x150, class 1 x100, class 2 x50.
const imbalanced = toySplit(Array.from({ length: 300 }, (_, i) => (i % 6 < 3 ? 0 : i % 6 < 5 ? 1 : 2)));

const ids = (s: Split): number[] => Array.from({ length: s.count }, (_, i) => s.x[i * 2]!);

describe('split helpers', () => {
  it('makeSplit refuses inconsistent sizes', () => {
    expect(() => makeSplit(new Float32Array(5), new Int32Array(2), [2])).toThrow(/2 labels and 5 values/);
  });

  it('subset copies the chosen samples and names a bad index', () => {
    const s = subset(imbalanced, [5, 0, 5]);
    expect(ids(s)).toEqual([5, 0, 5]);
    expect([...s.y]).toEqual([2, 0, 2]);
    expect(() => subset(imbalanced, [0, 300])).toThrow(/index 300 at position 1/);
  });

  it('concatSplits appends and checks shapes', () => {
    const c = concatSplits(subset(imbalanced, [1, 2]), subset(imbalanced, [9]));
    expect(ids(c)).toEqual([1, 2, 9]);
    expect(c.count).toBe(3);
    const other = makeSplit(new Float32Array(3), new Int32Array(1), [3]);
    expect(() => concatSplits(imbalanced, other)).toThrow(/sample shapes \[2\] and \[3\]/);
  });

  it('classBalance counts labelled samples per class', () => {
    expect(classBalance(imbalanced)).toEqual([150, 100, 50]);
    expect(classBalance(imbalanced, 4)).toEqual([150, 100, 50, 0]);
    expect(() => classBalance(imbalanced, 2)).toThrow(/label 2, outside 0..1/);
  });
});

describe('splitTrainValidation', () => {
  it('is deterministic, disjoint, covering and stratified', () => {
    const a = splitTrainValidation(imbalanced, 0.2, 11);
    const b = splitTrainValidation(imbalanced, 0.2, 11);
    expect(ids(a.validation)).toEqual(ids(b.validation));
    expect(a.validation.count).toBe(60);
    expect(a.train.count).toBe(240);
    const all = [...ids(a.train), ...ids(a.validation)].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(classBalance(a.validation)).toEqual([30, 20, 10]);
    expect(classBalance(a.train)).toEqual([120, 80, 40]);
    // the x rows travel with their labels
    for (let i = 0; i < a.validation.count; i++) expect(a.validation.y[i]).toBe(imbalanced.y[a.validation.x[i * 2]!]);
  });

  it('changes with the seed and keeps the exact total when strata round unevenly', () => {
    const a = splitTrainValidation(imbalanced, 0.2, 11);
    const c = splitTrainValidation(imbalanced, 0.2, 12);
    expect(ids(c.validation)).not.toEqual(ids(a.validation));
    const odd = toySplit([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, -1]);
    const v = splitTrainValidation(odd, 0.5, 1).validation;
    expect(v.count).toBe(Math.round(11 * 0.5));
  });

  it('refuses fractions that leave one side empty', () => {
    expect(() => splitTrainValidation(imbalanced, 0, 1)).toThrow(/between 0 and 1/);
    expect(() => splitTrainValidation(toySplit([0, 1]), 0.1, 1)).toThrow(/leaves one side empty/);
  });
});

describe('makeTestSplit and planSplits', () => {
  it('records the seed and does not mirror the validation split', () => {
    const t = makeTestSplit(imbalanced, 0.2, 11);
    expect(t.record).toEqual({ seed: 11, fraction: 0.2, method: 'stratified', heldOut: 60 });
    expect(classBalance(t.test)).toEqual([30, 20, 10]);
    expect(ids(t.test)).not.toEqual(ids(splitTrainValidation(imbalanced, 0.2, 11).validation));
  });

  it('uses the dataset test split when there is one, else a seeded one', () => {
    const own = subset(imbalanced, [0, 1, 2]);
    const withTest = planSplits({ train: imbalanced, test: own }, { seed: 3 });
    expect(withTest.testFrom).toBe('dataset');
    expect(withTest.test).toBe(own);
    expect(withTest.train.count + withTest.validation.count).toBe(300);

    const seeded = planSplits({ train: imbalanced, test: null }, { seed: 3, testFraction: 0.1, validationFraction: 0.1 });
    expect(seeded.testFrom).toBe('seeded');
    expect(seeded.testRecord?.seed).toBe(3);
    expect(seeded.test.count).toBe(30);
    const all = [seeded.train, seeded.validation, seeded.test].flatMap(ids).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});

describe('keepLabelsPerClass', () => {
  it('keeps n labels per class, reproducibly, and unlabels the rest', () => {
    const kept = keepLabelsPerClass(imbalanced, 7, 5);
    expect(classBalance(kept)).toEqual([7, 7, 7]);
    expect(countUnlabeled(kept)).toBe(300 - 21);
    for (let i = 0; i < kept.count; i++) if (kept.y[i] !== -1) expect(kept.y[i]).toBe(imbalanced.y[i]);
    expect([...keepLabelsPerClass(imbalanced, 7, 5).y]).toEqual([...kept.y]);
    expect([...keepLabelsPerClass(imbalanced, 7, 6).y]).not.toEqual([...kept.y]);
  });

  it('keeps all labels of a class smaller than n', () => {
    expect(classBalance(keepLabelsPerClass(imbalanced, 60, 1))).toEqual([60, 60, 50]);
    expect(() => keepLabelsPerClass(imbalanced, -1, 1)).toThrow(/non-negative integer/);
  });
});

describe('batches', () => {
  it('covers every sample exactly once per epoch, in order without shuffle', () => {
    const seen: number[] = [];
    let n = 0;
    for (const b of batches(imbalanced, 64)) {
      n++;
      expect(b.x.length).toBe(b.size * 2);
      for (let i = 0; i < b.size; i++) {
        expect(b.x[i * 2]).toBe(b.indices[i]);
        expect(b.y[i]).toBe(imbalanced.y[b.indices[i]!]);
        seen.push(b.indices[i]!);
      }
    }
    expect(n).toBe(batchCount(300, 64));
    expect(n).toBe(5);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('shuffles reproducibly by seed and still covers every sample once', () => {
    const order = (seed: number): number[] => [...batches(imbalanced, 50, { shuffle: true, seed })].flatMap((b) => [...b.indices]);
    const a = order(1);
    expect(order(1)).toEqual(a);
    expect(order(2)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('dropLast drops the short tail; bad options are refused', () => {
    const sizes = [...batches(imbalanced, 64, { dropLast: true })].map((b) => b.size);
    expect(sizes).toEqual([64, 64, 64, 64]);
    expect(() => [...batches(imbalanced, 0)]).toThrow(/positive integer/);
    expect(() => [...batches(imbalanced, 8, { shuffle: true })]).toThrow(/need a seed/);
  });
});
