// Gradients of element-wise ops: arithmetic with broadcasting, activations, masks.
import { attrFloat, attrString } from '../../onnx/attributes.js';
import type { DataType } from '../../onnx/ir.js';
import type { GradContext, GradientRule } from '../autodiff.js';
import { UnsupportedGradientError } from './errors.js';
import { isFloatType } from './util.js';

type Rule = GradientRule;

/** dY of output 0 (rules are only called when some output has a gradient). */
function g0(c: GradContext): string {
  const g = c.gradOutputs[0];
  if (!g) throw new Error(`${c.node.opType}: no gradient for output 0`);
  return g;
}

function dimsOf(c: GradContext, name: string): number[] {
  return c.shape(name).dims;
}

function typeOf(c: GradContext, name: string): DataType {
  return c.shape(name).elemType;
}

/** Reduce a gradient shaped like output 0 to input i's shape. */
function toInput(c: GradContext, grad: string, i: number): string {
  return c.reduceToShape(grad, dimsOf(c, c.node.outputs[0]!), dimsOf(c, c.node.inputs[i]!));
}

/** Unary rule dX = dY ⊙ f(X, Y). */
function unary(f: (c: GradContext, dy: string, x: string, y: string, t: DataType) => string): Rule {
  return (c) => [f(c, g0(c), c.node.inputs[0]!, c.node.outputs[0]!, typeOf(c, c.node.inputs[0]!))];
}

/** Where(mask, dY, 0). */
function masked(c: GradContext, mask: string, dy: string, t: DataType): string {
  return c.op('Where', [mask, dy, c.scalar(0, t)]);
}

const add: Rule = (c) => {
  const dy = g0(c);
  return c.node.inputs.map((_, i) => (c.needsGrad(i) ? toInput(c, dy, i) : null));
};

const sub: Rule = (c) => {
  const dy = g0(c);
  return [c.needsGrad(0) ? toInput(c, dy, 0) : null, c.needsGrad(1) ? toInput(c, c.op('Neg', [dy]), 1) : null];
};

const mul: Rule = (c) => {
  const dy = g0(c);
  const [a, b] = c.node.inputs as [string, string];
  return [
    c.needsGrad(0) ? toInput(c, c.op('Mul', [dy, b]), 0) : null,
    c.needsGrad(1) ? toInput(c, c.op('Mul', [dy, a]), 1) : null,
  ];
};

const div: Rule = (c) => {
  const dy = g0(c);
  const [, b] = c.node.inputs as [string, string];
  const y = c.node.outputs[0]!;
  return [
    c.needsGrad(0) ? toInput(c, c.op('Div', [dy, b]), 0) : null,
    c.needsGrad(1) ? toInput(c, c.op('Neg', [c.op('Mul', [dy, c.op('Div', [y, b])])]), 1) : null,
  ];
};

/** Sum / Mean (variadic, broadcasting). */
const sum: Rule = add;
const mean: Rule = (c) => {
  const dy = c.op('Mul', [g0(c), c.scalar(1 / c.node.inputs.length, typeOf(c, c.node.outputs[0]!))]);
  return c.node.inputs.map((_, i) => (c.needsGrad(i) ? toInput(c, dy, i) : null));
};

const neg = unary((c, dy) => c.op('Neg', [dy]));
const identity: Rule = (c) => [g0(c)];
// Relu: Where(Y > 0, dY, 0). Testing Y (not X) lets ORT fuse the forward Conv+Relu.
const relu = unary((c, dy, _x, y, t) => masked(c, c.op('Greater', [y, c.scalar(0, t)]), dy, t));
const leakyRelu = unary((c, dy, x, _y, t) => {
  const alpha = attrFloat(c.node, 'alpha', 0.01);
  return c.op('Where', [c.op('Greater', [x, c.scalar(0, t)]), dy, c.op('Mul', [dy, c.scalar(alpha, t)])]);
});
const sigmoid = unary((c, dy, _x, y, t) => c.op('Mul', [dy, c.op('Mul', [y, c.op('Sub', [c.scalar(1, t), y])])]));
const tanh = unary((c, dy, _x, y, t) => c.op('Mul', [dy, c.op('Sub', [c.scalar(1, t), c.op('Mul', [y, y])])]));
const exp = unary((c, dy, _x, y) => c.op('Mul', [dy, y]));
const log = unary((c, dy, x) => c.op('Div', [dy, x]));
const sqrt = unary((c, dy, _x, y, t) => c.op('Div', [c.op('Mul', [dy, c.scalar(0.5, t)]), y]));
const reciprocal = unary((c, dy, _x, y) => c.op('Neg', [c.op('Mul', [dy, c.op('Mul', [y, y])])]));
const sin = unary((c, dy, x) => c.op('Mul', [dy, c.op('Cos', [x])]));
const cos = unary((c, dy, x) => c.op('Neg', [c.op('Mul', [dy, c.op('Sin', [x])])]));
const abs = unary((c, dy, x) => c.op('Mul', [dy, c.op('Sign', [x])]));
const softplus = unary((c, dy, x) => c.op('Mul', [dy, c.op('Sigmoid', [x])]));
const erf = unary((c, dy, x, _y, t) => {
  const e = c.op('Exp', [c.op('Neg', [c.op('Mul', [x, x])])]);
  return c.op('Mul', [dy, c.op('Mul', [e, c.scalar(2 / Math.sqrt(Math.PI), t)])]);
});

/** Gelu (opset 20): exact (erf) and approximate='tanh'. */
const gelu = unary((c, dy, x, _y, t) => {
  const approx = attrString(c.node, 'approximate', 'none');
  const s = (v: number) => c.scalar(v, t);
  if (approx === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const x2 = c.op('Mul', [x, x]);
    // inner = k (x + 0.044715 x³); th = tanh(inner)
    const inner = c.op('Mul', [c.op('Mul', [x, c.op('Add', [s(1), c.op('Mul', [x2, s(0.044715)])])]), s(k)]);
    const th = c.op('Tanh', [inner]);
    const left = c.op('Mul', [c.op('Add', [s(1), th]), s(0.5)]);
    const sech2 = c.op('Sub', [s(1), c.op('Mul', [th, th])]);
    const dInner = c.op('Mul', [c.op('Add', [s(1), c.op('Mul', [x2, s(3 * 0.044715)])]), s(k)]);
    const right = c.op('Mul', [c.op('Mul', [c.op('Mul', [x, sech2]), dInner]), s(0.5)]);
    return c.op('Mul', [dy, c.op('Add', [left, right])]);
  }
  if (approx !== 'none') throw new UnsupportedGradientError(`Gelu: unknown approximate='${approx}'`);
  const cdf = c.op('Mul', [c.op('Add', [s(1), c.op('Erf', [c.op('Mul', [x, s(Math.SQRT1_2)])])]), s(0.5)]);
  const pdf = c.op('Mul', [c.op('Exp', [c.op('Mul', [c.op('Mul', [x, x]), s(-0.5)])]), s(1 / Math.sqrt(2 * Math.PI))]);
  return c.op('Mul', [dy, c.op('Add', [cdf, c.op('Mul', [x, pdf])])]);
});

/** Pow(X, P): dX = dY·P·X^(P−1); dP = dY·Y·ln X (meaningful where X > 0). */
const pow: Rule = (c) => {
  const dy = g0(c);
  const [x, p] = c.node.inputs as [string, string];
  const y = c.node.outputs[0]!;
  const t = typeOf(c, x);
  const pf = typeOf(c, p) === t ? p : c.cast(p, t);
  const dx = c.needsGrad(0)
    ? toInput(c, c.op('Mul', [dy, c.op('Mul', [pf, c.op('Pow', [x, c.op('Sub', [pf, c.scalar(1, t)])])])]), 0)
    : null;
  const dp = c.needsGrad(1) ? toInput(c, c.op('Mul', [dy, c.op('Mul', [y, c.op('Log', [x])])]), 1) : null;
  return [dx, dp];
};

/** Where(cond, A, B): cond gets nothing; A and B get the masked gradient, reduced over broadcast axes. */
const where: Rule = (c) => {
  const dy = g0(c);
  const [cond] = c.node.inputs as [string];
  const t = typeOf(c, c.node.outputs[0]!);
  const zero = c.scalar(0, t);
  return [
    null,
    c.needsGrad(1) ? toInput(c, c.op('Where', [cond, dy, zero]), 1) : null,
    c.needsGrad(2) ? toInput(c, c.op('Where', [cond, zero, dy]), 2) : null,
  ];
};

/** Max/Min: the gradient goes to the first input equal to the result (ties: first wins, mass kept). */
function extremum(): Rule {
  return (c) => {
    const dy = g0(c);
    const y = c.node.outputs[0]!;
    const t = typeOf(c, y);
    const zero = c.scalar(0, t);
    const ins = c.node.inputs;
    if (ins.length === 1) return [dy];
    let taken: string | null = null;
    return ins.map((x, i) => {
      const eq = c.op('Equal', [x, y]);
      const win = taken ? c.op('And', [eq, c.op('Not', [taken])]) : eq;
      const needed = c.needsGrad(i);
      if (i < ins.length - 1) taken = taken ? c.op('Or', [taken, win]) : win;
      return needed ? toInput(c, c.op('Where', [win, dy, zero]), i) : null;
    });
  };
}

/** Clip(X, min, max): dX = dY where min <= X <= max. */
const clip: Rule = (c) => {
  const dy = g0(c);
  const [x, lo, hi] = c.node.inputs as [string, string | undefined, string | undefined];
  const t = typeOf(c, x);
  let mask: string | null = null;
  if (lo) mask = c.op('GreaterOrEqual', [x, lo]);
  if (hi) {
    const m = c.op('LessOrEqual', [x, hi]);
    mask = mask ? c.op('And', [mask, m]) : m;
  }
  return [mask ? masked(c, mask, dy, t) : dy, null, null];
};

const cast: Rule = (c) => {
  const x = c.node.inputs[0]!;
  const t = typeOf(c, x);
  if (!isFloatType(t)) return [null];
  return [c.cast(g0(c), t)];
};

/**
 * Dropout. Not in training mode (training_mode absent or constant false): identity. In training
 * mode: dX = dY ⊙ mask / (1 − ratio), using the node's mask output (one is added to the forward
 * node when it has none, so forward and backward share the same mask).
 */
const dropout: Rule = (c) => {
  const dy = g0(c);
  const n = c.node;
  const x = n.inputs[0]!;
  const t = typeOf(c, x);
  const ratioName = n.inputs[1] || '';
  const modeName = n.inputs[2] || '';
  if (!modeName) return [dy, null, null];
  const mode = c.constInts(modeName);
  if (mode && mode.every((v) => v === 0)) return [dy, null, null];
  if (!n.outputs[1]) {
    const maskName = c.builder.fresh(`${n.outputs[0]}_mask`);
    n.outputs[1] = maskName;
  }
  const ratio = ratioName ? (typeOf(c, ratioName) === t ? ratioName : c.cast(ratioName, t)) : c.scalar(attrFloat(n, 'ratio', 0.5), t);
  const scale = c.op('Div', [c.scalar(1, t), c.op('Sub', [c.scalar(1, t), ratio])]);
  const trained = c.op('Mul', [c.op('Mul', [dy, c.cast(n.outputs[1]!, t)]), scale]);
  if (mode) return [trained, null, null];
  return [c.op('Where', [modeName, trained, dy]), null, null];
};

/** Ops whose outputs carry no gradient (integer/boolean results, piecewise-constant functions). */
const none: Rule = (c) => c.node.inputs.map(() => null);

export const elementwiseRules: Record<string, Rule> = {
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Sum: sum,
  Mean: mean,
  Neg: neg,
  Identity: identity,
  Relu: relu,
  LeakyRelu: leakyRelu,
  Sigmoid: sigmoid,
  Tanh: tanh,
  Exp: exp,
  Log: log,
  Sqrt: sqrt,
  Reciprocal: reciprocal,
  Sin: sin,
  Cos: cos,
  Abs: abs,
  Softplus: softplus,
  Erf: erf,
  Gelu: gelu,
  Pow: pow,
  Where: where,
  Max: extremum(),
  Min: extremum(),
  Clip: clip,
  Cast: cast,
  Dropout: dropout,
  // No gradient (zero almost everywhere, or non-float results).
  Floor: none,
  Ceil: none,
  Round: none,
  Sign: none,
  Shape: none,
  Size: none,
  Constant: none,
  ConstantOfShape: none,
  Range: none,
  NonZero: none,
  ArgMax: none,
  ArgMin: none,
  Equal: none,
  Greater: none,
  GreaterOrEqual: none,
  Less: none,
  LessOrEqual: none,
  Not: none,
  And: none,
  Or: none,
  Xor: none,
  IsNaN: none,
  IsInf: none,
  EyeLike: none,
  RandomNormalLike: none,
  RandomUniformLike: none,
  OneHot: none,
};

