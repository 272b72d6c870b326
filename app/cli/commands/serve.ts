// `distillery serve`: the contract over HTTP + WebSocket on 127.0.0.1 for browser mode.
import { dirname, resolve } from 'node:path';
import type { RegisterCommand } from './index.js';
import { parseInteger } from '../parse.js';
import { info } from '../output.js';
import { createServices } from '../../services/index.js';
import { startServer } from '../../server/server.js';
import { defaultDataDir } from '../../store/index.js';

export const registerServe: RegisterCommand = (program) => {
  program
    .command('serve')
    .description('Serve the Distillery interface and API on this machine (browser mode)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', parseInteger, 0)
    .option('--read-only', 'refuse every change to the history')
    .option('--db <path>', 'experiment history database')
    .option('--data-dir <dir>', 'data folder (settings, models, checkpoints); default: next to --db, else the usual location')
    .option('--concurrency <n>', 'jobs at once (1 or 2)', parseInteger)
    .action(async (o: { host: string; port: number; readOnly?: boolean; db?: string; dataDir?: string; concurrency?: number }) => {
      const dataDir = resolve(o.dataDir ?? (o.db ? dirname(resolve(o.db)) : defaultDataDir()));
      const services = createServices({ dataDir, ...(o.db ? { dbPath: resolve(o.db) } : {}), readOnly: o.readOnly === true, ...(o.concurrency ? { concurrency: o.concurrency } : {}) });
      let server;
      try {
        server = await startServer({ services, host: o.host, port: o.port });
      } catch (err) {
        await services.close();
        throw err;
      }
      // The URL with its token is the only thing on stdout.
      process.stdout.write(`${server.loginUrl}\n`);
      info(`Distillery is serving ${services.readOnly ? 'read-only ' : ''}at ${server.url} (history: ${services.store.path}). Press Ctrl+C to stop.`);
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          info(`${signal}: stopping (cancelling jobs, closing the history)…`);
          void server.close().then(() => services.close()).then(done, done);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
};
