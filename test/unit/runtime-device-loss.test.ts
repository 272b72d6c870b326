// Telling a dead device apart from a bad model or input, and the fault-injection switch, on real
// CPU sessions. (The real GPU path is test/integration/ep-fallback.test.ts, on lavapipe.)
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { guardRuns, lostDeviceReason } from '../../app/engine/runtime/device-loss.js';
import { createSession, DeviceLostError, isDeviceFailure, probeModelBytes, runFailureReason } from '../../app/engine/runtime/index.js';

const RESHAPE = '/usr/share/libonnx-testdata/data/node/test_reshape_reduced_dims/model.onnx';
const probeFeeds = () => ({
  x: new ort.Tensor('float32', new Float32Array(60), [3, 4, 5]),
  y: new ort.Tensor('float32', new Float32Array(60), [3, 4, 5]),
});
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error);

afterEach(() => {
  delete process.env.DISTILLERY_FAULT_EP_LOST_AFTER;
  delete process.env.DISTILLERY_FAULT_EP_DEVICE;
});

describe('device failures', () => {
  it('does not take a bad input or a failing kernel for a dead device', async () => {
    const { session } = await createSession(RESHAPE, { device: 'cpu', threads: 1, logSeverityLevel: 4 });
    const kernel = await errorOf(session.run({ data: new ort.Tensor('float32', new Float32Array(24), [2, 3, 4]), shape: new ort.Tensor('int64', BigInt64Array.from([5n, 5n]), [2]) }));
    const rank = await errorOf(session.run({ data: new ort.Tensor('float32', new Float32Array(24), [24]), shape: new ort.Tensor('int64', BigInt64Array.from([24n]), [1]) }));
    await session.release();
    expect(kernel?.message).toMatch(/^Non-zero status code returned while running Reshape node/);
    expect(isDeviceFailure(kernel)).toBe(false);
    expect(runFailureReason(kernel)).toBe('The input tensor cannot be reshaped to the requested shape. Input shape:{2,3,4}, requested shape:{5,5}');
    expect(rank?.message).toMatch(/Invalid rank for input: data/);
    expect(isDeviceFailure(rank)).toBe(false);
  });

  it('recognises what ONNX Runtime says when a GPU dies', () => {
    for (const message of [
      "Non-zero status code returned while running MatMul node. Name:'m' Status Message: WebGPU device lost (1): lost",
      'Failed to wait for the operation:3',
      'CUDA failure 999: unknown error ; GPU=0 ; hostname=h ; file=cuda_call.cc ; line=1 ; expr=cudaStreamSynchronize(stream);',
      'CUDA error cudaErrorLaunchFailure:unspecified launch failure',
      'an illegal memory access was encountered',
      'D3D12 error 887A0005 The GPU device instance has been suspended.',
      'DXGI_ERROR_DEVICE_REMOVED',
      'VK_ERROR_DEVICE_LOST',
    ]) expect(isDeviceFailure(new Error(message)), message).toBe(true);
  });
});

describe('fault injection (DISTILLERY_FAULT_EP_LOST_AFTER)', () => {
  it('is inert unless set, and refuses bad values with a clear message', async () => {
    const { session } = await createSession(probeModelBytes(), { device: 'cpu', threads: 1 });
    for (let i = 0; i < 3; i++) await session.run(probeFeeds());
    await session.release();
    process.env.DISTILLERY_FAULT_EP_LOST_AFTER = 'soon';
    await expect(createSession(probeModelBytes(), { device: 'cpu' })).rejects.toThrow("DISTILLERY_FAULT_EP_LOST_AFTER must be a whole number of runs >= 1 (got 'soon'); unset it to run normally");
    process.env.DISTILLERY_FAULT_EP_LOST_AFTER = '2';
    process.env.DISTILLERY_FAULT_EP_DEVICE = 'gpus';
    await expect(createSession(probeModelBytes(), { device: 'cpu' })).rejects.toThrow("DISTILLERY_FAULT_EP_DEVICE must be gpu, cpu or all (got 'gpus')");
  });

  // The count is per process and the tests below share it: CPU runs count only in 'cpu' mode.
  it('on the CPU: the N-th run and every later one fail, as a plain ORT error (no device to lose)', async () => {
    process.env.DISTILLERY_FAULT_EP_DEVICE = 'cpu';
    process.env.DISTILLERY_FAULT_EP_LOST_AFTER = '2';
    const { session } = await createSession(probeModelBytes(), { device: 'cpu', threads: 1 });
    await session.run(probeFeeds());
    const second = await errorOf(session.run(probeFeeds()));
    const third = await errorOf(session.run(probeFeeds()));
    await session.release();
    for (const e of [second, third]) {
      expect(e).not.toBeInstanceOf(DeviceLostError);
      expect(runFailureReason(e)).toBe('Failed to allocate memory for requested buffer of size 1048576 [fault injected by DISTILLERY_FAULT_EP_LOST_AFTER=2]');
    }
    expect(lostDeviceReason('cpu')).toBeUndefined();
  });

  it('on a GPU session: DeviceLostError, and the device is remembered as lost', async () => {
    process.env.DISTILLERY_FAULT_EP_LOST_AFTER = '1';
    // A CPU session standing in for a CUDA one: the wrapper only knows the device's name.
    const session = guardRuns(await ort.InferenceSession.create(probeModelBytes()), 'cuda');
    const e = await errorOf(session.run(probeFeeds()));
    await session.release();
    expect(e).toBeInstanceOf(DeviceLostError);
    expect(e?.message).toBe('The GPU (cuda) stopped responding (CUDA failure 999: unknown error ; GPU=0 ; expr=cudaStreamSynchronize(stream); [fault injected by DISTILLERY_FAULT_EP_LOST_AFTER=1]).');
    expect(lostDeviceReason('cuda')).toMatch(/^CUDA failure 999/);
    // CPU sessions are not counted in the default mode.
    const cpu = await createSession(probeModelBytes(), { device: 'cpu', threads: 1 });
    await expect(cpu.session.run(probeFeeds())).resolves.toBeDefined();
    await cpu.session.release();
  });
});
