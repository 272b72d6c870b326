// The server side of the load run (bench/load-run.ts), in its own process so that its memory is
// measured without the load client's: services + browser-mode server on 127.0.0.1. Tells the
// parent its URL and token, answers {type:'memory'} with heap (after a GC) and RSS, and
// {type:'stop'} by closing everything.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { startServer } from '../app/server/server.js';
import { createServices } from '../app/services/index.js';

const [dataDir = '', parallel = '4'] = process.argv.slice(2);
const services = createServices({ dataDir: join(dataDir, 'data'), concurrency: Number(parallel) });
const server = await startServer({ services, port: 0, staticDir: join(dataDir, 'renderer') });
const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', async (m: { type: string }) => {
  if (m.type === 'memory') {
    gc?.();
    const u = process.memoryUsage();
    const mb = (bytes: number) => bytes / 2 ** 20;
    process.send!({
      type: 'memory',
      heapMb: mb(u.heapUsed),
      rssMb: mb(u.rss),
      heapTotalMb: mb(u.heapTotal),
      externalMb: mb(u.external),
      ...spaceSizes(),
      ...rssParts(),
      subscribers: services.events.subscribers,
      gc: !!gc,
    });
  } else if (m.type === 'stop') {
    await server.close();
    await services.close();
    process.send!({ type: 'stopped' }, () => process.exit(0));
  }
});
process.send!({ type: 'ready', url: server.url, token: server.token, subscribers: services.events.subscribers });

/** Anonymous (malloc, V8) and file-backed (code, mapped files) resident memory, from Linux. */
function rssParts(): { rssAnonMb?: number; rssFileMb?: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
    return { rssAnonMb: kb('RssAnon'), rssFileMb: kb('RssFile') };
  } catch {
    return {}; // not Linux
  }
}

/** Reserved size of V8's young generation (grows with the allocation rate, up to a cap) and old space. */
function spaceSizes(): { newSpaceMb: number; oldSpaceMb: number } {
  const size = (name: string) => (getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0) / 2 ** 20;
  return { newSpaceMb: size('new_space'), oldSpaceMb: size('old_space') };
}
