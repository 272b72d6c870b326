// Transports: the HTTP envelope and errors, IPC error cleaning, the fake Api's jobs and events,
// and start-up choice of transport.
import { describe, expect, it } from 'vitest';
import { createFakeApi } from '../../renderer/src/lib/transport/fake.js';
import { createHttpTransport } from '../../renderer/src/lib/transport/http.js';
import { chooseKind } from '../../renderer/src/lib/transport/index.js';
import { createIpcTransport } from '../../renderer/src/lib/transport/ipc.js';
import { apiOf, TransportError } from '../../renderer/src/lib/transport/types.js';

describe('http transport', () => {
  it('posts {params} to /api/<method> and unwraps {ok, result}', async () => {
    const seen: { url: string; body: unknown }[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      seen.push({ url, body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify({ ok: true, result: { rows: [], total: 0 } }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const api = apiOf(createHttpTransport({ base: 'http://h', fetch, eventSource: null }));
    expect(await api.listExperiments({ limit: 5 })).toEqual({ rows: [], total: 0 });
    expect(seen[0]).toEqual({ url: 'http://h/api/listExperiments', body: { params: { limit: 5 } } });
  });
  it('turns {ok:false} and network failures into TransportError with a code', async () => {
    const bad = (async () => new Response(JSON.stringify({ ok: false, error: { message: 'No experiment exp_x.', code: 'NOT_FOUND' } }), { status: 404 })) as unknown as typeof fetch;
    const api = apiOf(createHttpTransport({ fetch: bad, eventSource: null }));
    await expect(api.getExperiment({ id: 'exp_x' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No experiment exp_x.' });
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const err = await apiOf(createHttpTransport({ fetch: down, eventSource: null })).appInfo({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('NETWORK');
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
