#!/usr/bin/env node
// Runs the TypeScript CLI through tsx in development; a packaged build ships dist/cli.mjs.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli.mjs');
if (existsSync(built)) {
  const { main } = await import(pathToFileURL(built).href);
  process.exit(await main(process.argv.slice(2)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import(pathToFileURL(join(root, 'app', 'cli', 'main.ts')).href);
  process.exit(await main(process.argv.slice(2)));
}
