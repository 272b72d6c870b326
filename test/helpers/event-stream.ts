// A Node client of the browser-mode server's event stream (what the renderer's http transport
// does in Chromium): every ApiEvent, as delivered to a UI client.
import WebSocket from 'ws';
import type { ApiEvent } from '../../app/contract/events.js';
import { EVENTS_WS_PATH } from '../../app/contract/channels.js';
import type { RunningServer } from '../../app/server/server.js';

export interface EventStream {
  close(): void;
}

export function openEventStream(server: Pick<RunningServer, 'url' | 'token'>, onEvent: (e: ApiEvent) => void): Promise<EventStream> {
  const url = new URL(EVENTS_WS_PATH, server.url.replace(/^http/, 'ws'));
  url.searchParams.set('token', server.token);
  const ws = new WebSocket(url, { headers: { origin: new URL(server.url).origin } });
  ws.on('message', (data) => onEvent(JSON.parse(String(data)) as ApiEvent));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ close: () => ws.close() }));
    ws.once('error', reject);
  });
}
