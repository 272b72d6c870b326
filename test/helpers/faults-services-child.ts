// A services process for the fault-injection tests: reads one job request per stdin line
// ({"kind":"distill"|"quantize"|"bench","config":{...}}), starts it through createServices and
// prints {"started":{jobId,experimentId,pid}} as soon as the job's process exists, then
// {"finished":{...}} when it ends. It never exits by itself: the test kills it (or the job).
import { createInterface } from 'node:readline';
import { createServices } from '../../app/services/index.js';
import type { StartedJob } from '../../app/contract/api.js';

const [dataDir] = process.argv.slice(2);
const services = createServices({ dataDir: dataDir!, killAfterMs: 2000 });
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
services.events.subscribe((e) => {
  if (e.name === 'job:finished') out({ finished: e.payload });
});
createInterface({ input: process.stdin }).on('line', (line) => {
  void (async () => {
    try {
      const { kind, config } = JSON.parse(line) as { kind: string; config: never };
      let started: StartedJob;
      if (kind === 'distill') started = await services.api.startDistill(config);
      else if (kind === 'quantize') started = await services.api.startQuantize(config);
      else started = await services.api.startBenchmark(config);
      // The job manager forks in a microtask; wait until the child exists.
      for (let i = 0; i < 200 && services.jobs.pidOf(started.jobId) === undefined && services.jobs.get(started.jobId)?.status !== 'failed'; i++) {
        await new Promise((r) => setImmediate(r));
      }
      out({ started: { ...started, pid: services.jobs.pidOf(started.jobId) ?? null } });
    } catch (err) {
      out({ startError: (err as Error).message });
    }
  })();
});
out({ ready: process.pid });
setInterval(() => undefined, 1000);
