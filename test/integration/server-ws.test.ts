// The event WebSocket of browser mode: real server on 127.0.0.1, real services, a real job, the
// renderer's http transport driving the `ws` client; refused upgrades, heartbeat, slow clients.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { ApiEvent } from '../../app/contract/events.js';
import { createServices, type Services } from '../../app/services/index.js';
import { startServer, type RunningServer } from '../../app/server/server.js';
import { createHttpTransport, eventSocketUrl } from '../../renderer/src/lib/transport/http.js';
import { apiOf, type LinkState, type Transport } from '../../renderer/src/lib/transport/types.js';
import { makeTeacher, quickDistill, tempDir } from '../helpers/services-fixtures.js';

interface Answer {
  status: number;
  body: string;
}

/** A WebSocket handshake by hand, so a refusal's HTTP status can be read. */
function tryUpgrade(server: RunningServer, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: server.port,
      path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      // 'close' and not just 'end': the server must drop the socket of a refused upgrade.
      res.socket.on('close', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const wsUrl = (server: RunningServer, query = '') => eventSocketUrl(server.url.slice(0, -1)) + query;
const bearer = (server: RunningServer) => ({ authorization: `Bearer ${server.token}` });

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** The renderer's transport as the page builds it, with the `ws` client standing in for Chromium's. */
function transportFor(server: RunningServer, retry = { firstMs: 20, maxMs: 100 }): { transport: Transport; links: LinkState[] } {
  const links: LinkState[] = [];
  const transport = createHttpTransport({
    base: server.url.slice(0, -1),
    webSocket: (url) => new WebSocket(url, { headers: bearer(server) }) as unknown as globalThis.WebSocket,
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...bearer(server) } }),
    retry,
  });
  transport.onLink((s) => links.push(s));
  return { transport, links };
}

describe('server: event WebSocket', () => {
  const tmp = tempDir('server-ws');
  let services: Services;
  let server: RunningServer;
  let teacher: string;
  let baseline: number;

  beforeAll(async () => {
    teacher = await makeTeacher(tmp.dir);
    services = createServices({ dataDir: join(tmp.dir, 'data') });
    server = await startServer({ services, port: 0 });
    baseline = services.events.subscribers;
  });
  afterAll(async () => {
    await server?.close();
    await services?.close();
    tmp.cleanup();
  });

  it('refuses upgrades without a token (401), with a wrong one (403), from a foreign Origin or Host (403)', async () => {
    const none = await tryUpgrade(server, '/api/ws');
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect((await tryUpgrade(server, '/api/ws?token=wrong')).status).toBe(403);
    expect((await tryUpgrade(server, '/api/ws', { authorization: 'Bearer wrong' })).status).toBe(403);
    expect((await tryUpgrade(server, '/api/ws', { cookie: 'distillery_token=wrong' })).status).toBe(403);
    const evil = await tryUpgrade(server, `/api/ws?token=${server.token}`, { origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error.message).toMatch(/Cross-origin/);
    expect((await tryUpgrade(server, `/api/ws?token=${server.token}`, { host: `evil.example:${server.port}` })).status).toBe(403);
    expect((await tryUpgrade(server, `/api/events?token=${server.token}`)).status).toBe(404);
    expect(services.events.subscribers).toBe(baseline);

    // The right token: in the query, as a bearer, or as the page's cookie with its own Origin.
    expect((await tryUpgrade(server, `/api/ws?token=${server.token}`)).status).toBe(101);
    // A stale cookie from an earlier server does not spoil a right token.
    expect((await tryUpgrade(server, `/api/ws?token=${server.token}`, { cookie: 'distillery_token=stale' })).status).toBe(101);
    expect((await tryUpgrade(server, '/api/ws', bearer(server))).status).toBe(101);
    expect((await tryUpgrade(server, '/api/ws', { cookie: `distillery_token=${server.token}`, origin: `http://127.0.0.1:${server.port}` })).status).toBe(101);
    // Without the upgrade it is not an API method.
    const plain = await fetch(new URL('/api/ws', server.url), { headers: bearer(server) });
    expect(plain.status).toBe(426);
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline));
  });

  it("delivers a real job's events to the renderer's transport, and unsubscribes when it closes", async () => {
    const { transport, links } = transportFor(server);
    await vi.waitFor(() => expect(links.at(-1)).toBe('open'));
    expect(services.events.subscribers).toBe(baseline + 1);
    const received: { name: string; payload: any }[] = [];
    for (const name of ['job:progress', 'job:epoch', 'job:finished', 'experiments:changed'] as const) transport.on(name, (payload) => received.push({ name, payload }));
    const finished = new Promise<void>((r) => transport.on('job:finished', () => r()));
    const { jobId, experimentId } = await apiOf(transport).startDistill(quickDistill(teacher));
    await finished;
    const names = new Set(received.map((r) => r.name));
    expect(names).toEqual(new Set(['job:progress', 'job:epoch', 'job:finished', 'experiments:changed']));
    expect(received.find((r) => r.name === 'job:progress' && r.payload.step > 0)!.payload).toMatchObject({ jobId, experimentId });
    expect(received.find((r) => r.name === 'job:finished')!.payload).toMatchObject({ jobId, status: 'succeeded' });
    transport.close();
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline));
  });

  it('unsubscribes every client that goes away, cleanly or not', async () => {
    const clients = [new WebSocket(wsUrl(server, `?token=${server.token}`)), new WebSocket(wsUrl(server), { headers: bearer(server) }), new WebSocket(wsUrl(server), { headers: bearer(server) })];
    await Promise.all(clients.map(opened));
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline + 3));
    const seen: ApiEvent[] = [];
    clients[0]!.on('message', (d) => seen.push(JSON.parse(String(d)) as ApiEvent));
    const exp = services.store.experiments.create({ kind: 'distill', name: 'ws', config: {} });
    await services.api.renameExperiment({ id: exp.id, name: 'ws renamed' });
    await vi.waitFor(() => expect(seen).toContainEqual({ name: 'experiments:changed', payload: { ids: [exp.id], reason: 'updated' } }));
    clients[0]!.close();
    clients[1]!.terminate();
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline + 1));
    clients[2]!.close();
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline));
  });

  it('drops a client that stops answering pings', async () => {
    const beating = await startServer({ services, port: 0, heartbeatMs: 50 });
    try {
      const live = new WebSocket(wsUrl(beating), { headers: bearer(beating) });
      const dead = new WebSocket(wsUrl(beating), { headers: bearer(beating) });
      await Promise.all([opened(live), opened(dead)]);
      dead.pause(); // reads nothing, so it answers no ping
      await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline + 1), { timeout: 2000 });
      await new Promise((r) => setTimeout(r, 300)); // six heartbeats: the live one stays
      expect(live.readyState).toBe(WebSocket.OPEN);
      expect(services.events.subscribers).toBe(baseline + 1);
      live.close();
      dead.terminate();
    } finally {
      await beating.close();
    }
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline));
  });

  it('closes a client that falls behind with a reason, instead of buffering without end', async () => {
    // A hub of its own, to push large events fast; the server and sockets are the real ones.
    const subscribers = new Set<(e: ApiEvent) => void>();
    const hub = {
      subscribe: (fn: (e: ApiEvent) => void) => (subscribers.add(fn), () => void subscribers.delete(fn)),
      get subscribers() {
        return subscribers.size;
      },
    };
    const limit = 256 * 1024;
    const slowServer = await startServer({ services: { ...services, events: hub }, port: 0, maxEventBufferBytes: limit });
    try {
      const slow = new WebSocket(wsUrl(slowServer), { headers: bearer(slowServer) });
      await opened(slow);
      slow.pause();
      const message = 'x'.repeat(64 * 1024);
      let sent = 0;
      while (subscribers.size > 0 && sent < 2000) {
        for (const fn of [...subscribers]) fn({ name: 'job:log', payload: { jobId: 'j', experimentId: 'e', level: 'info', message } });
        sent++;
        await new Promise((r) => setImmediate(r));
      }
      expect(subscribers.size).toBe(0);
      console.log(`slow client closed after ${sent} events of 64 KiB (limit ${limit / 1024} KiB plus what the kernel holds)`);
      const ended = closed(slow);
      slow.resume();
      const { code, reason } = await ended;
      expect(code).toBe(1013);
      expect(reason).toMatch(/^Too slow: over 262144 bytes of events waiting/);
    } finally {
      await slowServer.close();
    }
  });

  it('reconnects after the server restarts, and delivers events again', async () => {
    const first = await startServer({ services, port: 0 });
    const { transport, links } = transportFor(first);
    let second: RunningServer | undefined;
    try {
      await vi.waitFor(() => expect(links.at(-1)).toBe('open'));
      await first.close();
      await vi.waitFor(() => expect(links.at(-1)).not.toBe('open'));
      await new Promise((r) => setTimeout(r, 200)); // a few failed retries
      expect(links.at(-1)).toBe('lost');
      second = await startServer({ services, port: first.port, token: first.token });
      await vi.waitFor(() => expect(links.at(-1)).toBe('open'), { timeout: 3000 });
      expect(links).toEqual(['connecting', 'open', 'connecting', 'lost', 'open']);
      const got = new Promise((r) => transport.on('experiments:changed', r));
      const exp = services.store.experiments.create({ kind: 'distill', name: 'again', config: {} });
      await services.api.renameExperiment({ id: exp.id, name: 'again renamed' });
      expect(await got).toEqual({ ids: [exp.id], reason: 'updated' });
    } finally {
      transport.close();
      await second?.close();
    }
    await vi.waitFor(() => expect(services.events.subscribers).toBe(baseline));
  });
});
