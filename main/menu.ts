// The native menu as a template built from callbacks, so it can be checked without Electron.
// Commands that need the page (open a file, go to a screen) become `menu:command` events; the
// View items and their shortcuts follow the sidebar's order.
import type { MenuItemConstructorOptions } from 'electron';
import type { MenuCommand, MenuScreen } from '../app/contract/menu.js';

export interface MenuActions {
  /** Sends a command to the page. */
  command(c: MenuCommand): void;
  openDataFolder(): void;
  showAbout(): void;
  openDocs(): void;
  isMac: boolean;
  isDev: boolean;
}

const SCREENS: { screen: MenuScreen; label: string; accelerator: string }[] = [
  { screen: 'home', label: 'Home', accelerator: 'CmdOrCtrl+1' },
  { screen: 'teacher', label: 'Compress a Model', accelerator: 'CmdOrCtrl+2' },
  { screen: 'history', label: 'History', accelerator: 'CmdOrCtrl+3' },
  { screen: 'compare', label: 'Compare', accelerator: 'CmdOrCtrl+4' },
  { screen: 'inspect', label: 'Model Inspector', accelerator: 'CmdOrCtrl+5' },
  { screen: 'settings', label: 'Settings', accelerator: 'CmdOrCtrl+,' },
];

export function menuTemplate(a: MenuActions): MenuItemConstructorOptions[] {
  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'Open Model…', accelerator: 'CmdOrCtrl+O', click: () => a.command({ command: 'open-model' }) },
      { label: 'Open Dataset Folder…', accelerator: 'CmdOrCtrl+Shift+O', click: () => a.command({ command: 'open-dataset-folder' }) },
      // Linux and Windows dialogs pick either files or folders, so a CSV file has its own item.
      { label: 'Open CSV Dataset…', click: () => a.command({ command: 'open-dataset-file' }) },
      { type: 'separator' },
      { label: 'Import Experiments…', accelerator: 'CmdOrCtrl+I', click: () => a.command({ command: 'import-experiments' }) },
      { type: 'separator' },
      { label: 'Open Data Folder', click: () => a.openDataFolder() },
      { type: 'separator' },
      a.isMac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: 'View',
    submenu: [
      ...SCREENS.map(({ screen, label, accelerator }): MenuItemConstructorOptions => ({ label, accelerator, click: () => a.command({ command: 'navigate', screen }) })),
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
