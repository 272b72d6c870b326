import { homedir } from 'node:os';
import { join } from 'node:path';

const APP_NAME = 'Distillery';

export interface PathEnv {
  readonly env?: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
  readonly home?: string;
}

/**
 * The folder Electron would use as `userData` for an app named "Distillery", computed without
 * Electron so the CLI, the server and the desktop app all find the same history.
 * DISTILLERY_HOME overrides it (tests, portable installs, several histories side by side).
 */
export function defaultDataDir(opts: PathEnv = {}): string {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const home = opts.home ?? homedir();
  if (env.DISTILLERY_HOME) return env.DISTILLERY_HOME;
  switch (platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', APP_NAME);
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), APP_NAME);
    default:
      return join(env.XDG_CONFIG_HOME || join(home, '.config'), APP_NAME);
  }
}

/** The history database inside a data folder. */
export function historyPath(dataDir: string = defaultDataDir()): string {
  return join(dataDir, 'history.sqlite');
}

/** Content-addressed artifacts live next to the database they belong to. */
export function artifactsDirFor(dataDir: string): string {
  return join(dataDir, 'artifacts');
}
