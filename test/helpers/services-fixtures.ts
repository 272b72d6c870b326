// Shared setup for the services / jobs / server tests: temp data folders and a tiny teacher.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { saveModel } from '../../app/engine/onnx/io.js';
import type { ApiEvent } from '../../app/contract/events.js';
import type { Services } from '../../app/services/index.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const SAMPLE_DATA = join(ROOT, 'resources', 'sample-data', 'fashion-mnist-small');

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `distillery-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An untrained mlp:32 classifier for 28x28 images: enough to exercise the plumbing. */
export async function makeTeacher(dir: string): Promise<string> {
  const path = join(dir, 'teacher.onnx');
  await saveModel(buildStudent({ template: parseTemplate('mlp:32'), sampleShape: [1, 28, 28], classes: 10, seed: 1 }), path);
  return path;
}

export function quickDistill(teacher: string, extra: Record<string, unknown> = {}) {
  return { teachers: [teacher], data: SAMPLE_DATA, student: 'mlp:16', epochs: 1, limit: 512, batchSize: 64, device: 'cpu' as const, threads: 1, ...extra };
}

/** Collects events; `until` resolves on the first event matching the predicate. */
export function collect(services: Services) {
  const events: ApiEvent[] = [];
  const waiters: { pred: (e: ApiEvent) => boolean; resolve: (e: ApiEvent) => void }[] = [];
  services.events.subscribe((e) => {
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(e);
    }
  });
  return {
    events,
    until(pred: (e: ApiEvent) => boolean, timeoutMs = 60_000): Promise<ApiEvent> {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timed out waiting for an event')), timeoutMs);
        waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
      });
    },
  };
}
