// What the UI holds, whichever transport was picked at start-up: the typed Api plus events.
import type { Api, ApiErrorCode, ApiMethod } from '../../../../app/contract/api.js';
import { API_METHODS } from '../../../../app/contract/channels.js';
import type { ApiEventName, ApiEvents } from '../../../../app/contract/events.js';

export type TransportKind = 'ipc' | 'http' | 'fake';

export type Unsubscribe = () => void;

/** Connection state of the event stream (always 'open' for ipc and fake). */
export type LinkState = 'connecting' | 'open' | 'lost';

/** What the native shell adds (Electron only): file dialogs and the paths of dropped files. */
export interface NativeHelpers {
  /** Native open dialog; resolves to an absolute path, or null when cancelled. */
  pickPath(kind: 'model' | 'dataset-folder' | 'dataset-file' | 'bundle'): Promise<string | null>;
  /** Native save dialog. */
  pickSavePath(kind: 'model' | 'bundle' | 'report', defaultName: string): Promise<string | null>;
  /** Absolute path of a dropped file or folder ('' when the shell cannot tell). */
  pathForFile(file: File): string;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Present only where the shell offers them (ipc); the browser uses text fields. */
  readonly native?: NativeHelpers;
  invoke<M extends ApiMethod>(method: M, params: Parameters<Api[M]>[0]): ReturnType<Api[M]>;
  on<E extends ApiEventName>(event: E, fn: (payload: ApiEvents[E]) => void): Unsubscribe;
  /** Called when the event stream drops or comes back; the UI re-fetches state on 'open'. */
  onLink(fn: (state: LinkState) => void): Unsubscribe;
  close(): void;
}

/** Every transport rejects with this: a code from the contract and a message for people. */
export class TransportError extends Error {
  constructor(
    readonly code: ApiErrorCode | 'NETWORK',
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A typed Api object over a transport (api.listExperiments({...}) instead of invoke(...)). */
export function apiOf(transport: Transport): Api {
  const api: Record<string, unknown> = {};
  for (const method of API_METHODS) {
    api[method] = (params: unknown) => transport.invoke(method, params as never);
  }
  return api as unknown as Api;
}

/** A tiny event hub shared by the transports. */
export class Emitter {
  private readonly handlers = new Map<string, Set<(payload: unknown) => void>>();

  on(event: string, fn: (payload: unknown) => void): Unsubscribe {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  emit(event: string, payload: unknown): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) {
      try {
        fn(payload);
      } catch (err) {
        console.error(`handler for ${event} failed`, err);
      }
    }
  }

  count(event: string): number {
    return this.handlers.get(event)?.size ?? 0;
  }
}

/** Unwraps the `{ok, result}` / `{ok:false, error}` envelope used by the server (and maybe IPC). */
export function unwrapEnvelope(body: unknown): unknown {
  if (body && typeof body === 'object' && 'ok' in body && typeof (body as { ok: unknown }).ok === 'boolean') {
    const env = body as { ok: boolean; result?: unknown; error?: { message?: unknown; code?: unknown } };
    if (env.ok) return env.result;
    const message = typeof env.error?.message === 'string' ? env.error.message : 'The request failed.';
    const code = typeof env.error?.code === 'string' ? (env.error.code as ApiErrorCode) : 'FAILED';
    throw new TransportError(code, message);
  }
  return body;
}
