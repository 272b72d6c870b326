// The native menu as a template built from callbacks, so it can be checked without Electron.
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  openModel(): void;
  openDataset(): void;
  importBundle(): void;
  openDataFolder(): void;
  navigate(route: 'home' | 'history' | 'compare' | 'settings'): void;
  showAbout(): void;
  openDocs(): void;
  isMac: boolean;
  isDev: boolean;
}

export function menuTemplate(a: MenuActions): MenuItemConstructorOptions[] {
  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'Open Model…', accelerator: 'CmdOrCtrl+O', click: () => a.openModel() },
      { label: 'Open Dataset…', accelerator: 'CmdOrCtrl+Shift+O', click: () => a.openDataset() },
      { type: 'separator' },
      { label: 'Import Experiments…', accelerator: 'CmdOrCtrl+I', click: () => a.importBundle() },
      { type: 'separator' },
      { label: 'Open Data Folder', click: () => a.openDataFolder() },
      { type: 'separator' },
      a.isMac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: 'View',
    submenu: [
      { label: 'Home', accelerator: 'CmdOrCtrl+1', click: () => a.navigate('home') },
      { label: 'History', accelerator: 'CmdOrCtrl+2', click: () => a.navigate('history') },
      { label: 'Compare', accelerator: 'CmdOrCtrl+3', click: () => a.navigate('compare') },
      { label: 'Settings', accelerator: 'CmdOrCtrl+,', click: () => a.navigate('settings') },
      { type: 'separator' },
      { role: 'reload' },
      ...(a.isDev ? [{ role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  };
  const help: MenuItemConstructorOptions = {
    role: 'help',
    submenu: [
      { label: 'About Distillery', click: () => a.showAbout() },
      { label: 'ONNX Runtime documentation', click: () => a.openDocs() },
    ],
  };
  return [
    ...(a.isMac ? [{ role: 'appMenu' } as MenuItemConstructorOptions] : []),
    file,
    { role: 'editMenu' },
    view,
    { role: 'windowMenu' },
    help,
  ];
}
