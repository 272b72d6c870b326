// Run by runtime-webgpu.test.ts in a child process whose environment already has the lavapipe
// variables (LD_LIBRARY_PATH is read by the dynamic linker at process start, so it cannot be set
// from inside the test process). Prints one JSON line on stdout.
import { createSession, detectDevices, run, toFloat32, toOrtTensor } from '../../app/engine/runtime/index.js';
import { LOGSOFTMAX_MODEL, matmulReluSoftmaxModel, maxDiff, randomFloats } from './runtime-fixtures.js';

const B = 32;
const K = 256;
const N = 128;
const REPS = 5;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const model = matmulReluSoftmaxModel(B, K, N);
const x = toOrtTensor(randomFloats(B * K, 42), [B, K]);

const cpu = await createSession(model, { device: 'cpu', threads: 1 });
// strictDevice: every node must run on WebGPU (no silent CPU fallback); no retry on CPU.
const gpu = await createSession(model, { device: 'webgpu', threads: 1, strictDevice: true, allowCpuFallback: false });

const ref = await run(cpu.session, { x });
const got = await run(gpu.session, { x });
const h = maxDiff(toFloat32(got.h!), toFloat32(ref.h!));
const p = maxDiff(toFloat32(got.p!), toFloat32(ref.p!));

const cpuMs: number[] = [];
const gpuMs: number[] = [];
for (let i = 0; i < REPS; i++) {
  cpuMs.push(await timed(() => run(cpu.session, { x })));
  gpuMs.push(await timed(() => run(gpu.session, { x })));
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

// An operator without a WebGPU kernel: strict creation fails and falls back to the CPU with a
// reason; non-strict creation stays on WebGPU (the node itself runs on the CPU EP).
const strictLog = await createSession(LOGSOFTMAX_MODEL, { device: 'webgpu', strictDevice: true });
const looseLog = await createSession(LOGSOFTMAX_MODEL, { device: 'webgpu' });

const auto = await createSession(model, { device: 'auto' });
const devices = await detectDevices();

console.log(
  JSON.stringify({
    device: gpu.device,
    fallbackReason: gpu.fallbackReason ?? null,
    hDiff: h,
    pDiff: p,
    hMax: Math.max(...toFloat32(ref.h!)),
    cpuMedianMs: median(cpuMs),
    webgpuMedianMs: median(gpuMs),
    strictLogSoftmax: { device: strictLog.device, fallbackReason: strictLog.fallbackReason ?? null },
    looseLogSoftmax: { device: looseLog.device, fallbackReason: looseLog.fallbackReason ?? null },
    auto: { device: auto.device, skipped: auto.skipped },
    webgpuStatus: devices.find((d) => d.device === 'webgpu'),
  }),
);
for (const s of [cpu, gpu, strictLog, looseLog, auto]) await s.session.release();
