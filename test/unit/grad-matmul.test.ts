// Finite-difference checks of MatMul (2-D, batched, broadcast, 1-D operands) and Gemm (all four
// transpose combinations, alpha, beta, C broadcast).
import { describe, expect, it } from 'vitest';
import { checkGradients } from '../helpers/finite-diff.js';

const matmulShapes: Array<[number[], number[]]> = [
  [[3, 4], [4, 5]],
  [[2, 3, 4], [4, 5]], // batched A, shared weight
  [[3, 4], [2, 4, 5]], // shared A, batched B
  [[2, 1, 3, 4], [3, 4, 2]], // broadcast batch dims both ways
  [[4], [4, 5]], // 1-D A
  [[3, 4], [4]], // 1-D B
  [[2, 3, 4], [4]],
  [[4], [2, 4, 3]],
  [[4], [4]], // dot product
];

describe('MatMul gradients', () => {
  for (const [a, b] of matmulShapes) {
    it(`MatMul [${a}] x [${b}]`, async () => {
      const r = await checkGradients({
        name: `MatMul [${a}] x [${b}]`,
        inputs: { A: { dims: a }, B: { dims: b } },
        build: (bld) => bld.op('MatMul', ['A', 'B']),
      });
      expect(r.dtype).toBe('double');
      expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(1e-7);
    });
  }
});

describe('Gemm gradients', () => {
  const M = 3;
  const K = 4;
  const N = 5;
  for (const transA of [0, 1]) {
    for (const transB of [0, 1]) {
      for (const cDims of [[N], [M, N], [M, 1], [1]]) {
        it(`Gemm transA=${transA} transB=${transB} alpha=0.7 beta=1.3 C[${cDims}]`, async () => {
          const r = await checkGradients({
            name: `Gemm tA=${transA} tB=${transB} C[${cDims}]`,
            inputs: {
              A: { dims: transA ? [K, M] : [M, K] },
              B: { dims: transB ? [N, K] : [K, N] },
              C: { dims: cDims },
            },
            build: (b) => b.op('Gemm', ['A', 'B', 'C'], { transA, transB, alpha: { float: 0.7 }, beta: { float: 1.3 } }),
          });
          expect(r.dtype).toBe('double');
          expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(1e-6);
        });
      }
    }
  }
  it('Gemm without C and default alpha', async () => {
    const r = await checkGradients({
      name: 'Gemm no C',
      inputs: { A: { dims: [2, 3] }, B: { dims: [4, 3] } },
      build: (b) => b.op('Gemm', ['A', 'B'], { transB: 1 }),
    });
    expect(r.relErr).toBeLessThan(1e-7);
  });
});
