// Electron: the preload exposes window.api = { invoke(method, params), on(event, fn) } for the
// channels listed in app/contract/channels.ts. Nothing else of Electron reaches the renderer.
import type { Api, ApiMethod } from '../../../../app/contract/api.js';
import type { ApiEventName, ApiEvents } from '../../../../app/contract/events.js';
import { TransportError, unwrapEnvelope, type Transport } from './types.js';

export interface PreloadApi {
  invoke(method: string, params: unknown): Promise<unknown>;
  /** Returns an unsubscribe function (or nothing). */
  on(event: string, fn: (payload: unknown) => void): (() => void) | void;
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
  return {
    kind: 'ipc',
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
