// WebGPU execution provider against the CPU.
//
// 1. In this process (no lavapipe environment unless the caller exported it): WebGPU either works
//    and matches the CPU, or createSession reports the fallback to the CPU with a plain reason.
// 2. Through Mesa 25 lavapipe: scripts/lavapipe.sh unpacks it under .cache/lavapipe (no system
//    change) and prints the environment; a child process started with that environment
//    (LD_LIBRARY_PATH only counts at process start) runs MatMul -> Relu -> Softmax on WebGPU with
//    strict device placement and compares with the CPU. If the script cannot set lavapipe up
//    (not Debian, no network), the child part is replaced by the checks of part 1 — unless
//    DISTILLERY_REQUIRE_WEBGPU=1 (CI), which makes that a failure.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSession, detectDevices, run, toFloat32, toOrtTensor } from '../../app/engine/runtime/index.js';
import { matmulReluSoftmaxModel, maxDiff, randomFloats } from './runtime-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// CI (CI=true) always requires it: the lavapipe download must work there.
const REQUIRED = process.env.DISTILLERY_REQUIRE_WEBGPU === '1' || process.env.CI === 'true';

async function webgpuInThisProcessMatchesOrReportsFallback(): Promise<void> {
  const model = matmulReluSoftmaxModel(8, 64, 32);
  const x = toOrtTensor(randomFloats(8 * 64, 11), [8, 64]);
  const cpu = await createSession(model, { device: 'cpu', threads: 1 });
  const gpu = await createSession(model, { device: 'webgpu', threads: 1 });
  const ref = await run(cpu.session, { x });
  const got = await run(gpu.session, { x });
  // Same results whichever device ran it.
  expect(maxDiff(toFloat32(got.p!), toFloat32(ref.p!)).abs).toBeLessThan(1e-5);
  const status = (await detectDevices()).find((d) => d.device === 'webgpu')!;
  if (gpu.device === 'webgpu') {
    expect(gpu.fallbackReason).toBeUndefined();
    expect(status.available).toBe(true);
  } else {
    expect(gpu.device).toBe('cpu');
    expect(gpu.fallbackReason).toMatch(/^WebGPU .*; running on the CPU\.$/);
    expect(status.available).toBe(false);
    expect(status.reason).toMatch(/WebGPU/);
  }
  await cpu.session.release();
  await gpu.session.release();
}

describe('WebGPU execution provider', () => {
  it('in this process: works and matches the CPU, or falls back to the CPU with a reason', async () => {
    await webgpuInThisProcessMatchesOrReportsFallback();
  });

  it('on Mesa lavapipe: MatMul + Relu + Softmax on WebGPU match the CPU within 1e-5', { timeout: 600_000 }, async () => {
    const setup = spawnSync('bash', [path.join(ROOT, 'scripts/lavapipe.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 540_000,
    });
    if (setup.status !== 0) {
      const why = (setup.stderr || String(setup.error ?? 'unknown error')).trim().split('\n').pop();
      if (REQUIRED) throw new Error(`scripts/lavapipe.sh failed and DISTILLERY_REQUIRE_WEBGPU=1: ${why}`);
      console.warn(`lavapipe unavailable (${why}); checking the reported CPU fallback instead`);
      await webgpuInThisProcessMatchesOrReportsFallback();
      return;
    }
    expect(setup.stdout).toMatch(/^export VK_ICD_FILENAMES=\/.*lvp_icd\.json$/m);

    const child = spawnSync(
      'bash',
      ['-c', 'eval "$(bash scripts/lavapipe.sh 2>/dev/null)" && exec "$0" --import tsx test/integration/runtime-webgpu-child.ts', process.execPath],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(child.status, child.stderr).toBe(0);
    const line = child.stdout.trim().split('\n').pop()!;
    const r = JSON.parse(line) as {
      device: string;
      fallbackReason: string | null;
      hDiff: { abs: number; rel: number };
      pDiff: { abs: number; rel: number };
      hMax: number;
      cpuMedianMs: number;
      webgpuMedianMs: number;
      strictLogSoftmax: { device: string; fallbackReason: string | null };
      looseLogSoftmax: { device: string; fallbackReason: string | null };
      auto: { device: string; skipped: Array<{ device: string; reason: string }> };
      webgpuStatus: { available: boolean; software?: boolean };
    };
    console.info(`lavapipe: ${JSON.stringify({ hDiff: r.hDiff, pDiff: r.pDiff, cpuMs: r.cpuMedianMs, webgpuMs: r.webgpuMedianMs })}`);

    // Every node ran on WebGPU (strict placement, no CPU retry allowed) and matches the CPU.
    expect(r.device).toBe('webgpu');
    expect(r.fallbackReason).toBeNull();
    expect(r.hMax).toBeGreaterThan(0.5); // Relu output is not all zeros: the comparison means something
    expect(r.hDiff.rel).toBeLessThan(1e-5);
    expect(r.pDiff.abs).toBeLessThan(1e-5);

    // LogSoftmax has no WebGPU kernel: strict mode reports it and runs on the CPU; loose mode
    // keeps the session on WebGPU (that node alone runs on the CPU EP).
    expect(r.strictLogSoftmax.device).toBe('cpu');
    expect(r.strictLogSoftmax.fallbackReason).toMatch(/no WebGPU kernel.*running on the CPU\.$/);
    expect(r.looseLogSoftmax).toEqual({ device: 'webgpu', fallbackReason: null });

    // lavapipe is a software driver: detected as available but never chosen by 'auto'.
    expect(r.webgpuStatus).toMatchObject({ available: true, software: true });
    expect(r.auto.device).toBe('cpu');
    expect(r.auto.skipped.find((s) => s.device === 'webgpu')?.reason).toMatch(/software|lavapipe/);
  });
});
