// Load: N jobs at once (distill, quantize, benchmark, kept topped up) plus a UI client on the
// browser-mode server that streams every event and polls the history, for M minutes.
// Prints: jobs finished per kind and status, API latency (p50/p95/max), the longest silence of the
// event stream while jobs ran, and the server process's memory over time (its own process; heap
// after a forced GC and RSS: first minute against last minute, and the least-squares slope).
// Usage: npx tsx bench/load.ts [--minutes 10] [--jobs 4] [--json out.json]
import { writeFileSync } from 'node:fs';
import { runLoad } from './load-run.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const jsonOut = process.argv.includes('--json') ? arg('json', '') : '';
const summary = await runLoad({ minutes: Number(arg('minutes', '10')), parallel: Number(arg('jobs', '4')) });
const { samples: _samples, ...printed } = summary;
console.log(JSON.stringify(printed, null, 2));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(summary, null, 2));
