// Channel names for the Electron preload and the HTTP transport. The preload exposes only
// `invoke(method, params)` and `on(event, fn)` and refuses names not listed here.
import type { Api, ApiMethod } from './api.js';
import type { ApiEventName } from './events.js';

export const API_METHODS = [
  'listExperiments',
  'getExperiment',
  'compareExperiments',
  'renameExperiment',
  'setPinned',
  'addNote',
  'deleteNote',
  'addTag',
  'removeTag',
  'listTags',
  'deleteExperiment',
  'inspectModel',
  'inspectDataset',
  'listSamples',
  'startDistill',
  'startQuantize',
  'startBenchmark',
  'resumeJob',
  'cancelJob',
  'listJobs',
  'getSettings',
  'updateSettings',
  'detectDevices',
  'exportBundle',
  'importBundle',
  'appInfo',
] as const satisfies readonly ApiMethod[];

// Compile-time check that API_METHODS lists every method of Api (and nothing else).
type Missing = Exclude<ApiMethod, (typeof API_METHODS)[number]>;
const everyMethodListed: Missing extends never ? true : Missing = true;
void everyMethodListed;

/** Methods that change the history, the settings or the file system; refused in read-only mode. */
export const MUTATING_METHODS = [
  'renameExperiment',
  'setPinned',
  'addNote',
  'deleteNote',
  'addTag',
  'removeTag',
  'deleteExperiment',
  'startDistill',
  'startQuantize',
  'startBenchmark',
  'resumeJob',
  'cancelJob',
  'updateSettings',
  'exportBundle',
  'importBundle',
] as const satisfies readonly ApiMethod[];

export const EVENT_NAMES = ['job:progress', 'job:epoch', 'job:log', 'job:finished', 'experiments:changed', 'menu:command'] as const satisfies readonly ApiEventName[];
type MissingEvent = Exclude<ApiEventName, (typeof EVENT_NAMES)[number]>;
const everyEventListed: MissingEvent extends never ? true : MissingEvent = true;
void everyEventListed;

export const CHANNEL_PREFIX = 'api:';
/** Electron IPC channel of a method: `api:<method>`. */
export const channelOf = (method: ApiMethod): `api:${ApiMethod}` => `api:${method}`;
/** HTTP endpoint of a method: POST `/api/<method>`. */
export const httpPathOf = (method: ApiMethod): `/api/${ApiMethod}` => `/api/${method}`;
/** WebSocket endpoint of the event stream (browser mode): GET with Upgrade. */
export const EVENTS_WS_PATH = '/api/ws';

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && (API_METHODS as readonly string[]).includes(name);
}
export function isMutating(name: ApiMethod): boolean {
  return (MUTATING_METHODS as readonly string[]).includes(name);
}
export function isEventName(name: unknown): name is ApiEventName {
  return typeof name === 'string' && (EVENT_NAMES as readonly string[]).includes(name);
}

/** The shape of a transport: what the renderer holds, whichever transport it picked. */
export interface ApiTransport {
  invoke<M extends ApiMethod>(method: M, params: Parameters<Api[M]>[0]): ReturnType<Api[M]>;
}
