// Gradients of Softmax, LogSoftmax, LayerNormalization and BatchNormalization, and the rewrite
// of a BatchNormalization node into batch statistics for training.
import { attrFloat, attrInt } from '../../onnx/attributes.js';
import type { GraphBuilder } from '../../onnx/graph.js';
import { DataType, type Graph, type Node } from '../../onnx/ir.js';
import type { GradContext, GradientRule } from '../autodiff.js';
import { UnsupportedGradientError } from './errors.js';
import { normAxis, range, typedConst } from './util.js';

/** Softmax over `axes` (opset ≥ 13: the one axis; below: the coerced 2-D form, axes axis..rank-1). */
function softmaxAxes(c: GradContext): number[] {
  const rank = c.shape(c.node.inputs[0]!).dims.length;
  const axis = normAxis(attrInt(c.node, 'axis', c.opset >= 13 ? -1 : 1), rank);
  return c.opset >= 13 ? [axis] : range(rank - axis, axis);
}

const softmax: GradientRule = (c) => {
  const dy = c.gradOutputs[0]!;
  const y = c.node.outputs[0]!;
  const s = c.reduceSum(c.op('Mul', [dy, y]), softmaxAxes(c), true);
  return [c.op('Mul', [y, c.op('Sub', [dy, s])])];
};

const logSoftmax: GradientRule = (c) => {
  const dy = c.gradOutputs[0]!;
  const y = c.node.outputs[0]!;
  const s = c.reduceSum(dy, softmaxAxes(c), true);
  return [c.op('Sub', [dy, c.op('Mul', [c.op('Exp', [y]), s])])];
};

/**
 * LayerNormalization(X, scale, B; axis, epsilon). Mean and 1/σ are recomputed with ReduceMean
 * over the normalized axes: dX = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dY·scale.
 */
const layerNorm: GradientRule = (c) => {
  if (c.gradOutputs[1] || c.gradOutputs[2]) {
    throw new UnsupportedGradientError(`LayerNormalization '${c.node.name}': gradients through the Mean/InvStdDev outputs are not supported`);
  }
  const dy = c.gradOutputs[0]!;
  const [x, scale, bias] = c.node.inputs as [string, string, string | undefined];
  const xs = c.shape(x);
  const t = xs.elemType;
  const rank = xs.dims.length;
  const axis = normAxis(attrInt(c.node, 'axis', -1), rank);
  const eps = attrFloat(c.node, 'epsilon', 1e-5);
  const axes = range(rank - axis, axis);
  const mu = c.reduceMean(x, axes, true);
  const xc = c.op('Sub', [x, mu]);
  const variance = c.reduceMean(c.op('Mul', [xc, xc]), axes, true);
  const r = c.op('Reciprocal', [c.op('Sqrt', [c.op('Add', [variance, c.scalar(eps, t)])])]);
  const xhat = c.op('Mul', [xc, r]);
  const out: (string | null)[] = [null, null, null];
  if (c.needsGrad(0)) {
    const g = c.op('Mul', [dy, scale]);
    const mg = c.reduceMean(g, axes, true);
    const mgx = c.reduceMean(c.op('Mul', [g, xhat]), axes, true);
    out[0] = c.op('Mul', [r, c.op('Sub', [c.op('Sub', [g, mg]), c.op('Mul', [xhat, mgx])])]);
  }
  if (c.needsGrad(1)) out[1] = c.reduceToShape(c.op('Mul', [dy, xhat]), xs.dims, c.shape(scale).dims);
  if (bias && c.needsGrad(2)) out[2] = c.reduceToShape(dy, xs.dims, c.shape(bias).dims);
  return out;
};

/**
 * BatchNormalization. Inference mode (statistics frozen): dX = dY·scale·r, dScale = Σ dY·x̂,
 * dB = Σ dY, mean and var get none. With training_mode=1 the forward used batch statistics,
 * so the batch-statistics formula applies: dX = (scale·r/m)(m·dY − dB − x̂·dScale).
 */
const batchNorm: GradientRule = (c) => {
  const dy = c.gradOutputs[0]!;
  const [x, scale, bias, mean, variance] = c.node.inputs as [string, string, string, string, string];
  const xs = c.shape(x);
  const t = xs.elemType;
  const rank = xs.dims.length;
  const C = xs.dims[1] ?? 1;
  const eps = attrFloat(c.node, 'epsilon', 1e-5);
  const training = attrInt(c.node, 'training_mode', 0) === 1;
  const bshape = [1, C, ...new Array<number>(Math.max(0, rank - 2)).fill(1)];
  const axes = [0, ...range(Math.max(0, rank - 2), 2)];
  const castTo = (v: string) => (c.shape(v).elemType === t ? v : c.cast(v, t));
  const scaleB = c.reshape(castTo(scale), bshape);
  let mu: string;
  let vr: string;
  if (training) {
    mu = c.reduceMean(x, axes, true);
    const xc0 = c.op('Sub', [x, mu]);
    vr = c.reduceMean(c.op('Mul', [xc0, xc0]), axes, true);
  } else {
    mu = c.reshape(castTo(mean), bshape);
    vr = c.reshape(castTo(variance), bshape);
  }
  const r = c.op('Reciprocal', [c.op('Sqrt', [c.op('Add', [vr, c.scalar(eps, t)])])]);
  const xhat = c.op('Mul', [c.op('Sub', [x, mu]), r]);
  const needStats = training && c.needsGrad(0);
  const dB = c.needsGrad(2) || needStats ? c.reduceSum(dy, axes, true) : null;
  const dScale = c.needsGrad(1) || needStats ? c.reduceSum(c.op('Mul', [dy, xhat]), axes, true) : null;
  const out: (string | null)[] = [null, null, null, null, null];
  if (c.needsGrad(0)) {
    const k = c.op('Mul', [scaleB, r]);
    if (!training) out[0] = c.op('Mul', [dy, k]);
    else {
      const m = axes.reduce((p, a) => p * xs.dims[a]!, 1);
      const inner = c.op('Sub', [c.op('Sub', [c.op('Mul', [dy, c.scalar(m, t)]), dB!]), c.op('Mul', [xhat, dScale!])]);
      out[0] = c.op('Mul', [inner, c.op('Mul', [k, c.scalar(1 / m, t)])]);
    }
  }
  const back = (v: string, like: string) => {
    const r1 = c.reshape(v, c.shape(like).dims);
    return c.shape(like).elemType === t ? r1 : c.cast(r1, c.shape(like).elemType);
  };
  if (c.needsGrad(1)) out[1] = back(dScale!, scale);
  if (c.needsGrad(2)) out[2] = back(dB!, bias);
  return out;
};

export interface DecomposedBatchNorm {
  /** The normalized output (the node's first output name, unchanged). */
  output: string;
  /** Updated running mean: rm·momentum + μ·(1 − momentum). */
  runningMean: string;
  /** Updated running variance: rv·momentum + σ²·(1 − momentum). */
  runningVar: string;
}

/**
 * Rewrites a BatchNormalization node into batch statistics (ReduceMean over all axes but the
 * channel axis), for training: Y = (X − μ)/√(σ² + ε)·scale + B. The nodes are spliced in where
 * the BN node was. The running statistics are updated with the node's momentum (default 0.9);
 * by default the variance fed into the running average is the unbiased one (×m/(m−1)), as
 * PyTorch does; `unbiasedRunningVar: false` uses the biased batch variance (the ONNX spec's form).
 * The node's optional outputs 1 and 2, when named, receive the running statistics.
 */
export function decomposeBatchNormForTraining(
  graph: Graph,
  node: Node,
  builder: GraphBuilder,
  options: { opset?: number; elemType?: DataType; dims?: number[]; unbiasedRunningVar?: boolean } = {},
): DecomposedBatchNorm {
  if (node.opType !== 'BatchNormalization') throw new Error(`decomposeBatchNormForTraining: node is ${node.opType}`);
  const at = graph.nodes.indexOf(node);
  if (at < 0) throw new Error('decomposeBatchNormForTraining: node is not in the graph');
  const opset = options.opset ?? 18;
  const t = options.elemType ?? DataType.FLOAT;
  const [x, scale, bias, mean, variance] = node.inputs as [string, string, string, string, string];
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const momentum = attrFloat(node, 'momentum', 0.9);
  const before = graph.nodes.length;
  graph.nodes.splice(at, 1);
  const rank = options.dims?.length ?? 4;
  const axes = [0, ...range(Math.max(0, rank - 2), 2)];
  const b = builder;
  const i64 = (v: number[]) => b.constInt64('bn_ints', v, [v.length]);
  const rmean = (v: string) =>
    opset >= 18 ? b.op('ReduceMean', [v, i64(axes)], { keepdims: 1 }) : b.op('ReduceMean', [v], { axes, keepdims: 1 });
  const s = (v: number) => typedConst(b, t, [v], [], 'bn_scalar');
  const chan = [1, -1, ...new Array<number>(Math.max(0, rank - 2)).fill(1)];
  const mu = rmean(x);
  const xc = b.op('Sub', [x, mu]);
  const vr = rmean(b.op('Mul', [xc, xc]));
  const std = b.op('Sqrt', [b.op('Add', [vr, s(eps)])]);
  const xhat = b.op('Div', [xc, std]);
  const scaled = b.op('Mul', [xhat, b.op('Reshape', [scale, i64(chan)])]);
  const y = b.op('Add', [scaled, b.op('Reshape', [bias, i64(chan)])], {}, { output: node.outputs[0]! });
  const flatMu = b.op('Reshape', [mu, i64([-1])]);
  let flatVar = b.op('Reshape', [vr, i64([-1])]);
  if (options.unbiasedRunningVar !== false) {
    const m = options.dims ? axes.reduce((p, a) => p * options.dims![a]!, 1) : 0;
    if (m > 1) flatVar = b.op('Mul', [flatVar, s(m / (m - 1))]);
  }
  const blend = (old: string, cur: string, out?: string) =>
    b.op('Add', [b.op('Mul', [old, s(momentum)]), b.op('Mul', [cur, s(1 - momentum)])], {}, out ? { output: out } : {});
  const runningMean = blend(mean, flatMu, node.outputs[1] || undefined);
  const runningVar = blend(variance, flatVar, node.outputs[2] || undefined);
  // Move the new nodes to where the BN node was (the builder appended them).
  const added = graph.nodes.splice(before - 1);
  graph.nodes.splice(at, 0, ...added);
  return { output: y, runningMean, runningVar };
}

export const normRules: Record<string, GradientRule> = {
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
};
