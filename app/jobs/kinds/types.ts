// A job kind is one small module: `prepare` runs in the parent (cheap, no engine imports) and
// turns a validated contract config into the experiment's record and the worker's params;
// `run` runs in the child process and does the heavy work (engine modules imported lazily).
import type { DevicePreference, ExperimentKind, JobKind } from '../../contract/api.js';
import type { WorkerResult } from '../../contract/jobs.js';

export interface PrepareContext {
  experimentId: string;
  dataDir: string;
  /** `<dataDir>/models/<experimentId>/` (created by the manager before the job starts). */
  outDir: string;
  /** `<dataDir>/checkpoints/<experimentId>.ckpt`. */
  checkpointPath: string;
  cacheDir: string;
  device: DevicePreference;
  threads: number | null;
}

export interface Prepared {
  /** The experiment's name and config as recorded in the history. */
  name: string;
  experimentKind: ExperimentKind;
  config: Record<string, unknown>;
  /** What the worker receives (JSON). */
  params: Record<string, unknown>;
  /** Whether this job writes a checkpoint it can resume from. */
  resumable: boolean;
}

export interface JobContext {
  signal: AbortSignal;
  progress(p: { stage: string; step: number; totalSteps: number; epoch?: number | null; loss?: number | null; samplesPerSecond?: number | null; etaSeconds?: number | null }): void;
  epoch(e: { epoch: number; loss: number; lossKd?: number; lossCe?: number; accuracy: number | null; agreement: number | null; kl: number | null; seconds: number; lr?: number }): void;
  log(message: string, level?: 'info' | 'warn', stage?: string): void;
  /** Reports the device the job runs on once it is known (shown instead of the requested one). */
  device(device: string): void;
}

export interface JobKindModule<Config = unknown> {
  kind: JobKind;
  prepare(config: Config, ctx: PrepareContext): Prepared;
  /** For resumable kinds: worker params that continue from the checkpoint. */
  resumeParams?(params: Record<string, unknown>, checkpointPath: string): Record<string, unknown>;
  run(params: Record<string, unknown>, ctx: JobContext): Promise<WorkerResult>;
}

export const fileName = (p: string): string => p.split(/[\\/]/).pop() ?? p;
