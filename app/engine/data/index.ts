// Public surface of the dataset layer.
export { DatasetError } from './errors.js';
export { createRng, deriveSeed, normalizeSeed, permutation, shuffleInPlace, type Rng } from './prng.js';
export {
  assertLabelsInRange,
  classBalance,
  concatSplits,
  countUnlabeled,
  makeSplit,
  sampleSize,
  subset,
  UNLABELED,
  type Split,
} from './split.js';
export { keepLabelsPerClass, makeTestSplit, splitTrainValidation, type SeededSplitRecord } from './partition.js';
export { planSplits, type SplitPlan } from './plan.js';
export { batchCount, batches, type Batch, type BatchOptions } from './batches.js';
export { checkAgainstModelInput, type InputFit, type ModelDim } from './model-input.js';
export { DEFAULT_MAX_DATASET_BYTES, type Normalize } from './preprocess.js';
export { DEFAULT_LABEL_COLUMN } from './csv.js';
export {
  detectDatasetKind,
  loadDataset,
  type DatasetKind,
  type LoadedDataset,
  type LoadOptions,
  type Preprocessing,
} from './load.js';
