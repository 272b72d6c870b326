// The probe side of the job worker's process (worker-entry.ts): one request in, one answer out,
// then exit. Reusing that entry means the built app needs no extra bundle.
import { injectProbeFault } from './probe-faults.js';
import { PROBE_TASKS, type ProbeName, type ProbeParams } from './probe-tasks.js';

export interface ProbeRequest<P extends ProbeName = ProbeName> {
  type: 'probe';
  probe: P;
  params: ProbeParams<P>;
}
export type ProbeReply = { type: 'probe-result'; result: unknown } | { type: 'probe-error'; message: string };

export function isProbeRequest(msg: unknown): msg is ProbeRequest {
  const m = msg as Partial<ProbeRequest> | null;
  return typeof m === 'object' && m !== null && m.type === 'probe' && typeof m.probe === 'string' && Object.hasOwn(PROBE_TASKS, m.probe);
}

/** Runs the probe, sends its result or error, and ends the process. */
export async function serveProbe(req: ProbeRequest): Promise<void> {
  let reply: ProbeReply;
  try {
    injectProbeFault();
    const task = PROBE_TASKS[req.probe] as (p: unknown) => Promise<unknown>;
    reply = { type: 'probe-result', result: await task(req.params) };
  } catch (err) {
    reply = { type: 'probe-error', message: (err instanceof Error ? err.message : String(err)).slice(0, 4000) };
  }
  await new Promise<void>((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(reply, undefined, {}, () => resolve());
  });
  process.exit(0);
}
