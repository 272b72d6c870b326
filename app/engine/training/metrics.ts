// Classification metrics on the host: accuracy, agreement with the teacher, KL to the teacher.

export interface EvalMetrics {
  /** Fraction of labelled samples classified correctly; null when nothing is labelled. */
  accuracy: number | null;
  /** Fraction of samples where student and teacher pick the same class; null without a teacher. */
  agreement: number | null;
  /** Mean KL(teacher ‖ student) at temperature 1; null without a teacher. */
  kl: number | null;
}

export function argmaxRows(logits: Float32Array, classes: number): Int32Array {
  const n = logits.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = logits[i * classes + c]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Softmax of one row (logits/T) written into `out` at `offset`. */
function softmaxRow(src: Float32Array, from: number, classes: number, temperature: number, out: Float32Array, offset: number, weight = 1): void {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, src[from + c]! / temperature);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(src[from + c]! / temperature - max);
  for (let c = 0; c < classes; c++) out[offset + c]! += (weight * Math.exp(src[from + c]! / temperature - max)) / sum;
}

/** Averaged soft targets softmax(t/T) of several teachers for the given sample indices. */
export function softTargets(teachers: Float32Array[], indices: Int32Array, classes: number, temperature: number): Float32Array {
  const out = new Float32Array(indices.length * classes);
  const w = 1 / teachers.length;
  for (const t of teachers) for (let i = 0; i < indices.length; i++) softmaxRow(t, indices[i]! * classes, classes, temperature, out, i * classes, w);
  return out;
}

/** The averaged softmax of several models' logits on every sample: an ensemble's prediction. */
export function ensembleProbabilities(logits: Float32Array[], classes: number): Float32Array {
  const n = logits[0]!.length / classes;
  return softTargets(logits, Int32Array.from({ length: n }, (_, i) => i), classes, 1);
}

export function evaluateLogits(logits: Float32Array, labels: Int32Array, teachers: Float32Array[], classes: number): EvalMetrics {
  const n = labels.length;
  const pred = argmaxRows(logits, classes);
  let labelled = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i]! < 0) continue;
    labelled++;
    if (pred[i] === labels[i]) correct++;
  }
  if (teachers.length === 0) return { accuracy: labelled ? correct / labelled : null, agreement: null, kl: null };
  const p = ensembleProbabilities(teachers, classes);
  const teacherPred = argmaxRows(p, classes);
  let agree = 0;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    if (pred[i] === teacherPred[i]) agree++;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[i * classes + c]! - max);
    const logZ = max + Math.log(sum);
    for (let c = 0; c < classes; c++) {
      const pc = p[i * classes + c]!;
      if (pc > 0) kl += pc * (Math.log(pc) - (logits[i * classes + c]! - logZ));
    }
  }
  return { accuracy: labelled ? correct / labelled : null, agreement: agree / n, kl: kl / n };
}

/** Top-1 agreement between two sets of logits. */
export function topOneAgreement(a: Float32Array, b: Float32Array, classes: number): number {
  const pa = argmaxRows(a, classes);
  const pb = argmaxRows(b, classes);
  let same = 0;
  for (let i = 0; i < pa.length; i++) if (pa[i] === pb[i]) same++;
  return pa.length ? same / pa.length : 0;
}
