// The HTTP transport: real server on 127.0.0.1 port 0, real requests (events: server-ws.test.ts).
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../app/services/index.js';
import { startServer, type RunningServer } from '../../app/server/server.js';
import { makeTeacher, quickDistill, tempDir } from '../helpers/services-fixtures.js';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(server: RunningServer, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

function call(server: RunningServer, method: string, params: unknown, headers: Record<string, string> = {}) {
  return raw(server, 'POST', `/api/${method}`, {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}`, ...headers },
    body: JSON.stringify({ params }),
  }).then((r) => ({ ...r, json: JSON.parse(r.body) as { ok: boolean; result?: any; error?: { message: string; code: string } } }));
}

describe('server: HTTP transport', () => {
  const tmp = tempDir('server');
  const staticDir = join(tmp.dir, 'renderer');
  let services: Services;
  let server: RunningServer;
  let roServices: Services;
  let roServer: RunningServer;
  let teacher: string;

  beforeAll(async () => {
    mkdirSync(join(staticDir, 'assets'), { recursive: true });
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Distillery</title><script type="module" src="/assets/app.js"></script>');
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(tmp.dir, 'secret.txt'), 'do not serve me');
    teacher = await makeTeacher(tmp.dir);
    services = createServices({ dataDir: join(tmp.dir, 'data') });
    server = await startServer({ services, port: 0, staticDir });
    // A second history, opened read-only (it must exist first).
    createServices({ dataDir: join(tmp.dir, 'ro') }).close();
    roServices = createServices({ dataDir: join(tmp.dir, 'ro'), readOnly: true });
    roServer = await startServer({ services: roServices, port: 0, staticDir });
  });
  afterAll(async () => {
    await server?.close();
    await services?.close();
    await roServer?.close();
    await roServices?.close();
    tmp.cleanup();
  });

  it('refuses requests without a token (401) or with a wrong one (403)', async () => {
    const none = await raw(server, 'POST', '/api/appInfo', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const wrong = await call(server, 'appInfo', {}, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(403);
    const wrongCookie = await raw(server, 'GET', '/', { headers: { cookie: 'distillery_token=abc' } });
    expect(wrongCookie.status).toBe(403);
    expect((await raw(server, 'GET', '/')).status).toBe(401);
    expect((await raw(server, 'GET', '/api/ws')).status).toBe(401);
    expect((await raw(server, 'GET', '/?token=wrong')).status).toBe(403);
  });

  it('works with the right token: bearer for the API, cookie from the first page load', async () => {
    const info = await call(server, 'appInfo', {});
    expect(info.status).toBe(200);
    expect(info.json).toMatchObject({ ok: true, result: { name: 'Distillery', readOnly: false } });

    const login = await raw(server, 'GET', `/?token=${server.token}`);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/');
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const jar = cookie.split(';')[0]!;
    const page = await raw(server, 'GET', '/', { headers: { cookie: jar } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Distillery</title>');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/img-src 'self' data:/);
    const asset = await raw(server, 'GET', '/assets/app.js', { headers: { cookie: jar } });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    const viaCookie = await raw(server, 'POST', '/api/listExperiments', { headers: { cookie: jar, 'content-type': 'application/json' }, body: '{"params":{}}' });
    expect(JSON.parse(viaCookie.body)).toMatchObject({ ok: true, result: { total: 0 } });
  });

  it('answers bad params with 400 and a message naming the field; no stack traces', async () => {
    const r = await call(server, 'startDistill', { ...quickDistill(teacher), epochs: 'three' });
    expect(r.status).toBe(400);
    expect(r.json.error!.code).toBe('INVALID_PARAMS');
    expect(r.json.error!.message).toMatch(/'epochs'/);
    const extra = await call(server, 'listExperiments', { bogus: 1 });
    expect(extra.status).toBe(400);
    expect(extra.json.error!.message).toMatch(/unknown field 'bogus'/);
    const rel = await call(server, 'inspectModel', { path: 'model.onnx' });
    expect(rel.json.error!.message).toMatch(/'path' must be an absolute path/);
    const nul = await call(server, 'inspectModel', { path: '/tmp/a\u0000b' });
    expect(nul.status).toBe(400);
    const missing = await call(server, 'getExperiment', { id: 'exp_0000000000000000000' });
    expect(missing.status).toBe(404);
    expect(missing.body).not.toMatch(/\n\s+at /);
    const unknown = await call(server, 'dropTables', {});
    expect(unknown.status).toBe(404);
    const notJson = await raw(server, 'POST', '/api/appInfo', { headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    const big = await raw(server, 'POST', '/api/addNote', {
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ params: { id: 'exp_0000000000000000000', body: 'x'.repeat(2 * 1024 * 1024) } }),
    }).catch(() => ({ status: 413 }) as Res);
    expect(big.status).toBe(413);
  });

  it('refuses a foreign Origin or Host (DNS rebinding)', async () => {
    const evil = await call(server, 'appInfo', {}, { origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    const rebound = await call(server, 'appInfo', {}, { host: `evil.example:${server.port}` });
    expect(rebound.status).toBe(403);
    const same = await call(server, 'appInfo', {}, { origin: `http://127.0.0.1:${server.port}` });
    expect(same.status).toBe(200);
  });

  it('never serves files outside the renderer folder', async () => {
    const auth = { authorization: `Bearer ${server.token}` };
    for (const p of ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/%2e%2e%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/%00', '/../../package.json', '/assets/%2e%2e/%2e%2e/secret.txt']) {
      const r = await raw(server, 'GET', p, { headers: auth });
      expect(r.body, p).not.toContain('do not serve me');
      expect([400, 404], p).toContain(r.status);
    }
  });

  it('read-only mode refuses mutations server-side', async () => {
    const r = await call(roServer, 'startDistill', quickDistill(teacher));
    expect(r.status).toBe(403);
    expect(r.json.error!.code).toBe('READ_ONLY');
    expect((await call(roServer, 'updateSettings', { theme: 'dark' })).status).toBe(403);
    const ok = await call(roServer, 'appInfo', {});
    expect(ok.json.result.readOnly).toBe(true);
    expect((await call(roServer, 'listExperiments', {})).status).toBe(200);
    // The services refuse too, whatever the transport.
    await expect(roServices.api.setPinned({ id: 'exp_0000000000000000000', pinned: true })).rejects.toThrow(/read-only/);
  });
});
