// The server side of the load run (bench/load-run.ts), in its own process so that its memory is
// measured without the load client's: services + browser-mode server on 127.0.0.1. Tells the
// parent its URL and token, answers {type:'memory'} with heap (after a GC) and RSS, and
// {type:'stop'} by closing everything.
import { join } from 'node:path';
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
    process.send!({ type: 'memory', heapMb: u.heapUsed / 2 ** 20, rssMb: u.rss / 2 ** 20, subscribers: services.events.subscribers, gc: !!gc });
  } else if (m.type === 'stop') {
    await server.close();
    await services.close();
    process.send!({ type: 'stopped' }, () => process.exit(0));
  }
});
process.send!({ type: 'ready', url: server.url, token: server.token, subscribers: services.events.subscribers });
