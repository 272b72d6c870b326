// Events pushed from the services to every client (IPC `on`, WebSocket `GET /api/ws`).
import type { ExperimentStatus, JobKind, JobProgress, JobStatus } from './api.js';
import type { MenuCommand } from './menu.js';

export interface JobEpochEvent {
  jobId: string;
  experimentId: string;
  /** 1-based epoch number. */
  epoch: number;
  loss: number;
  valAccuracy: number | null;
  agreement: number | null;
  seconds: number;
}

export interface JobLogEvent {
  jobId: string;
  experimentId: string;
  level: 'info' | 'warn';
  message: string;
}

export interface JobFinishedEvent {
  jobId: string;
  experimentId: string;
  kind: JobKind;
  status: Exclude<JobStatus, 'queued' | 'running'>;
  error?: string;
}

export interface ExperimentsChangedEvent {
  ids: string[];
  reason: 'created' | 'updated' | 'deleted' | 'imported' | 'status';
  status?: ExperimentStatus;
}

export interface ApiEvents {
  'job:progress': JobProgress;
  'job:epoch': JobEpochEvent;
  'job:log': JobLogEvent;
  'job:finished': JobFinishedEvent;
  'experiments:changed': ExperimentsChangedEvent;
  /** A native menu command (desktop app only: sent by the Electron shell, not the services). */
  'menu:command': MenuCommand;
}

export type ApiEventName = keyof ApiEvents;

/** One event as delivered to a subscriber. */
export type ApiEvent = { [K in ApiEventName]: { name: K; payload: ApiEvents[K] } }[ApiEventName];
