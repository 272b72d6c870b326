// Learning-rate schedules, computed on the host and fed to the step graph as a scalar.
export type LrSchedule =
  | { kind: 'constant' }
  | { kind: 'warmup'; warmupSteps: number }
  | { kind: 'cosine'; warmupSteps?: number; minFactor?: number };

export function learningRate(schedule: LrSchedule, base: number, step: number, totalSteps: number): number {
  const warmup = schedule.kind === 'constant' ? 0 : (schedule.warmupSteps ?? 0);
  if (warmup > 0 && step < warmup) return (base * (step + 1)) / warmup;
  if (schedule.kind !== 'cosine') return base;
  const min = base * (schedule.minFactor ?? 0);
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  return min + (base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
