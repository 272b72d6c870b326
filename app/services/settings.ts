// User settings in <dataDir>/settings.json (written atomically). Unknown or bad values fall
// back to defaults so a hand-edited file never stops the app from starting.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_PREFERENCES, type Settings } from '../contract/api.js';

export const DEFAULT_SETTINGS: Settings = { device: 'auto', threads: null, theme: 'system', concurrency: 1 };

export function settingsPath(dataDir: string): string {
  return join(dataDir, 'settings.json');
}

export function loadSettings(dataDir: string): Settings {
  let raw: Record<string, unknown> = {};
  try {
    raw = JSON.parse(readFileSync(settingsPath(dataDir), 'utf8')) as Record<string, unknown>;
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
  const s = { ...DEFAULT_SETTINGS };
  if ((DEVICE_PREFERENCES as readonly unknown[]).includes(raw.device)) s.device = raw.device as Settings['device'];
  if (raw.threads === null || (Number.isInteger(raw.threads) && (raw.threads as number) >= 1 && (raw.threads as number) <= 256)) s.threads = raw.threads as number | null;
  if (raw.theme === 'light' || raw.theme === 'dark' || raw.theme === 'system') s.theme = raw.theme;
  if (raw.concurrency === 1 || raw.concurrency === 2) s.concurrency = raw.concurrency;
  return s;
}

export function saveSettings(dataDir: string, s: Settings): void {
  mkdirSync(dataDir, { recursive: true });
  const file = settingsPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(tmp, file);
}
