// The autodiff core: path finding, accumulation over multiple uses (tied weights), errors for
// missing rules, zero gradients without a path, custom rules, and end-to-end checks of an MLP and
// a small CNN on real Fashion-MNIST images against finite differences.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel } from '../../app/engine/onnx/ir.js';
import {
  buildBackward,
  hasGradient,
  registerGradient,
  UnsupportedGradientError,
  type GradShape,
} from '../../app/engine/training/autodiff.js';
import { typedConst } from '../../app/engine/training/gradients/util.js';
import { checkGradients, fashionMnist, normal, report, type GradCase } from '../helpers/finite-diff.js';

describe('autodiff core', () => {
  it('tied weight used three times (MatMul, MatMul, Gemm transB) accumulates every use', async () => {
    const r = await checkGradients({
      name: 'tied weight',
      inputs: { X: { dims: [2, 4] }, W: { dims: [4, 4] } },
      build: (b) => {
        const h = b.op('Tanh', [b.op('MatMul', ['X', 'W'])]);
        const h2 = b.op('MatMul', [h, 'W']);
        return b.op('Gemm', [h2, 'W'], { transB: 1 });
      },
    });
    expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(1e-6);
  });

  it('the same value feeding both inputs of one node (X·X) and several seeds', async () => {
    const r = await checkGradients({
      name: 'X*X, two seeds',
      inputs: { X: { dims: [3, 2] } },
      build: (b) => {
        const sq = b.op('Mul', ['X', 'X']);
        return [sq, b.op('Exp', [sq])];
      },
    });
    expect(r.relErr).toBeLessThan(1e-6);
  });

  it('a wrt value without a path to the seeds gets a zero gradient of its shape', async () => {
    const r = await checkGradients({
      name: 'no path',
      inputs: { X: { dims: [2, 3] }, U: { dims: [3, 5] } },
      build: (b) => {
        b.op('MatMul', ['X', 'U']); // dead branch
        return b.op('Relu', ['X']);
      },
      sample: 4,
    });
    expect(Array.from(r.analytic['U']!)).toEqual(new Array(15).fill(0));
  });

  function unsupportedGraph() {
    const m = emptyModel(18);
    const b = new GraphBuilder(m.graph);
    b.input('X', DataType.FLOAT, [1, 1, 4, 4]);
    const shapes = new Map<string, GradShape>();
    const resized = b.op('Resize', ['X', '', b.constFloat('sc', [1, 1, 2, 2], [4])], { mode: 'nearest' });
    const topk = b.opN('TopK', [b.op('Reshape', [resized, b.constInt64('s', [1, -1])]), b.constInt64('k', [3])], {}, { outputs: 2 });
    const y = b.op('Relu', [topk[0]!]);
    const dead = b.op('Round', ['X']); // an op without a rule that is NOT on the path
    shapes.set('X', { elemType: DataType.FLOAT, dims: [1, 1, 4, 4] });
    return { m, b, y, dead };
  }

  it('unsupported ops on the path raise UnsupportedGradientError naming every one', () => {
    const { m, b, y } = unsupportedGraph();
    const run = () =>
      buildBackward({
        graph: m.graph, builder: b, opset: 18, seeds: new Map([[y, 'dY']]), wrt: ['X'],
        shape: () => ({ elemType: DataType.FLOAT, dims: [1] }),
      });
    expect(run).toThrow(UnsupportedGradientError);
    expect(run).toThrow(/no gradient rule for: TopK, Resize/);
    expect(hasGradient('Resize')).toBe(false);
    expect(hasGradient('MatMul')).toBe(true);
  });

  it('integer shape paths, boolean masks and ops off the path need no rule', () => {
    const m = emptyModel(18);
    const b = new GraphBuilder(m.graph);
    b.input('X', DataType.FLOAT, [2, 3]);
    const shp = b.op('Shape', ['X']);
    const nz = b.op('NonZero', [b.op('Greater', ['X', b.constFloat('z', [0], [])])]); // int64, no rule needed
    void nz;
    const y = b.op('Reshape', [b.op('Relu', ['X']), shp]);
    const before = m.graph.nodes.length;
    const grads = buildBackward({
      graph: m.graph, builder: b, opset: 18, seeds: new Map([[y, 'dY']]), wrt: ['X'],
      shape: (n) => ({ elemType: n === shp ? DataType.INT64 : DataType.FLOAT, dims: n === shp ? [2] : [2, 3] }),
    });
    expect(grads.get('X')).toBeTruthy();
    expect(m.graph.nodes.length).toBeGreaterThan(before);
  });

  it('registerGradient adds a rule for a new op type', async () => {
    // HardSwish-free example: Softsign y = x/(1+|x|), dy/dx = 1/(1+|x|)².
    expect(hasGradient('Softsign')).toBe(false);
    registerGradient('Softsign', (c) => {
      const x = c.node.inputs[0]!;
      const t = c.shape(x).elemType;
      const d = c.op('Add', [c.scalar(1, t), c.op('Abs', [x])]);
      return [c.op('Div', [c.gradOutputs[0]!, c.op('Mul', [d, d])])];
    });
    const r = await checkGradients({
      name: 'custom Softsign',
      inputs: { X: { dims: [3, 3], gen: (g) => (g() < 0.5 ? -1 : 1) * (0.2 + g()) } },
      build: (b) => b.op('Softsign', ['X']),
    });
    expect(r.relErr).toBeLessThan(r.dtype === 'double' ? 1e-6 : 2e-3);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end: cross-entropy over a batch of 8 Fashion-MNIST images, seed = (softmax − onehot)/B.

const B = 8;
const { images, labels } = fashionMnist(B, 100);
const onehot = new Array<number>(B * 10).fill(0);
labels.forEach((l, i) => (onehot[i * 10 + l] = 1));

function ceLoss(b: GraphBuilder, t: DataType, ys: string[]) {
  const logits = ys[0]!;
  const logp = b.op('LogSoftmax', [logits], { axis: 1 });
  const nll = b.op('ReduceSum', [b.op('Mul', [logp, 'Y1h'])], { keepdims: 0 });
  const loss = b.op('Mul', [nll, typedConst(b, t, [-1 / B], [])]);
  const seed = b.op('Mul', [b.op('Sub', [b.op('Softmax', [logits], { axis: 1 }), 'Y1h']), typedConst(b, t, [1 / B], [])]);
  return { loss, seeds: [[logits, seed]] as Array<[string, string]> };
}

const TORCH_CNN = `
import json, sys, torch
F = torch.nn.functional
d = json.load(sys.stdin)
T = lambda k: torch.tensor(d[k]['data'], dtype=torch.float64).reshape(d[k]['dims'])
ws = {k: T(k).requires_grad_() for k in ['C1', 'cb1', 'C2', 'cb2', 'W3', 'b3', 'W4', 'b4']}
X, Y = T('X'), T('Y1h')
a1 = F.max_pool2d(F.relu(F.conv2d(X, ws['C1'], ws['cb1'], padding=1)), 2)
a2 = F.max_pool2d(F.relu(F.conv2d(a1, ws['C2'], ws['cb2'], padding=1)), 2)
h = F.relu(a2.flatten(1) @ ws['W3'].T + ws['b3'])
z = h @ ws['W4'].T + ws['b4']
(-(F.log_softmax(z, 1) * Y).sum() / X.shape[0]).backward()
out = {}
for k, w in ws.items():
    g = torch.tensor(d['g_' + k], dtype=torch.float64).reshape(w.shape)
    out[k] = float((g - w.grad).abs().max() / w.grad.abs().max())
print(json.dumps(out))
`;

const he = (fanIn: number) => (g: () => number) => normal(g) * Math.sqrt(2 / fanIn);

describe('end to end on Fashion-MNIST (8 images)', () => {
  it('MLP: Flatten → Gemm → Relu → Gemm', async () => {
    const c: GradCase = {
      name: 'e2e MLP',
      inputs: {
        X: { dims: [B, 1, 28, 28], data: images },
        Y1h: { dims: [B, 10], data: onehot },
        W1: { dims: [32, 784], gen: he(784) },
        b1: { dims: [32], gen: (g) => 0.1 * normal(g) },
        W2: { dims: [10, 32], gen: he(32) },
        b2: { dims: [10], gen: (g) => 0.1 * normal(g) },
      },
      wrt: ['W1', 'b1', 'W2', 'b2'],
      sample: 24,
      build: (b) => {
        const h = b.op('Relu', [b.op('Gemm', [b.op('Flatten', ['X']), 'W1', 'b1'], { transB: 1 })]);
        return b.op('Gemm', [h, 'W2', 'b2'], { transB: 1 });
      },
      customLoss: ceLoss,
    };
    const r = await checkGradients(c);
    expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(r.dtype === 'double' ? 1e-6 : 1e-2);
  });

  it('CNN: Conv → Relu → MaxPool → Conv → Relu → MaxPool → Flatten → Gemm → Relu → Gemm', async () => {
    const c: GradCase = {
      name: 'e2e CNN',
      inputs: {
        X: { dims: [B, 1, 28, 28], data: images },
        Y1h: { dims: [B, 10], data: onehot },
        C1: { dims: [8, 1, 3, 3], gen: he(9) },
        cb1: { dims: [8], gen: (g) => 0.1 * normal(g) },
        C2: { dims: [16, 8, 3, 3], gen: he(72) },
        cb2: { dims: [16], gen: (g) => 0.1 * normal(g) },
        W3: { dims: [32, 16 * 7 * 7], gen: he(784) },
        b3: { dims: [32], gen: (g) => 0.1 * normal(g) },
        W4: { dims: [10, 32], gen: he(32) },
        b4: { dims: [10], gen: (g) => 0.1 * normal(g) },
      },
      wrt: ['C1', 'cb1', 'C2', 'cb2', 'W3', 'b3', 'W4', 'b4'],
      sample: 16,
      eps: 1e-3,
      build: (b) => {
        const pool = { kernel_shape: [2, 2], strides: [2, 2] };
        const a1 = b.op('MaxPool', [b.op('Relu', [b.op('Conv', ['X', 'C1', 'cb1'], { pads: [1, 1, 1, 1] })])], pool);
        const a2 = b.op('MaxPool', [b.op('Relu', [b.op('Conv', [a1, 'C2', 'cb2'], { pads: [1, 1, 1, 1] })])], pool);
        const h = b.op('Relu', [b.op('Gemm', [b.op('Flatten', [a2]), 'W3', 'b3'], { transB: 1 })]);
        return b.op('Gemm', [h, 'W4', 'b4'], { transB: 1 });
      },
      customLoss: ceLoss,
    };
    const r = await checkGradients(c);
    expect(r.dtype).toBe('float');
    // FLOAT FD through 2 ReLU + MaxPool layers on real images crosses kinks (the error grows
    // linearly with eps: 1 % at 1e-3, 13 % at 1e-2), so FD is a loose check here...
    expect(r.relErr, JSON.stringify(r.perInput)).toBeLessThan(2e-2);
    // ...and PyTorch's float64 autograd on the same inputs and weights is the tight one.
    const dump: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.feeds)) dump[k] = { dims: v.dims, data: Array.from(v.data as Float32Array) };
    for (const [k, v] of Object.entries(r.analytic)) dump[`g_${k}`] = Array.from(v);
    const torchErr = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', TORCH_CNN], { input: JSON.stringify(dump), encoding: 'utf8', maxBuffer: 1 << 26 }),
    ) as Record<string, number>;
    report('e2e CNN vs torch float64', { dtype: 'float', relErr: Math.max(...Object.values(torchErr)) });
    for (const [k, e] of Object.entries(torchErr)) expect(e, k).toBeLessThan(2e-5);
  });
});
