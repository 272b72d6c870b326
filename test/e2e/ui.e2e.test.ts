// The renderer end to end, in Chromium, against `distillery serve` with real services, a real
// history database, the bundled sample data and teacher. Walks: teacher wizard → compression run
// to the end → results → compare two experiments → add a note → reload and find it; visits every
// screen and saves screenshots to test-results/screens/. Also measures load-to-interactive and
// scrolling a 10,000-experiment history.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { buildRenderer, launch, ROOT, SAMPLE_DATA, shot, startServer, teacherPath, watchConsole, type Server } from './helpers.js';

const TMP = mkdtempSync(join(tmpdir(), 'distillery-e2e-'));
const metrics: Record<string, unknown> = {};
let browser: Browser;
let server: Server;
let page: Page;
let problems: string[] = [];
let teacher = '';
let altTeacher = '';
let runUrl = '';

beforeAll(async () => {
  buildRenderer();
  const t = await teacherPath(TMP);
  teacher = t.path;
  metrics.teacherStandIn = t.stand_in;
  // A second, smaller candidate so the wizard has something to choose between.
  const { buildStudent, parseTemplate } = await import('../../app/engine/distill/students.js');
  const { saveModel } = await import('../../app/engine/onnx/io.js');
  altTeacher = join(TMP, 'alt-mlp.onnx');
  await saveModel(buildStudent({ template: parseTemplate('mlp:32'), sampleShape: [1, 28, 28], classes: 10, seed: 3 }), altTeacher);
  server = await startServer(join(TMP, 'history.sqlite'));
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.setDefaultTimeout(15_000);
  problems = watchConsole(page);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  writeFileSync(join(ROOT, 'test-results', 'ui-e2e-metrics.json'), JSON.stringify(metrics, null, 2));
  console.log('[ui e2e metrics]', JSON.stringify(metrics));
  rmSync(TMP, { recursive: true, force: true });
});

const nav = (pg: Page, name: string) => pg.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

describe('renderer in Chromium against distillery serve', () => {
  it('loads, measures time to interactive, shows the empty home', async () => {
    const t0 = Date.now();
    await page.goto(server.loginUrl);
    await page.getByRole('heading', { name: 'Make a model smaller and faster' }).waitFor();
    await page.getByText('No experiments yet').waitFor();
    const interactive = await page.evaluate(() => {
      const m = performance.getEntriesByName('distillery:interactive')[0];
      const nav = (performance.getEntriesByType as unknown as (t: string) => { domContentLoadedEventEnd: number }[])('navigation')[0];
      return { interactiveMs: m ? Math.round(m.startTime) : null, domContentLoadedMs: nav ? Math.round(nav.domContentLoadedEventEnd) : null };
    });
    metrics.firstLoad = { ...interactive, wallMs: Date.now() - t0 };
    expect(interactive.interactiveMs).not.toBeNull();
    // The token left the address bar (the server redirects, the page also strips it).
    expect(page.url()).not.toContain('token=');
    await shot(page, '01-home-empty');
  });

  it('"Try the sample": one click opens the wizard with the sample teacher and data chosen', async () => {
    await page.getByRole('button', { name: 'Try the sample' }).click();
    await page.waitForURL(/#\/compress\?data=/);
    await page.getByRole('heading', { name: 'Data' }).waitFor();
    // The bundled teacher is the chosen one and the bundled data is filled in and checked.
    await page.getByText(/^Teacher: fashion-cnn\.onnx/).waitFor();
    expect(await page.getByLabel('Dataset', { exact: true }).inputValue()).toBe(SAMPLE_DATA);
    await page.getByText('This data fits the teacher.').waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Next →' }).isEnabled()).toBe(true);
    // Browser mode: no native dialogs, so no "Browse…" buttons.
    expect(await page.getByRole('button', { name: /Folder…|Browse…/ }).count()).toBe(0);
    await shot(page, '01b-sample-wizard');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByRole('heading', { name: 'Goal' }).waitFor();
    await nav(page, 'Home').click();
    await page.getByRole('heading', { name: 'Make a model smaller and faster' }).waitFor();
  });

  it('teacher wizard: add candidates, score them, get a recommendation', async () => {
    await page.getByRole('link', { name: 'Compress a model' }).first().click();
    await page.getByRole('heading', { name: 'Which model should teach?' }).waitFor();
    await shot(page, '02-teacher-empty');
    // An error in plain words for a missing file.
    await page.getByLabel('Model file (.onnx)').fill('/nowhere/missing.onnx');
    await page.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('alert').first().waitFor();
    const alertText = await page.getByRole('alert').first().innerText();
    expect(alertText).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
    await page.getByRole('button', { name: 'Remove missing.onnx' }).click();

    for (const p of [teacher, altTeacher]) {
      await page.getByLabel('Model file (.onnx)').fill(p);
      await page.keyboard.press('Enter');
    }
    await page.getByText(/Runs here on/).nth(1).waitFor({ timeout: 30_000 });
    const scoreData = page.getByLabel('Dataset', { exact: true });
    if (!(await scoreData.inputValue())) await scoreData.fill(SAMPLE_DATA);
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Score models' }).click();
    // Either a recommendation or an error in plain words (a back-end failure is reported, and
    // the rest of the flow goes on with the teacher chosen by hand).
    const outcome = page.getByText(/^Use .*: it gets/).or(page.getByRole('alert').filter({ hasText: /did not work|not found|failed/i }));
    await outcome.first().waitFor({ timeout: 60_000 });
    metrics.teacherScoringMs = Date.now() - t0;
    const recommended = await page.getByText(/^Use .*: it gets/).count();
    if (!recommended) metrics.teacherScoringError = await page.getByRole('alert').first().innerText();
    await shot(page, '03-teacher-scored');
    expect.soft(recommended, `teacher scoring failed: ${String(metrics.teacherScoringError)}`).toBe(1);
    // Two models scored: their ensemble is listed with an action that takes both as teachers.
    if (recommended) {
      await page.getByRole('row', { name: /^Ensemble of / }).waitFor();
      expect(await page.getByRole('button', { name: 'Use this ensemble' }).count()).toBe(1);
    }
    // Pick the real teacher explicitly (the stand-in may score like the alternative).
    await page.getByRole('radio', { name: 'Use this model as the teacher' }).first().check();
    await page.getByRole('button', { name: /^Continue with/ }).click();
  });

  it('compression wizard: data, goal, plan with advanced settings, review, start', async () => {
    await page.locator('ol.stepper').waitFor();
    // The "Try the sample" visit above may have left a draft for this teacher: start afresh.
    const startOver = page.getByRole('button', { name: 'Start over' });
    if (await startOver.count()) await startOver.click();
    await page.getByRole('heading', { name: 'Data' }).waitFor();
    const useSample = page.getByRole('button', { name: 'Use the sample data' });
    if (await useSample.count()) await useSample.click();
    else {
      await page.getByLabel('Dataset', { exact: true }).fill(SAMPLE_DATA);
      await page.getByRole('button', { name: 'Check' }).click();
    }
    await page.getByText('This data fits the teacher.').waitFor({ timeout: 30_000 });
    await shot(page, '04-compress-data');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByRole('heading', { name: 'Goal' }).waitFor();
    await page.getByLabel('A quarter of the size').check();
    await shot(page, '05-compress-goal');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByRole('heading', { name: 'Plan' }).waitFor();
    await page.getByText('Advanced settings').click();
    // A quick trial has no extra views; the full run on the 10,000-image sample gets the demo's
    // recipe (16 views, 12 epochs).
    const quick = page.getByLabel(/Quick trial/);
    expect(await page.getByLabel('Extra views of each image').inputValue()).toBe('none');
    await quick.uncheck();
    expect(await page.getByLabel('Extra views of each image').inputValue()).toBe('shift');
    expect(await page.getByLabel('Views per image').inputValue()).toBe('16');
    expect(await page.getByLabel('Epochs', { exact: true }).inputValue()).toBe('12');
    await page.getByText(/16 views of each training image/).waitFor();
    await quick.check();
    expect(await page.getByLabel('Extra views of each image').inputValue()).toBe('none');
    await page.getByLabel('Epochs', { exact: true }).fill('2');
    await page.getByLabel('Student', { exact: true }).fill('cnn:4,8/16');
    // A CNN student on 2 data-parallel worker threads: the run below trains through them.
    expect(await page.getByLabel('Parallel training workers').inputValue()).toBe('auto');
    await page.getByLabel('Parallel training workers').selectOption('2');
    await shot(page, '06-compress-plan');
    // The draft survives a reload: same step, same advanced settings.
    await page.reload();
    await page.getByRole('heading', { name: 'Plan' }).waitFor();
    await page.getByText(/Your unfinished draft was restored/).waitFor();
    await page.getByText('Advanced settings').click();
    expect(await page.getByLabel('Epochs', { exact: true }).inputValue()).toBe('2');
    expect(await page.getByLabel('Student', { exact: true }).inputValue()).toBe('cnn:4,8/16');
    expect(await page.getByLabel('Parallel training workers').inputValue()).toBe('2');
    await shot(page, '06b-compress-plan-restored');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByRole('heading', { name: 'Review' }).waitFor();
    await page.getByText(/cnn:4,8\/16 · 2 epochs .* · 2 workers/).waitFor();
    await page.getByLabel('Name (optional)').fill('E2E student');
    await shot(page, '07-compress-review');
    await page.getByRole('button', { name: 'Start compression' }).click();
    await page.waitForURL(/#\/run\//);
    // Starting a run clears the draft.
    expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('distillery.wizardDraft.v1'))).toBeNull();
  });

  it('run monitor: live progress, then the chained quantization, to the end', async () => {
    await page.waitForURL(/#\/run\//);
    runUrl = page.url();
    await page.getByRole('progressbar').first().waitFor();
    const t0 = Date.now();
    // Frame times while the run streams progress and epoch events (recorded, not asserted).
    await page.evaluate(() => {
      const g = globalThis as unknown as { __frames: number[]; __stopFrames?: boolean; requestAnimationFrame(f: (t: number) => void): void; performance: { now(): number } };
      g.__frames = [];
      let last = g.performance.now();
      const tick = (t: number) => {
        g.__frames.push(t - last);
        last = t;
        if (!g.__stopFrames) g.requestAnimationFrame(tick);
      };
      g.requestAnimationFrame(tick);
    });
    // Live curves arrive per epoch (uPlot canvas; its label names the latest values).
    await page.getByRole('img', { name: /^Loss: Training loss \d/ }).waitFor({ timeout: 90_000 });
    metrics.deviceWhileRunning = await page.locator('.figures div', { hasText: 'Device' }).locator('dd').innerText();
    await page.getByRole('log', { name: 'Run log' }).getByText(/training on 2 worker threads/).waitFor();
    await shot(page, '08-run-live');
    await page.getByRole('link', { name: 'See results →' }).waitFor({ timeout: 110_000 });
    metrics.compressionRunMs = Date.now() - t0;
    const streamed = await page.evaluate(() => {
      const g = globalThis as unknown as { __frames: number[]; __stopFrames?: boolean };
      g.__stopFrames = true;
      return g.__frames.slice(1);
    });
    const sorted = [...streamed].sort((a, b) => a - b);
    const pick = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
    metrics.runStreamingFrames = { frames: sorted.length, p50: pick(0.5), p95: pick(0.95), p99: pick(0.99), max: pick(1), over50ms: sorted.filter((f) => f > 50).length };
    await shot(page, '09-run-finished');
    // The device it ran on, not the preference ('auto').
    expect(await page.locator('.figures div', { hasText: 'Device' }).locator('dd').innerText()).toBe('CPU');
    expect(Number(await page.getByRole('img', { name: /^Accuracy:/ }).getAttribute('data-points'))).toBe(2);
    const now = await page.getByRole('progressbar').first().getAttribute('aria-valuenow');
    expect(now).not.toBeNull();
  });

  it('results: before/after, trade-off chart, per-layer table, report export', async () => {
    await page.getByRole('link', { name: 'See results →' }).click();
    await page.getByRole('heading', { name: 'Before and after' }).waitFor();
    await page.getByText(/^Quantized/).first().waitFor();
    await page.getByText('Student (cnn:4,8/16)').first().waitFor();
    // Trained on the 2 worker threads chosen in the wizard.
    await page.getByText(/^Device: .+, 2 worker threads$/).waitFor();
    const rows = await page.locator('table.data').first().locator('tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(3);
    await page.getByRole('button', { name: 'Measure speed and accuracy' }).click();
    await page.getByText(/× (faster|slower)$/).first().waitFor({ timeout: 90_000 });
    await page.getByRole('img', { name: /^Precision per layer, \d+ layers/ }).waitFor();
    await shot(page, '10-results');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export Markdown' }).click()]);
    const md = join(TMP, 'report.md');
    await download.saveAs(md);
    const text = (await import('node:fs')).readFileSync(md, 'utf8');
    expect(text).toContain('# E2E student');
    expect(text).toContain('## Before and after');
    expect(text).toContain('](data:image/svg+xml;base64,');
  });

  it('adds a note and a tag, reloads and finds them', async () => {
    const note = `Good enough for the phone app (${Date.now()})`;
    await page.getByLabel('Add a note').fill(note);
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.getByText(note).waitFor();
    await page.getByLabel('New tag').fill('e2e');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByRole('button', { name: 'Remove tag e2e' }).waitFor();
    await page.reload();
    await page.getByText(note).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Remove tag e2e' }).waitFor();
    await shot(page, '11-results-note-after-reload');
  });

  it('history: search, filter, select two, compare with a pinned baseline', async () => {
    await page.getByRole('button', { name: 'Pin as baseline' }).click();
    await page.getByRole('button', { name: 'Unpin baseline' }).waitFor();
    await nav(page, 'History').click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await page.getByRole('checkbox', { name: /^Select / }).first().waitFor();
    await shot(page, '12-history');
    await page.getByLabel('Kind', { exact: true }).selectOption('distill');
    await page.getByText(/experiments? match/).waitFor();
    const kinds = await page.locator('.scroller .tr .td:nth-child(3)').allInnerTexts();
    expect(kinds.length).toBeGreaterThan(0);
    expect(new Set(kinds)).toEqual(new Set(['Distillation']));
    await page.getByLabel('Kind', { exact: true }).selectOption('');
    await page.getByLabel('Search experiments').fill('E2E student');
    await page.getByText(/experiments? match/).waitFor();
    expect(await page.getByRole('link', { name: 'E2E student', exact: true }).count()).toBe(1);
    // The pinned distillation and its quantized child.
    await page.getByRole('checkbox', { name: 'Select E2E student', exact: true }).check();
    await page.getByRole('checkbox', { name: /^Select E2E student · quantized/ }).check();
    await page.getByRole('button', { name: /Compare 2 selected/ }).click();
    await page.getByRole('heading', { name: 'Compare' }).waitFor();
    await page.locator('table.compare').waitFor();
    await page.getByText(/Baseline \(pinned\)/).waitFor();
    await shot(page, '13-compare');
    await page.getByLabel('Only show differences').uncheck();
    await shot(page, '14-compare-all-rows');
  });

  it('benchmark comparison: measure both on the same data', async () => {
    await page.getByLabel('Only show differences').check();
    await page.getByRole('button', { name: 'Run benchmark' }).click();
    const done = page.locator('table.data').nth(1).or(page.getByRole('alert'));
    await done.first().waitFor({ timeout: 90_000 });
    expect(await page.getByRole('alert').count(), await page.getByRole('alert').allInnerTexts().then((t) => t.join(' | '))).toBe(0);
    await shot(page, '15-compare-benchmarked');
  });

  it('inspector, settings, dark theme', async () => {
    await page.goto(`${server.url}#/inspect?path=${encodeURIComponent(teacher)}`);
    await page.getByRole('heading', { name: 'Operation histogram' }).waitFor({ timeout: 15_000 });
    // The graph: a box per operation, focusable, details on focus; wheel zooms.
    await page.getByRole('heading', { name: 'Graph', exact: true }).waitFor();
    const boxes = page.getByRole('application', { name: /^Model graph/ }).getByRole('button');
    const count = await boxes.count();
    expect(count).toBeGreaterThan(4);
    const conv = page.getByRole('button', { name: /^Conv / }).first();
    await conv.focus();
    await page.locator('aside.details').getByText('Inputs').waitFor();
    expect(await page.locator('aside.details').innerText()).toMatch(/graph input|weight/);
    await page.keyboard.press('Tab');
    expect(await page.locator('aside.details h3').innerText()).not.toBe('');
    const canvas = page.getByRole('application', { name: /^Model graph/ });
    const before = await canvas.locator('svg > g').getAttribute('transform');
    await canvas.hover();
    await page.mouse.wheel(0, -300);
    await page.waitForTimeout(100);
    expect(await canvas.locator('svg > g').getAttribute('transform')).not.toBe(before);
    await page.getByRole('button', { name: 'Fit' }).click();
    await page.getByRole('button', { name: /^Gemm / }).first().click();
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await shot(page, '16-inspector');
    await nav(page, 'Settings').click();
    await page.getByRole('heading', { name: 'Devices found on this machine' }).waitFor();
    await page.getByText('Works', { exact: true }).first().waitFor({ timeout: 30_000 });
    await shot(page, '17-settings');
    await page.getByLabel('Dark').check();
    await page.waitForFunction(() => (globalThis as unknown as { document: { documentElement: { dataset: { theme?: string } } } }).document.documentElement.dataset.theme === 'dark');
    await nav(page, 'Home').click();
    await page.getByRole('heading', { name: 'Recent experiments' }).waitFor();
    await shot(page, '18-home-dark');
    await page.reload();
    await page.waitForFunction(() => (globalThis as unknown as { document: { documentElement: { dataset: { theme?: string } } } }).document.documentElement.dataset.theme === 'dark');
    await page.getByRole('link', { name: 'E2E student' }).first().click();
    await page.waitForTimeout(300);
    await shot(page, '19-results-dark');
    // The uPlot curves follow the theme.
    await page.goto(runUrl);
    await page.getByRole('img', { name: /^Loss: Training loss \d/ }).waitFor();
    await shot(page, '19b-run-dark');
    await nav(page, 'Settings').click();
    await page.getByLabel('Light').check();
    await page.waitForFunction(() => (globalThis as unknown as { document: { documentElement: { dataset: { theme?: string } } } }).document.documentElement.dataset.theme === 'light');
  });

  it('keyboard: Escape closes a dialog and focus stays in the page', async () => {
    await nav(page, 'History').click();
    await page.getByRole('button', { name: 'Import bundle…' }).click();
    await page.getByRole('dialog').waitFor();
    await shot(page, '20-history-import-dialog');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
  });

  it('no console errors or CSP violations', () => {
    expect(problems).toEqual([]);
  });
});

describe('results of a mixed-precision quantization', () => {
  let srv: Server;
  let p: Page;
  let id = '';
  let mine: string[] = [];
  beforeAll(async () => {
    const db = join(TMP, 'mixed', 'history.sqlite');
    const { openDatabase } = await import('../../app/store/index.js');
    const store = openDatabase(db);
    // What `distillery quantize --method mixed` records (abridged): per-layer precision and sensitivity.
    const names = ['conv1', 'conv2', 'conv3', 'fc1', 'fc2', 'fc3', 'head'];
    const ops = ['Conv', 'Conv', 'Conv', 'Gemm', 'Gemm', 'Gemm', 'Gemm'];
    const prec = ['float32', 'int8', 'int8', 'int4', 'int4', 'float16', 'float32'];
    const drops = [3.9, 0.4, 0.2, 0.05, 0.1, 1.2, 2.6];
    const e = store.experiments.create({ kind: 'quantize', name: 'Mixed precision (seeded)', config: { model: '/models/fashion-cnn.onnx', method: 'mixed' } });
    store.experiments.setStatus(e.id, 'running');
    store.experiments.update(e.id, {
      summary: {
        method: 'mixed',
        output: '/models/fashion-cnn.mixed.onnx',
        sizeBytes: { before: 420_000, after: 118_000 },
        accuracy: { before: 0.902, after: 0.894 },
        latencyMs: { before: 0.9, after: 0.62 },
        layers: names.map((name, i) => ({ name, op: ops[i], precision: prec[i] })),
        mixed: { maxAccuracyDrop: 1, budgetMet: true, path: [], layers: names.map((name, i) => ({ name, op: ops[i], params: 1000 * (i + 1), precision: prec[i], sensitivity: { sqnr: 40 - drops[i]! * 6, accuracyDrop: drops[i] }, byPrecision: {} })) },
      },
    });
    store.experiments.setStatus(e.id, 'succeeded');
    id = e.id;
    store.close();
    srv = await startServer(db);
    p = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    p.setDefaultTimeout(15_000);
    mine = watchConsole(p);
  }, 120_000);
  afterAll(async () => {
    await p?.close();
    await srv?.stop();
  });

  it('shows the precision heat map with sensitivity, and the table as the accessible fallback', async () => {
    await p.goto(srv.loginUrl);
    await p.getByRole('heading', { name: 'Make a model smaller and faster' }).waitFor();
    await p.goto(`${srv.url}#/results/${id}`);
    await p.getByRole('heading', { name: 'Precision per layer' }).waitFor();
    const strip = p.getByRole('img', { name: /^Precision per layer, 7 layers: 2 fp32, 1 fp16, 2 int8, 2 int4\. Lower row: sensitivity/ });
    await strip.waitFor();
    expect(await p.locator('.heat .cell.sens').count()).toBe(7);
    expect(await p.locator('.heat .cell.p-int4').first().getAttribute('title')).toBe('fc1 (Gemm): int4 · accuracy drop if compressed alone 0.05 pts · SQNR 39.7 dB');
    const table = p.getByRole('table', { name: 'Precision per layer' });
    expect(await table.locator('tbody tr').count()).toBe(7);
    await table.getByRole('cell', { name: '3.90 pts' }).waitFor();
    await p.locator('.heat').scrollIntoViewIfNeeded();
    await shot(p, '23-results-mixed-precision');
    expect(mine).toEqual([]);
    const [download] = await Promise.all([p.waitForEvent('download'), p.getByRole('button', { name: 'Export HTML' }).click()]);
    const file = join(TMP, 'mixed-report.html');
    await download.saveAs(file);
    const html = (await import('node:fs')).readFileSync(file, 'utf8');
    expect(html).toContain('<figure class="chart" id="chart-trade-off">');
    expect(html).toContain('<figure class="chart" id="chart-precision">');
    expect(html).not.toContain('<script');
    // The exported report renders on its own (its CSP allows no scripts).
    await p.goto(`file://${file}`);
    await p.locator('#chart-precision svg').waitFor();
    await shot(p, '24-report-html');
  });
});

describe('history with 10,000 experiments', () => {
  let big: Server;
  let p: Page;
  beforeAll(async () => {
    const db = join(TMP, 'big', 'history.sqlite');
    const { openDatabase } = await import('../../app/store/index.js');
    const store = openDatabase(db);
    const t0 = Date.now();
    const kinds = ['distill', 'quantize', 'bench'] as const;
    store.transaction(() => {
      for (let i = 0; i < 10_000; i++) {
        store.experiments.create({
          kind: kinds[i % 3]!,
          name: `Experiment ${String(i).padStart(5, '0')} ${kinds[i % 3]}`,
          config: { epochs: 1 + (i % 7), lr: 0.001 * (1 + (i % 5)) },
          tags: i % 10 === 0 ? ['tenth'] : [],
          createdAt: 1_700_000_000_000 + i * 60_000,
        });
      }
    });
    metrics.seed10kMs = Date.now() - t0;
    store.close();
    big = await startServer(db);
    p = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  }, 180_000);
  afterAll(async () => {
    await p?.close();
    await big?.stop();
  });

  // Timings (first rows, frame times, sort) are recorded in ui-e2e-metrics.json and printed, not
  // asserted: the machine is shared and noisy. What is asserted is what virtualisation must keep.
  it('virtualises 10,000 rows, reaches the last one by scrolling, and sorts them', async () => {
    await p.goto(big.loginUrl);
    await p.getByRole('heading', { name: 'Make a model smaller and faster' }).waitFor();
    const t0 = Date.now();
    await nav(p, 'History').click();
    await p.getByText('10,000 experiments').waitFor();
    await p.getByRole('checkbox', { name: /^Select / }).first().waitFor();
    metrics.history10kFirstRowsMs = Date.now() - t0;
    const rendered = await p.locator('.scroller .tr').count();
    expect(rendered).toBeLessThan(60); // virtualised: only what is visible (+ overscan)
    await shot(p, '21-history-10k');
    const frames = await p.evaluate(async () => {
      // Runs in the page (the test's tsconfig has no DOM types).
      const g = globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number; scrollHeight: number; clientHeight: number }; querySelectorAll(s: string): { length: number } }; requestAnimationFrame(f: () => void): void };
      const el = g.document.querySelector('.scroller');
      const deltas: number[] = [];
      let last = performance.now();
      const max = el.scrollHeight - el.clientHeight;
      // ~4 seconds: a steady fling through the list, then jumps far away.
      for (let f = 0; f < 240; f++) {
        await new Promise<void>((r) => g.requestAnimationFrame(() => r()));
        const now = performance.now();
        deltas.push(now - last);
        last = now;
        el.scrollTop = f < 180 ? el.scrollTop + 300 : Math.floor(Math.random() * max);
      }
      deltas.sort((a, b) => a - b);
      const q = (x: number) => Math.round(deltas[Math.min(deltas.length - 1, Math.floor(x * deltas.length))]! * 10) / 10;
      return { frames: deltas.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: Math.round(deltas[deltas.length - 1]! * 10) / 10, over50ms: deltas.filter((d) => d > 50).length, rowsInDom: g.document.querySelectorAll('.scroller .tr').length };
    });
    metrics.history10kScroll = frames;
    await p.waitForTimeout(400);
    await shot(p, '22-history-10k-scrolled');
    expect(frames.rowsInDom).toBeLessThan(60);
    // The oldest experiment is the last row (newest first): reachable by scrolling to the end.
    const scrollTo = (end: 'top' | 'bottom') =>
      p.evaluate((to) => {
        const el = (globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number; scrollHeight: number } } }).document.querySelector('.scroller');
        el.scrollTop = to === 'top' ? 0 : el.scrollHeight;
      }, end);
    await scrollTo('bottom');
    await p.getByText('Experiment 00000 distill').waitFor();
    expect(await p.locator('.scroller .tr').count()).toBeLessThan(60);
    await scrollTo('top');
    await p.getByText('Experiment 09999 distill').waitFor();
    expect(await p.getByText('Experiment 00000 distill').count()).toBe(0);
    // Sorting by name brings the oldest name to the top.
    const t1 = Date.now();
    await p.getByRole('button', { name: /^Name/ }).click();
    await p.getByText('Experiment 00000 distill').waitFor();
    metrics.history10kSortMs = Date.now() - t1;
  });
});
