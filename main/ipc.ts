// Binds the contract to Electron IPC: one `api:<method>` handler per method, each checking the
// sender frame and validating params (inside services.call) before anything runs. Replies are
// envelopes, so the renderer gets {message, code} and never an Electron-wrapped stack trace.
import { API_METHODS, channelOf, type ApiErrorBody, type ApiEvent, type ApiMethod } from '../app/contract/index.js';
import type { Services } from '../app/services/index.js';

export type Envelope = { ok: true; result: unknown } | { ok: false; error: ApiErrorBody };

/** The part of ipcMain this module uses (so it can be tested without Electron). */
export interface IpcMainLike {
  handle(channel: string, listener: (event: { senderFrame: { url: string; parent: unknown } | null }, ...args: unknown[]) => Promise<unknown> | unknown): void;
  removeHandler(channel: string): void;
}

export function errorBody(err: unknown): ApiErrorBody {
  const code = (err as { code?: unknown }).code;
  const known = ['INVALID_PARAMS', 'NOT_FOUND', 'READ_ONLY', 'INVALID_STATE', 'UNKNOWN_METHOD', 'UNAUTHORIZED', 'FORBIDDEN', 'TOO_LARGE', 'FAILED'];
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : String(err);
  return { message, code: (typeof code === 'string' && known.includes(code) ? code : 'FAILED') as ApiErrorBody['code'] };
}

export function bindApi(ipc: IpcMainLike, services: Pick<Services, 'call'>, isTrusted: (frame: { url: string; parent: unknown } | null) => boolean): () => void {
  for (const method of API_METHODS) {
    ipc.handle(channelOf(method), async (event, params): Promise<Envelope> => {
      if (!isTrusted(event.senderFrame)) return { ok: false, error: { message: 'this window is not allowed to call Distillery', code: 'FORBIDDEN' } };
      try {
        return { ok: true, result: await services.call(method as ApiMethod, params ?? {}) };
      } catch (err) {
        return { ok: false, error: errorBody(err) };
      }
    });
  }
  return () => {
    for (const method of API_METHODS) ipc.removeHandler(channelOf(method));
  };
}

/** Events go to the window as `event:<name>`; the preload forwards only known names. */
export function eventChannel(event: ApiEvent): string {
  return `event:${event.name}`;
}
