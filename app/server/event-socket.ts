// Live events for browser mode: each page holds one WebSocket at GET /api/ws and gets every
// ApiEvent as one JSON text message {name, payload}. The caller (server.ts) checks Host, Origin
// and token before handing the upgrade over; this module only speaks WebSocket.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiEvent } from '../contract/events.js';

export interface EventSocketOptions {
  events: { subscribe(fn: (event: ApiEvent) => void): () => void };
  /** Ping interval; a client that has not answered the previous ping by the next is dropped. */
  heartbeatMs: number;
  /** A client with more than this many bytes waiting to be sent is closed (it fell behind). */
  maxBufferedBytes: number;
}

export interface EventSockets {
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Drops every client (server shutdown). */
  close(): void;
}

/** Close code sent to a client that fell behind: "try again later" (it reconnects and re-fetches). */
export const CLOSE_TOO_SLOW = 1013;

export function createEventSockets(o: EventSocketOptions): EventSockets {
  // Clients never send anything but control frames, so a tiny payload limit is enough.
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: 4096, perMessageDeflate: false });
  /** Every client until its socket closes → whether it answered the last ping. */
  const clients = new Map<WebSocket, boolean>();

  const beat = setInterval(() => {
    for (const [ws, answered] of clients) {
      if (!answered) {
        ws.terminate();
        continue;
      }
      clients.set(ws, false);
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }, o.heartbeatMs);
  beat.unref();

  function serve(ws: WebSocket): void {
    clients.set(ws, true);
    ws.on('pong', () => clients.has(ws) && clients.set(ws, true));
    const unsubscribe = o.events.subscribe((event) => {
      if (ws.readyState !== ws.OPEN) return;
      // Checked before queueing, so a stalled client holds at most the limit plus one event.
      if (ws.bufferedAmount > o.maxBufferedBytes) {
        unsubscribe();
        ws.close(CLOSE_TOO_SLOW, `Too slow: over ${o.maxBufferedBytes} bytes of events waiting. Reconnect and reload.`);
        return;
      }
      ws.send(JSON.stringify(event));
    });
    ws.on('close', () => {
      unsubscribe();
      clients.delete(ws);
    });
    ws.on('error', () => ws.terminate());
  }

  return {
    accept(req, socket, head) {
      wss.handleUpgrade(req, socket, head, serve);
    },
    close() {
      clearInterval(beat);
      for (const ws of [...clients.keys()]) ws.terminate();
      wss.close();
    },
  };
}
