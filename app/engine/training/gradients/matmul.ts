// Gradients of MatMul (batched, broadcast, 1-D operands) and Gemm (all transposes, alpha, beta).
import { attrFloat, attrInt } from '../../onnx/attributes.js';
import type { GradContext, GradientRule } from '../autodiff.js';
import { range } from './util.js';

function swapLast(rank: number): number[] {
  const p = range(rank);
  p[rank - 1] = rank - 2;
  p[rank - 2] = rank - 1;
  return p;
}

const matmul: GradientRule = (c: GradContext) => {
  const dy0 = c.gradOutputs[0]!;
  const [a, b] = c.node.inputs as [string, string];
  const aDims = c.shape(a).dims;
  const bDims = c.shape(b).dims;
  const yDims = c.shape(c.node.outputs[0]!).dims;
  // Promote 1-D operands the way MatMul does: A [K] → [1,K], B [K] → [K,1].
  const aP = aDims.length === 1 ? [1, aDims[0]!] : aDims;
  const bP = bDims.length === 1 ? [bDims[0]!, 1] : bDims;
  const M = aP[aP.length - 2]!;
  const K = aP[aP.length - 1]!;
  const N = bP[bP.length - 1]!;
  const yP = [...yDims];
  if (aDims.length === 1) yP.splice(yP.length - (bDims.length === 1 ? 0 : 1), 0, 1);
  if (bDims.length === 1) yP.push(1);
  const dy = yP.length === yDims.length ? dy0 : c.reshape(dy0, yP);
  const aIn = aP === aDims ? a : c.reshape(a, aP);
  const bIn = bP === bDims ? b : c.reshape(b, bP);
  const out: (string | null)[] = [null, null];

  if (c.needsGrad(0)) {
    let da: string;
    if (aP.length === 2 && bP.length === 2) da = c.op('Gemm', [dy, bIn], { transB: 1 });
    else if (bP.length === 2 && aP.length > 2) {
      // [.., M, N] x [N, K] → [.., M, K]: a plain MatMul with the transposed weight.
      da = c.op('MatMul', [dy, c.transpose(bIn, [1, 0])]);
    } else {
      da = c.op('MatMul', [dy, c.transpose(bIn, swapLast(bP.length))]);
      const daDims = [...yP.slice(0, -2), M, K];
      da = c.reduceToShape(da, daDims, aP);
    }
    out[0] = aP === aDims ? da : c.reshape(da, aDims);
  }
  if (c.needsGrad(1)) {
    let db: string;
    if (aP.length === 2 && bP.length === 2) db = c.op('Gemm', [aIn, dy], { transA: 1 });
    else if (bP.length === 2) {
      // Weight [K, N] shared over the batch: fold the batch axes into M and use one Gemm.
      db = c.op('Gemm', [c.reshape(aIn, [-1, K]), c.reshape(dy, [-1, N])], { transA: 1 });
    } else {
      db = c.op('MatMul', [c.transpose(aIn, swapLast(aP.length)), dy]);
      const dbDims = [...yP.slice(0, -2), K, N];
      db = c.reduceToShape(db, dbDims, bP);
    }
    out[1] = bP === bDims ? db : c.reshape(db, bDims);
  }
  return out;
};

/** Y = α·op(A)·op(B) + β·C. */
const gemm: GradientRule = (c: GradContext) => {
  const dy = c.gradOutputs[0]!;
  const [a, b, cc] = c.node.inputs as [string, string, string | undefined];
  const alpha = attrFloat(c.node, 'alpha', 1);
  const beta = attrFloat(c.node, 'beta', 1);
  const tA = attrInt(c.node, 'transA', 0);
  const tB = attrInt(c.node, 'transB', 0);
  const al = { float: alpha };
  const out: (string | null)[] = [null, null, null];
  if (c.needsGrad(0)) {
    if (!tA && !tB) out[0] = c.op('Gemm', [dy, b], { transB: 1, alpha: al });
    else if (!tA && tB) out[0] = c.op('Gemm', [dy, b], { alpha: al });
    else if (tA && !tB) out[0] = c.op('Gemm', [b, dy], { transB: 1, alpha: al });
    else out[0] = c.op('Gemm', [b, dy], { transA: 1, transB: 1, alpha: al });
  }
  if (c.needsGrad(1)) {
    if (!tA && !tB) out[1] = c.op('Gemm', [a, dy], { transA: 1, alpha: al });
    else if (!tA && tB) out[1] = c.op('Gemm', [dy, a], { transA: 1, alpha: al });
    else if (tA && !tB) out[1] = c.op('Gemm', [a, dy], { alpha: al });
    else out[1] = c.op('Gemm', [dy, a], { transA: 1, transB: 1, alpha: al });
  }
  if (cc && c.needsGrad(2)) {
    const yDims = c.shape(c.node.outputs[0]!).dims;
    let dc = c.reduceToShape(dy, yDims, c.shape(cc).dims);
    if (beta !== 1) dc = c.op('Mul', [dc, c.scalar(beta, c.shape(cc).elemType)]);
    out[2] = dc;
  }
  return out;
};

export const matmulRules: Record<string, GradientRule> = { MatMul: matmul, Gemm: gemm };
