// Browser mode: POST /api/<method> with {params} → {ok, result} | {ok:false, error}; events over
// Server-Sent Events at GET /api/events. The token cookie is set by the server when the page was
// loaded with ?token=…; we drop the token from the address bar so it is not bookmarked or shared.
import type { Api, ApiMethod } from '../../../../app/contract/api.js';
import { EVENT_NAMES, EVENTS_HTTP_PATH, httpPathOf } from '../../../../app/contract/channels.js';
import type { ApiEventName, ApiEvents } from '../../../../app/contract/events.js';
import { Emitter, TransportError, unwrapEnvelope, type LinkState, type Transport } from './types.js';

export interface HttpOptions {
  /** Origin + path prefix of the server; defaults to the page's origin. */
  base?: string;
  fetch?: typeof fetch;
  /** Pass null to run without events (tests). */
  eventSource?: ((url: string) => EventSource) | null;
}

export function createHttpTransport(options: HttpOptions = {}): Transport {
  const base = options.base ?? '';
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const emitter = new Emitter();
  let link: LinkState = 'connecting';
  let source: EventSource | null = null;

  const setLink = (state: LinkState) => {
    if (state === link) return;
    link = state;
    emitter.emit('$link', state);
  };

  const makeSource = options.eventSource === null ? null : (options.eventSource ?? ((url: string) => new EventSource(url, { withCredentials: true })));
  if (makeSource) {
    source = makeSource(base + EVENTS_HTTP_PATH);
    source.onopen = () => setLink('open');
    source.onerror = () => setLink(source?.readyState === 2 ? 'lost' : 'connecting');
    const deliver = (name: string, data: string) => {
      let payload: unknown;
      try {
        payload = JSON.parse(data);
      } catch {
        return;
      }
      emitter.emit(name, payload);
    };
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (e) => deliver(name, String((e as unknown as { data: unknown }).data)));
    }
    // Servers that send unnamed messages with {name, payload} bodies are understood too.
    source.onmessage = (e: { data: string }) => {
      try {
        const body = JSON.parse(e.data) as { name?: unknown; event?: unknown; payload?: unknown; data?: unknown };
        const name = typeof body.name === 'string' ? body.name : typeof body.event === 'string' ? body.event : null;
        if (name && (EVENT_NAMES as readonly string[]).includes(name)) emitter.emit(name, body.payload ?? body.data);
      } catch {
        /* not for us */
      }
    };
  } else {
    link = 'open';
  }

  async function invoke<M extends ApiMethod>(method: M, params: Parameters<Api[M]>[0]): Promise<unknown> {
    let res: Response;
    try {
      res = await doFetch(base + httpPathOf(method), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ params: params ?? {} }),
      });
    } catch {
      throw new TransportError('NETWORK', 'Distillery is not reachable. Is the server still running?');
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      if (res.status === 401 || res.status === 403) {
        throw new TransportError('UNAUTHORIZED', 'This page is not signed in. Open the address printed by “distillery serve” (it carries the access token).');
      }
      throw new TransportError('FAILED', `The server answered ${res.status} ${res.statusText || ''}`.trim() + '.');
    }
    return unwrapEnvelope(body);
  }

  return {
    kind: 'http',
    invoke: invoke as Transport['invoke'],
    on<E extends ApiEventName>(event: E, fn: (payload: ApiEvents[E]) => void) {
      return emitter.on(event, fn as (p: unknown) => void);
    },
    onLink(fn) {
      fn(link);
      return emitter.on('$link', fn as (p: unknown) => void);
    },
    close() {
      source?.close();
      source = null;
    },
  };
}
