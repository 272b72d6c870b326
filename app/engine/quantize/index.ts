// Model compression by quantization: every method is a pure function Model → Model plus a
// per-layer report. See ENGINE-NOTES E for the formats.
export { QuantizeError, assertNotQuantized, gemmToMatMul, modelBytes, weightedNodes, type LayerPrecision, type LayerReport } from './common.js';
export { quantizeDynamic, quantizeSymmetricInt8, type DynamicOptions, type QuantizeResult } from './dynamic.js';
export { quantizeStatic, u8Params, upgradeOpsetTo13, type StaticOptions, type StaticResult } from './static.js';
export {
  calibrate,
  checkBatch,
  HistogramCollector,
  MinMaxCollector,
  makeCollector,
  type CalibrationBatch,
  type CalibrationMethod,
  type CalibrationOptions,
  type CalibrationResult,
  type CalibrationSource,
  type CalibrationTensor,
  type RangeCollector,
  type TensorRange,
} from './calibrate.js';
export { quantizeInt4, quantizeInt4Weights, dequantizeInt4Blob, type Int4Blob, type Int4Options, type Int4Quantized } from './int4.js';
export { embeddingGathers, quantizeEmbeddingInt4, quantizeEmbeddingInt8, quantizeEmbeddings, type EmbeddingOptions, type Int4Embedding } from './embedding.js';
export { convertFp16, toHalfClamped, DEFAULT_FP16_BLOCK_LIST, CONVERTER_DEFAULT_BLOCK_LIST, type Fp16Options, type Fp16Result } from './fp16.js';
export { sqnr, agreement, accuracy, top1 } from './metrics.js';
export { padFirstConvChannels, firstConv, type PadFirstConvResult } from './pad-first-conv.js';
export {
  applyPrecisions,
  budgetCost,
  candidatePrecisions,
  chooseStep,
  layerSensitivity,
  mixedPrecisionPath,
  nameWeightedNodes,
  quantizeMixed,
  storeWeightsFp16,
  weightedLayers,
  PRECISION_LADDER,
  type BudgetOn,
  type LayerSensitivity,
  type MixedOptions,
  type MixedResult,
  type PathStep,
  type Precision,
  type Sensitivity,
  type WeightedLayer,
  type MixedObjective,
} from './mixed.js';
export { quantizeAuto, matmulShare, type AutoCandidate, type AutoOptions, type AutoResult } from './auto.js';
export {
  calibrationBatches,
  compareLogits,
  dropPoints,
  loadDataForModel,
  modelLogits,
  quickLatency,
  type DataForModel,
  type EvalSet,
} from './evaluate.js';
