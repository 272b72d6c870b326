// The real desktop app under Electron (Playwright's _electron, under xvfb-run on Linux):
// starts, shows the window with the renderer, exposes only the preload bridge, and answers a
// contract call over IPC. Electron's binary cannot be downloaded on the development machines
// (ELECTRON_SKIP_BINARY_DOWNLOAD=1); there the test says so and does not run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { _electron as electron } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const pathFile = join(ROOT, 'node_modules', 'electron', 'path.txt');
const binary = existsSync(pathFile) ? join(ROOT, 'node_modules', 'electron', 'dist', readFileSync(pathFile, 'utf8').trim()) : null;
const available = binary !== null && existsSync(binary);
if (!available) {
  console.log('Electron smoke test not run: the Electron binary is not installed here (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1). Run `npm install` with internet access to get it.');
}

describe.runIf(available)('Electron app', () => {
  const home = mkdtempSync(join(tmpdir(), 'distillery-electron-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  let xvfb: ChildProcess | null = null;
  afterAll(() => void xvfb?.kill());

  it('opens a secure window that talks to the services over IPC', async () => {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    const env: Record<string, string> = { ...(process.env as Record<string, string>), DISTILLERY_HOME: home };
    if (process.platform === 'linux' && !process.env.DISPLAY) {
      // A virtual screen, as xvfb-run would give.
      xvfb = spawn('Xvfb', [':97', '-screen', '0', '1400x900x24'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500));
      env.DISPLAY = ':97';
    }
    const app = await electron.launch({ executablePath: binary!, args: [join(ROOT, 'dist', 'main', 'index.js')], env });
    try {
      const page = await app.firstWindow();
      await page.waitForSelector('text=Distillery');
      expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
      const result = await page.evaluate(() => (globalThis as unknown as { api: { invoke(m: string, p: unknown): Promise<unknown> } }).api.invoke('listExperiments', {}));
      expect(result).toEqual({ ok: true, result: { rows: [], total: 0 } });
      // Sandboxed and isolated: no Node in the page, and the bridge object is frozen by contextBridge.
      expect(await page.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
      expect(await page.evaluate(() => Object.isFrozen((globalThis as unknown as { api: object }).api))).toBe(true);
      // Navigation away from the app is refused.
      await page.evaluate(() => { (globalThis as unknown as { location: { href: string } }).location.href = 'https://example.com/'; });
      await page.waitForTimeout(300);
      expect(page.url()).toMatch(/^file:.*index\.html/);
    } finally {
      await app.close();
    }
  });
});
