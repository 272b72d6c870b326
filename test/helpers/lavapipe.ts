// The environment that makes WebGPU work on Mesa's lavapipe (scripts/lavapipe.sh), for child
// processes: LD_LIBRARY_PATH counts only at process start. `required` is true under CI (or
// DISTILLERY_REQUIRE_WEBGPU=1), where a missing lavapipe must fail the test instead of skipping it.
import { spawnSync } from 'node:child_process';
import { ROOT } from './services-fixtures.js';

export const WEBGPU_REQUIRED = process.env.DISTILLERY_REQUIRE_WEBGPU === '1' || process.env.CI === 'true';

const NAMES = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'LD_LIBRARY_PATH'] as const;

/** The lavapipe variables, or why they could not be set up. */
export function lavapipeEnv(): { env: Record<string, string> } | { unavailable: string } {
  const r = spawnSync('bash', ['-c', `eval "$(bash scripts/lavapipe.sh)" && printf '%s\\n' ${NAMES.map((n) => `"$${n}"`).join(' ')}`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 540_000,
  });
  if (r.status !== 0) return { unavailable: (r.stderr || String(r.error ?? 'unknown error')).trim().split('\n').pop() ?? 'unknown error' };
  const values = r.stdout.split('\n');
  return { env: Object.fromEntries(NAMES.map((n, i) => [n, values[i] ?? ''])) };
}
