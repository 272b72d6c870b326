// Browser mode: POST /api/<method> with {params} → {ok, result} | {ok:false, error}; events over
// one WebSocket at /api/ws, each message {name, payload}, reconnecting with backoff. The token
// cookie is set by the server when the page was loaded with ?token=… (the browser sends it with the
// WebSocket handshake too); we drop the token from the address bar so it is not bookmarked or shared.
import type { Api, ApiMethod } from '../../../../app/contract/api.js';
import { EVENTS_WS_PATH, httpPathOf, isEventName } from '../../../../app/contract/channels.js';
import type { ApiEventName, ApiEvents } from '../../../../app/contract/events.js';
import { Emitter, TransportError, unwrapEnvelope, type LinkState, type Transport } from './types.js';

export interface HttpOptions {
  /** Origin + path prefix of the server; defaults to the page's origin. */
  base?: string;
  fetch?: typeof fetch;
  /** Opens the event socket (tests pass the `ws` package's client); null runs without events. */
  webSocket?: ((url: string) => WebSocket) | null;
  /** Reconnect delays: the first retry after `firstMs`, doubling per failure up to `maxMs`. */
  retry?: { firstMs: number; maxMs: number };
}

/** ws:// or wss:// URL of the event socket, relative to `base` or the page. */
export function eventSocketUrl(base: string, page = (globalThis as { location?: { href: string } }).location?.href): string {
  const url = new URL(base + EVENTS_WS_PATH, base ? undefined : page);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

export function createHttpTransport(options: HttpOptions = {}): Transport {
  const base = options.base ?? '';
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retry = options.retry ?? { firstMs: 500, maxMs: 10_000 };
  const emitter = new Emitter();
  let link: LinkState = 'connecting';
  let socket: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let failures = 0;
  let closed = false;

  const setLink = (state: LinkState) => {
    if (state === link) return;
    link = state;
    emitter.emit('$link', state);
  };

  const makeSocket = options.webSocket === null ? null : (options.webSocket ?? ((url: string) => new WebSocket(url)));

  function connect(make: (url: string) => WebSocket): void {
    timer = null;
    let opened = false;
    const ws = make(eventSocketUrl(base));
    socket = ws;
    ws.onopen = () => {
      opened = true;
      failures = 0;
      setLink('open');
    };
    ws.onmessage = (e: { data: unknown }) => {
      let body: { name?: unknown; payload?: unknown };
      try {
        body = JSON.parse(String(e.data)) as typeof body;
      } catch {
        return;
      }
      if (isEventName(body.name)) emitter.emit(body.name, body.payload);
    };
    ws.onerror = () => {}; // 'close' follows; Node's `ws` client throws on an unhandled error
    ws.onclose = () => {
      if (socket !== ws || closed) return;
      socket = null;
      // A drop is retried after firstMs ('connecting'); each failed attempt doubles the wait and
      // shows 'lost' (server stopped, or the token cookie is gone).
      if (!opened) failures++;
      setLink(failures === 0 ? 'connecting' : 'lost');
      timer = setTimeout(() => connect(make), Math.min(retry.maxMs, retry.firstMs * 2 ** Math.max(0, failures - 1)));
    };
  }

  if (makeSocket) connect(makeSocket);
  else link = 'open';

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
      closed = true;
      if (timer) clearTimeout(timer);
      socket?.close();
      socket = null;
    },
  };
}
