// inspectModel and detectDevices open ONNX Runtime in a short-lived child process (the job
// worker's entry), never in the services process: real children, real ORT, and the test-only
// fault hook DISTILLERY_FAULT_PROBE=crash|hang read in the child.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ModelInspection } from '../../app/contract/api.js';
import { createServices, type Services } from '../../app/services/index.js';
import { ROOT, tempDir } from '../helpers/services-fixtures.js';

const TEACHER = join(ROOT, 'resources', 'sample-teacher', 'fashion-cnn.onnx');
const HANG_MS = 3000;

/** Live child processes of this process running the job worker's entry (Linux /proc). */
function workerChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('worker-entry')) out.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

async function noWorkerChildrenLeft(): Promise<number[]> {
  for (let i = 0; i < 50 && workerChildren().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return workerChildren();
}

const ortLoadedHere = () => readFileSync('/proc/self/maps', 'utf8').includes('onnxruntime');

describe.runIf(process.platform === 'linux')('services: ONNX Runtime probes in a child process', () => {
  const tmp = tempDir('probes');
  let s: Services;

  beforeAll(() => {
    s = createServices({ dataDir: tmp.dir, probes: { timeoutMs: { inspectModel: HANG_MS, detectDevices: HANG_MS } } });
  });
  afterEach(() => {
    delete process.env.DISTILLERY_FAULT_PROBE;
  });
  afterAll(async () => {
    await s?.close();
    tmp.cleanup();
  });

  // The history keeps working (read and write) after a probe's process died.
  async function historyStillWorks(): Promise<void> {
    const e = s.store.experiments.create({ kind: 'bench', name: `after a probe fault ${Date.now()}`, config: {} });
    await s.api.addNote({ id: e.id, body: 'still here' });
    expect((await s.api.getExperiment({ id: e.id })).notes.map((n) => n.body)).toEqual(['still here']);
    expect((await s.api.appInfo({})).readOnly).toBe(false);
  }

  it('a crash while opening a model is one clear error; the next inspection works', async () => {
    process.env.DISTILLERY_FAULT_PROBE = 'crash';
    const err = await s.api.inspectModel({ path: TEACHER }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FAILED' });
    expect((err as Error).message).toBe(
      'ONNX Runtime crashed while opening fashion-cnn.onnx (signal SIGSEGV). The file may be corrupt or use an operator this version cannot run. Nothing else was affected.',
    );
    delete process.env.DISTILLERY_FAULT_PROBE;
    const m = await s.api.inspectModel({ path: TEACHER });
    expect(m.parameters).toBe(824458);
    expect(m.runError).toBeNull();
    await historyStillWorks();
    expect(await noWorkerChildrenLeft()).toEqual([]);
  });

  it('a hang is killed at the timeout and reported', async () => {
    process.env.DISTILLERY_FAULT_PROBE = 'hang';
    const t0 = Date.now();
    const pending = s.api.inspectModel({ path: TEACHER }).catch((e: unknown) => e);
    // The child exists and is blocked while the services answer other calls.
    await new Promise((r) => setTimeout(r, 500));
    expect(workerChildren()).toHaveLength(1);
    expect((await s.api.listExperiments({})).total).toBeGreaterThanOrEqual(0);
    const err = await pending;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(HANG_MS - 50);
    expect((err as Error).message).toBe(
      'ONNX Runtime did not finish opening fashion-cnn.onnx within 3 s and was stopped. The file may be too large for this machine, or make ONNX Runtime hang. Nothing else was affected.',
    );
    expect(await noWorkerChildrenLeft()).toEqual([]);
    delete process.env.DISTILLERY_FAULT_PROBE;
    expect((await s.api.inspectModel({ path: TEACHER })).nodes).toBeGreaterThan(0);
    await historyStillWorks();
  });

  it('a bad fault setting is refused by name, not ignored', async () => {
    process.env.DISTILLERY_FAULT_PROBE = 'segfault';
    await expect(s.api.inspectModel({ path: TEACHER })).rejects.toThrow(/DISTILLERY_FAULT_PROBE must be crash or hang \(got 'segfault'\)/);
  });

  it('device detection: cached after success, failures reported and not cached', async () => {
    const first = await s.api.detectDevices({});
    expect(first.find((d) => d.device === 'cpu')).toMatchObject({ available: true });
    expect(first.map((d) => d.device)).toEqual(['cpu', 'webgpu', 'cuda', 'dml', 'coreml']);
    // Cached: no process is started, so the armed fault does not fire.
    process.env.DISTILLERY_FAULT_PROBE = 'crash';
    expect(await s.api.detectDevices({})).toEqual(first);
    await expect(s.api.detectDevices({ refresh: true })).rejects.toThrow(
      'ONNX Runtime crashed while probing the devices (signal SIGSEGV). A GPU driver may be broken; jobs set to the CPU device do not touch it. Nothing else was affected.',
    );
    process.env.DISTILLERY_FAULT_PROBE = 'hang';
    await expect(s.api.detectDevices({})).rejects.toThrow(/did not finish probing the devices within 3 s and was stopped\. A GPU driver may be hanging/);
    delete process.env.DISTILLERY_FAULT_PROBE;
    const again = await s.api.detectDevices({});
    expect(again.map((d) => [d.device, d.available])).toEqual(first.map((d) => [d.device, d.available]));
    expect(await noWorkerChildrenLeft()).toEqual([]);
  });

  it('closing the services kills a probe still running', async () => {
    const other = createServices({ dataDir: join(tmp.dir, 'other') });
    process.env.DISTILLERY_FAULT_PROBE = 'hang';
    const pending = other.api.inspectModel({ path: TEACHER }).catch((e: unknown) => e);
    for (let i = 0; i < 100 && workerChildren().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(workerChildren()).toHaveLength(1);
    await other.close();
    expect(await pending).toMatchObject({ code: 'INVALID_STATE', message: 'The app is shutting down.' });
    expect(await noWorkerChildrenLeft()).toEqual([]);
  });

  it('a helper process that cannot start says so, not that ONNX Runtime crashed', async () => {
    const broken = createServices({ dataDir: join(tmp.dir, 'broken'), probes: { workerEntry: join(tmp.dir, 'no-such-entry.js') } });
    try {
      await expect(broken.api.inspectModel({ path: TEACHER })).rejects.toThrow(
        /^The helper process for ONNX Runtime could not start \(exit code 1\)\. Last message: Error: Cannot find module '.*no-such-entry\.js'$/,
      );
    } finally {
      await broken.close();
    }
  });

  it('returns the same summary as inspecting in-process, and ORT never loads in the services process', async () => {
    const viaChild = await Promise.all([1, 2, 3].map(() => s.api.inspectModel({ path: TEACHER }))); // 3 at once, 2 processes at a time
    expect(viaChild[1]).toEqual(viaChild[0]);
    expect(viaChild[2]).toEqual(viaChild[0]);
    expect(ortLoadedHere()).toBe(false);

    const { inspectFile } = await import('../../app/engine/onnx/inspect.js');
    const { model, summary } = await inspectFile(TEACHER);
    expect(ortLoadedHere()).toBe(true); // the check above can fail
    const m: ModelInspection = viaChild[0]!;
    const fields = ['irVersion', 'opsetImports', 'producer', 'inputs', 'outputs', 'parameters', 'sizeBytes', 'ops', 'flops', 'unsupportedOps', 'metadata', 'nodes', 'initializers', 'externalData', 'runError'] as const;
    for (const f of fields) expect(m[f], f).toEqual(summary[f]);
    expect(m.path).toBe(TEACHER);
    expect(m.graph).toEqual({
      nodes: model.graph.nodes.map((n) => ({ name: n.name, opType: n.opType, inputs: [...n.inputs], outputs: [...n.outputs] })),
      truncated: false,
    });
    expect(m.flops).toBeGreaterThan(0);
  });
});
