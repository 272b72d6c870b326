import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  createSession,
  detectDevices,
  explainFailure,
  int64Tensor,
  probeModelBytes,
  run,
  runtimeInfo,
  toFloat32,
  toOrtTensor,
} from '../../app/engine/runtime/index.js';
import { TEST_ADD_MODEL, matmulReluSoftmaxModel, maxDiff, randomFloats } from './runtime-fixtures.js';

const SHAPE = [3, 4, 5];
const x = randomFloats(60, 1);
const y = randomFloats(60, 2);
const feeds = () => ({ x: toOrtTensor(x, SHAPE), y: toOrtTensor(y, SHAPE) });

function expectSum(out: Record<string, ort.Tensor>): void {
  const sum = toFloat32(out.sum!);
  expect(out.sum!.dims).toEqual(SHAPE);
  for (let i = 0; i < 60; i++) expect(sum[i]).toBeCloseTo(x[i]! + y[i]!, 6);
}

describe('createSession on the CPU', () => {
  it('opens a model from a path and from bytes, runs it, and applies the defaults', async () => {
    const fromPath = await createSession(TEST_ADD_MODEL, { device: 'cpu', threads: 1 });
    expect(fromPath.device).toBe('cpu');
    expect(fromPath.requested).toBe('cpu');
    expect(fromPath.fallbackReason).toBeUndefined();
    expect(fromPath.threads).toBe(1);
    expect(fromPath.graphOptimization).toBe('all');
    expect(fromPath.sessionConfig['session.intra_op.allow_spinning']).toBe('0');
    expect(fromPath.session.inputNames).toEqual(['x', 'y']);
    expectSum(await run(fromPath.session, feeds()));

    const fromBytes = await createSession(new Uint8Array(readFileSync(TEST_ADD_MODEL)), {
      device: 'cpu',
      spinning: true,
      graphOptimization: 'disabled',
      disabledOptimizers: ['QDQPropagationTransformer', 'ConstantFolding'],
    });
    expect(fromBytes.sessionConfig['session.intra_op.allow_spinning']).toBe('1');
    expect(fromBytes.sessionConfig['optimization.disable_specified_optimizers']).toBe(
      'QDQPropagationTransformer,ConstantFolding',
    );
    expectSum(await run(fromBytes.session, feeds()));
    await fromPath.session.release();
    await fromBytes.session.release();
  });

  it('passes sessionConfig entries to ORT (an ORT-format requirement makes an ONNX file fail)', async () => {
    await expect(
      createSession(TEST_ADD_MODEL, { device: 'cpu', sessionConfig: { 'session.load_model_format': 'ORT' } }),
    ).rejects.toThrow();
  });

  it('throws the CPU error for a model nobody can open, instead of falling back', async () => {
    const garbage = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(createSession(garbage, { device: 'webgpu' })).rejects.toThrow();
    await expect(createSession(garbage, { device: 'auto' })).rejects.toThrow();
  });

  it('rejects bad options', async () => {
    await expect(createSession(TEST_ADD_MODEL, { threads: 0 })).rejects.toThrow(/threads/);
    // @ts-expect-error: not a device
    await expect(createSession(TEST_ADD_MODEL, { device: 'tpu' })).rejects.toThrow(/unknown device/);
  });

  it('runs a hand-built MatMul/Relu/Softmax model with rows summing to one', async () => {
    const s = await createSession(matmulReluSoftmaxModel(4, 16, 8), { device: 'cpu', threads: 1 });
    const out = await run(s.session, { x: toOrtTensor(randomFloats(64, 3), [4, 16]) });
    const p = toFloat32(out.p!);
    const h = toFloat32(out.h!);
    expect(Math.min(...h)).toBeGreaterThanOrEqual(0);
    for (let r = 0; r < 4; r++) {
      expect(p.slice(r * 8, r * 8 + 8).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
    await s.session.release();
  });
});

describe('device choice and fallback', () => {
  it('detectDevices lists every device, cpu available, reasons for the others, cached', async () => {
    const devices = await detectDevices();
    expect(devices.map((d) => d.device)).toEqual(['cpu', 'webgpu', 'cuda', 'dml', 'coreml']);
    expect(devices[0]).toMatchObject({ device: 'cpu', available: true });
    for (const d of devices) {
      if (!d.available) expect(d.reason, d.device).toMatch(/\w{4,}/);
    }
    if (process.platform !== 'win32') expect(devices.find((d) => d.device === 'dml')?.available).toBe(false);
    if (process.platform !== 'darwin') expect(devices.find((d) => d.device === 'coreml')?.available).toBe(false);
    expect(await detectDevices()).toBe(devices);
  });

  it("'auto' picks an available device, runs correctly and says why faster ones were skipped", async () => {
    const devices = await detectDevices();
    const s = await createSession(TEST_ADD_MODEL, { device: 'auto', threads: 1 });
    expect(s.requested).toBe('auto');
    const chosen = devices.find((d) => d.device === s.device);
    expect(chosen?.available).toBe(true);
    expect(chosen?.software ?? false).toBe(false);
    expectSum(await run(s.session, feeds()));
    const order = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];
    for (const k of s.skipped) {
      expect(order.indexOf(k.device)).toBeLessThan(order.indexOf(s.device));
      expect(k.reason.length).toBeGreaterThan(10);
    }
    // Every faster device is either skipped with a reason or was chosen.
    for (const d of order.slice(0, order.indexOf(s.device))) {
      expect(s.skipped.map((k) => k.device)).toContain(d);
    }
    await s.session.release();
  });

  it('a provider that is not available falls back to the CPU with a plain reason, not a throw', async () => {
    const devices = await detectDevices();
    const unavailable = devices.filter((d) => !d.available).map((d) => d.device);
    expect(unavailable.length).toBeGreaterThan(0); // dml or coreml at least
    for (const device of unavailable) {
      const s = await createSession(TEST_ADD_MODEL, { device, threads: 1 });
      expect(s.device, device).toBe('cpu');
      expect(s.requested).toBe(device);
      expect(s.fallbackReason, device).toMatch(/; running on the CPU\.$/);
      expectSum(await run(s.session, feeds()));
      await s.session.release();
    }
    if (unavailable.includes('cuda')) {
      const s = await createSession(TEST_ADD_MODEL, { device: 'cuda' });
      expect(s.fallbackReason).toMatch(/^CUDA .*not (installed|available).*running on the CPU\.$/);
      await s.session.release();
    }
  });

  it('allowCpuFallback: false turns the fallback into an error with the same reason', async () => {
    const device = process.platform === 'win32' ? 'coreml' : 'dml';
    await expect(createSession(TEST_ADD_MODEL, { device, allowCpuFallback: false })).rejects.toThrow(
      process.platform === 'win32' ? /CoreML/ : /DirectML/,
    );
  });

  it('explains real ORT provider errors in plain words', async () => {
    let cudaError: unknown;
    try {
      const s = await ort.InferenceSession.create(probeModelBytes(), { executionProviders: ['cuda'], logSeverityLevel: 4 });
      await s.release(); // CUDA works here: nothing to explain
    } catch (e) {
      cudaError = e;
    }
    if (cudaError !== undefined) {
      expect(explainFailure('cuda', cudaError)).toMatch(/^CUDA /);
      expect(explainFailure('cuda', cudaError)).not.toMatch(/onnxruntime_src|\.cc:/);
    }
    expect(explainFailure('webgpu', new Error('webgpu_context.cc:136 ... was false. Failed to get a WebGPU adapter: No supported adapters'))).toBe(
      'WebGPU is not available on this machine (no GPU adapter found).',
    );
    expect(explainFailure('dml', new Error('no available backend found. ERR: [dml] backend not found.'))).toMatch(/DirectML is not part/);
    expect(
      explainFailure('webgpu', new Error('This session contains graph nodes that are assigned to the default CPU EP, but fallback to CPU EP has been explicitly disabled by the user.')),
    ).toMatch(/no WebGPU kernel/);
  });
});

describe('runtimeInfo', () => {
  it('reports the ORT version, backends, CPU, cores and OS', () => {
    const info = runtimeInfo();
    const pkg = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string };
    expect(info.onnxruntime.version).toBe(pkg.version);
    expect(info.distillery.version).toBe((createRequire(import.meta.url)("../../package.json") as { version: string }).version);
    expect(info.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.onnxruntime.backends.map((b) => b.name)).toContain('cpu');
    expect(info.cpu.model.length).toBeGreaterThan(0);
    expect(info.cpu.logicalCores).toBeGreaterThanOrEqual(1);
    expect(info.cpu.physicalCores).toBeGreaterThanOrEqual(1);
    expect(info.cpu.physicalCores).toBeLessThanOrEqual(info.cpu.logicalCores);
    expect(info.os.platform).toBe(process.platform);
    expect(info.memoryBytes).toBeGreaterThan(0);
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(info.cpu.flagsSource).toBe('/proc/cpuinfo');
      const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)![1]!.trim().split(/\s+/);
      expect(info.cpu.flags.avx2).toBe(flags.includes('avx2'));
      expect(info.cpu.flags.avx512).toBe(flags.includes('avx512f'));
      expect(info.cpu.flags.vnni).toBe(flags.includes('avx512_vnni') || flags.includes('avx_vnni'));
    }
    expect(runtimeInfo()).toBe(info);
  });
});

describe('tensor helpers', () => {
  it('checks shapes and maps typed arrays to ORT types', async () => {
    expect(() => toOrtTensor(new Float32Array(5), [2, 3])).toThrow(/5 elements.*needs 6/);
    expect(toOrtTensor(new Float32Array(6), [2, 3]).type).toBe('float32');
    expect(toOrtTensor([1, 2, 3], [3]).type).toBe('float32');
    expect(toOrtTensor([1n, 2n], [2]).type).toBe('int64');
    const idx = int64Tensor([3, 1, 2]);
    expect(idx.type).toBe('int64');
    expect(idx.dims).toEqual([3]);
    expect(Array.from(idx.data as BigInt64Array)).toEqual([3n, 1n, 2n]);
    expect(Array.from(toFloat32(idx))).toEqual([3, 1, 2]);

    const s = await createSession(TEST_ADD_MODEL, { device: 'cpu', threads: 1 });
    await expect(run(s.session, { x: toOrtTensor(x, SHAPE) })).rejects.toThrow(/missing input\(s\) y/);
    const onlySum = await run(s.session, feeds(), ['sum']);
    expect(Object.keys(onlySum)).toEqual(['sum']);
    await s.session.release();
  });

  it('maxDiff fixture catches differences and NaN', () => {
    expect(maxDiff([1, 2], [1, 2]).abs).toBe(0);
    expect(maxDiff([1, 2.5], [1, 2]).abs).toBe(0.5);
    expect(Number.isNaN(maxDiff([Number.NaN], [1]).abs)).toBe(true);
  });
});
