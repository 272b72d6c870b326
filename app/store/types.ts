/** Domain types returned by the repositories. Timestamps are milliseconds since the epoch. */

export const EXPERIMENT_KINDS = ['distill', 'quantize', 'bench', 'train', 'demo'] as const;
export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

export const EXPERIMENT_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export type ExperimentStatus = (typeof EXPERIMENT_STATUSES)[number];

export interface Project {
  id: string;
  name: string;
  description: string;
  createdAt: number;
}

export interface Model {
  id: number;
  sha256: string;
  path: string;
  name: string;
  sizeBytes: number;
  summary: unknown;
  createdAt: number;
}

export interface NewModel {
  sha256: string;
  path: string;
  name: string;
  sizeBytes: number;
  /** Inspection summary (inputs, outputs, opset, parameters...). */
  summary?: unknown;
}

export interface Dataset {
  id: number;
  fingerprint: string;
  path: string;
  kind: string;
  summary: unknown;
  createdAt: number;
}

export interface NewDataset {
  fingerprint: string;
  path: string;
  kind: string;
  summary?: unknown;
}

export interface Experiment {
  id: string;
  projectId: string | null;
  kind: ExperimentKind;
  name: string;
  status: ExperimentStatus;
  config: unknown;
  /** Final metrics, e.g. {testAccuracy, agreement}; null until the run reports them. */
  summary: unknown;
  error: string | null;
  parentId: string | null;
  teacherModelId: number | null;
  studentModelId: number | null;
  datasetId: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  pinned: boolean;
  tags: string[];
}

export interface NewExperiment {
  kind: ExperimentKind;
  name: string;
  projectId?: string | null;
  config?: unknown;
  parentId?: string | null;
  teacherModelId?: number | null;
  studentModelId?: number | null;
  datasetId?: number | null;
  tags?: readonly string[];
  /** Defaults to now; settable for imports and benchmarks. */
  createdAt?: number;
}

/** Fields that may change after creation; status goes through setStatus(). */
export interface ExperimentPatch {
  name?: string;
  projectId?: string | null;
  config?: unknown;
  summary?: unknown;
  parentId?: string | null;
  teacherModelId?: number | null;
  studentModelId?: number | null;
  datasetId?: number | null;
  pinned?: boolean;
}

export type ExperimentSort = 'createdAt' | 'name' | 'status' | 'kind' | 'finishedAt' | { metric: string };

export interface ExperimentListQuery {
  /** Case-insensitive substring of the name or id. Wildcards are matched literally. */
  search?: string;
  kinds?: readonly ExperimentKind[];
  statuses?: readonly ExperimentStatus[];
  /** Experiments carrying ALL of these tags. */
  tags?: readonly string[];
  projectId?: string;
  parentId?: string;
  pinned?: boolean;
  /** Default 'createdAt'. {metric: 'testAccuracy'} sorts by summary.testAccuracy, missing last. */
  sort?: ExperimentSort;
  /** Default 'desc'. */
  order?: 'asc' | 'desc';
  /** 1..1000, default 50. */
  limit?: number;
  offset?: number;
}

export interface ExperimentList {
  rows: Experiment[];
  /** Number of experiments matching the filters, ignoring limit/offset. */
  total: number;
}

export interface MetricPointInput {
  series: string;
  step: number;
  value: number;
  epoch?: number | null;
  recordedAt?: number;
}

/** One series in columns (what a chart wants). values[i] is null where the metric was NaN. */
export interface MetricSeries {
  name: string;
  steps: number[];
  epochs: (number | null)[];
  values: (number | null)[];
  recordedAt: number[];
}

export interface NewBenchmarkResult {
  modelId?: number | null;
  /** What the row is about, e.g. the model's file name. */
  label: string;
  device: string;
  threads?: number | null;
  batchSize: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** samples per second by batch size, e.g. {"1": 812, "32": 5400}. */
  throughput?: Record<string, number>;
  peakMemoryBytes?: number | null;
  sizeBytes?: number | null;
  accuracy?: number | null;
  agreement?: number | null;
  /** CPU model and flags, execution provider, ORT version... */
  environment: Record<string, unknown>;
  createdAt?: number;
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
  createdAt: number;
}

export interface Note {
  id: number;
  experimentId: string;
  author: string;
  body: string;
  createdAt: number;
}

export interface ArtifactInfo {
  sha256: string;
  sizeBytes: number;
  mediaType: string;
  createdAt: number;
}

export interface AttachedArtifact extends ArtifactInfo {
  role: string;
}
