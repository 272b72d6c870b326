// The Electron shell's rules, checked in plain Node: trusted senders, window options, external
// links, window state, the menu, and the IPC binding (with a stand-in for ipcMain only).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { API_METHODS, MENU_SCREENS, parseMenuCommand } from '../../app/contract/index.js';
import { createServices } from '../../app/services/index.js';
import { bindApi, type IpcMainLike } from '../../main/ipc.js';
import { menuTemplate } from '../../main/menu.js';
import { openDialogOptions, saveDialogOptions, isOpenKind } from '../../main/dialogs.js';
import { CONTENT_SECURITY_POLICY, isAllowedExternal, isAppUrl, isTrustedSender, secureWebPreferences } from '../../main/security.js';
import { DEFAULT_STATE, fitToDisplays, readWindowState, saveWindowState } from '../../main/window-state.js';

const APP = 'file:///opt/Distillery/resources/app.asar/dist/renderer/index.html';

describe('security rules', () => {
  it('trusts only the app page in the top frame', () => {
    expect(isTrustedSender({ url: `${APP}#/history`, parent: null }, APP)).toBe(true);
    expect(isTrustedSender({ url: APP, parent: {} }, APP)).toBe(false); // a sub-frame
    expect(isTrustedSender({ url: 'https://evil.example/index.html', parent: null }, APP)).toBe(false);
    expect(isTrustedSender({ url: 'file:///tmp/index.html', parent: null }, APP)).toBe(false);
    expect(isTrustedSender(null, APP)).toBe(false);
    expect(isAppUrl('not a url', APP)).toBe(false);
  });

  it('opens only https links to an allow-list externally', () => {
    expect(isAllowedExternal('https://onnxruntime.ai/docs/')).toBe(true);
    expect(isAllowedExternal('http://onnxruntime.ai/')).toBe(false);
    expect(isAllowedExternal('file:///etc/passwd')).toBe(false);
    expect(isAllowedExternal('https://user:pw@github.com/')).toBe(false);
    expect(isAllowedExternal('https://github.com.evil.example/')).toBe(false);
  });

  it('isolates and sandboxes the renderer and sets a strict CSP', () => {
    const p = secureWebPreferences('/x/preload.cjs');
    expect(p).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("object-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-eval');
  });
});

describe('window state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-ws-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips, and falls back to defaults for missing or silly files', async () => {
    const file = join(dir, 'window-state.json');
    expect(readWindowState(file)).toEqual(DEFAULT_STATE);
    await saveWindowState(file, { bounds: { x: 10, y: 20, width: 1000, height: 700 }, maximized: true });
    expect(readWindowState(file)).toEqual({ bounds: { x: 10, y: 20, width: 1000, height: 700 }, maximized: true });
    writeFileSync(file, '{"bounds":{"width":5,"height":99999}}');
    expect(readWindowState(file)).toEqual(DEFAULT_STATE);
    writeFileSync(file, 'garbage');
    expect(readWindowState(file)).toEqual(DEFAULT_STATE);
  });

  it('drops a position that would be off every screen', () => {
    const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];
    const on = { bounds: { x: 100, y: 100, width: 800, height: 600 }, maximized: false };
    expect(fitToDisplays(on, screen)).toEqual(on);
    const off = fitToDisplays({ bounds: { x: 5000, y: 100, width: 800, height: 600 }, maximized: false }, screen);
    expect(off.bounds.x).toBeUndefined();
  });
});

describe('menu and dialogs', () => {
  it('has File / Edit / View / Window / Help; page commands are valid menu:command payloads', () => {
    const calls: unknown[] = [];
    const t = menuTemplate({
      command: (c) => calls.push(c), openDataFolder: () => calls.push('folder'), showAbout: () => calls.push('about'),
      openDocs: () => calls.push('docs'), isMac: false, isDev: false,
    });
    expect(t.map((m) => m.label ?? m.role)).toEqual(['File', 'editMenu', 'View', 'windowMenu', 'help']);
    type Item = { label?: string; role?: string; accelerator?: string; click?: () => void };
    const file = t[0]!.submenu as Item[];
    const view = t[2]!.submenu as Item[];
    for (const item of [...file, ...view]) item.click?.();
    expect(calls).toEqual([
      { command: 'open-model' }, { command: 'open-dataset-folder' }, { command: 'open-dataset-file' }, { command: 'import-experiments' }, 'folder',
      ...MENU_SCREENS.map((screen) => ({ command: 'navigate', screen })),
    ]);
    for (const c of calls.filter((c) => typeof c === 'object')) expect(parseMenuCommand(c), JSON.stringify(c)).toEqual(c);
    // The View menu follows the sidebar, Ctrl+1… in its order; no shortcut is used twice.
    expect(view.filter((i) => i.label).map((i) => `${i.label} ${i.accelerator}`)).toEqual([
      'Home CmdOrCtrl+1', 'Compress a Model CmdOrCtrl+2', 'History CmdOrCtrl+3', 'Compare CmdOrCtrl+4', 'Model Inspector CmdOrCtrl+5', 'Settings CmdOrCtrl+,',
    ]);
    const accelerators = [...file, ...view].map((i) => i.accelerator).filter(Boolean);
    expect(new Set(accelerators).size).toBe(accelerators.length);
    expect(file.find((i) => i.label === 'Open Model…')?.accelerator).toBe('CmdOrCtrl+O');
    expect(file.find((i) => i.label === 'Import Experiments…')?.accelerator).toBe('CmdOrCtrl+I');
    expect(view.some((i) => i.role === 'toggleDevTools')).toBe(false); // no dev tools in a release
  });

  it('accepts only well-formed menu commands', () => {
    for (const bad of [null, 'open-model', {}, { command: 'open-model', path: '/etc/passwd' }, { command: 'navigate' }, { command: 'navigate', screen: 'run' }, { command: 'delete-everything' }, { command: 'navigate', screen: 'home', extra: 1 }]) {
      expect(parseMenuCommand(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('filters dialogs by kind and sanitises default names', () => {
    expect(openDialogOptions('model').filters[0]!.extensions).toEqual(['onnx']);
    expect(openDialogOptions('dataset-folder').properties).toEqual(['openDirectory']);
    expect(saveDialogOptions('bundle', '../../etc/passwd').defaultPath).toBe('.._.._etc_passwd');
    expect(isOpenKind('model')).toBe(true);
    expect(isOpenKind('../../x')).toBe(false);
  });
});

describe('IPC binding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-ipc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('registers one handler per contract method, checks the sender and validates params', async () => {
    const handlers = new Map<string, (e: { senderFrame: { url: string; parent: unknown } | null }, ...a: unknown[]) => unknown>();
    const ipc: IpcMainLike = { handle: (c, fn) => void handlers.set(c, fn), removeHandler: (c) => void handlers.delete(c) };
    const services = createServices({ dataDir: dir });
    try {
      const unbind = bindApi(ipc, services, (f) => isTrustedSender(f, APP));
      expect([...handlers.keys()].sort()).toEqual(API_METHODS.map((m) => `api:${m}`).sort());
      const good = { senderFrame: { url: APP, parent: null } };
      const bad = { senderFrame: { url: 'https://evil.example/', parent: null } };
      expect(await handlers.get('api:listExperiments')!(good, {})).toEqual({ ok: true, result: { rows: [], total: 0 } });
      expect(await handlers.get('api:listExperiments')!(bad, {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      const invalid = (await handlers.get('api:getExperiment')!(good, { id: 42 })) as { ok: false; error: { code: string; message: string } };
      expect(invalid.error.code).toBe('INVALID_PARAMS');
      expect(invalid.error.message).toMatch(/id/);
      const missing = (await handlers.get('api:getExperiment')!(good, { id: 'exp_0000000000000000000' })) as { ok: false; error: { code: string } };
      expect(missing.error.code).toBe('NOT_FOUND');
      unbind();
      expect(handlers.size).toBe(0);
    } finally {
      await services.close();
    }
  });
});
