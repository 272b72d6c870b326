// The train / validation / test layout of one run: the dataset's own test split when it has
// one, else a seeded stratified hold-out; validation always comes out of train.
import { makeTestSplit, splitTrainValidation, type SeededSplitRecord } from './partition.js';
import type { Split } from './split.js';

export interface SplitPlan {
  train: Split;
  validation: Split;
  test: Split;
  /** 'dataset': the dataset's own test split; 'seeded': made here (see testRecord). */
  testFrom: 'dataset' | 'seeded';
  testRecord: SeededSplitRecord | null;
  seed: number;
  validationFraction: number;
}

export function planSplits(
  dataset: { train: Split; test: Split | null },
  options: { seed: number; validationFraction?: number; testFraction?: number },
): SplitPlan {
  const validationFraction = options.validationFraction ?? 0.1;
  let pool = dataset.train;
  let test = dataset.test;
  let testRecord: SeededSplitRecord | null = null;
  if (!test) {
    const made = makeTestSplit(pool, options.testFraction ?? 0.2, options.seed);
    pool = made.train;
    test = made.test;
    testRecord = made.record;
  }
  const { train, validation } = splitTrainValidation(pool, validationFraction, options.seed);
  return { train, validation, test, testFrom: testRecord ? 'seeded' : 'dataset', testRecord, seed: options.seed, validationFraction };
}
