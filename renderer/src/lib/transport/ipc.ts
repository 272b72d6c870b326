// Electron: the preload exposes window.api = { invoke(method, params), on(event, fn) } for the
// channels listed in app/contract/channels.ts, plus native file dialogs and the paths of dropped
// files (offered to the UI as `transport.native`). Nothing else of Electron reaches the renderer.
import type { Api, ApiMethod } from '../../../../app/contract/api.js';
import type { ApiEventName, ApiEvents } from '../../../../app/contract/events.js';
import { TransportError, unwrapEnvelope, type NativeHelpers, type Transport } from './types.js';

export interface PreloadApi {
  invoke(method: string, params: unknown): Promise<unknown>;
  /** Returns an unsubscribe function (or nothing). */
  on(event: string, fn: (payload: unknown) => void): (() => void) | void;
  pickPath?(options: { kind: 'model' | 'dataset-folder' | 'dataset-file' | 'bundle' }): Promise<string | null>;
  pickSavePath?(options: { kind: 'model' | 'bundle' | 'report'; defaultName: string }): Promise<string | null>;
  pathForFile?(file: File): string;
}

/** The native helpers, when this preload has them all. */
export function nativeOf(preload: PreloadApi): NativeHelpers | undefined {
  const { pickPath, pickSavePath, pathForFile } = preload;
  if (typeof pickPath !== 'function' || typeof pickSavePath !== 'function' || typeof pathForFile !== 'function') return undefined;
  return {
    async pickPath(kind) {
      const p = await pickPath.call(preload, { kind });
      return typeof p === 'string' && p ? p : null;
    },
    async pickSavePath(kind, defaultName) {
      const p = await pickSavePath.call(preload, { kind, defaultName });
      return typeof p === 'string' && p ? p : null;
    },
    pathForFile(file) {
      try {
        return pathForFile.call(preload, file) || '';
      } catch {
        return '';
      }
    },
  };
}

export function hasPreload(w: unknown): w is { api: PreloadApi } {
  const api = (w as { api?: Partial<PreloadApi> } | undefined)?.api;
  return !!api && typeof api.invoke === 'function' && typeof api.on === 'function';
}

export function createIpcTransport(preload: PreloadApi): Transport {
  async function invoke<M extends ApiMethod>(method: M, params: Parameters<Api[M]>[0]): Promise<unknown> {
    try {
      return unwrapEnvelope(await preload.invoke(method, params ?? {}));
    } catch (err) {
      if (err instanceof TransportError) throw err;
      // Electron prefixes remote errors: "Error invoking remote method 'api:x': Error: message".
      const raw = err instanceof Error ? err.message : String(err);
      const message = raw.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
      const code = (err as { code?: unknown })?.code;
      throw new TransportError(typeof code === 'string' ? (code as TransportError['code']) : 'FAILED', message);
    }
  }
  const native = nativeOf(preload);
  return {
    kind: 'ipc',
    ...(native ? { native } : {}),
    invoke: invoke as Transport['invoke'],
    on<E extends ApiEventName>(event: E, fn: (payload: ApiEvents[E]) => void) {
      const off = preload.on(event, fn as (p: unknown) => void);
      return typeof off === 'function' ? off : () => {};
    },
    onLink(fn) {
      fn('open');
      return () => {};
    },
    close() {},
  };
}
