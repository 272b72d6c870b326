// Benchmarks: latency with a confidence-driven stop, throughput per batch size, peak memory in
// an isolated process, accuracy and agreement, and the analysis of a comparison.
export { percentile, mean, medianCi, relativeHalfWidth, sortedCopy, summarize, type LatencySummary } from './stats.js';
export { measureLatency, latencyDefaults, type LatencyOptions, type LatencyResult, type Runnable } from './latency.js';
export {
  runBenchJob,
  throughputDefaults,
  type BenchData,
  type BenchEnvironment,
  type BenchJob,
  type JobResult,
  type MemoryFigure,
  type ThroughputFigure,
} from './measure.js';
export {
  benchmarkModel,
  compareModels,
  workerEntry,
  type BenchmarkOptions,
  type CompareOptions,
  type Comparison,
  type ModelBenchmark,
} from './benchmark.js';
export { scoreEnsembles, type EnsembleCandidate, type EnsembleScore } from './ensemble.js';
export {
  paretoFront,
  findRegressions,
  recommend,
  fmtBytes,
  fmtMs,
  type BenchPoint,
  type Recommendation,
  type Regression,
  type RegressionThresholds,
} from './analysis.js';
