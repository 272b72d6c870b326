// Model compression by quantization: every method is a pure function Model → Model plus a
// per-layer report. See ENGINE-NOTES E for the formats.
export { QuantizeError, assertNotQuantized, gemmToMatMul, modelBytes, type LayerPrecision, type LayerReport } from './common.js';
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
export { convertFp16, toHalfClamped, DEFAULT_FP16_BLOCK_LIST, CONVERTER_DEFAULT_BLOCK_LIST, type Fp16Options, type Fp16Result } from './fp16.js';
export { sqnr, agreement, accuracy, top1 } from './metrics.js';
