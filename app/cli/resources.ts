// Where the bundled samples are: next to the sources in development, in the app's resources
// folder when packaged (DISTILLERY_RESOURCES overrides both).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function resourcesDir(): string {
  if (process.env.DISTILLERY_RESOURCES) return resolve(process.env.DISTILLERY_RESOURCES);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'resources', 'sample-data'))) return join(dir, 'resources');
    dir = dirname(dir);
  }
  return resolve('resources');
}
