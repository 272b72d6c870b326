// How close a compressed model stays to its float original.

/**
 * Signal-to-quantization-noise ratio in dB: 20·log10(‖ref‖ / ‖ref − test‖), as in ORT's
 * qdq_loss_debug. Infinity when the outputs are identical.
 */
export function sqnr(reference: ArrayLike<number>, test: ArrayLike<number>): number {
  if (reference.length !== test.length) {
    throw new Error(`sqnr: reference has ${reference.length} values, test has ${test.length}`);
  }
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const d = r - test[i]!;
    signal += r * r;
    noise += d * d;
  }
  if (noise === 0) return Infinity;
  if (signal === 0) return -Infinity;
  return 10 * Math.log10(signal / noise);
}

function argmaxRow(v: ArrayLike<number>, start: number, n: number): number {
  let best = 0;
  let bv = -Infinity;
  for (let j = 0; j < n; j++) {
    const x = v[start + j]!;
    if (x > bv) {
      bv = x;
      best = j;
    }
  }
  return best;
}

/** Top-1 class per row of a [rows, classes] logits array. */
export function top1(logits: ArrayLike<number>, classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes <= 0 || logits.length % classes !== 0) {
    throw new Error(`top1: ${logits.length} values do not split into rows of ${classes} classes`);
  }
  const rows = logits.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = argmaxRow(logits, r * classes, classes);
  return out;
}

/** Fraction of rows whose top-1 class is the same in both logits arrays ([rows, classes]). */
export function agreement(refLogits: ArrayLike<number>, testLogits: ArrayLike<number>, classes: number): number {
  if (refLogits.length !== testLogits.length) {
    throw new Error(`agreement: reference has ${refLogits.length} values, test has ${testLogits.length}`);
  }
  const a = top1(refLogits, classes);
  const b = top1(testLogits, classes);
  if (a.length === 0) return 1;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Fraction of rows whose top-1 class equals the label. */
export function accuracy(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  const p = top1(logits, classes);
  if (p.length !== labels.length) throw new Error(`accuracy: ${p.length} rows, ${labels.length} labels`);
  if (p.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === labels[i]) ok++;
  return ok / p.length;
}
