/**
 * What running inspectModel / detectDevices in a child process costs (app/services/probes.ts),
 * against the same work in-process. Child figures come first, so this process has not loaded
 * ONNX Runtime yet when the in-process cold call is timed.
 *   - child (tsx):   the checkout (`npm run serve`, tests): worker-entry.ts through tsx
 *   - child (built): the desktop app: worker-entry.ts bundled like scripts/build.mjs does
 * Run: npx tsx bench/probe-overhead.ts [--runs N]
 */
import { build } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROBE_TASKS } from '../app/services/probe-tasks.js';
import { ProbeRunner } from '../app/services/probes.js';

const ROOT = resolve(import.meta.dirname, '..');
const MODEL = join(ROOT, 'resources', 'sample-teacher', 'fashion-cnn.onnx');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(fn: () => Promise<unknown>, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** The worker bundle as the built app has it (same esbuild options as scripts/build.mjs). */
async function buildWorker(): Promise<{ entry: string; cleanup: () => void }> {
  // Inside the project so that the external native modules resolve from node_modules.
  const dir = join(ROOT, '.cache', `bench-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  await build({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['electron', 'onnxruntime-node', 'better-sqlite3'],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    entryPoints: { 'worker-entry': join(ROOT, 'app', 'jobs', 'worker-entry.ts') },
    outdir: dir,
    logLevel: 'warning',
  });
  return { entry: join(dir, 'worker-entry.js'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const rows: [string, number[]][] = [];
const dev = new ProbeRunner({ concurrency: 1 });
rows.push(['inspectModel, child (tsx)', await time(() => dev.run('inspectModel', { path: MODEL }), RUNS)]);
rows.push(['detectDevices, child (tsx)', await time(() => dev.run('detectDevices', {}), RUNS)]);
const built = await buildWorker();
try {
  const runner = new ProbeRunner({ concurrency: 1, workerEntry: built.entry });
  rows.push(['inspectModel, child (built)', await time(() => runner.run('inspectModel', { path: MODEL }), RUNS)]);
  rows.push(['detectDevices, child (built)', await time(() => runner.run('detectDevices', {}), RUNS)]);
} finally {
  built.cleanup();
}
rows.push(['inspectModel, in-process, first call', await time(() => PROBE_TASKS.inspectModel({ path: MODEL }), 1)]);
rows.push(['inspectModel, in-process, warm', await time(() => PROBE_TASKS.inspectModel({ path: MODEL }), RUNS)]);
rows.push(['detectDevices, in-process, first call', await time(() => PROBE_TASKS.detectDevices({}), 1)]);

console.log(`model: resources/sample-teacher/fashion-cnn.onnx; median of ${RUNS} runs (first calls: 1 run), ms`);
for (const [what, ms] of rows) console.log(`${what.padEnd(40)} ${median(ms).toFixed(0).padStart(6)}   (min ${Math.min(...ms).toFixed(0)}, max ${Math.max(...ms).toFixed(0)})`);
