// Finite-difference checks of Softmax, LogSoftmax, LayerNormalization and BatchNormalization
// (inference rule, training_mode=1 rule, and the decomposed training form).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel } from '../../app/engine/onnx/ir.js';
import { decomposeBatchNormForTraining } from '../../app/engine/training/autodiff.js';
import { typedConst } from '../../app/engine/training/gradients/util.js';
import { checkGradients, normal, rng, session } from '../helpers/finite-diff.js';

const tolFor = (dtype: string, double = 1e-6) => (dtype === 'double' ? double : 2e-3);

describe('Softmax / LogSoftmax', () => {
  for (const op of ['Softmax', 'LogSoftmax']) {
    for (const [axis, opset] of [[-1, 18], [1, 18], [1, 13], [0, 13]] as const) {
      it(`${op} axis=${axis} opset ${opset} on [2,3,4]`, async () => {
        const r = await checkGradients({
          name: `${op} axis=${axis} opset ${opset}`,
          opset,
          inputs: { X: { dims: [2, 3, 4] } },
          build: (b) => b.op(op, ['X'], { axis }),
        });
        expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(tolFor(r.dtype));
      });
    }
  }
});

describe('LayerNormalization', () => {
  for (const [dims, axis] of [[[3, 5], -1], [[2, 3, 4], -1], [[2, 3, 4], 1]] as const) {
    it(`LayerNormalization [${dims}] axis=${axis}`, async () => {
      const normShape = dims.slice(axis < 0 ? dims.length + axis : axis);
      const r = await checkGradients({
        name: `LayerNorm [${dims}] axis=${axis}`,
        opset: 17,
        inputs: { X: { dims: [...dims] }, S: { dims: normShape }, B: { dims: normShape } },
        build: (b) => b.op('LayerNormalization', ['X', 'S', 'B'], { axis, epsilon: { float: 1e-3 } }),
      });
      expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(tolFor(r.dtype));
    });
  }
  it('decomposed LayerNorm (ReduceMean/Sub/Pow/Sqrt/Div, as exporters below opset 17 write it)', async () => {
    const r = await checkGradients({
      name: 'LayerNorm decomposed',
      opset: 13,
      inputs: { X: { dims: [3, 6] } },
      build: (b, t) => {
        const mu = b.op('ReduceMean', ['X'], { axes: [-1] });
        const xc = b.op('Sub', ['X', mu]);
        const v = b.op('ReduceMean', [b.op('Pow', [xc, typedConst(b, t, [2], [])])], { axes: [-1] });
        return b.op('Div', [xc, b.op('Sqrt', [b.op('Add', [v, typedConst(b, t, [1e-5], [])])])]);
      },
    });
    expect(r.relErr).toBeLessThan(tolFor(r.dtype));
  });
});

describe('BatchNormalization', () => {
  const C = 3;
  const inputs = {
    X: { dims: [4, C, 3, 2] },
    S: { dims: [C] },
    B: { dims: [C] },
    M: { dims: [C], gen: (r: () => number) => 0.5 * normal(r) },
    V: { dims: [C], gen: (r: () => number) => 0.5 + r() },
  };
  it('inference mode (frozen statistics): X, scale, bias', async () => {
    const r = await checkGradients({
      name: 'BatchNorm inference',
      inputs,
      wrt: ['X', 'S', 'B'],
      build: (b) => b.op('BatchNormalization', ['X', 'S', 'B', 'M', 'V'], { epsilon: { float: 1e-3 } }),
    });
    expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(tolFor(r.dtype));
  });

  it('decomposed training form (batch statistics) is differentiated through its ReduceMean chain', async () => {
    const r = await checkGradients({
      name: 'BatchNorm decomposed training',
      inputs,
      wrt: ['X', 'S', 'B'],
      build: (b) => b.op('BatchNormalization', ['X', 'S', 'B', 'M', 'V'], { epsilon: { float: 1e-3 } }),
      prepare: (model, shapes) => {
        const bn = model.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
        decomposeBatchNormForTraining(model.graph, bn, new GraphBuilder(model.graph, 'bn_'), {
          opset: 18,
          elemType: shapes.get('X')!.elemType,
          dims: shapes.get('X')!.dims,
        });
      },
    });
    expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(tolFor(r.dtype));
  });

  it('decomposition matches ORT training-mode BatchNormalization and updates running stats with momentum', async () => {
    const dims = [4, C, 3, 2];
    const n = dims.reduce((p, d) => p * d, 1);
    const g = rng(5);
    const x = Float32Array.from({ length: n }, () => normal(g));
    const s = Float32Array.from({ length: C }, () => 1 + 0.3 * normal(g));
    const bias = Float32Array.from({ length: C }, () => normal(g));
    const rm = Float32Array.from({ length: C }, () => normal(g));
    const rv = Float32Array.from({ length: C }, () => 1 + g());
    const build = (decompose: boolean) => {
      const m = emptyModel(18);
      const b = new GraphBuilder(m.graph);
      for (const [k, d] of [['X', dims], ['S', [C]], ['B', [C]], ['M', [C]], ['V', [C]]] as const) b.input(k, DataType.FLOAT, [...d]);
      const [y, om, ov] = b.opN('BatchNormalization', ['X', 'S', 'B', 'M', 'V'], { epsilon: { float: 1e-3 }, momentum: { float: 0.8 }, training_mode: 1 }, { outputs: ['Y', 'RM', 'RV'] });
      if (decompose) {
        const res = decomposeBatchNormForTraining(m.graph, m.graph.nodes[0]!, b, { opset: 18, dims, unbiasedRunningVar: false });
        expect(res.output).toBe('Y');
        expect(res.runningMean).toBe('RM');
      }
      m.graph.outputs = [y!, om!, ov!].map((name) => ({ name, type: null }));
      return m;
    };
    const feeds = {
      X: new ort.Tensor('float32', x, dims),
      S: new ort.Tensor('float32', s, [C]),
      B: new ort.Tensor('float32', bias, [C]),
      M: new ort.Tensor('float32', rm, [C]),
      V: new ort.Tensor('float32', rv, [C]),
    };
    const ref = await (await session(build(false))).run(feeds);
    const dec = await (await session(build(true))).run(feeds);
    for (const k of ['Y', 'RM', 'RV']) {
      const a = ref[k]!.data as Float32Array;
      const d = dec[k]!.data as Float32Array;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - d[i]!)).toBeLessThan(1e-4);
    }
    // And the momentum blend by hand for the mean of channel 0.
    const per = n / (dims[0]! * C);
    let mu0 = 0;
    for (let b0 = 0; b0 < dims[0]!; b0++) for (let k = 0; k < per; k++) mu0 += x[b0 * C * per + k]!;
    mu0 /= dims[0]! * per;
    expect((dec['RM']!.data as Float32Array)[0]).toBeCloseTo(rm[0]! * 0.8 + mu0 * 0.2, 5);
  });

  it('training_mode=1 node differentiated directly (batch-statistics rule)', async () => {
    let r;
    try {
      r = await checkGradients({
        name: 'BatchNorm training_mode=1',
        inputs,
        wrt: ['X', 'S', 'B'],
        build: (b) => b.opN('BatchNormalization', ['X', 'S', 'B', 'M', 'V'], { epsilon: { float: 1e-3 }, training_mode: 1 }, { outputs: 3 })[0]!,
      });
    } catch (e) {
      throw new Error(`ORT could not run BN training mode: ${String(e)}`);
    }
    expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(tolFor(r.dtype));
  });
});
