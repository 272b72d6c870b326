// Electron main process: one window, native menus and dialogs, the contract bound to IPC.
// Heavy work never runs here: the services run jobs in child processes.
import { app, BrowserWindow, dialog, ipcMain, Menu, screen, session, shell } from 'electron';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ApiEvent } from '../app/contract/events.js';
import { createServices, type Services } from '../app/services/index.js';
import { bindApi, eventChannel } from './ipc.js';
import { isOpenKind, isSaveKind, openDialogOptions, saveDialogOptions } from './dialogs.js';
import { menuTemplate } from './menu.js';
import { CONTENT_SECURITY_POLICY, isAllowedExternal, isAppUrl, isTrustedSender, secureWebPreferences } from './security.js';
import { fitToDisplays, readWindowState, saveWindowState } from './window-state.js';

const isDev = !app.isPackaged;
const distDir = join(import.meta.dirname, '..');
const indexHtml = join(distDir, 'renderer', 'index.html');
const indexUrl = pathToFileURL(indexHtml).href;
const resourcesDir = app.isPackaged ? process.resourcesPath : join(distDir, '..', 'resources');

let mainWindow: BrowserWindow | null = null;
let services: Services | null = null;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.whenReady().then(start).catch((err) => {
    dialog.showErrorBox('Distillery could not start', err instanceof Error ? err.message : String(err));
    app.exit(1);
  });
}

// Checklist 13/14: no navigation away from the app, no new windows, no webviews.
app.on('web-contents-created', (_e, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, indexUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isAllowedExternal(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
});

async function start(): Promise<void> {
  const dataDir = process.env.DISTILLERY_HOME ?? app.getPath('userData');
  services = createServices({ dataDir, resourcesDir, appVersion: app.getVersion() });

  // Checklist 7: a strict CSP on every response, in addition to the page's meta tag.
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  // Checklist 5: no permission (camera, notifications, clipboard…) is ever granted or reported as granted.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);

  const trusted = (frame: { url: string; parent: unknown } | null) => isTrustedSender(frame, indexUrl);
  bindApi(ipcMain, services, trusted);
  ipcMain.handle('dialog:open', async (event, params: { kind?: unknown }) => {
    if (!trusted(event.senderFrame) || !mainWindow || !isOpenKind(params?.kind)) return null;
    const o = openDialogOptions(params.kind);
    const r = await dialog.showOpenDialog(mainWindow, { ...o, properties: [...o.properties] });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  });
  ipcMain.handle('dialog:save', async (event, params: { kind?: unknown; defaultName?: unknown }) => {
    if (!trusted(event.senderFrame) || !mainWindow || !isSaveKind(params?.kind)) return null;
    const r = await dialog.showSaveDialog(mainWindow, saveDialogOptions(params.kind, String(params.defaultName ?? 'export')));
    return r.canceled ? null : (r.filePath ?? null);
  });
  services.events.subscribe(toPage);

  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate({
    isMac: process.platform === 'darwin',
    isDev,
    command: (payload) => toPage({ name: 'menu:command', payload }),
    openDataFolder: () => void shell.openPath(dataDir),
    showAbout: () => void dialog.showMessageBox({ type: 'info', title: 'About Distillery', message: `Distillery ${app.getVersion()}`, detail: 'Distillation, quantization and benchmarks for ONNX models.' }),
    openDocs: () => void shell.openExternal('https://onnxruntime.ai/docs/'),
  })));

  createWindow(dataDir);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow(dataDir);
  });
}

/** Contract events (the services' and the menu's) go to the page on the channels the preload allows. */
function toPage(event: ApiEvent): void {
  mainWindow?.webContents.send(eventChannel(event), event.payload);
}

function createWindow(dataDir: string): void {
  const stateFile = join(dataDir, 'window-state.json');
  const state = fitToDisplays(readWindowState(stateFile), screen.getAllDisplays().map((d) => d.workArea));
  mainWindow = new BrowserWindow({
    ...state.bounds,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Distillery',
    backgroundColor: '#111318',
    webPreferences: secureWebPreferences(join(import.meta.dirname, 'preload.cjs')),
  });
  if (state.maximized) mainWindow.maximize();
  mainWindow.once('ready-to-show', () => mainWindow?.show());
  mainWindow.on('close', () => {
    if (!mainWindow) return;
    void saveWindowState(stateFile, { bounds: mainWindow.getNormalBounds(), maximized: mainWindow.isMaximized() });
  });
  mainWindow.on('closed', () => {
    mainWindow = null;
  });
  if (!existsSync(indexHtml)) {
    void dialog.showMessageBox({ type: 'error', message: 'The user interface is not built. Run `npm run build` first.' });
  }
  void mainWindow.loadFile(indexHtml);
}

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !services) return;
  event.preventDefault();
  quitting = true;
  void services.close().finally(() => app.quit());
});
