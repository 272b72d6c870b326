// Finite-difference checks of the element-wise gradient rules (arithmetic with broadcasting in
// both directions, activations, Where/Clip/Max/Min masks, Cast, Dropout).
import { describe, expect, it } from 'vitest';
import { DataType } from '../../app/engine/onnx/ir.js';
import { typedConst } from '../../app/engine/training/gradients/util.js';
import { checkGradients, type FeedSpec, type GradCase } from '../helpers/finite-diff.js';

const away = (r: () => number) => (r() < 0.5 ? -1 : 1) * (0.2 + 1.5 * r()); // |x| ≥ 0.2: no kinks near 0
const positive = (r: () => number) => 0.3 + 2 * r();

function binary(op: string, a: number[], b: number[], gb?: FeedSpec['gen']): GradCase {
  return {
    name: `${op} [${a}] x [${b}]`,
    inputs: { A: { dims: a }, B: { dims: b, ...(gb ? { gen: gb } : {}) } },
    build: (bld) => bld.op(op, ['A', 'B']),
  };
}

function unary(op: string, dims: number[], gen?: FeedSpec['gen'], attrs: Record<string, number | string | { float: number }> = {}, opset?: number): GradCase {
  return {
    name: `${op}${Object.keys(attrs).length ? JSON.stringify(attrs) : ''} [${dims}]`,
    inputs: { X: { dims, ...(gen ? { gen } : {}) } },
    build: (b) => b.op(op, ['X'], attrs),
    ...(opset ? { opset } : {}),
  };
}

const cases: Array<[GradCase, number]> = [
  [binary('Add', [3, 4], [3, 4]), 1e-7],
  [binary('Add', [2, 3, 4], [4]), 1e-7],
  [binary('Add', [4], [2, 3, 4]), 1e-7],
  [binary('Add', [2, 1, 4], [3, 1]), 1e-7],
  [binary('Sub', [2, 3, 4], [3, 1]), 1e-7],
  [binary('Sub', [1, 4], [2, 3, 4]), 1e-7],
  [binary('Mul', [2, 3, 4], [1, 3, 1]), 1e-7],
  [binary('Mul', [], [2, 3]), 1e-7],
  [binary('Div', [2, 3, 4], [4], positive), 1e-6],
  [binary('Div', [4], [2, 3, 4], positive), 1e-6],
  [binary('Max', [2, 3, 4], [3, 4]), 1e-7],
  [binary('Min', [3, 1], [2, 3, 4]), 1e-7],
  [binary('Pow', [3, 4], [3, 4]), 1e-6],
  [unary('Neg', [3, 4]), 1e-7],
  [unary('Relu', [3, 5], away), 1e-7],
  [unary('LeakyRelu', [3, 5], away, { alpha: { float: 0.1 } }), 1e-6],
  [unary('Sigmoid', [3, 5]), 1e-6],
  [unary('Tanh', [3, 5]), 1e-6],
  [unary('Exp', [3, 5]), 1e-6],
  [unary('Log', [3, 5], positive), 1e-6],
  [unary('Sqrt', [3, 5], positive), 1e-6],
  [unary('Erf', [3, 5]), 1e-6],
  [unary('Abs', [3, 5], away), 1e-7],
  [unary('Reciprocal', [3, 5], positive), 1e-6],
  [unary('Gelu', [3, 5], undefined, {}, 20), 1e-6],
  [unary('Gelu', [3, 5], undefined, { approximate: 'tanh' }, 20), 1e-6],
  [unary('Identity', [2, 3]), 1e-7],
];

// Positive base so Pow's exponent gradient (ln X) is defined.
cases[12]![0].inputs['A']!.gen = positive;

describe('element-wise gradients vs central differences', () => {
  for (const [c, tol] of cases) {
    it(c.name, async () => {
      const r = await checkGradients(c);
      expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(r.dtype === 'double' ? tol : 2e-3);
    });
  }

  it('Pow with a constant exponent (x^3 and x^0.5)', async () => {
    for (const p of [3, 0.5]) {
      const r = await checkGradients({
        name: `Pow const ${p}`,
        inputs: { X: { dims: [2, 5], gen: positive } },
        build: (b, t) => b.op('Pow', ['X', typedConst(b, t, [p], [])]),
      });
      expect(r.relErr).toBeLessThan(1e-6);
    }
  });

  it('decomposed exact GELU (x·0.5·(1+erf(x/√2))) through Erf/Mul/Add/Div rules', async () => {
    const r = await checkGradients({
      name: 'Gelu decomposed',
      inputs: { X: { dims: [4, 6] } },
      build: (b, t) => {
        const e = b.op('Erf', [b.op('Div', ['X', typedConst(b, t, [Math.SQRT2], [])])]);
        return b.op('Mul', [b.op('Mul', ['X', b.op('Add', [e, typedConst(b, t, [1], [])])]), typedConst(b, t, [0.5], [])]);
      },
    });
    expect(r.relErr).toBeLessThan(r.dtype === 'double' ? 1e-6 : 2e-3);
  });

  it('Where with broadcast branches and a boolean mask (mask gets no gradient)', async () => {
    const mask = [1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1];
    const r = await checkGradients({
      name: 'Where broadcast',
      inputs: { C: { dims: [3, 4], type: 'bool', data: mask }, A: { dims: [4] }, B: { dims: [3, 1] } },
      build: (b) => b.op('Where', ['C', 'A', 'B']),
    });
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('Clip with min and max inputs, and with only a max', async () => {
    const r = await checkGradients({
      name: 'Clip',
      inputs: { X: { dims: [4, 5], gen: (g) => -2 + 4 * g() } },
      build: (b, t) => {
        const c1 = b.op('Clip', ['X', typedConst(b, t, [-0.7], []), typedConst(b, t, [0.9], [])]);
        const c2 = b.op('Clip', ['X', '', typedConst(b, t, [0.1], [])]);
        return b.op('Add', [c1, c2]);
      },
    });
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('Cast float → double → float keeps the gradient in the input type', async () => {
    const r = await checkGradients({
      name: 'Cast',
      dtype: 'float',
      inputs: { X: { dims: [3, 4] } },
      build: (b) => b.op('Cast', [b.op('Mul', [b.op('Cast', ['X'], { to: DataType.DOUBLE }), b.op('Cast', ['X'], { to: DataType.DOUBLE })])], { to: DataType.FLOAT }),
    });
    expect(r.relErr).toBeLessThan(2e-3);
  });

  it('Sum and Mean (variadic, broadcasting)', async () => {
    const r = await checkGradients({
      name: 'Sum/Mean',
      inputs: { A: { dims: [2, 3] }, B: { dims: [3] }, C: { dims: [2, 1] } },
      build: (b) => b.op('Mul', [b.op('Sum', ['A', 'B', 'C']), b.op('Mean', ['A', 'B', 'C'])]),
    });
    expect(r.relErr).toBeLessThan(r.dtype === 'double' ? 1e-6 : 2e-3);
  });

  it('Max with three inputs and exact ties sends the gradient to the first tied input only', async () => {
    const r = await checkGradients({
      name: 'Max ties',
      inputs: { A: { dims: [6], data: [1, 2, 3, 0, 5, 5] }, B: { dims: [6], data: [1, 2, 0, 4, 5, -1] } },
      build: (b) => b.op('Max', ['A', 'B', 'A']),
      sample: 0,
    });
    const rr = r.feeds['R0']!.data as Float64Array;
    const ga = r.analytic['A']!;
    const gb = r.analytic['B']!;
    for (let i = 0; i < 6; i++) expect(ga[i]! + gb[i]!).toBeCloseTo(rr[i]!, 12); // mass conserved
    expect(ga[0]).toBeCloseTo(rr[0]!, 12); // tie A == B: A (first) wins
    expect(gb[0]).toBe(0);
    expect(gb[3]).toBeCloseTo(rr[3]!, 12);
  });

  it('Dropout: identity when not training; with training_mode, dY·mask/(1−ratio)', async () => {
    const inference = await checkGradients({
      name: 'Dropout (inference)',
      inputs: { X: { dims: [3, 4] } },
      build: (b) => b.op('Dropout', ['X']),
    });
    expect(inference.relErr).toBeLessThan(1e-7);
    // Training mode: the mask is random per run, so compare with dY·mask/(1−ratio) from the same run.
    const { GraphBuilder } = await import('../../app/engine/onnx/graph.js');
    const { emptyModel } = await import('../../app/engine/onnx/ir.js');
    const { buildBackward } = await import('../../app/engine/training/autodiff.js');
    const { session } = await import('../helpers/finite-diff.js');
    const ort = await import('onnxruntime-node');
    const m = emptyModel(18);
    const b = new GraphBuilder(m.graph);
    b.input('X', DataType.FLOAT, [64]);
    b.input('dY', DataType.FLOAT, [64]);
    const ratio = b.constFloat('ratio', [0.25], []);
    const train = b.initializer({ name: 'train', dataType: DataType.BOOL, dims: [], data: { kind: 'raw', bytes: new Uint8Array([1]) } });
    const y = b.op('Dropout', ['X', ratio, train]);
    const grads = buildBackward({
      graph: m.graph, builder: b, opset: 18, seeds: new Map([[y, 'dY']]), wrt: ['X'],
      shape: (n) => ({ elemType: n === train ? DataType.BOOL : DataType.FLOAT, dims: n === ratio || n === train ? [] : [64] }),
    });
    const maskName = m.graph.nodes.find((n) => n.opType === 'Dropout')!.outputs[1]!;
    m.graph.outputs = [{ name: grads.get('X')!, type: null }, { name: maskName, type: null }];
    const s = await session(m);
    const dY = Float32Array.from({ length: 64 }, (_, i) => 1 + i);
    const out = await s.run({ X: new ort.Tensor('float32', new Float32Array(64).fill(1), [64]), dY: new ort.Tensor('float32', dY, [64]) });
    const g = out[grads.get('X')!]!.data as Float32Array;
    const mask = out[maskName]!.data as Uint8Array;
    let kept = 0;
    for (let i = 0; i < 64; i++) {
      expect(g[i]).toBeCloseTo(mask[i] ? dY[i]! / 0.75 : 0, 4);
      kept += mask[i]!;
    }
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(64);
  });
});
