// Four jobs at once (distill, quantize, benchmark) plus a UI client on the browser-mode server,
// for a few seconds (small jobs): every job finishes, the client sees every job end, no API call fails.
// The 10-minute run with memory figures is `npx tsx bench/load.ts` (docs/RELIABILITY.md).
import { describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load-run.js';

describe('load: 4 jobs and a streaming UI client', () => {
  it('finishes every job and delivers every event through the WebSocket', async () => {
    const r = await runLoad({ minutes: 0.1, parallel: 4, warmupSeconds: 0, sampleMs: 2_000, light: true, idleSeconds: 1 });
    const total = Object.values(r.jobsFinished).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(Object.keys(r.jobsFinished).every((k) => k.endsWith(':succeeded')), JSON.stringify(r.jobsFinished)).toBe(true);
    for (const kind of ['distill', 'quantize', 'bench']) expect(r.jobsFinished[`${kind}:succeeded`]).toBeGreaterThan(0);
    expect(r.events['job:finished']).toBe(total);
    expect(r.events['job:progress']).toBeGreaterThan(total);
    expect(r.experimentsInHistory).toBe(total);
    expect(r.api.errors).toBe(0);
    expect(r.subscribersAfter).toBe(r.subscribersBefore);
    expect(r.afterLoad.rssMb).toBeGreaterThan(0);
  }, 240_000);
});
