// The contract over HTTP on 127.0.0.1 (browser mode, team review):
//   POST /api/<method> {params} → {ok:true, result} | {ok:false, error:{message, code}}
//   GET  /api/ws (upgrade)       → WebSocket: every ApiEvent as one JSON message {name, payload}
//   GET  /*                      → the built renderer (dist/renderer), CSP on HTML
// Every request and upgrade needs the token (cookie set by the first `/?token=` load, or
// Authorization: Bearer; the upgrade also takes `?token=`). Host and Origin must name the served
// origin (DNS-rebinding protection).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { extname, join, resolve, sep } from 'node:path';
import type { ApiErrorBody, ApiErrorCode } from '../contract/api.js';
import { isApiMethod, isMutating, EVENTS_WS_PATH } from '../contract/channels.js';
import { ApiError, ContractError } from '../contract/errors.js';
import type { Services } from '../services/index.js';
import { createEventSockets } from './event-socket.js';

export interface ServerOptions {
  services: Services;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** Default: 32 random bytes, hex. */
  token?: string;
  /** Folder of the built renderer; default <project>/dist/renderer. */
  staticDir?: string;
  /** Largest accepted request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** WebSocket ping interval; unanswered clients are dropped (default 15 s). */
  heartbeatMs?: number;
  /** A WebSocket client with more event bytes than this waiting is closed (default 8 MiB). */
  maxEventBufferBytes?: number;
}

export interface RunningServer {
  url: string;
  /** The URL to open first: sets the cookie, then redirects to `/`. */
  loginUrl: string;
  host: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'distillery_token';
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

const STATUS: Record<ApiErrorCode, number> = {
  INVALID_PARAMS: 400,
  NOT_FOUND: 404,
  READ_ONLY: 403,
  INVALID_STATE: 409,
  UNKNOWN_METHOD: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  FAILED: 500,
};

const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

const MISSING_RENDERER = `<!doctype html><html><head><meta charset="utf-8"><title>Distillery</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto;">
<h1>Distillery</h1><p>The interface has not been built yet. Run <code>npm run build:renderer</code>, then reload this page.</p>
<p>The API is available at <code>/api/&lt;method&gt;</code>.</p></body></html>`;

function sameToken(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  // Answering before the body was read: drain it so the client sees the answer, not a reset.
  const unread = res.req && !res.req.readableEnded;
  if (unread) res.req.resume();
  const text = JSON.stringify(body);
  if (unread) res.setHeader('Connection', 'close');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}

function sendError(res: ServerResponse, code: ApiErrorCode, message: string): void {
  const error: ApiErrorBody = { message, code };
  sendJson(res, STATUS[code], { ok: false, error });
}

function splitUrl(rawUrl = '/'): { rawPath: string; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  return { rawPath: q === -1 ? rawUrl : rawUrl.slice(0, q), query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)) };
}

/** Answers a refused WebSocket upgrade with a plain HTTP error, then drops the socket. */
function refuseUpgrade(socket: Duplex, status: number, body: ApiErrorBody): void {
  const text = JSON.stringify({ ok: false, error: body });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`,
  );
}

function errorBody(err: unknown): ApiErrorBody {
  if (err instanceof ContractError) return { message: err.message, code: 'INVALID_PARAMS' };
  if (err instanceof ApiError) return { message: err.message, code: err.code };
  // Never a stack trace: the first line of the message only.
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : String(err);
  return { message: message || 'The request failed.', code: 'FAILED' };
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const services = o.services;
  const host = o.host ?? '127.0.0.1';
  const token = o.token ?? randomBytes(32).toString('hex');
  const staticRoot = resolve(o.staticDir ?? join(PROJECT_ROOT, 'dist', 'renderer'));
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;
  const eventSockets = createEventSockets({ events: services.events, heartbeatMs: o.heartbeatMs ?? 15_000, maxBufferedBytes: o.maxEventBufferBytes ?? 8 * 1024 * 1024 });
  let port = 0;

  /** host:port forms this server answers to. */
  const allowedHosts = (): Set<string> => {
    const names = new Set([host, '127.0.0.1', 'localhost', '[::1]']);
    if (host.includes(':') && !host.startsWith('[')) names.add(`[${host}]`);
    if (host === '0.0.0.0' || host === '::') return new Set(); // any: checked by hostAllowed
    return new Set([...names].map((n) => `${n}:${port}`));
  };

  function hostAllowed(req: IncomingMessage): boolean {
    const h = req.headers.host;
    if (!h) return false;
    if (host === '0.0.0.0' || host === '::') return h.endsWith(`:${port}`);
    return allowedHosts().has(h.toLowerCase());
  }

  function originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // same-origin GETs and non-browser clients
    return origin === `http://${req.headers.host}` && hostAllowed(req);
  }

  /** DNS rebinding and cross-site requests: refused before anything else. */
  function foreign(req: IncomingMessage): ApiErrorBody | null {
    if (!hostAllowed(req)) return { code: 'FORBIDDEN', message: 'Unexpected Host header.' };
    if (!originAllowed(req)) return { code: 'FORBIDDEN', message: 'Cross-origin requests are not allowed.' };
    return null;
  }

  /** Token from the bearer header, the cookie or (upgrades only) the query. */
  function unauthorized(req: IncomingMessage, queryToken?: string | null): ApiErrorBody | null {
    const auth = req.headers.authorization;
    const given = [auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined, cookieToken(req), queryToken ?? undefined].filter((t) => t !== undefined);
    if (given.length === 0) return { code: 'UNAUTHORIZED', message: 'A token is required: open the URL printed by `distillery serve`.' };
    return given.some((t) => sameToken(t, token)) ? null : { code: 'FORBIDDEN', message: 'Wrong token.' };
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) throw new ApiError('TOO_LARGE', `The request body is larger than ${maxBody} bytes.`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBody) throw new ApiError('TOO_LARGE', `The request body is larger than ${maxBody} bytes.`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendError(res, 'INVALID_PARAMS', 'Use POST for API calls.');
    }
    if (!isApiMethod(method)) return sendError(res, 'UNKNOWN_METHOD', `Unknown method ${JSON.stringify(method)}.`);
    if (services.readOnly && isMutating(method)) return sendError(res, 'READ_ONLY', `This server is read-only; ${method} is not allowed.`);
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) return sendError(res, 'INVALID_PARAMS', 'Send the body as application/json: {"params": {...}}.');
    let body: unknown;
    try {
      const text = await readBody(req);
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      if (err instanceof ApiError) return sendError(res, err.code, err.message);
      return sendError(res, 'INVALID_PARAMS', 'The request body is not valid JSON.');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return sendError(res, 'INVALID_PARAMS', 'The body must be an object {"params": {...}}.');
    const keys = Object.keys(body);
    if (keys.some((k) => k !== 'params')) return sendError(res, 'INVALID_PARAMS', `Unknown field '${keys.find((k) => k !== 'params')}' in the body; send {"params": {...}}.`);
    try {
      const result = await services.call(method, (body as { params?: unknown }).params);
      sendJson(res, 200, { ok: true, result: result === undefined ? null : result });
    } catch (err) {
      const e = errorBody(err);
      sendJson(res, STATUS[e.code], { ok: false, error: e });
    }
  }

  async function handleStatic(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      return void res.end();
    }
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return plain(res, 400, 'Bad path.');
    }
    // Refuse anything that could step outside the root, in any spelling.
    if (path.includes('\u0000') || path.includes('\\') || path.split('/').some((seg) => seg === '..' || seg === '.')) return plain(res, 404, 'Not found.');
    const rel = path === '/' ? 'index.html' : path.replace(/^\/+/, '');
    const file = resolve(staticRoot, rel);
    if (file !== staticRoot && !file.startsWith(staticRoot + sep)) return plain(res, 404, 'Not found.');
    let target = file;
    let st = await stat(target).catch(() => null);
    if (!st && !extname(rel)) {
      target = join(staticRoot, 'index.html'); // client-side routes
      st = await stat(target).catch(() => null);
    }
    if (!st || !st.isFile()) {
      if (rel === 'index.html' || !extname(rel)) return html(res, MISSING_RENDERER);
      return plain(res, 404, 'Not found.');
    }
    // Symlinks must not lead out of the root either.
    const real = await realpath(target).catch(() => '');
    const realRoot = await realpath(staticRoot).catch(() => staticRoot);
    if (!real.startsWith(realRoot + sep)) return plain(res, 404, 'Not found.');
    const type = MIME[extname(real).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string | number> = {
      'Content-Type': type,
      'Content-Length': st.size,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'no-cache',
    };
    if (type.startsWith('text/html')) Object.assign(headers, htmlHeaders());
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    createReadStream(real).pipe(res);
  }

  function htmlHeaders(): Record<string, string> {
    return { 'Content-Security-Policy': CSP, 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY', 'Cross-Origin-Opener-Policy': 'same-origin' };
  }

  function html(res: ServerResponse, body: string, status = 200): void {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...htmlHeaders() });
    res.end(body);
  }

  function plain(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff' });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = foreign(req);
    if (refused) return sendError(res, refused.code, refused.message);
    const { rawPath, query } = splitUrl(req.url);

    // First page load: `/?token=…` sets the cookie and redirects so the token leaves the URL.
    const given = query.get('token');
    if (given !== null && req.method === 'GET' && !rawPath.startsWith('/api/')) {
      if (!sameToken(given, token)) return plain(res, 403, 'Wrong token. Open the URL printed by `distillery serve`.');
      res.writeHead(302, {
        'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        Location: rawPath,
        'Cache-Control': 'no-store',
        'Referrer-Policy': 'no-referrer',
      });
      return void res.end();
    }
    const denied = unauthorized(req);
    if (denied) return sendError(res, denied.code, denied.message);

    if (rawPath === EVENTS_WS_PATH) return sendJson(res, 426, { ok: false, error: { code: 'INVALID_PARAMS', message: `${EVENTS_WS_PATH} is a WebSocket; open it with a WebSocket client.` } });
    if (rawPath.startsWith('/api/')) return handleApi(req, res, rawPath.slice(5));
    return handleStatic(req, res, rawPath);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: errorBody(err) });
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const { rawPath, query } = splitUrl(req.url);
    const refused = rawPath === EVENTS_WS_PATH ? (foreign(req) ?? unauthorized(req, query.get('token'))) : { code: 'NOT_FOUND' as const, message: `Only ${EVENTS_WS_PATH} accepts WebSocket connections.` };
    if (refused) return refuseUpgrade(socket, STATUS[refused.code], refused);
    eventSockets.accept(req, socket, head);
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolveListen, reject) => {
    const failed = (err: Error) => {
      eventSockets.close();
      reject(err);
    };
    server.once('error', failed);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', failed);
      resolveListen();
    });
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}/`;
  return {
    url,
    loginUrl: `${url}?token=${token}`,
    host,
    port,
    token,
    close: () =>
      new Promise<void>((done) => {
        eventSockets.close();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
