// The only bridge between the sandboxed renderer and the app: `invoke` for contract methods,
// `on` for contract events, and two native helpers (file dialogs, paths of dropped files).
// Bundled to one CommonJS file that requires only 'electron' (sandboxed preloads cannot use ESM).
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { API_METHODS, EVENT_NAMES, channelOf } from '../app/contract/channels.js';
import type { ApiMethod } from '../app/contract/api.js';

const methods = new Set<string>(API_METHODS);
const events = new Set<string>(EVENT_NAMES);

const api = {
  async invoke(method: string, params: unknown): Promise<unknown> {
    if (!methods.has(method)) throw new Error(`unknown method '${method}'`);
    return ipcRenderer.invoke(channelOf(method as ApiMethod), params);
  },
  on(event: string, listener: (payload: unknown) => void): () => void {
    if (!events.has(event)) throw new Error(`unknown event '${event}'`);
    const wrapped = (_e: unknown, payload: unknown) => listener(payload);
    ipcRenderer.on(`event:${event}`, wrapped);
    return () => ipcRenderer.removeListener(`event:${event}`, wrapped);
  },
  /** Native open dialog; resolves to an absolute path or null. */
  pickPath(options: { kind: 'model' | 'dataset-folder' | 'dataset-file' | 'bundle' }): Promise<string | null> {
    return ipcRenderer.invoke('dialog:open', { kind: options.kind });
  },
  /** Native save dialog for exports. */
  pickSavePath(options: { kind: 'model' | 'bundle' | 'report'; defaultName: string }): Promise<string | null> {
    return ipcRenderer.invoke('dialog:save', { kind: options.kind, defaultName: String(options.defaultName).slice(0, 200) });
  },
  /** Absolute path of a file dropped on the window (File.path no longer exists in Electron). */
  pathForFile(file: File): string {
    return webUtils.getPathForFile(file);
  },
  platform: process.platform,
};

contextBridge.exposeInMainWorld('api', api);
export type PreloadApi = typeof api;
