// The one typed API of Distillery. Every transport (Electron IPC, HTTP + WebSocket, in-process fake)
// carries exactly these methods. Params and results are plain JSON. This folder imports nothing
// from node: or other app/ folders, so the renderer can import it.

export const EXPERIMENT_KINDS = ['distill', 'quantize', 'bench', 'train', 'demo'] as const;
export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

export const EXPERIMENT_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export type ExperimentStatus = (typeof EXPERIMENT_STATUSES)[number];

export const DEVICE_PREFERENCES = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type DevicePreference = (typeof DEVICE_PREFERENCES)[number];

/** Milliseconds since the epoch everywhere. */
export type Timestamp = number;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// ---------------------------------------------------------------------------------------------
// Experiments

export interface Experiment {
  id: string;
  projectId: string | null;
  kind: ExperimentKind;
  name: string;
  status: ExperimentStatus;
  config: unknown;
  /** Final metrics ({testAccuracy, agreement, ...}); null until the run reports them. */
  summary: unknown;
  error: string | null;
  parentId: string | null;
  teacherModelId: number | null;
  studentModelId: number | null;
  datasetId: number | null;
  createdAt: Timestamp;
  startedAt: Timestamp | null;
  finishedAt: Timestamp | null;
  pinned: boolean;
  tags: string[];
}

export type ExperimentSort = 'createdAt' | 'name' | 'status' | 'kind' | 'finishedAt' | { metric: string };

export interface ListExperimentsParams {
  /** Case-insensitive substring of the name or id. */
  search?: string;
  kinds?: ExperimentKind[];
  statuses?: ExperimentStatus[];
  /** Experiments carrying ALL of these tags. */
  tags?: string[];
  parentId?: string;
  pinned?: boolean;
  sort?: ExperimentSort;
  order?: 'asc' | 'desc';
  /** 1..1000, default 50. */
  limit?: number;
  offset?: number;
}

export interface ExperimentList {
  rows: Experiment[];
  /** Matching experiments, ignoring limit/offset. */
  total: number;
}

/** One metric series in columns (what a chart wants); values[i] is null where it was NaN. */
export interface MetricSeries {
  name: string;
  steps: number[];
  epochs: (number | null)[];
  values: (number | null)[];
  recordedAt: Timestamp[];
}

export interface Note {
  id: number;
  experimentId: string;
  author: string;
  body: string;
  createdAt: Timestamp;
}

export interface BenchmarkResult {
  id: number;
  experimentId: string;
  modelId: number | null;
  label: string;
  device: string;
  threads: number | null;
  batchSize: number;
  latencyMs: { p50: number; p95: number; p99: number };
  throughput: Record<string, number>;
  peakMemoryBytes: number | null;
  sizeBytes: number | null;
  accuracy: number | null;
  agreement: number | null;
  environment: Record<string, unknown>;
  createdAt: Timestamp;
}

export interface Artifact {
  sha256: string;
  sizeBytes: number;
  mediaType: string;
  createdAt: Timestamp;
  /** 'student.onnx', 'quantized.onnx', ... */
  role: string;
  /** Absolute path of the stored file on the machine that runs the services. */
  path: string;
}

export interface ExperimentDetail {
  experiment: Experiment;
  metrics: MetricSeries[];
  notes: Note[];
  benchmarks: BenchmarkResult[];
  artifacts: Artifact[];
  /** The job running this experiment right now, if any. */
  job: JobInfo | null;
  /** True when resumeJob() can continue it from its checkpoint. */
  resumable: boolean;
}

export interface CompareParams {
  /** 2..20 experiment ids; the columns, in this order (baseline moved first). */
  ids: string[];
  /** Defaults to the first pinned experiment among ids, else ids[0]. */
  baseline?: string;
  /** Default false: only rows where some experiment differs from the baseline. */
  all?: boolean;
}

export interface CompareRow {
  section: 'config' | 'metrics' | 'benchmark';
  /** Dotted path, e.g. 'config.epochs', 'metrics.testAccuracy', 'benchmark.student.onnx.latencyMs.p50'. */
  key: string;
  /** One value per column (same order as `columns`); null where the experiment has none. */
  values: Json[];
  /** Numeric values minus the baseline's (null when either is not a number). */
  deltas: (number | null)[];
  differs: boolean;
}

export interface CompareResult {
  baseline: string;
  columns: { id: string; name: string; kind: ExperimentKind; status: ExperimentStatus; pinned: boolean }[];
  rows: CompareRow[];
}

// ---------------------------------------------------------------------------------------------
// Models, datasets, samples

export interface ValueInfo {
  name: string;
  type: string;
  /** Numbers for fixed dims, strings for symbolic ones; null when the rank is unknown. */
  shape: (number | string)[] | null;
}

export interface ModelInspection {
  path: string;
  irVersion: number;
  opsetImports: Record<string, number>;
  producer: { name: string; version: string };
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  parameters: number;
  sizeBytes: number;
  ops: Record<string, number>;
  flops: number;
  unsupportedOps: { opType: string; domain: string; reason: string; node?: string }[];
  metadata: Record<string, string>;
  nodes: number;
  initializers: number;
  externalData: boolean;
  /** Session creation failed for another reason than named ops; null when fine. */
  runError: string | null;
  /**
   * The main graph's nodes in file (topological) order, for drawing: at most
   * MODEL_GRAPH_NODE_LIMIT of them (`truncated` says more exist). Inputs and outputs are value
   * names; '' marks an omitted optional one. Weights (initializers) appear among the inputs.
   */
  graph?: ModelGraph;
}

/** How many nodes inspectModel returns in `graph` at most. */
export const MODEL_GRAPH_NODE_LIMIT = 400;

export interface ModelGraphNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
}

export interface ModelGraph {
  nodes: ModelGraphNode[];
  truncated: boolean;
}

export interface DatasetSample {
  /** Split index of the sample. */
  index: number;
  label: number;
  className: string | null;
  /** data:image/png;base64,... for image data; null for feature (CSV) data. */
  image: string | null;
}

export interface InspectDatasetParams {
  path: string;
  /** CSV label column (default 'label'). */
  labelColumn?: string;
  /** Read at most this many samples per split (default 5000, max 100000). */
  limit?: number;
  /** How many sample images to return (default 8, max 32). */
  samples?: number;
}

export interface DatasetInspection {
  path: string;
  kind: 'idx' | 'images' | 'csv';
  classes: string[];
  /** Per sample, e.g. [1, 28, 28] (CHW) or [F]. */
  sampleShape: number[];
  train: { count: number; balance: number[]; unlabeled: number };
  test: { count: number; balance: number[]; unlabeled: number } | null;
  /** True when `limit` cut a split short (counts are then lower bounds). */
  limited: boolean;
  fingerprint: string;
  samples: DatasetSample[];
}

export interface SampleModel {
  name: string;
  path: string;
  sizeBytes: number;
  description: string;
}

export interface SampleDataset {
  name: string;
  path: string;
  description: string;
}

export interface SampleList {
  teachers: SampleModel[];
  datasets: SampleDataset[];
}

// ---------------------------------------------------------------------------------------------
// Jobs

export const JOB_KINDS = ['distill', 'quantize', 'bench'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface DistillConfig {
  name?: string;
  teachers: string[];
  data: string;
  /** Template (mlp:64, cnn:8,16/32) or an absolute path to a student .onnx. */
  student?: string;
  unlabeled?: string;
  labelsPerClass?: number;
  normalize?: { mean: number; std: number };
  labelColumn?: string;
  seed?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  temperature?: number;
  alpha?: number;
  patience?: number;
  /**
   * Extra views of each training image, labelled by the teacher: small shifts ('shift'), plus
   * left-right mirrors ('shift-flip': only where a mirror keeps the label — clothes, not digits).
   * Default 'none'. Image data only.
   */
  augment?: 'none' | 'shift' | 'shift-flip';
  /** Views per image with augment, the original included (2–32; default 4). */
  augmentViews?: number;
  /** Samples per split, for quick trials. */
  limit?: number;
  /** Defaults to the device preference in settings. */
  device?: DevicePreference;
  threads?: number;
  /**
   * Data-parallel training threads (1..8, or 'auto', the default; CPU only): each batch is split
   * over this many 1-thread ONNX Runtime sessions. 'auto' gives convolutional students on the CPU
   * one thread per core (up to 4) and everything else one session: on 2 cores cnn:8,16/32 trains
   * 1.6x faster per step, mlp:128 1.8x slower (docs/BENCHMARKS.md). A number above 1 with device
   * 'auto' trains on the CPU; with a GPU device it is refused.
   */
  workers?: number | 'auto';
  tags?: string[];
}

export const QUANTIZE_METHODS = ['dynamic', 'static', 'int4', 'fp16', 'mixed', 'auto'] as const;
export type QuantizeMethod = (typeof QUANTIZE_METHODS)[number];

export interface QuantizeConfig {
  name?: string;
  model: string;
  method: QuantizeMethod;
  /** Calibration data (static, mixed, auto). */
  calib?: string;
  /** Evaluation data for accuracy before/after. */
  eval?: string;
  calibrationMethod?: 'minmax' | 'percentile' | 'entropy';
  perChannel?: boolean;
  limit?: number;
  /** Largest accepted accuracy drop in points: the guard of mixed and auto. */
  maxAccuracyDrop?: number;
  /** mixed: the smallest plan within the budget ('size', default) or the fastest ('latency'). */
  objective?: 'size' | 'latency';
  /** int4 block size (32, 64 or 128) and symmetric blocks. */
  blockSize?: number;
  symmetric?: boolean;
  /** int4: leave Conv layers float (only MatMul/Gemm weights become int4). */
  keepConvFloat?: boolean;
  device?: DevicePreference;
  threads?: number;
  parentId?: string;
  tags?: string[];
}

export interface BenchmarkConfig {
  name?: string;
  /** 1..16 model files measured on the same data and device. */
  models: string[];
  data?: string;
  batchSizes?: number[];
  runs?: number;
  limit?: number;
  /**
   * Also score the ensembles (averaged softmax) of the best 2 and best 3 models on `data` (needs
   * labels): the summary then carries `ensembles`, read with ensemblesOf().
   */
  ensembles?: boolean;
  device?: DevicePreference;
  threads?: number;
  parentId?: string;
  tags?: string[];
}

/** One ensemble scored by a benchmark with `ensembles: true` (summary.ensembles[]). */
export interface EnsembleScore {
  /** Member model paths as given in `models`, most accurate first. */
  members: string[];
  /** Top-1 accuracy (0..1) of the members' averaged softmax: what distilling from all of them teaches. */
  accuracy: number;
  /** Labelled samples scored. */
  samples: number;
  /** Samples the ensemble gets right and its most accurate member gets wrong. */
  gains: number;
  /** Samples its most accurate member gets right and the ensemble gets wrong. */
  losses: number;
  /** Sum of the members' p50 latencies (every member answers each input). */
  latencyMs: number;
  /** Sum of the members' file sizes. */
  sizeBytes: number;
}

export interface StartedJob {
  jobId: string;
  experimentId: string;
}

/** The latest progress of a running job (also the `job:progress` event payload). */
export interface JobProgress {
  jobId: string;
  experimentId: string;
  stage: string;
  step: number;
  totalSteps: number;
  epoch: number | null;
  loss: number | null;
  samplesPerSecond: number | null;
  etaSeconds: number | null;
  /** The job's device as in JobInfo.device (so live views learn it without re-fetching). */
  device?: string | null;
}

export interface JobInfo {
  jobId: string;
  experimentId: string;
  kind: JobKind;
  status: JobStatus;
  createdAt: Timestamp;
  startedAt: Timestamp | null;
  finishedAt: Timestamp | null;
  progress: JobProgress | null;
  error: string | null;
  /** Last log lines (at most 50). */
  log: string[];
  /** Its warnings (the GPU stopped responding, …), also in `log`; the first 10, shown as a notice. */
  warnings: string[];
  /**
   * Where the job runs: the requested device ('auto', 'cpu', 'webgpu', …) until the worker knows
   * the one it got, then that one ('cpu', 'webgpu', …). Null for kinds that take no device.
   */
  device: string | null;
}

// ---------------------------------------------------------------------------------------------
// Settings, devices, bundles, app

export interface Settings {
  device: DevicePreference;
  /** Intra-op threads; null = all cores. */
  threads: number | null;
  theme: 'system' | 'light' | 'dark';
  /** Jobs run at once (1 or 2). */
  concurrency: number;
}

export interface DeviceInfo {
  device: 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
  available: boolean;
  reason?: string;
  software?: boolean;
  probeMs?: number;
}

export interface ExportReport {
  file: string;
  experiments: string[];
  artifacts: number;
  bytes: number;
}

export interface ImportReport {
  imported: string[];
  skipped: { id: string; reason: string }[];
  artifacts: number;
  warnings: string[];
}

export interface AppInfo {
  name: 'Distillery';
  version: string;
  dataDir: string;
  dbPath: string;
  readOnly: boolean;
  schemaVersion: number;
  platform: string;
  node: string;
}

// ---------------------------------------------------------------------------------------------

export interface Api {
  listExperiments(params: ListExperimentsParams): Promise<ExperimentList>;
  getExperiment(params: { id: string }): Promise<ExperimentDetail>;
  compareExperiments(params: CompareParams): Promise<CompareResult>;
  renameExperiment(params: { id: string; name: string }): Promise<Experiment>;
  setPinned(params: { id: string; pinned: boolean }): Promise<Experiment>;
  addNote(params: { id: string; body: string; author?: string }): Promise<Note>;
  deleteNote(params: { noteId: number }): Promise<{ deleted: boolean }>;
  addTag(params: { id: string; tag: string }): Promise<{ tags: string[] }>;
  removeTag(params: { id: string; tag: string }): Promise<{ tags: string[] }>;
  listTags(params: Record<string, never>): Promise<{ tag: string; count: number }[]>;
  deleteExperiment(params: { id: string }): Promise<{ deleted: boolean }>;

  inspectModel(params: { path: string }): Promise<ModelInspection>;
  inspectDataset(params: InspectDatasetParams): Promise<DatasetInspection>;
  listSamples(params: Record<string, never>): Promise<SampleList>;

  startDistill(params: DistillConfig): Promise<StartedJob>;
  startQuantize(params: QuantizeConfig): Promise<StartedJob>;
  startBenchmark(params: BenchmarkConfig): Promise<StartedJob>;
  resumeJob(params: { experimentId: string }): Promise<StartedJob>;
  cancelJob(params: { jobId: string }): Promise<{ cancelled: boolean }>;
  listJobs(params: Record<string, never>): Promise<JobInfo[]>;

  getSettings(params: Record<string, never>): Promise<Settings>;
  updateSettings(params: Partial<Settings>): Promise<Settings>;
  detectDevices(params: { refresh?: boolean }): Promise<DeviceInfo[]>;

  exportBundle(params: { ids: string[]; path: string; overwrite?: boolean }): Promise<ExportReport>;
  importBundle(params: { path: string }): Promise<ImportReport>;
  appInfo(params: Record<string, never>): Promise<AppInfo>;
}

export type ApiMethod = keyof Api;
export type ApiParams<M extends ApiMethod> = Parameters<Api[M]>[0];
export type ApiResult<M extends ApiMethod> = Awaited<ReturnType<Api[M]>>;

/** Error codes every transport carries ({message, code}). */
export type ApiErrorCode =
  | 'INVALID_PARAMS'
  | 'NOT_FOUND'
  | 'READ_ONLY'
  | 'INVALID_STATE'
  | 'UNKNOWN_METHOD'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'TOO_LARGE'
  | 'FAILED';

export interface ApiErrorBody {
  message: string;
  code: ApiErrorCode;
}
