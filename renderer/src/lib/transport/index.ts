// Picks the transport once at start-up. The rest of the UI only sees `Transport` / `Api`.
import { createFakeApi } from './fake.js';
import { createHttpTransport } from './http.js';
import { createIpcTransport, hasPreload } from './ipc.js';
import type { Transport, TransportKind } from './types.js';

export function chooseKind(target: string | undefined, win: unknown): TransportKind {
  if (target === 'ipc' || target === 'http' || target === 'fake') return target;
  return hasPreload(win) ? 'ipc' : 'http';
}

export function createTransport(target: string | undefined, win: unknown): Transport {
  const kind = chooseKind(target, win);
  if (kind === 'ipc') {
    if (!hasPreload(win)) throw new Error('This build expects the Electron preload (window.api) but it is missing.');
    return createIpcTransport(win.api);
  }
  if (kind === 'fake') return createFakeApi({ seed: 12 }).transport;
  return createHttpTransport();
}

export * from './types.js';
