// Messages between the job manager (parent, the single SQLite writer) and a job's child process.
// Each message out of the child carries a `seq` so the parent can spot lost or reordered ones.
import type { JobKind } from './api.js';

export type ParentToWorker =
  | { type: 'start'; jobId: string; experimentId: string; kind: JobKind; params: unknown }
  | { type: 'cancel' };

export interface WorkerArtifact {
  /** Absolute path of a file the job wrote. */
  path: string;
  role: string;
  mediaType: string;
}

export interface WorkerBenchmark {
  label: string;
  device: string;
  threads?: number | null;
  batchSize: number;
  latencyMs: { p50: number; p95: number; p99: number };
  throughput?: Record<string, number>;
  peakMemoryBytes?: number | null;
  sizeBytes?: number | null;
  accuracy?: number | null;
  agreement?: number | null;
  environment: Record<string, unknown>;
}

export interface WorkerResult {
  summary: unknown;
  artifacts: WorkerArtifact[];
  benchmarks?: WorkerBenchmark[];
}

export type WorkerToParent =
  | { type: 'ready'; seq: number; pid: number }
  | { type: 'progress'; seq: number; stage: string; step: number; totalSteps: number; epoch: number | null; loss: number | null; samplesPerSecond: number | null; etaSeconds: number | null }
  | { type: 'epoch'; seq: number; epoch: number; loss: number; lossKd?: number; lossCe?: number; accuracy: number | null; agreement: number | null; kl: number | null; seconds: number; lr?: number }
  | { type: 'log'; seq: number; level: 'info' | 'warn'; message: string; stage?: string }
  /** The device the job runs on, once the child knows it ('cpu', 'webgpu', …). */
  | { type: 'device'; seq: number; device: string }
  | { type: 'result'; seq: number; result: WorkerResult }
  | { type: 'error'; seq: number; message: string; cancelled: boolean };
