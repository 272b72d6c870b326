// 4-bit block quantization of a weight, before any packing: one scale and zero point per block of
// consecutive K values of one column, as ORT's MatMulNBitsQuantizer / MLAS computes them. The
// MatMulNBits layout (int4.ts) and the DequantizeLinear layout for Conv (int4-conv.ts) pack
// these codes.
import { QuantizeError } from './common.js';

/** roundf: half away from zero, as MLAS. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Block parameters: scale and zero point, as MLAS computes them from a (clipped) range. */
function blockParams(lo: number, hi: number, symmetric: boolean): { scale: number; zp: number } {
  if (symmetric) {
    const a = Math.abs(hi) > Math.abs(lo) ? hi : lo;
    return { scale: Math.fround(a / -8), zp: 8 };
  }
  const mn = Math.min(lo, 0);
  const mx = Math.max(hi, 0);
  const scale = Math.fround((mx - mn) / 15);
  const zf = scale !== 0 ? 0 - mn / scale : mn;
  return { scale, zp: zf < 0 ? 0 : zf > 15 ? 15 : roundAway(zf) };
}

function code(v: number, inv: number, zp: number): number {
  return Math.max(0, Math.min(15, roundAway(Math.fround(v * inv)) + zp));
}

// Range shrink factors tried by the 'mse' method (1 = plain round-to-nearest on min/max).
const SHRINK = [1, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7];

/** 4-bit codes of a [K, N] weight in blocks of `blockSize` K values per column, before any packing. */
export interface Int4Codes {
  /** Codes 0..15, [N, kb·blockSize] (column n, K padded with zeros). */
  codes: Uint8Array;
  /** Scale per block, [N·kb] (index n·kb + b). */
  scales: Float32Array;
  /** Zero point per block, [N·kb] (8 for symmetric blocks). */
  blockZeroPoints: Uint8Array;
  /** W as computed back from the codes, [K, N]. */
  dequantized: Float32Array;
}

/**
 * The block quantization itself, for any block length ≥ 1 (a whole column for per-channel scales):
 * codes [N, kb·blockSize] in 0..15 (K padded with zeros), scale and zero point per block
 * ([N·kb], column-major), and W dequantized from the codes, [K, N].
 */
export function quantizeInt4Codes(w: Float32Array, K: number, N: number, blockSize: number, symmetric: boolean, method: 'rtn' | 'mse' = 'mse'): Int4Codes {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new QuantizeError(`int4: block size must be a positive integer (got ${blockSize})`);
  if (w.length !== K * N) throw new QuantizeError(`int4: weight has ${w.length} values, expected K·N = ${K}·${N}`);
  const kb = Math.ceil(K / blockSize);
  const kPad = kb * blockSize;
  const codes = new Uint8Array(N * kPad);
  const scales = new Float32Array(N * kb);
  const blockZp = new Uint8Array(N * kb);
  const dequantized = new Float32Array(K * N);
  const block = new Float32Array(blockSize);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const k0 = b * blockSize;
      // Padding (k >= K) is 0.
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < blockSize; i++) {
        const k = k0 + i;
        const v = k < K ? w[k * N + n]! : 0;
        block[i] = v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let best = blockParams(lo, hi, symmetric);
      if (method === 'mse') {
        let bestErr = Infinity;
        for (const f of SHRINK) {
          const cand = blockParams(lo * f, hi * f, symmetric);
          const inv = cand.scale !== 0 ? Math.fround(1 / cand.scale) : 0;
          let err = 0;
          for (let i = 0; i < blockSize; i++) {
            const d = block[i]! - (code(block[i]!, inv, cand.zp) - cand.zp) * cand.scale;
            err += d * d;
          }
          if (err < bestErr) {
            bestErr = err;
            best = cand;
          }
        }
      }
      const { scale, zp } = best;
      const inv = scale !== 0 ? Math.fround(1 / scale) : 0;
      scales[n * kb + b] = scale;
      blockZp[n * kb + b] = zp;
      for (let i = 0; i < blockSize; i++) {
        const k = k0 + i;
        const q = code(block[i]!, inv, zp);
        codes[n * kPad + k] = q;
        if (k < K) dequantized[k * N + n] = Math.fround((q - zp) * scale);
      }
    }
  }
  return { codes, scales, blockZeroPoints: blockZp, dequantized };
}
