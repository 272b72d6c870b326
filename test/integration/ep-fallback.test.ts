// WebGPU (Mesa lavapipe) losing its device in the middle of a run, injected at the runtime layer
// (DISTILLERY_FAULT_EP_LOST_AFTER). The trainer must finish on the CPU from the same weights and
// optimizer state — its losses then match a CPU-only run step by step — and say so; a second
// failure must stop it with a plain message; a benchmark must stop rather than mix devices.
// Each case runs ep-fallback-child.ts in its own process (lavapipe needs LD_LIBRARY_PATH at
// start; the fault counter is per process). Skipped without lavapipe unless CI=true or
// DISTILLERY_REQUIRE_WEBGPU=1.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { lavapipeEnv, WEBGPU_REQUIRED } from '../helpers/lavapipe.js';
import { ROOT } from '../helpers/services-fixtures.js';

function child(env: Record<string, string>): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/integration/ep-fallback-child.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

interface Run {
  device: string;
  fallbackReason: string | null;
  deviceLoss: { device: string; step: number; reason: string; message: string } | null;
  losses: number[];
  fallbacks: Array<{ message: string; step: number }>;
  valAccuracy: number[];
}

describe('a GPU lost mid-run (WebGPU on lavapipe)', () => {
  const lvp = lavapipeEnv();
  const available = !('unavailable' in lvp);
  if (!available) {
    if (WEBGPU_REQUIRED) throw new Error(`scripts/lavapipe.sh failed and WebGPU is required here: ${lvp.unavailable}`);
    console.warn(`lavapipe unavailable (${lvp.unavailable}); GPU loss mid-run not checked`);
  }
  const env = available ? lvp.env : {};

  it.runIf(available)('training moves to the CPU once, continues from the same state, and says so', { timeout: 180_000 }, () => {
    // Run 1 is the shape-error probe; run 7 is train step 6 (one step per run).
    const r = child({ ...env, DISTILLERY_FAULT_EP_LOST_AFTER: '7' }) as { probeDevice: string; shapeError: { message: string; deviceLost: boolean }; webgpu: Run; cpu: Run; afterLoss: { device: string; fallbackReason: string } };
    expect(r.probeDevice).toBe('webgpu');
    // A shape error on the GPU is not a device failure.
    expect(r.shapeError).toEqual({ message: expect.stringMatching(/Invalid rank for input: x/), deviceLost: false });

    const message = 'The GPU (webgpu) stopped responding at step 6; continuing on the CPU.';
    expect(r.webgpu.fallbacks).toEqual([expect.objectContaining({ message, step: 6 })]);
    expect(r.webgpu.device).toBe('cpu');
    expect(r.webgpu.fallbackReason).toBe(message);
    expect(r.webgpu.deviceLoss).toMatchObject({ device: 'webgpu', step: 6, reason: expect.stringMatching(/^WebGPU device lost \(1\)/) });

    // Every step ran once (the failed one repeated on the CPU) and the loss kept falling.
    const { losses } = r.webgpu;
    expect(losses.length).toBe(r.cpu.losses.length);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(losses.slice(-6))).toBeLessThan(0.75 * mean(losses.slice(0, 6)));
    expect(mean(losses.slice(6, 12))).toBeLessThan(mean(losses.slice(0, 6)));
    // Continued from the same weights and Adam moments: the CPU-only run's losses, to rounding.
    losses.forEach((l, i) => expect(Math.abs(l - r.cpu.losses[i]!), `step ${i + 1}`).toBeLessThan(1e-3));
    expect(r.webgpu.valAccuracy).toEqual(r.cpu.valAccuracy);

    // The lost device is not used again in that process.
    expect(r.afterLoss).toEqual({ device: 'cpu', fallbackReason: 'WebGPU stopped responding earlier in this process; running on the CPU.' });
  });

  it.runIf(available)('a second failure (the CPU too) stops training with a plain message', { timeout: 120_000 }, () => {
    const r = child({ ...env, EP_CHILD_MODE: 'second', DISTILLERY_FAULT_EP_DEVICE: 'all', DISTILLERY_FAULT_EP_LOST_AFTER: '6' });
    expect(r.error).toEqual({
      name: 'TrainingRunError',
      message:
        'ONNX Runtime failed on the CPU at step 6, after WebGPU had stopped responding at step 6 (Failed to allocate memory for requested buffer of size 1048576 [fault injected by DISTILLERY_FAULT_EP_LOST_AFTER=6]); training stopped.',
    });
  });

  it.runIf(available)('a benchmark stops with a plain message instead of mixing devices', { timeout: 120_000 }, () => {
    const r = child({ ...env, EP_CHILD_MODE: 'bench', DISTILLERY_FAULT_EP_LOST_AFTER: '20' }) as { model: string; error: { message: string } | null };
    expect(r.error?.message).toBe(
      `${r.model}: the GPU (webgpu) stopped responding during the benchmark (WebGPU device lost (1): the adapter was removed [fault injected by DISTILLERY_FAULT_EP_LOST_AFTER=20]); the benchmark stopped. Run it again, or benchmark on the CPU.`,
    );
  });
});
