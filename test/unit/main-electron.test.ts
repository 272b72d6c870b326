// The Electron security checklist, as wired by main/index.ts and main/preload.ts, checked in
// plain Node: both modules are imported for real with a recording stand-in for `electron`
// (test/helpers/fake-electron.ts); the services behind the IPC handlers are real (SQLite in a
// temp folder). What needs a real window (CSP enforcement, sandboxed page) is in
// test/electron/electron-smoke.test.ts, which runs where Electron's binary exists.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_METHODS, EVENT_NAMES } from '../../app/contract/channels.js';
import { createServices } from '../../app/services/index.js';
import { runMenuCommand, type MenuTarget } from '../../renderer/src/lib/menu.js';
import type { Route } from '../../renderer/src/lib/routes.js';
import { createIpcTransport, type PreloadApi } from '../../renderer/src/lib/transport/ipc.js';
import { apiOf } from '../../renderer/src/lib/transport/types.js';
import { fakeWebContents, recorded } from '../helpers/fake-electron.js';

vi.mock('electron', async () => (await import('../helpers/fake-electron.js')).electron);

const ROOT = join(import.meta.dirname, '..', '..');
const APP_URL = pathToFileURL(join(ROOT, 'renderer', 'index.html')).href;
const TOP = { senderFrame: { url: APP_URL, parent: null } };
type Handler = (event: unknown, ...args: unknown[]) => Promise<unknown>;
const handler = (channel: string) => recorded.ipcHandlers.get(channel) as unknown as Handler;

const home = mkdtempSync(join(tmpdir(), 'distillery-electron-main-'));
const savedHome = process.env.DISTILLERY_HOME;

beforeAll(async () => {
  process.env.DISTILLERY_HOME = home;
  await import('../../main/index.js');
  // start() runs after app.whenReady(); it ends by creating the window.
  for (let i = 0; i < 200 && recorded.windows.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(recorded.windows.length).toBe(1);
});

afterAll(async () => {
  // Quitting closes the services (and their SQLite file) before the app really quits.
  (await import('electron')).app.emit('before-quit', { preventDefault: () => undefined });
  for (let i = 0; i < 200 && recorded.quitCalls === 0; i++) await new Promise((r) => setTimeout(r, 10));
  if (savedHome === undefined) delete process.env.DISTILLERY_HOME;
  else process.env.DISTILLERY_HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
});

describe('the window', () => {
  it('is isolated, sandboxed, without Node, web security on, nothing experimental or insecure', () => {
    const w = recorded.windows[0]!;
    // Exactly these preferences: a new key (enableBlinkFeatures, nodeIntegration: true…) fails here.
    expect(w.options.webPreferences).toEqual({
      preload: join(ROOT, 'main', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
    });
    expect(w.loaded).toBe(join(ROOT, 'renderer', 'index.html'));
  });
});

describe('the session', () => {
  it('adds a strict Content-Security-Policy header to every response', () => {
    expect(recorded.headerListeners.length).toBe(1);
    let headers: Record<string, string[]> | undefined;
    (recorded.headerListeners[0] as (d: unknown, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void)(
      { url: APP_URL, responseHeaders: { 'Content-Type': ['text/html'] } },
      (r) => (headers = r.responseHeaders),
    );
    expect(headers?.['Content-Type']).toEqual(['text/html']);
    const csp = headers?.['Content-Security-Policy'];
    expect(csp?.length).toBe(1);
    const rules = new Map(csp![0]!.split(';').map((r) => r.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    expect(rules.get('default-src')).toEqual(["'self'"]);
    expect(rules.get('script-src')).toEqual(["'self'"]);
    expect(rules.get('object-src')).toEqual(["'none'"]);
    expect(rules.get('frame-src')).toEqual(["'none'"]);
    expect(rules.get('frame-ancestors')).toEqual(["'none'"]);
    expect(rules.get('base-uri')).toEqual(["'none'"]);
    for (const [name, values] of rules) {
      for (const bad of ["'unsafe-eval'", "'unsafe-inline'", '*', 'http:', 'https:', "'wasm-unsafe-eval'"]) expect(values, `${name} allows ${bad}`).not.toContain(bad);
    }
  });

  it('denies every permission request and check', () => {
    expect(recorded.permissionRequestHandlers.length).toBe(1);
    expect(recorded.permissionCheckHandlers.length).toBe(1);
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'unknown']) {
      const answers: boolean[] = [];
      (recorded.permissionRequestHandlers[0] as (wc: unknown, p: string, cb: (ok: boolean) => void) => void)({}, permission, (ok) => answers.push(ok));
      expect(answers, permission).toEqual([false]);
      expect((recorded.permissionCheckHandlers[0] as (wc: unknown, p: string) => boolean)({}, permission), permission).toBe(false);
    }
  });
});

describe('navigation and new windows', () => {
  const contents = fakeWebContents();
  beforeAll(async () => {
    (await import('electron')).app.emit('web-contents-created', {}, contents);
  });

  it('stays on the app page', () => {
    expect(contents.emit('will-navigate', `${APP_URL}#/history`)).toBe(false);
    for (const url of ['https://evil.example/', 'file:///etc/passwd', 'http://localhost:8080/', 'javascript:alert(1)', 'not a url']) {
      expect(contents.emit('will-navigate', url), url).toBe(true);
    }
  });

  it('opens no window; only https links to known sites go to the browser', () => {
    const urls = ['https://onnxruntime.ai/docs/', 'http://onnxruntime.ai/', 'https://evil.example/', 'file:///etc/passwd', 'javascript:alert(1)', `${APP_URL}#/x`];
    for (const url of urls) expect(contents.openWindow(url), url).toEqual({ action: 'deny' });
    expect(recorded.openExternal).toEqual(['https://onnxruntime.ai/docs/']);
  });

  it('attaches no webview', () => {
    expect(contents.emit('will-attach-webview', {}, {})).toBe(true);
  });
});

describe('IPC', () => {
  it('has one handler per contract method plus the two dialogs, and nothing else', () => {
    expect([...recorded.ipcHandlers.keys()].sort()).toEqual([...API_METHODS.map((m) => `api:${m}`), 'dialog:open', 'dialog:save'].sort());
  });

  it('answers the app page only: sub-frames and other pages are refused before anything runs', async () => {
    expect(await handler('api:listExperiments')(TOP, {})).toEqual({ ok: true, result: { rows: [], total: 0 } });
    for (const senderFrame of [{ url: APP_URL, parent: {} }, { url: 'https://evil.example/', parent: null }, { url: 'file:///tmp/index.html', parent: null }, null]) {
      expect(await handler('api:listExperiments')({ senderFrame }, {})).toEqual({ ok: false, error: { message: 'this window is not allowed to call Distillery', code: 'FORBIDDEN' } });
      // Would create a file if it ran.
      expect(await handler('api:updateSettings')({ senderFrame }, { concurrency: 2 })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(await handler('dialog:open')({ senderFrame }, { kind: 'model' })).toBeNull();
      expect(await handler('dialog:save')({ senderFrame }, { kind: 'bundle', defaultName: 'x' })).toBeNull();
    }
    expect(recorded.dialogs).toEqual([]);
  });

  it('rejects malformed payloads with a clear error', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['api:getExperiment', { id: 42 }, /id/],
      ['api:getExperiment', {}, /id/],
      ['api:listExperiments', 'everything', /params must be an object/],
      ['api:listExperiments', [1, 2], /params must be an object/],
      ['api:listExperiments', { limit: -1 }, /limit/],
      ['api:listExperiments', { __proto__: { polluted: true }, extra: 1 }, /extra/],
      ['api:startDistill', { teachers: '/etc/passwd', data: 1 }, /teachers/],
      ['api:addNote', { id: 'exp_0000000000000000000', body: 'x'.repeat(1_000_000) }, /body.*at most 20000 characters/],
      ['api:updateSettings', { concurrency: '4; DROP TABLE experiments' }, /concurrency/],
    ];
    for (const [channel, params, message] of cases) {
      const r = (await handler(channel)(TOP, params)) as { ok: boolean; error?: { code: string; message: string } };
      expect(r.ok, `${channel} ${JSON.stringify(params)?.slice(0, 60)}`).toBe(false);
      expect(r.error?.code, channel).toBe('INVALID_PARAMS');
      expect(r.error?.message).toMatch(message);
      expect(r.error?.message).not.toMatch(/\n|at .*\.ts:\d+/); // one line, no stack
    }
  });

  it('opens dialogs only for known kinds, with a sanitised default name', async () => {
    for (const params of [{ kind: '../../etc' }, { kind: { toString: () => 'model' } }, null, 'model', undefined]) {
      expect(await handler('dialog:open')(TOP, params)).toBeNull();
      expect(await handler('dialog:save')(TOP, params)).toBeNull();
    }
    expect(recorded.dialogs).toEqual([]);
    expect(await handler('dialog:open')(TOP, { kind: 'model' })).toBe('/picked/model.onnx');
    expect(await handler('dialog:save')(TOP, { kind: 'bundle', defaultName: '../../x/evil' })).toBe('/picked/export.distillery');
    expect(recorded.dialogs.map((d) => d.kind)).toEqual(['open', 'save']);
    expect(recorded.dialogs[1]!.options).toMatchObject({ defaultPath: '.._.._x_evil' });
  });
});

describe('the preload', () => {
  type Bridge = {
    invoke(method: string, params: unknown): Promise<unknown>;
    on(event: string, fn: (payload: unknown) => void): () => void;
    pickPath(o: { kind: string; extra?: string }): Promise<unknown>;
    pickSavePath(o: { kind: string; defaultName: string }): Promise<unknown>;
  };
  let api: Bridge;
  beforeAll(async () => {
    await import('../../main/preload.js');
    api = recorded.exposed.get('api') as Bridge;
  });

  it('exposes one object: invoke and on for the contract, plus the native pickers', () => {
    expect([...recorded.exposed.keys()]).toEqual(['api']);
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on', 'pathForFile', 'pickPath', 'pickSavePath', 'platform']);
  });

  it('invokes only contract methods, each on its own channel', async () => {
    await api.invoke('listExperiments', { limit: 1 });
    expect(recorded.rendererInvokes.pop()).toEqual({ channel: 'api:listExperiments', args: [{ limit: 1 }] });
    for (const name of ['dialog:open', 'api:listExperiments', '__proto__', 'constructor', 'toString', 'menu:open', '']) {
      await expect(api.invoke(name, {}), name).rejects.toThrow(`unknown method '${name}'`);
    }
    expect(recorded.rendererInvokes).toEqual([]);
    expect(API_METHODS.length).toBeGreaterThan(10);
  });

  it('listens only to contract events and passes the payload alone (never the IPC event)', () => {
    for (const name of EVENT_NAMES) {
      const seen: unknown[] = [];
      const off = api.on(name, (p) => seen.push(p));
      const listeners = recorded.rendererListeners.get(`event:${name}`)!;
      expect(listeners.length).toBe(1);
      (listeners[0] as (e: unknown, p: unknown) => void)({ sender: 'ipc internals' }, { n: 1 });
      expect(seen).toEqual([{ n: 1 }]);
      off();
      expect(recorded.rendererListeners.get(`event:${name}`)).toEqual([]);
    }
    for (const name of ['menu:open', 'api:listExperiments', 'job:anything', '__proto__']) expect(() => api.on(name, () => undefined), name).toThrow(`unknown event '${name}'`);
  });

  it('sends the pickers only the fields they need', async () => {
    await api.pickPath({ kind: 'model', extra: 'ignored' });
    await api.pickSavePath({ kind: 'bundle', defaultName: 'n'.repeat(500) });
    expect(recorded.rendererInvokes.splice(0)).toEqual([
      { channel: 'dialog:open', args: [{ kind: 'model' }] },
      { channel: 'dialog:save', args: [{ kind: 'bundle', defaultName: 'n'.repeat(200) }] },
    ]);
  });
});

describe('the native menu', () => {
  // The page side as the renderer builds it: the IPC transport over the real preload bridge, and
  // the renderer's menu handler; ipcRenderer.invoke reaches main's real handlers (and services).
  type Item = { label?: string; click?: () => void; submenu?: Item[] };
  const click = (label: string) => {
    const item = (recorded.menu as Item[]).flatMap((m) => m.submenu ?? []).find((i) => i.label === label);
    if (!item?.click) throw new Error(`no menu item '${label}'`);
    item.click();
  };
  const routes: Route[] = [];
  const toasts: { kind: string; text: string }[] = [];
  const received: unknown[] = [];
  const changes: unknown[] = [];
  let changed = 0;
  let pending: Promise<void> = Promise.resolve();
  const offs: (() => void)[] = [];
  const source = mkdtempSync(join(tmpdir(), 'distillery-electron-bundle-'));

  beforeAll(async () => {
    await import('../../main/preload.js');
    const transport = createIpcTransport(recorded.exposed.get('api') as PreloadApi);
    const target: MenuTarget = {
      native: transport.native ?? null,
      api: apiOf(transport),
      go: (r) => void routes.push(r),
      toast: (kind, text) => void toasts.push({ kind, text }),
      changed: () => void changed++,
    };
    offs.push(
      transport.on('menu:command', (c) => {
        received.push(c);
        pending = runMenuCommand(c, target);
      }),
      transport.on('experiments:changed', (c) => void changes.push(c)),
    );
    recorded.pageFrame = TOP.senderFrame;
  });
  afterAll(() => {
    for (const off of offs) off();
    recorded.pageFrame = null;
    rmSync(source, { recursive: true, force: true });
  });
  const reset = () => {
    routes.length = 0;
    toasts.length = 0;
    received.length = 0;
    recorded.dialogs.length = 0;
  };

  it('sends each command to the page as a menu:command event, on the channel the preload allows', async () => {
    reset();
    click('History');
    click('Model Inspector');
    await pending;
    expect(recorded.sentToPage.filter((s) => s.channel === 'event:menu:command').map((s) => s.args)).toEqual([
      [{ command: 'navigate', screen: 'history' }],
      [{ command: 'navigate', screen: 'inspect' }],
    ]);
    expect(received).toEqual([{ command: 'navigate', screen: 'history' }, { command: 'navigate', screen: 'inspect' }]);
    expect(routes).toEqual([{ name: 'history' }, { name: 'inspect', path: null }]);
  });

  it('Open Model… opens the native dialog through main and shows the model in the inspector', async () => {
    reset();
    recorded.openDialogAnswers.push('/models/teacher.onnx');
    click('Open Model…');
    await pending;
    expect(recorded.dialogs).toEqual([{ kind: 'open', options: expect.objectContaining({ filters: [{ name: 'ONNX models', extensions: ['onnx'] }] }) }]);
    expect(routes).toEqual([{ name: 'inspect', path: '/models/teacher.onnx' }]);
    // Cancelling the dialog changes nothing.
    recorded.openDialogAnswers.push(null);
    click('Open Model…');
    await pending;
    expect(recorded.dialogs.length).toBe(2);
    expect(routes.length).toBe(1);
    expect(toasts).toEqual([]);
  });

  it('Open Dataset Folder… and Open CSV Dataset… start the compression wizard on the picked data', async () => {
    reset();
    recorded.openDialogAnswers.push('/data/fashion', '/data/iris.csv');
    click('Open Dataset Folder…');
    await pending;
    click('Open CSV Dataset…');
    await pending;
    expect(recorded.dialogs.map((d) => (d.options as { properties: string[] }).properties)).toEqual([['openDirectory'], ['openFile']]);
    expect(routes).toEqual([{ name: 'compress', data: '/data/fashion' }, { name: 'compress', data: '/data/iris.csv' }]);
  });

  it('Import Experiments… imports the picked bundle into the history and shows History', async () => {
    // A bundle from another history, as a colleague would send it.
    const other = createServices({ dataDir: source });
    const bundle = join(source, 'shared.distillery');
    try {
      const e = other.store.experiments.create({ kind: 'distill', name: 'From a colleague', config: { epochs: 3 } });
      other.store.experiments.setStatus(e.id, 'running');
      other.store.experiments.setStatus(e.id, 'succeeded');
      await other.api.exportBundle({ ids: [e.id], path: bundle });
    } finally {
      await other.close();
    }
    reset();
    recorded.openDialogAnswers.push(bundle);
    click('Import Experiments…');
    await pending;
    expect((recorded.dialogs[0]!.options as { filters: unknown }).filters).toEqual([{ name: 'Distillery bundles', extensions: ['distillery'] }]);
    expect(toasts).toEqual([{ kind: 'good', text: 'Imported 1 experiment.' }]);
    expect(routes).toEqual([{ name: 'history' }]);
    expect(changed).toBe(1);
    expect(changes).toEqual([expect.objectContaining({ reason: 'imported' })]);
    const list = (await handler('api:listExperiments')(TOP, {})) as { ok: true; result: { rows: { name: string }[] } };
    expect(list.result.rows.map((r) => r.name)).toEqual(['From a colleague']);

    // A file that is not a bundle: one plain sentence, no navigation.
    reset();
    const junk = join(source, 'junk.distillery');
    writeFileSync(junk, 'not a bundle');
    recorded.openDialogAnswers.push(junk);
    click('Import Experiments…');
    await pending;
    expect(routes).toEqual([]);
    expect(toasts).toEqual([{ kind: 'bad', text: expect.stringMatching(/^Could not import junk\.distillery: \S.*\.$/) }]);
    expect(toasts[0]!.text).not.toMatch(/\n|at .*\.ts:\d+/);
  });
});
