// Browser end-to-end helpers: build the renderer, start `distillery serve` on a temporary
// history, drive Debian's Chromium through playwright-core, save screenshots.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCREENS = join(ROOT, 'test-results', 'screens');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function buildRenderer(): void {
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, VITE_TARGET: 'http' },
  });
}

export interface Server {
  url: string;
  loginUrl: string;
  proc: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

export async function startServer(db: string, extra: string[] = []): Promise<Server> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'distillery.mjs'), 'serve', '--port', '0', '--db', db, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const loginUrl = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve printed no URL in 60 s; stderr:\n${err}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`serve exited with ${code}; stderr:\n${err}`));
    });
  });
  const url = new URL(loginUrl);
  return {
    loginUrl,
    url: `${url.protocol}//${url.host}/`,
    proc,
    stderr: () => err,
    stop: () =>
      new Promise<void>((done) => {
        if (proc.exitCode !== null) return done();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        proc.once('exit', () => {
          clearTimeout(kill);
          done();
        });
        proc.kill('SIGTERM');
      }),
  };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENS, { recursive: true });
  const path = join(SCREENS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects console errors and uncaught exceptions; CSP violations show up here too. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.text()) && !/status of 404/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

export const SAMPLE_DATA = join(ROOT, 'resources', 'sample-data', 'fashion-mnist-small');
export const SAMPLE_TEACHER = join(ROOT, 'resources', 'sample-teacher', 'fashion-cnn.onnx');

/** The bundled teacher, or (while it is being trained) an untrained stand-in built here. */
export async function teacherPath(dir: string): Promise<{ path: string; stand_in: boolean }> {
  if (existsSync(SAMPLE_TEACHER)) return { path: SAMPLE_TEACHER, stand_in: false };
  const { buildStudent, parseTemplate } = await import('../../app/engine/distill/students.js');
  const { saveModel } = await import('../../app/engine/onnx/io.js');
  const path = join(dir, 'fashion-cnn.onnx');
  await saveModel(buildStudent({ template: parseTemplate('cnn:16,32/64'), sampleShape: [1, 28, 28], classes: 10, seed: 7 }), path);
  return { path, stand_in: true };
}
