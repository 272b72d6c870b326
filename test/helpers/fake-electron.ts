// A stand-in for the `electron` module (its binary cannot be installed here), so main/index.ts
// and main/preload.ts can be imported in plain Node by a test that does
// `vi.mock('electron', async () => (await import('../helpers/fake-electron.js')).electron)`.
// It records what the app registers (window options, header and permission handlers, IPC
// handlers, web-contents listeners) so the test can drive them like Electron would.
import { EventEmitter } from 'node:events';

type Fn = (...args: never[]) => unknown;

export const recorded = {
  windows: [] as FakeWindow[],
  headerListeners: [] as Fn[],
  permissionRequestHandlers: [] as Fn[],
  permissionCheckHandlers: [] as Fn[],
  ipcHandlers: new Map<string, Fn>(),
  openExternal: [] as string[],
  dialogs: [] as { kind: 'open' | 'save'; options: unknown }[],
  exposed: new Map<string, unknown>(),
  rendererInvokes: [] as { channel: string; args: unknown[] }[],
  rendererListeners: new Map<string, Fn[]>(),
  /** What main sent to the page (webContents.send), in order. */
  sentToPage: [] as { channel: string; args: unknown[] }[],
  /** The template given to Menu.setApplicationMenu. */
  menu: null as unknown,
  /**
   * When set, the page's ipcRenderer.invoke reaches main's real handlers as if sent from this
   * frame (the whole bridge, page to main and back); when null it only records and answers null.
   */
  pageFrame: null as { url: string; parent: null } | null,
  /** What the next open dialogs answer, first in first out; '/picked/model.onnx' when empty. */
  openDialogAnswers: [] as (string | null)[],
  quitCalls: 0,
};

/** Delivers to the page's ipcRenderer listeners, like Electron does for webContents.send. */
function deliverToPage(channel: string, ...args: unknown[]): void {
  recorded.sentToPage.push({ channel, args });
  for (const fn of recorded.rendererListeners.get(channel) ?? []) (fn as (...a: unknown[]) => void)({ sender: 'ipc internals' }, ...args);
}

class FakeWindow extends EventEmitter {
  static getAllWindows = () => recorded.windows;
  loaded: string | null = null;
  readonly webContents = { send: deliverToPage };
  constructor(readonly options: Record<string, unknown>) {
    super();
    recorded.windows.push(this);
  }
  loadFile(path: string) {
    this.loaded = path;
    return Promise.resolve();
  }
  maximize() {}
  isMinimized = () => false;
  isMaximized = () => false;
  getNormalBounds = () => ({ x: 0, y: 0, width: 1200, height: 800 });
}

const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  requestSingleInstanceLock: () => true,
  whenReady: () => Promise.resolve(),
  getPath: (name: string) => {
    throw new Error(`fake electron: app.getPath('${name}') — set DISTILLERY_HOME in the test`);
  },
  getVersion: () => '0.0.0-test',
  quit: () => void recorded.quitCalls++,
  exit: () => undefined,
});

const defaultSession = {
  webRequest: { onHeadersReceived: (fn: Fn) => void recorded.headerListeners.push(fn) },
  setPermissionRequestHandler: (fn: Fn) => void recorded.permissionRequestHandlers.push(fn),
  setPermissionCheckHandler: (fn: Fn) => void recorded.permissionCheckHandlers.push(fn),
};

const ipcRenderer = {
  invoke: (channel: string, ...args: unknown[]) => {
    recorded.rendererInvokes.push({ channel, args });
    const handler = recorded.ipcHandlers.get(channel) as ((event: unknown, ...a: unknown[]) => unknown) | undefined;
    if (recorded.pageFrame && handler) return Promise.resolve(handler({ senderFrame: recorded.pageFrame }, ...args));
    return Promise.resolve({ ok: true, result: null });
  },
  on: (channel: string, fn: Fn) => void recorded.rendererListeners.set(channel, [...(recorded.rendererListeners.get(channel) ?? []), fn]),
  removeListener: (channel: string, fn: Fn) => void recorded.rendererListeners.set(channel, (recorded.rendererListeners.get(channel) ?? []).filter((f) => f !== fn)),
};

export const electron = {
  app,
  BrowserWindow: FakeWindow,
  session: { defaultSession },
  ipcMain: {
    handle: (channel: string, fn: Fn) => void recorded.ipcHandlers.set(channel, fn),
    removeHandler: (channel: string) => void recorded.ipcHandlers.delete(channel),
  },
  dialog: {
    showOpenDialog: (_w: unknown, options: unknown) => {
      recorded.dialogs.push({ kind: 'open', options });
      const answer = recorded.openDialogAnswers.length ? recorded.openDialogAnswers.shift()! : '/picked/model.onnx';
      return Promise.resolve(answer === null ? { canceled: true, filePaths: [] } : { canceled: false, filePaths: [answer] });
    },
    showSaveDialog: (_w: unknown, options: unknown) => {
      recorded.dialogs.push({ kind: 'save', options });
      return Promise.resolve({ canceled: false, filePath: '/picked/export.distillery' });
    },
    showMessageBox: () => Promise.resolve({ response: 0 }),
    showErrorBox: () => undefined,
  },
  Menu: { setApplicationMenu: (menu: unknown) => void (recorded.menu = menu), buildFromTemplate: (t: unknown) => t },
  screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
  shell: {
    openExternal: (url: string) => {
      recorded.openExternal.push(url);
      return Promise.resolve();
    },
    openPath: () => Promise.resolve(''),
  },
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => void recorded.exposed.set(key, value) },
  ipcRenderer,
  webUtils: { getPathForFile: () => '/dropped/file.onnx' },
};

/** A webContents as 'web-contents-created' hands it to the app: records listeners and the open handler. */
export function fakeWebContents() {
  const listeners = new Map<string, Fn>();
  let openHandler: Fn | null = null;
  return {
    on: (event: string, fn: Fn) => void listeners.set(event, fn),
    setWindowOpenHandler: (fn: Fn) => void (openHandler = fn),
    /** Emits `event` with a preventable event object; true when the app prevented it. */
    emit(event: string, ...args: unknown[]): boolean {
      let prevented = false;
      const fn = listeners.get(event);
      if (!fn) throw new Error(`no '${event}' listener`);
      (fn as (...a: unknown[]) => unknown)({ preventDefault: () => void (prevented = true) }, ...args);
      return prevented;
    },
    openWindow: (url: string) => (openHandler as ((d: { url: string }) => unknown) | null)?.({ url }),
  };
}
