// Finite-difference checks of the shape and indexing rules.
import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { checkGradients, type GradCase } from '../helpers/finite-diff.js';

function one(name: string, dims: number[], build: (b: GraphBuilder) => string | string[], opset?: number, extra: Partial<GradCase> = {}): [GradCase] {
  return [{ name, inputs: { X: { dims } }, build, ...(opset ? { opset } : {}), ...extra }];
}

const cases: Array<[GradCase]> = [
  one('Flatten axis 2', [2, 3, 4, 2], (b) => b.op('Flatten', ['X'], { axis: 2 })),
  one('Reshape', [2, 3, 4], (b) => b.op('Reshape', ['X', b.constInt64('s', [4, -1])])),
  one('Transpose perm', [2, 3, 4], (b) => b.op('Transpose', ['X'], { perm: [2, 0, 1] })),
  one('Transpose default', [2, 3, 4], (b) => b.op('Transpose', ['X'])),
  one('Squeeze', [2, 1, 4, 1], (b) => b.op('Squeeze', ['X', b.constInt64('a', [1, -1])])),
  one('Unsqueeze', [2, 4], (b) => b.op('Unsqueeze', ['X', b.constInt64('a', [0, 2])])),
  one('Split sizes, one output unused', [2, 7], (b) => {
    const [p, , r] = b.opN('Split', ['X', b.constInt64('s', [2, 3, 2])], { axis: 1 }, { outputs: 3 }) as [string, string, string];
    return [p, r];
  }),
  one('Split num_outputs (opset 18)', [6, 3], (b) => b.opN('Split', ['X'], { axis: 0, num_outputs: 3 }, { outputs: 3 })),
  one('Slice step 1 (Pad path), negative start', [4, 6], (b) =>
    b.op('Slice', ['X', b.constInt64('st', [1, -4]), b.constInt64('en', [3, 100]), b.constInt64('ax', [0, 1])])),
  one('Slice step 2 (scatter path)', [4, 7], (b) =>
    b.op('Slice', ['X', b.constInt64('st', [0, 1]), b.constInt64('en', [4, 7]), b.constInt64('ax', [0, 1]), b.constInt64('sp', [2, 2])])),
  one('Slice negative step', [5, 3], (b) =>
    b.op('Slice', ['X', b.constInt64('st', [-1]), b.constInt64('en', [-100]), b.constInt64('ax', [0]), b.constInt64('sp', [-2])])),
  one('Pad constant', [2, 3], (b) => b.op('Pad', ['X', b.constInt64('p', [1, 0, 0, 2])])),
  one('Expand', [3, 1], (b) => b.op('Expand', ['X', b.constInt64('s', [2, 3, 4])])),
  one('Tile', [2, 3], (b) => b.op('Tile', ['X', b.constInt64('r', [2, 3])])),
  one('ReduceSum axes keepdims=0', [2, 3, 4], (b) => b.op('ReduceSum', ['X', b.constInt64('a', [0, 2])], { keepdims: 0 })),
  one('ReduceSum all', [2, 3, 4], (b) => b.op('ReduceSum', ['X'], { keepdims: 1 })),
  one('ReduceMean opset 18 keepdims=1', [2, 3, 4], (b) => b.op('ReduceMean', ['X', b.constInt64('a', [-1])])),
  one('ReduceMean opset 13 attribute axes keepdims=0', [2, 3, 4], (b) => b.op('ReduceMean', ['X'], { axes: [1], keepdims: 0 }), 13),
  one('Concat axis 1 with a constant', [2, 3], (b) => b.op('Concat', ['X', b.constFloat('k', [1, 2], [2, 1]), 'X'], { axis: 1 }), undefined, { dtype: 'float' }),
];

describe('shape-op gradients vs central differences', () => {
  for (const [c] of cases) {
    it(c.name, async () => {
      const r = await checkGradients(c);
      expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(r.dtype === 'double' ? 1e-7 : 2e-3);
    });
  }

  it('Concat of two differentiable inputs of different sizes', async () => {
    const r = await checkGradients({
      name: 'Concat',
      inputs: { A: { dims: [2, 3, 2] }, B: { dims: [2, 1, 2] } },
      build: (b) => b.op('Concat', ['A', 'B', 'A'], { axis: -2 }),
    });
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('Gather (embedding, axis 0) with repeated and negative indices accumulates', async () => {
    const r = await checkGradients({
      name: 'Gather embedding',
      inputs: { W: { dims: [5, 3] }, I: { dims: [2, 3], type: 'int64', data: [1, 3, 1, 1, -1, 0] } },
      build: (b) => b.op('Gather', ['W', 'I']),
    });
    expect(r.relErr).toBeLessThan(1e-7);
    // Row 1 is used three times: its gradient is the sum of three seed rows.
    const R = r.feeds['R0']!.data as Float64Array;
    const g = r.analytic['W']!;
    for (let d = 0; d < 3; d++) expect(g[1 * 3 + d]).toBeCloseTo(R[0 * 3 + d]! + R[2 * 3 + d]! + R[3 * 3 + d]!, 10);
    for (let d = 0; d < 3; d++) expect(g[2 * 3 + d]).toBe(0);
  });

  it('Gather axis 1 with 2-D indices', async () => {
    const r = await checkGradients({
      name: 'Gather axis 1',
      inputs: { W: { dims: [2, 4, 3] }, I: { dims: [2, 2], type: 'int64', data: [3, 0, 3, 2] } },
      build: (b) => b.op('Gather', ['W', 'I'], { axis: 1 }),
    });
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('GatherElements with repeated indices', async () => {
    const r = await checkGradients({
      name: 'GatherElements',
      inputs: { X: { dims: [3, 4] }, I: { dims: [3, 2], type: 'int64', data: [0, 0, 3, 1, 2, 2] } },
      build: (b) => b.op('GatherElements', ['X', 'I'], { axis: 1 }),
    });
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('Reshape driven by exporter-style integer shape arithmetic (Shape → Gather → Concat)', async () => {
    const r = await checkGradients({
      name: 'exporter reshape',
      inputs: { X: { dims: [2, 3, 4] } },
      build: (b) => {
        const shp = b.op('Shape', ['X']);
        const n = b.op('Gather', [shp, b.constInt64('z', [0])]);
        const target = b.op('Concat', [n, b.constInt64('m', [-1])], { axis: 0 });
        const y = b.op('Reshape', ['X', target]);
        return b.op('Mul', [y, y]);
      },
    });
    expect(r.relErr).toBeLessThan(1e-6);
  });
});

describe('opset 13 forms (user students)', () => {
  it('Gather embedding at opset 13 (OneHot·MatMul path) with repeated indices', async () => {
    const r = await checkGradients({
      name: 'Gather opset 13',
      opset: 13,
      inputs: { W: { dims: [5, 3] }, I: { dims: [2, 3], type: 'int64', data: [1, 3, 1, 1, -1, 0] } },
      build: (b) => b.op('Gather', ['W', 'I']),
    });
    expect(r.relErr).toBeLessThan(r.dtype === 'double' ? 1e-7 : 2e-3);
  });
  it('Unsqueeze / Squeeze / ReduceSum / Split with axes inputs at opset 13', async () => {
    const r = await checkGradients({
      name: 'opset 13 axes inputs',
      opset: 13,
      inputs: { X: { dims: [2, 6] } },
      build: (b) => {
        const [p, q] = b.opN('Split', ['X', b.constInt64('s', [2, 4])], { axis: 1 }, { outputs: 2 }) as [string, string];
        const u = b.op('Unsqueeze', [p, b.constInt64('a', [0])]);
        const s = b.op('ReduceSum', [q, b.constInt64('ax', [1])], { keepdims: 0 });
        return [b.op('Squeeze', [u, b.constInt64('z', [0])]), b.op('Mul', [s, s])];
      },
    });
    expect(r.relErr).toBeLessThan(1e-6);
  });
});
