// The contract: schemas refuse bad params with messages naming the field; the folder stays
// importable by the renderer (no node: modules, no other app/ folders).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_METHODS, ContractError, EVENT_NAMES, MUTATING_METHODS, channelOf, ensemblesOf, schemas, validateCall } from '../../app/contract/index.js';
import { ROOT } from '../helpers/services-fixtures.js';

const ID = 'exp_0000000000000000000';

describe('contract', () => {
  it('has a schema and a channel for every method, and lists the events', () => {
    expect(Object.keys(schemas).sort()).toEqual([...API_METHODS].sort());
    expect(channelOf('listExperiments')).toBe('api:listExperiments');
    for (const m of MUTATING_METHODS) expect(API_METHODS).toContain(m);
    expect(EVENT_NAMES).toEqual(['job:progress', 'job:epoch', 'job:log', 'job:finished', 'experiments:changed', 'menu:command']);
  });

  it('accepts good params and treats missing params as {}', () => {
    expect(validateCall('listExperiments', undefined)).toEqual({});
    expect(validateCall('listExperiments', { kinds: ['distill'], sort: { metric: 'testAccuracy' }, limit: 10 })).toMatchObject({ limit: 10 });
    expect(validateCall('startDistill', { teachers: ['/m/t.onnx'], data: 'C:\\data\\x', student: 'cnn:8,16/32', epochs: 2 })).toMatchObject({ epochs: 2 });
    expect(validateCall('startDistill', { teachers: ['/t.onnx'], data: '/d', augment: 'shift', augmentViews: 8 })).toMatchObject({ augment: 'shift', augmentViews: 8 });
    expect(validateCall('compareExperiments', { ids: [ID, 'exp_1111111111111111111'] }).ids).toHaveLength(2);
    expect(validateCall('startQuantize', { model: '/m.onnx', method: 'int4', blockSize: 64, keepConvFloat: true })).toMatchObject({ keepConvFloat: true });
    expect(validateCall('startQuantize', { model: '/m.onnx', method: 'mixed', calib: '/d', objective: 'latency' })).toMatchObject({ objective: 'latency' });
  });

  const bad: [string, unknown, RegExp][] = [
    ['getExperiment', { id: 'nope' }, /getExperiment: 'id' is not an experiment id/],
    ['getExperiment', {}, /'id' is required/],
    ['getExperiment', { id: ID, extra: 1 }, /unknown field 'extra'/],
    ['startDistill', { teachers: ['t.onnx'], data: '/d' }, /'teachers.0' must be an absolute path/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d\u0000x' }, /'data' .*NUL/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d', epochs: 1.5 }, /'epochs' must be a whole number/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d', alpha: 2 }, /'alpha' must be at most 1/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d', normalize: { mean: 0, std: 0 } }, /'normalize.std' must be greater than 0/],
    ['startDistill', { teachers: [], data: '/d' }, /'teachers' needs at least one teacher/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d', student: 'resnet' }, /'student'/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d', augment: 'rotate' }, /'augment' must be one of none, shift, shift-flip/],
    ['startDistill', { teachers: ['/t.onnx'], data: '/d', augment: 'shift', augmentViews: 64 }, /'augmentViews' must be at most 32/],
    ['startQuantize', { model: '/m.onnx', method: 'int3' }, /'method' must be one of dynamic, static, int4, fp16/],
    ['startQuantize', { model: '/m.onnx', method: 'int4', keepConvFloat: 'yes' }, /'keepConvFloat' must be true or false/],
    ['startQuantize', { model: '/m.onnx', method: 'mixed', objective: 'fast' }, /'objective' must be one of size, latency/],
    ['addNote', { id: ID, body: 'x'.repeat(20_001) }, /'body' must be at most 20000/],
    ['addTag', { id: ID, tag: 'a,b' }, /'tag'/],
    ['compareExperiments', { ids: [ID] }, /'ids' needs at least 2/],
    ['updateSettings', { concurrency: 3 }, /'concurrency' must be at most 2/],
    ['listExperiments', [], /params must be an object/],
    ['inspectModel', { path: 'x'.repeat(5000) }, /'path' must be at most 4096/],
  ];
  it.each(bad)('%s refuses bad case %#', (method, params, message) => {
    let err: unknown;
    try {
      validateCall(method as never, params);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContractError);
    expect((err as ContractError).code).toBe('INVALID_PARAMS');
    expect((err as Error).message).toMatch(message);
  });

  it('imports nothing from node: or other app/ folders', () => {
    const dir = join(ROOT, 'app', 'contract');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/from\s+'([^']+)'/g)) {
        const spec = m[1]!;
        expect(spec.startsWith('./') || spec === 'valibot', `${f} imports ${spec}`).toBe(true);
      }
    }
  });

  it('takes ensembles as a benchmark flag and reads them back from a summary, dropping malformed ones', () => {
    expect(validateCall('startBenchmark', { models: ['/a.onnx', '/b.onnx'], data: '/d', ensembles: true })).toMatchObject({ ensembles: true });
    expect(() => validateCall('startBenchmark', { models: ['/a.onnx'], ensembles: 'yes' })).toThrow(/'ensembles' must be true or false/);
    const good = { members: ['/a.onnx', '/b.onnx'], accuracy: 0.93, samples: 500, gains: 9, losses: 2, latencyMs: 1.5, sizeBytes: 3e6 };
    const summary = { results: [], ensembles: [good, { ...good, accuracy: 1.5 }, { ...good, members: ['/a.onnx'] }, { ...good, gains: -1 }, 'x', null] };
    expect(ensemblesOf(summary)).toEqual([good]);
    expect(ensemblesOf(null)).toEqual([]);
    expect(ensemblesOf({ ensembles: 'no' })).toEqual([]);
  });
});
