// Records one run as an experiment: created 'running', metrics appended as they arrive,
// then 'succeeded' with a summary or 'failed' with the error message.
import { escapeControl } from '../engine/safe-text.js';
import type { Store } from '../store/index.js';
import type { ExperimentKind } from '../store/types.js';

/** Any run event: only `kind` is required; known fields are read by name. */
export type RunEventLike = { kind: string } & object;

export class ExperimentRecorder {
  private pending: { series: string; step: number; value: number; epoch?: number | null }[] = [];
  private lastFlush = Date.now();

  constructor(private readonly store: Store, readonly id: string) {}

  static start(store: Store, kind: ExperimentKind, name: string, config: unknown, parentId?: string): ExperimentRecorder {
    const exp = store.experiments.create({ kind, name, config, parentId: parentId ?? null });
    store.experiments.setStatus(exp.id, 'running');
    return new ExperimentRecorder(store, exp.id);
  }

  /** Turns training events into metric points (per step: loss; per epoch: every metric). */
  event(event: RunEventLike): void {
    const e = event as Record<string, unknown>;
    if (e.kind === 'step') {
      this.pending.push({ series: 'train/loss', step: Number(e.step), value: Number(e.loss), epoch: Number(e.epoch) + 1 });
      this.pending.push({ series: 'train/samples_per_second', step: Number(e.step), value: Number(e.samplesPerSecond) });
    } else if (e.kind === 'epoch') {
      const epoch = Number(e.epoch);
      for (const key of ['loss', 'lossKd', 'lossCe', 'accuracy', 'agreement', 'kl', 'seconds', 'lr']) {
        const v = e[key];
        if (typeof v === 'number' && Number.isFinite(v)) this.pending.push({ series: `epoch/${key}`, step: epoch, value: v, epoch });
      }
      this.flush();
    }
    if (this.pending.length > 500 || Date.now() - this.lastFlush > 2000) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.store.metrics.append(this.id, this.pending);
    this.pending = [];
    this.lastFlush = Date.now();
  }

  succeed(summary: unknown): void {
    this.backfillEpochs(summary);
    this.flush();
    this.store.experiments.update(this.id, { summary });
    this.store.experiments.setStatus(this.id, 'succeeded');
  }

  /**
   * Writes every epoch of the final result again (the store replaces re-logged steps). An epoch
   * whose live event was lost — the app killed between a checkpoint and recording it, then
   * resumed — is filled in this way.
   */
  private backfillEpochs(summary: unknown): void {
    const epochs = (summary as { metrics?: { epochs?: unknown } } | null)?.metrics?.epochs;
    if (!Array.isArray(epochs)) return;
    const names: Record<string, string> = { loss: 'loss', valAccuracy: 'accuracy', agreement: 'agreement', kl: 'kl', seconds: 'seconds' };
    for (const e of epochs as Record<string, unknown>[]) {
      const epoch = Number(e.epoch);
      if (!Number.isInteger(epoch)) continue;
      for (const [key, series] of Object.entries(names)) {
        const v = e[key];
        if (typeof v === 'number' && Number.isFinite(v)) this.pending.push({ series: `epoch/${series}`, step: epoch, value: v, epoch });
      }
    }
  }

  fail(err: unknown, status: 'failed' | 'cancelled' = 'failed'): void {
    this.flush();
    // Messages quote untrusted names; the history refuses control characters.
    const message = escapeControl(err instanceof Error ? err.message : String(err)).slice(0, 10_000);
    this.store.experiments.setStatus(this.id, status, { error: message });
  }
}
