// A services process for the crash-recovery test: starts one distillation job, prints its ids
// after the first finished epoch, then waits to be killed (simulating a crash of the app).
import { createServices } from '../../app/services/index.js';

const [dataDir, configJson] = process.argv.slice(2);
const services = createServices({ dataDir: dataDir! });
const started = await services.api.startDistill(JSON.parse(configJson!));
services.events.subscribe((e) => {
  if (e.name === 'job:epoch' && e.payload.jobId === started.jobId) {
    process.stdout.write(`${JSON.stringify({ ...started, pid: services.jobs.pidOf(started.jobId) })}\n`);
  }
  if (e.name === 'job:finished') process.stdout.write(`${JSON.stringify({ finished: e.payload })}\n`);
});
setInterval(() => undefined, 1000);
