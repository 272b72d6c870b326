// Transports: the HTTP envelope and errors, IPC error cleaning, the fake Api's jobs and events,
// and start-up choice of transport.
import { describe, expect, it } from 'vitest';
import { MENU_SCREENS } from '../../app/contract/menu.js';
import { ensemblesOf } from '../../app/contract/summaries.js';
import { validateCall } from '../../app/contract/schemas.js';
import { importSummary, runMenuCommand, type MenuTarget } from '../../renderer/src/lib/menu.js';
import { distillConfig, proposePlan } from '../../renderer/src/lib/plan.js';
import { hrefOf, parseHash, type Route } from '../../renderer/src/lib/routes.js';
import { recommendTeacher, scoresFromBenchmarks, scoringConfig, type Candidate } from '../../renderer/src/lib/teachers.js';
import { createFakeApi } from '../../renderer/src/lib/transport/fake.js';
import { createHttpTransport, eventSocketUrl } from '../../renderer/src/lib/transport/http.js';
import { chooseKind } from '../../renderer/src/lib/transport/index.js';
import { createIpcTransport } from '../../renderer/src/lib/transport/ipc.js';
import { apiOf, TransportError, type NativeHelpers } from '../../renderer/src/lib/transport/types.js';

describe('http transport', () => {
  it('posts {params} to /api/<method> and unwraps {ok, result}', async () => {
    const seen: { url: string; body: unknown }[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      seen.push({ url, body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify({ ok: true, result: { rows: [], total: 0 } }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const api = apiOf(createHttpTransport({ base: 'http://h', fetch, webSocket: null }));
    expect(await api.listExperiments({ limit: 5 })).toEqual({ rows: [], total: 0 });
    expect(seen[0]).toEqual({ url: 'http://h/api/listExperiments', body: { params: { limit: 5 } } });
  });
  it('turns {ok:false} and network failures into TransportError with a code', async () => {
    const bad = (async () => new Response(JSON.stringify({ ok: false, error: { message: 'No experiment exp_x.', code: 'NOT_FOUND' } }), { status: 404 })) as unknown as typeof fetch;
    const api = apiOf(createHttpTransport({ fetch: bad, webSocket: null }));
    await expect(api.getExperiment({ id: 'exp_x' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No experiment exp_x.' });
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const err = await apiOf(createHttpTransport({ fetch: down, webSocket: null })).appInfo({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('NETWORK');
  });
  it('opens the event socket on the server of the page, ws:// or wss://', () => {
    expect(eventSocketUrl('', 'http://127.0.0.1:4123/#/results/x')).toBe('ws://127.0.0.1:4123/api/ws');
    expect(eventSocketUrl('', 'https://review.local/runs')).toBe('wss://review.local/api/ws');
    expect(eventSocketUrl('http://[::1]:9')).toBe('ws://[::1]:9/api/ws');
  });
});

describe('ipc transport', () => {
  it('calls the preload and cleans Electron error prefixes', async () => {
    const calls: unknown[] = [];
    const t = createIpcTransport({
      invoke: async (method, params) => {
        calls.push([method, params]);
        if (method === 'getExperiment') throw Object.assign(new Error("Error invoking remote method 'api:getExperiment': Error: No experiment exp_x."), { code: 'NOT_FOUND' });
        return { ok: true, result: 42 };
      },
      on: () => () => {},
    });
    expect(await t.invoke('appInfo', {})).toBe(42);
    await expect(t.invoke('getExperiment', { id: 'exp_x' })).rejects.toMatchObject({ message: 'No experiment exp_x.', code: 'NOT_FOUND' });
    expect(calls[0]).toEqual(['appInfo', {}]);
  });
  it('offers native file dialogs and dropped-file paths only when the preload has them', async () => {
    const plain = createIpcTransport({ invoke: async () => ({ ok: true, result: null }), on: () => () => {} });
    expect(plain.native).toBeUndefined();
    const asked: unknown[] = [];
    const t = createIpcTransport({
      invoke: async () => ({ ok: true, result: null }),
      on: () => () => {},
      pickPath: async (o) => (asked.push(o), o.kind === 'model' ? '/m/a.onnx' : null),
      pickSavePath: async (o) => (asked.push(o), ''),
      pathForFile: () => {
        throw new Error('not a real file');
      },
    });
    expect(await t.native!.pickPath('model')).toBe('/m/a.onnx');
    expect(await t.native!.pickPath('bundle')).toBeNull();
    expect(await t.native!.pickSavePath('report', 'r.html')).toBeNull();
    expect(asked).toEqual([{ kind: 'model' }, { kind: 'bundle' }, { kind: 'report', defaultName: 'r.html' }]);
    expect(t.native!.pathForFile({} as File)).toBe('');
  });
  it('is chosen when window.api exists, unless VITE_TARGET says otherwise', () => {
    expect(chooseKind(undefined, { api: { invoke() {}, on() {} } })).toBe('ipc');
    expect(chooseKind(undefined, {})).toBe('http');
    expect(chooseKind('fake', {})).toBe('fake');
  });
});

describe('fake api', () => {
  it('runs a job with progress, epochs and a finish event', async () => {
    const { api, transport } = createFakeApi({ stepMs: 2, seed: 0 });
    const seen: string[] = [];
    transport.on('job:epoch', (e) => seen.push(`epoch ${e.epoch}`));
    const finished = new Promise((r) => transport.on('job:finished', r));
    const started = await api.startDistill({ teachers: ['/t.onnx'], data: '/d', epochs: 2 });
    await finished;
    expect(seen).toEqual(['epoch 1', 'epoch 2']);
    const d = await api.getExperiment({ id: started.experimentId });
    expect(d.experiment.status).toBe('succeeded');
    expect(d.metrics.find((m) => m.name === 'loss')!.values).toHaveLength(2);
    const list = await api.listExperiments({});
    expect(list.total).toBe(1);
    transport.close();
  });
  it('teacher wizard: scores three candidates, recommends the ensemble, hands its members to distillation', async () => {
    const { api, transport } = createFakeApi({ stepMs: 1, seed: 0 });
    const paths = ['/m/a.onnx', '/m/b.onnx', '/m/c.onnx'];
    let candidates: Candidate[] = await Promise.all(paths.map(async (p) => ({ path: p, name: p.slice(3), inspection: await api.inspectModel({ path: p }), error: null, score: null })));
    const config = scoringConfig(paths, '/samples/fashion-mnist-small');
    validateCall('startBenchmark', config);
    const finished = new Promise((r) => transport.on('job:finished', r));
    const started = await api.startBenchmark(config);
    await finished;
    const detail = await api.getExperiment({ id: started.experimentId });
    candidates = scoresFromBenchmarks(candidates, detail.benchmarks);
    const ensembles = ensemblesOf(detail.experiment.summary);
    // The fake scores c > b > a; the pair (c, b) is 2 points above c, the triple only 0.2 above the pair.
    expect(ensembles.map((e) => e.members)).toEqual([['/m/c.onnx', '/m/b.onnx'], ['/m/c.onnx', '/m/b.onnx', '/m/a.onnx']]);
    const rec = recommendTeacher(candidates, [{ device: 'cpu', available: true }], ensembles);
    expect(rec.ensemble?.members.map((m) => m.path)).toEqual(['/m/c.onnx', '/m/b.onnx']);
    expect(rec.sentence).toMatch(/^Use the ensemble of c.onnx and b.onnx: 92.0% vs 90.0% for c.onnx alone on 500 items\./);
    // "Use this ensemble": every member becomes a teacher of the distillation.
    const plan = proposePlan({ path: paths[2]!, parameters: 420_000, inputShape: [1, 28, 28], classes: 10 }, { size: 'quarter', speed: 'any', maxDropPoints: 1 });
    const dc = distillConfig(rec.ensemble!.members.map((m) => m.path), '/samples/fashion-mnist-small', { ...plan, limit: 2000 });
    expect(validateCall('startDistill', dc).teachers).toEqual(['/m/c.onnx', '/m/b.onnx']);
    transport.close();
  });
  it('compares diff-only against the pinned baseline', async () => {
    const { api, transport } = createFakeApi({ seed: 3 });
    const { rows } = await api.listExperiments({ kinds: ['distill'] });
    const other = (await api.listExperiments({})).rows.find((e) => e.id !== rows[0]!.id)!;
    await api.setPinned({ id: other.id, pinned: true });
    const c = await api.compareExperiments({ ids: [rows[0]!.id, other.id] });
    expect(c.baseline).toBe(other.id);
    expect(c.columns[0]!.id).toBe(other.id);
    expect(c.rows.every((r) => r.differs)).toBe(true);
    transport.close();
  });
});

describe('native menu commands in the page', () => {
  function target(native: NativeHelpers | null, api = createFakeApi({ seed: 0 }).api) {
    const seen = { routes: [] as Route[], toasts: [] as { kind: string; text: string }[], changed: 0 };
    const t: MenuTarget = { native, api, go: (r) => void seen.routes.push(r), toast: (kind, text) => void seen.toasts.push({ kind, text }), changed: () => void seen.changed++ };
    return { t, seen };
  }
  const picker = (answers: Record<string, string | null>): NativeHelpers & { asked: string[] } => {
    const asked: string[] = [];
    return { asked, pickPath: async (kind) => (asked.push(kind), answers[kind] ?? null), pickSavePath: async () => null, pathForFile: () => '' };
  };

  it('opens each View screen at a route the address bar can hold', async () => {
    const { t, seen } = target(null);
    for (const screen of MENU_SCREENS) await runMenuCommand({ command: 'navigate', screen }, t);
    expect(seen.routes.map((r) => r.name)).toEqual(['home', 'teacher', 'history', 'compare', 'inspect', 'settings']);
    for (const r of seen.routes) expect(parseHash(hrefOf(r))).toEqual(r);
  });

  it('picks with the right dialog, then opens the screen that uses the file', async () => {
    const native = picker({ model: '/m/a.onnx', 'dataset-folder': '/d/images', 'dataset-file': '/d/iris.csv', bundle: '/b/shared.distillery' });
    const { t, seen } = target(native);
    for (const command of ['open-model', 'open-dataset-folder', 'open-dataset-file', 'import-experiments'] as const) await runMenuCommand({ command }, t);
    expect(native.asked).toEqual(['model', 'dataset-folder', 'dataset-file', 'bundle']);
    expect(seen.routes).toEqual([{ name: 'inspect', path: '/m/a.onnx' }, { name: 'compress', data: '/d/images' }, { name: 'compress', data: '/d/iris.csv' }, { name: 'history' }]);
    expect(seen.toasts).toEqual([{ kind: 'good', text: 'Imported 0 experiments.' }]);
    expect(seen.changed).toBe(1);
  });

  it('does nothing when the dialog is cancelled or the payload is not a command; says so when the dialog fails', async () => {
    const { t, seen } = target(picker({}));
    for (const command of ['open-model', 'open-dataset-folder', 'import-experiments'] as const) await runMenuCommand({ command }, t);
    for (const bad of [null, 'open-model', { command: 'open-model', path: '/etc/passwd' }, { command: 'navigate', screen: 'run' }]) await runMenuCommand(bad, t);
    expect(seen.routes).toEqual([]);
    expect(seen.toasts).toEqual([]);
    const broken = target({ pickPath: async () => Promise.reject(new Error('Error: dialog crashed\n    at x (main.ts:1:1)')), pickSavePath: async () => null, pathForFile: () => '' });
    await runMenuCommand({ command: 'open-model' }, broken.t);
    expect(broken.seen.toasts).toEqual([{ kind: 'bad', text: 'The file dialog did not open: Dialog crashed.' }]);
  });

  it('without native dialogs, opens the screen whose path field takes the file', async () => {
    const { t, seen } = target(null);
    for (const command of ['open-model', 'open-dataset-file', 'import-experiments'] as const) await runMenuCommand({ command }, t);
    expect(seen.routes).toEqual([{ name: 'inspect', path: null }, { name: 'compress' }, { name: 'history' }]);
  });

  it('words an import like the History dialog', () => {
    expect(importSummary({ imported: ['exp_a', 'exp_b'], skipped: [{ id: 'exp_c', reason: 'exists' }], artifacts: 2, warnings: ['exp_b was queued when exported; imported as interrupted.'] })).toBe(
      'Imported 2 experiments, skipped 1 already here. exp_b was queued when exported; imported as interrupted.',
    );
  });
});
