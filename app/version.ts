// Distillery's own version, read from the package.json above this file (works from the sources
// and from the bundles in dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function distilleryVersion(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'distillery' && pkg.version) return (cached = pkg.version);
      } catch {
        /* keep looking */
      }
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}
