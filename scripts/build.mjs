// Builds what the desktop app and the packaged CLI run: one ESM bundle per entry (Electron
// main, job worker, benchmark worker, CLI) and the sandboxed preload as one CommonJS file.
// The renderer is built by Vite (npm run build:renderer). Native modules stay external.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const external = ['electron', 'onnxruntime-node', 'better-sqlite3'];
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, external, logLevel: 'warning' };
// ESM bundles that pull in CommonJS dependencies need a `require` of their own.
const banner = { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" };

rmSync('dist/main', { recursive: true, force: true });
await Promise.all([
  build({ ...common, format: 'esm', banner, entryPoints: { index: 'main/index.ts', 'worker-entry': 'app/jobs/worker-entry.ts', worker: 'app/engine/bench/worker.ts', 'grad-worker': 'app/engine/training/grad-worker.ts' }, outdir: 'dist/main', outExtension: { '.js': '.js' } }),
  build({ ...common, format: 'cjs', entryPoints: { preload: 'main/preload.ts' }, outdir: 'dist/main', outExtension: { '.js': '.cjs' } }),
  build({ ...common, format: 'esm', banner, entryPoints: { cli: 'app/cli/main.ts' }, outdir: 'dist/main', outExtension: { '.js': '.js' } }),
]);
console.log('built dist/main/{index.js,cli.js,preload.cjs,worker-entry.js,worker.js,grad-worker.js} and dist/main/cli.js');
