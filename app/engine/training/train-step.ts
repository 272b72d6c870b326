// Builds one training step as a plain ONNX graph: the student's forward pass, the distillation
// loss, its gradient (seeded in closed form, then back-propagated by the autodiff), and an
// AdamW or SGD update. One session.run = one step: weights and optimizer state in, new ones out.
//
//   loss = α·T²·KL(p_teacher ‖ softmax(s/T)) + (1−α)·CE(s, y)       (KL averaged over the batch,
//                                                                     CE over labelled samples)
//   dL/ds = α·T·(softmax(s/T) − p_teacher)/B + (1−α)·(softmax(s)·labelled − onehot(y))/n_labelled
import { buildBackward, type GradShape } from './autodiff.js';
import { GraphBuilder } from '../onnx/graph.js';
import { DataType, type Model, type Tensor } from '../onnx/ir.js';

export type OptimizerConfig =
  | { kind: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number }
  | { kind: 'sgd'; momentum: number; weightDecay: number };

export const defaultAdamW: OptimizerConfig = { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 };

export interface TrainStepOptions {
  /** The student as an inference model; it is copied, not changed. */
  student: Model;
  /** Initializers to train; others stay frozen. Default: every float initializer. */
  trainable?: string[];
  batchSize: number;
  optimizer?: OptimizerConfig;
  /** Clip gradients to this global L2 norm. */
  clipNorm?: number;
  /** Static shapes of the student's values at this batch size. */
  shape: (name: string) => GradShape;
  /** Names of the student's input and logits output (default: first input, first output). */
  inputName?: string;
  logitsName?: string;
}

export interface ParamSlot {
  name: string;
  dims: number[];
  /** Optimizer state inputs and the matching outputs. */
  state: { input: string; output: string }[];
  output: string;
  decay: boolean;
}

export interface TrainStepGraph {
  model: Model;
  params: ParamSlot[];
  inputName: string;
  /** Feeds besides params and state. */
  feeds: { teacherProbs: string; labels: string; lr: string; temperature: string; alpha: string; bc1: string; bc2: string };
  outputs: { loss: string; lossKd: string; lossCe: string; gradNorm: string };
  classes: number;
}

/** A deep copy of the IR (initializer bytes shared: they are never mutated in place). */
export function cloneModel(model: Model): Model {
  return structuredClone(model);
}

/** Numerically stable log-softmax over the last axis, built from ops every provider has. */
export function logSoftmax(b: GraphBuilder, x: string, opset: number): string {
  const max = opset >= 18
    ? b.op('ReduceMax', [x, b.constInt64('axis_last', [-1])], { keepdims: 1 })
    : b.op('ReduceMax', [x], { axes: [-1], keepdims: 1 });
  const shifted = b.op('Sub', [x, max]);
  const sum = b.op('ReduceSum', [b.op('Exp', [shifted]), b.constInt64('axis_last', [-1])], { keepdims: 1 });
  return b.op('Sub', [shifted, b.op('Log', [sum])]);
}

export function buildTrainStep(o: TrainStepOptions): TrainStepGraph {
  const model = cloneModel(o.student);
  const g = model.graph;
  const opset = model.opsetImports.find((i) => i.domain === '' || i.domain === 'ai.onnx')?.version ?? 17;
  if (opset < 13) throw new Error(`the student uses opset ${opset}; training needs opset 13 or newer (re-export it with a newer opset)`);
  const inputName = o.inputName ?? g.inputs.find((i) => !g.initializers.some((t) => t.name === i.name))?.name;
  const logits = o.logitsName ?? g.outputs[0]?.name;
  if (!inputName || !logits) throw new Error('the student model needs one data input and a logits output');
  const logitsShape = o.shape(logits).dims;
  if (logitsShape.length !== 2) throw new Error(`the student's output '${logits}' has shape [${logitsShape}]; a classifier's logits must be [batch, classes]`);
  const classes = logitsShape[1]!;
  const B = o.batchSize;

  const floatInits = g.initializers.filter((t) => t.dataType === DataType.FLOAT);
  const trainable = o.trainable ?? floatInits.map((t) => t.name);
  const byName = new Map(g.initializers.map((t) => [t.name, t]));
  for (const name of trainable) {
    const t = byName.get(name);
    if (!t) throw new Error(`'${name}' is not a weight of the student`);
    if (t.dataType !== DataType.FLOAT) throw new Error(`weight '${name}' is not float32 and cannot be trained`);
  }
  // Trainable weights become graph inputs; the rest stay initializers.
  const trainSet = new Set(trainable);
  const trained: Tensor[] = g.initializers.filter((t) => trainSet.has(t.name));
  g.initializers = g.initializers.filter((t) => !trainSet.has(t.name));
  g.inputs = g.inputs.filter((i) => !trainSet.has(i.name));
  for (const t of trained) g.inputs.push({ name: t.name, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: t.dims } });
  // Fix the batch dimension of the data input.
  const input = g.inputs.find((i) => i.name === inputName)!;
  if (input.type?.kind === 'tensor' && input.type.shape) input.type.shape = [B, ...input.type.shape.slice(1)];
  g.outputs = [];

  const b = new GraphBuilder(g, 'train/');
  const teacherProbs = b.input('teacher_probs', DataType.FLOAT, [B, classes]);
  const labels = b.input('labels_onehot', DataType.FLOAT, [B, classes]);
  const scalar = (name: string) => b.input(name, DataType.FLOAT, []);
  const lr = scalar('lr');
  const temperature = scalar('temperature');
  const alpha = scalar('alpha');
  const bc1 = scalar('bc1');
  const bc2 = scalar('bc2');
  const one = b.constFloat('one', [1]);
  const invB = b.constFloat('inv_batch', [1 / B]);
  const axisLast = b.constInt64('axis_last', [-1]);

  // Loss value (reported) and its gradient with respect to the logits (seed).
  const oneMinusAlpha = b.op('Sub', [one, alpha]);
  const scaled = b.op('Div', [logits, temperature]);
  const logQ = logSoftmax(b, scaled, opset);
  const q = b.op('Exp', [logQ]);
  const logP = b.op('Log', [b.op('Max', [teacherProbs, b.constFloat('tiny', [1e-30])])]);
  const klRows = b.op('ReduceSum', [b.op('Mul', [teacherProbs, b.op('Sub', [logP, logQ])]), axisLast], { keepdims: 0 });
  const kl = b.op('Mul', [b.op('ReduceSum', [klRows], { keepdims: 0 }), invB]);
  const t2 = b.op('Mul', [temperature, temperature]);
  const lossKd = b.op('Mul', [b.op('Mul', [alpha, t2]), kl], {}, { output: 'loss_kd' });

  const logS = logSoftmax(b, logits, opset);
  const labelled = b.op('ReduceSum', [labels, axisLast], { keepdims: 1 }); // [B,1]: 1 for labelled rows
  const nLabelled = b.op('Max', [b.op('ReduceSum', [labelled], { keepdims: 0 }), one]);
  const ceSum = b.op('Neg', [b.op('ReduceSum', [b.op('Mul', [labels, logS])], { keepdims: 0 })]);
  const lossCe = b.op('Div', [ceSum, nLabelled], {}, { output: 'loss_ce' });
  const loss = b.op('Add', [lossKd, b.op('Mul', [oneMinusAlpha, lossCe])], {}, { output: 'loss' });

  const kdGrad = b.op('Mul', [b.op('Mul', [alpha, temperature]), b.op('Mul', [b.op('Sub', [q, teacherProbs]), invB])]);
  const pS = b.op('Exp', [logS]);
  const ceGrad = b.op('Div', [b.op('Sub', [b.op('Mul', [pS, labelled]), labels]), nLabelled]);
  const seed = b.op('Add', [kdGrad, b.op('Mul', [oneMinusAlpha, ceGrad])], {}, { output: 'dlogits' });

  const shapeOf = (name: string): GradShape => {
    if (name === seed) return { elemType: DataType.FLOAT, dims: [B, classes] };
    return o.shape(name);
  };
  const grads = buildBackward({ graph: g, builder: b, opset, seeds: new Map([[logits, seed]]), wrt: trainable, shape: shapeOf });

  // Global-norm clipping; the norm is reported either way.
  const sqSums = trainable.map((p) => b.op('ReduceSum', [b.op('Mul', [grads.get(p)!, grads.get(p)!])], { keepdims: 0 }));
  const normSq = sqSums.length === 1 ? sqSums[0]! : b.op('Sum', sqSums);
  const gradNorm = b.op('Sqrt', [normSq], {}, { output: 'grad_norm' });
  let coef: string | undefined;
  if (o.clipNorm !== undefined) {
    const maxNorm = b.constFloat('clip_norm', [o.clipNorm]);
    coef = b.op('Min', [one, b.op('Div', [maxNorm, b.op('Add', [gradNorm, b.constFloat('clip_eps', [1e-6])])])]);
  }

  const opt = o.optimizer ?? defaultAdamW;
  const params: ParamSlot[] = [];
  for (const t of trained) {
    let grad = grads.get(t.name)!;
    if (coef) grad = b.op('Mul', [grad, coef]);
    // No weight decay on biases and norm scales (1-D tensors), as is standard.
    const decay = t.dims.length > 1 && opt.weightDecay > 0;
    let p = t.name;
    if (decay) p = b.op('Sub', [p, b.op('Mul', [b.op('Mul', [lr, b.constFloat('wd', [opt.weightDecay])]), p])]);
    const state: ParamSlot['state'] = [];
    let updated: string;
    if (opt.kind === 'adamw') {
      const m = b.input(b.fresh(`${t.name}.adam_m`), DataType.FLOAT, t.dims);
      const v = b.input(b.fresh(`${t.name}.adam_v`), DataType.FLOAT, t.dims);
      const m2 = b.op('Add', [b.op('Mul', [m, b.constFloat('beta1', [opt.beta1])]), b.op('Mul', [grad, b.constFloat('one_minus_beta1', [1 - opt.beta1])])]);
      const v2 = b.op('Add', [b.op('Mul', [v, b.constFloat('beta2', [opt.beta2])]), b.op('Mul', [b.op('Mul', [grad, grad]), b.constFloat('one_minus_beta2', [1 - opt.beta2])])]);
      const denom = b.op('Add', [b.op('Sqrt', [b.op('Div', [v2, bc2])]), b.constFloat('adam_eps', [opt.eps])]);
      updated = b.op('Sub', [p, b.op('Mul', [lr, b.op('Div', [b.op('Div', [m2, bc1]), denom])])]);
      state.push({ input: m, output: m2 }, { input: v, output: v2 });
    } else {
      const buf = b.input(b.fresh(`${t.name}.momentum`), DataType.FLOAT, t.dims);
      const buf2 = b.op('Add', [b.op('Mul', [buf, b.constFloat('momentum', [opt.momentum])]), grad]);
      updated = b.op('Sub', [p, b.op('Mul', [lr, buf2])]);
      state.push({ input: buf, output: buf2 });
    }
    params.push({ name: t.name, dims: t.dims, state, output: updated, decay });
  }

  for (const p of params) {
    b.output(p.output, DataType.FLOAT, p.dims);
    for (const s of p.state) b.output(s.output, DataType.FLOAT, p.dims);
  }
  for (const out of [loss, lossKd, lossCe, gradNorm]) b.output(out, DataType.FLOAT, []);

  return {
    model,
    params,
    inputName,
    feeds: { teacherProbs, labels, lr, temperature, alpha, bc1, bc2 },
    outputs: { loss, lossKd, lossCe, gradNorm },
    classes,
  };
}
