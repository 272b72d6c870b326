// Seeded, stratified partitions of a Split: validation hold-out, a test split for datasets
// without one, and "keep n labels per class" for semi-supervised runs.
import { DatasetError } from './errors.js';
import { createRng, deriveSeed, shuffleInPlace, type Rng } from './prng.js';
import { subset, UNLABELED, type Split } from './split.js';

/** What a seeded split did, stored with the experiment so it can be redone exactly. */
export interface SeededSplitRecord {
  seed: number;
  fraction: number;
  method: 'stratified';
  /** Samples that went to the held-out side. */
  heldOut: number;
}

/**
 * Picks round(count * fraction) samples, stratified by label (unlabeled samples form their own
 * stratum). Largest-remainder rounding keeps the total exact; both sides keep file order.
 */
export function stratifiedPick(y: Int32Array, fraction: number, rng: Rng): { picked: Int32Array; rest: Int32Array } {
  const strata = new Map<number, number[]>();
  for (let i = 0; i < y.length; i++) {
    const label = y[i]!;
    let members = strata.get(label);
    if (!members) strata.set(label, (members = []));
    members.push(i);
  }
  const labels = [...strata.keys()].sort((a, b) => a - b);
  const target = Math.round(y.length * fraction);
  const quotas = labels.map((label) => {
    const exact = strata.get(label)!.length * fraction;
    return { label, take: Math.floor(exact), remainder: exact - Math.floor(exact) };
  });
  let missing = target - quotas.reduce((s, q) => s + q.take, 0);
  const byRemainder = [...quotas].sort((a, b) => b.remainder - a.remainder || a.label - b.label);
  for (const q of byRemainder) {
    if (missing <= 0) break;
    q.take++;
    missing--;
  }
  const isPicked = new Uint8Array(y.length);
  for (const q of quotas) {
    const members = shuffleInPlace([...strata.get(q.label)!], rng);
    for (let k = 0; k < q.take; k++) isPicked[members[k]!] = 1;
  }
  const picked = new Int32Array(target);
  const rest = new Int32Array(y.length - target);
  let p = 0;
  let r = 0;
  for (let i = 0; i < y.length; i++) {
    if (isPicked[i]) picked[p++] = i;
    else rest[r++] = i;
  }
  return { picked, rest };
}

function checkFraction(split: Split, fraction: number, what: string): void {
  if (!(fraction > 0 && fraction < 1)) {
    throw new DatasetError(`${what} fraction must be between 0 and 1 (exclusive), got ${fraction}`);
  }
  const held = Math.round(split.count * fraction);
  if (held < 1 || held >= split.count) {
    throw new DatasetError(
      `a ${what} fraction of ${fraction} of ${split.count} samples leaves one side empty`,
    );
  }
}

/** Holds out a stratified validation set; same split + fraction + seed gives the same result. */
export function splitTrainValidation(split: Split, fraction: number, seed: number): { train: Split; validation: Split } {
  checkFraction(split, fraction, 'validation');
  const { picked, rest } = stratifiedPick(split.y, fraction, createRng(deriveSeed(seed, 'validation')));
  return { train: subset(split, rest), validation: subset(split, picked) };
}

/** For datasets without their own test split: a stratified, seeded test hold-out plus its record. */
export function makeTestSplit(
  split: Split,
  fraction: number,
  seed: number,
): { train: Split; test: Split; record: SeededSplitRecord } {
  checkFraction(split, fraction, 'test');
  const { picked, rest } = stratifiedPick(split.y, fraction, createRng(deriveSeed(seed, 'test')));
  return {
    train: subset(split, rest),
    test: subset(split, picked),
    record: { seed, fraction, method: 'stratified', heldOut: picked.length },
  };
}

/**
 * Keeps the labels of n randomly chosen samples per class and sets every other label to -1.
 * Classes with fewer than n labelled samples keep them all. x is shared, not copied.
 */
export function keepLabelsPerClass(split: Split, n: number, seed: number): Split {
  if (!Number.isInteger(n) || n < 0) {
    throw new DatasetError(`labels per class must be a non-negative integer, got ${n}`);
  }
  const rng = createRng(deriveSeed(seed, 'labels-per-class'));
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < split.count; i++) {
    const label = split.y[i]!;
    if (label === UNLABELED) continue;
    let members = byClass.get(label);
    if (!members) byClass.set(label, (members = []));
    members.push(i);
  }
  const y = new Int32Array(split.count).fill(UNLABELED);
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = shuffleInPlace(byClass.get(label)!, rng);
    for (let k = 0; k < Math.min(n, members.length); k++) y[members[k]!] = label;
  }
  return { x: split.x, y, count: split.count, sampleShape: [...split.sampleShape] };
}
