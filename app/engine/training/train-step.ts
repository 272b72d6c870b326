// Builds one training step as a plain ONNX graph: the student's forward pass, the distillation
// loss, its gradient (seeded in closed form, then back-propagated by the autodiff), and an
// AdamW or SGD update. One session.run = one step: weights and optimizer state in, new ones out.
//
//   loss = α·T²·KL(p_teacher ‖ softmax(s/T)) + (1−α)·CE(s, y)       (KL averaged over the batch,
//                                                                     CE over labelled samples)
//   dL/ds = α·T·(softmax(s/T) − p_teacher)/B + (1−α)·(softmax(s)·labelled − onehot(y))/n_labelled
import { createRng } from '../data/prng.js';
import { buildBackward, type GradShape } from './autodiff.js';
import { GraphBuilder, pruneUnused } from '../onnx/graph.js';
import { DataType, type Graph, type Model, type Tensor } from '../onnx/ir.js';
import { lowerTrainingOps, rewriteForTraining } from './rewrite.js';

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
  /**
   * Training rewrites (same results): ReLU behind 2x2 pools, the pool as Slices + Max, dW by
   * patches. true = the default set, false = none, or choose each.
   */
  fast?: boolean | { pool?: boolean; reluSwap?: boolean; convPatches?: boolean; convForwardFromPatches?: boolean; firstConvPool?: boolean };
  /**
   * Feature matching: weight · mean((W·flatten(student tensor) + b − teacher features)²), with
   * the projection W, b learned along (and dropped from the exported student).
   */
  featureMatch?: { studentTensor: string; teacherSize: number; weight: number; seed: number };
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
  outputs: { loss: string; lossKd: string; lossCe: string; gradNorm: string; lossFm?: string };
  classes: number;
  /** Starting values of trained tensors that are not the student's (the feature projection). */
  extraParams: Map<string, Float32Array>;
  /** Feed of the teacher's features [B, size] when feature matching. */
  teacherFeatures?: string;
}

function producedValues(g: Model['graph']): Set<string> {
  return new Set(g.nodes.flatMap((n) => n.outputs));
}

/** Xavier-uniform [rows, cols] from a seeded stream. */
function xavier(rows: number, cols: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const limit = Math.sqrt(6 / (rows + cols));
  return Float32Array.from({ length: rows * cols }, () => (2 * rng.next() - 1) * limit);
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

/** The rewrites `fast: true` applies (chosen by measurement, docs/BENCHMARKS.md). */
export const DEFAULT_FAST = { pool: true, reluSwap: true, convPatches: true, convForwardFromPatches: true, firstConvPool: true };

export function buildTrainStep(o: TrainStepOptions): TrainStepGraph {
  const core = buildLossAndGradients(o, 'step');
  const { b, trained, grads, wrt } = core;
  const { lr, bc1, bc2 } = core.stepFeeds!;
  const opt = o.optimizer ?? defaultAdamW;
  const { params, gradNorm } = appendUpdate(b, trained, (name) => grads.get(name)!, wrt, opt, o.clipNorm, { lr, bc1, bc2 });
  for (const p of params) {
    b.output(p.output, DataType.FLOAT, p.dims);
    for (const s of p.state) b.output(s.output, DataType.FLOAT, p.dims);
  }
  const { loss, lossKd, lossCe, lossFm } = core.outputs;
  for (const out of [loss, lossKd, lossCe, gradNorm, ...(lossFm ? [lossFm] : [])]) b.output(out, DataType.FLOAT, []);
  // Rules may leave values nobody reads (e.g. an interleave replaced by its pieces).
  pruneUnused(core.model.graph);

  return {
    model: core.model,
    params,
    inputName: core.inputName,
    feeds: { ...core.feeds, lr, bc1, bc2 },
    outputs: { loss, lossKd, lossCe, gradNorm, ...(lossFm ? { lossFm } : {}) },
    classes: core.classes,
    extraParams: core.extraParams,
    ...(core.teacherFeatures ? { teacherFeatures: core.teacherFeatures } : {}),
  };
}

/**
 * The gradient half of a data-parallel step: forward + loss + backward on one slice of a batch,
 * no clipping or optimizer. The batch-wide normalisers (1 / full batch size and the full batch's
 * labelled count) are inputs, so each slice's gradients and loss parts are its share of the full
 * batch's: summing them over the slices gives the single-graph step's values exactly (up to
 * float summation order), whatever the slice sizes or where the labels fall.
 */
export interface GradStepGraph {
  model: Model;
  inputName: string;
  /** Trained tensor name → output holding its gradient (as 'grad/' + name). */
  gradients: Map<string, string>;
  feeds: { teacherProbs: string; labels: string; temperature: string; alpha: string; invBatch: string; nLabelled: string };
  /** This slice's shares of the batch loss (they add up to the batch's). */
  outputs: { loss: string; lossKd: string; lossCe: string };
}

/** Feature matching is not supported here (its closed-form seed is scaled by the batch size). */
export function buildGradStep(o: Omit<TrainStepOptions, 'featureMatch' | 'optimizer' | 'clipNorm'>): GradStepGraph {
  const core = buildLossAndGradients(o, 'gradients');
  const { b, grads, wrt } = core;
  const gradients = new Map<string, string>();
  for (const name of wrt) {
    const out = b.op('Identity', [grads.get(name)!], {}, { output: `grad/${name}` });
    b.output(out, DataType.FLOAT, core.trained.find((t) => t.name === name)!.dims);
    gradients.set(name, out);
  }
  const { loss, lossKd, lossCe } = core.outputs;
  for (const out of [loss, lossKd, lossCe]) b.output(out, DataType.FLOAT, []);
  pruneUnused(core.model.graph);
  return { model: core.model, inputName: core.inputName, gradients, feeds: { ...core.feeds, ...core.scaleFeeds! }, outputs: { loss, lossKd, lossCe } };
}

/**
 * The update half of a data-parallel step: weights, optimizer state and the batch's summed
 * gradients (inputs 'grad/' + name) in; global-norm clipping and the optimizer of
 * buildTrainStep; new weights and state out. Its ParamSlots list the weights in the given order.
 */
export interface ApplyStepGraph {
  model: Model;
  params: ParamSlot[];
  gradInputs: Map<string, string>;
  feeds: { lr: string; bc1: string; bc2: string };
  outputs: { gradNorm: string };
}

export function buildApplyStep(o: { student: Model; params: Array<{ name: string; dims: number[] }>; optimizer?: OptimizerConfig; clipNorm?: number }): ApplyStepGraph {
  const base = cloneModel(o.student);
  const model: Model = { ...base, graph: { ...base.graph, name: 'apply_step', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], quantizationAnnotation: [] } };
  const b = new GraphBuilder(model.graph, 'apply/');
  const trained: Tensor[] = [];
  const gradInputs = new Map<string, string>();
  for (const p of o.params) {
    b.input(p.name, DataType.FLOAT, p.dims);
    trained.push({ name: p.name, dataType: DataType.FLOAT, dims: p.dims, data: { kind: 'raw', bytes: new Uint8Array(0) } });
  }
  for (const p of o.params) gradInputs.set(p.name, b.input(`grad/${p.name}`, DataType.FLOAT, p.dims));
  const lr = b.input('lr', DataType.FLOAT, []);
  const bc1 = b.input('bc1', DataType.FLOAT, []);
  const bc2 = b.input('bc2', DataType.FLOAT, []);
  const names = o.params.map((p) => p.name);
  const { params, gradNorm } = appendUpdate(b, trained, (name) => gradInputs.get(name)!, names, o.optimizer ?? defaultAdamW, o.clipNorm, { lr, bc1, bc2 });
  for (const p of params) {
    b.output(p.output, DataType.FLOAT, p.dims);
    for (const s of p.state) b.output(s.output, DataType.FLOAT, p.dims);
  }
  b.output(gradNorm, DataType.FLOAT, []);
  return { model, params, gradInputs, feeds: { lr, bc1, bc2 }, outputs: { gradNorm } };
}

/**
 * The update of data-parallel threads over flat tensors: every weight with weight decay
 * concatenated into one [1, P] group and every other weight into one [P] group, so the update is
 * a few large element-wise ops instead of a dozen per weight. Each thread's gradient of a group
 * is an input ('grad/<group>/<thread>'), summed in thread order in the graph. Per element the math
 * is buildApplyStep's (the same appendUpdate); only the global norm's summation order differs.
 */
export interface FlatApplyGraph {
  model: Model;
  /** The groups that have weights, in order 'decay' then 'other'; each lists its members in order. */
  groups: Array<ParamSlot & { members: Array<{ name: string; dims: number[]; offset: number; size: number }> }>;
  /** gradInputs[g][w]: thread w's gradient of groups[g]. */
  gradInputs: string[][];
  feeds: { lr: string; bc1: string; bc2: string };
}

/** appendUpdate's rule: no weight decay on biases and norm scales (1-D tensors). */
const takesDecay = (dims: number[]) => dims.length > 1;

export function buildFlatApplyStep(o: { student: Model; params: Array<{ name: string; dims: number[] }>; workers: number; optimizer?: OptimizerConfig; clipNorm?: number }): FlatApplyGraph {
  const base = cloneModel(o.student);
  const model: Model = { ...base, graph: { ...base.graph, name: 'flat_apply_step', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], quantizationAnnotation: [] } };
  const b = new GraphBuilder(model.graph, 'flat/');
  const split = [
    { name: 'flat/decay', members: o.params.filter((p) => takesDecay(p.dims)), dims: (n: number) => [1, n] },
    { name: 'flat/other', members: o.params.filter((p) => !takesDecay(p.dims)), dims: (n: number) => [n] },
  ].filter((g) => g.members.length > 0);
  const trained: Tensor[] = [];
  const gradInputs: string[][] = [];
  const sums = new Map<string, string>();
  const layout = split.map((g) => {
    let offset = 0;
    const members = g.members.map((p) => {
      const size = p.dims.reduce((a, d) => a * d, 1);
      offset += size;
      return { name: p.name, dims: p.dims, offset: offset - size, size };
    });
    const dims = g.dims(offset);
    b.input(g.name, DataType.FLOAT, dims);
    trained.push({ name: g.name, dataType: DataType.FLOAT, dims, data: { kind: 'raw', bytes: new Uint8Array(0) } });
    const inputs = Array.from({ length: o.workers }, (_, w) => b.input(`grad/${g.name}/${w}`, DataType.FLOAT, dims));
    gradInputs.push(inputs);
    sums.set(g.name, inputs.length === 1 ? inputs[0]! : b.op('Sum', inputs));
    return members;
  });
  const lr = b.input('lr', DataType.FLOAT, []);
  const bc1 = b.input('bc1', DataType.FLOAT, []);
  const bc2 = b.input('bc2', DataType.FLOAT, []);
  const names = trained.map((t) => t.name);
  const { params } = appendUpdate(b, trained, (name) => sums.get(name)!, names, o.optimizer ?? defaultAdamW, o.clipNorm, { lr, bc1, bc2 });
  for (const p of params) {
    b.output(p.output, DataType.FLOAT, p.dims);
    for (const s of p.state) b.output(s.output, DataType.FLOAT, p.dims);
  }
  return { model, groups: params.map((p, g) => ({ ...p, members: layout[g]! })), gradInputs, feeds: { lr, bc1, bc2 } };
}

interface LossAndGradients {
  model: Model;
  b: GraphBuilder;
  trained: Tensor[];
  grads: Map<string, string>;
  wrt: string[];
  inputName: string;
  classes: number;
  feeds: { teacherProbs: string; labels: string; temperature: string; alpha: string };
  /** 'step' mode: the optimizer's per-step scalars. */
  stepFeeds?: { lr: string; bc1: string; bc2: string };
  /** 'gradients' mode: the batch-wide normalisers. */
  scaleFeeds?: { invBatch: string; nLabelled: string };
  outputs: { loss: string; lossKd: string; lossCe: string; lossFm?: string };
  extraParams: Map<string, Float32Array>;
  teacherFeatures?: string;
}

/** Forward + distillation loss + backward, shared by the single-graph step and the gradient step. */
function buildLossAndGradients(o: TrainStepOptions, mode: 'step' | 'gradients'): LossAndGradients {
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
  const fastOpt = o.fast ?? true;
  const fast = typeof fastOpt === 'object' ? fastOpt : fastOpt ? DEFAULT_FAST : { pool: false, reluSwap: false, convPatches: false };
  const extraShapes = rewriteForTraining(g, o.shape, (base) => b.fresh(base), { pool: fast.pool ?? false, reluSwap: fast.reluSwap ?? false }).shapes;
  const teacherProbs = b.input('teacher_probs', DataType.FLOAT, [B, classes]);
  const labels = b.input('labels_onehot', DataType.FLOAT, [B, classes]);
  const scalar = (name: string) => b.input(name, DataType.FLOAT, []);
  // Input order as before the gradient mode existed (feeds are by name; this keeps graphs identical).
  const lr = mode === 'step' ? scalar('lr') : '';
  const temperature = scalar('temperature');
  const alpha = scalar('alpha');
  const stepFeeds = mode === 'step' ? { lr, bc1: scalar('bc1'), bc2: scalar('bc2') } : undefined;
  const one = b.constFloat('one', [1]);
  const invB = mode === 'step' ? b.constFloat('inv_batch', [1 / B]) : scalar('inv_batch');
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
  const nLabelled = mode === 'step' ? b.op('Max', [b.op('ReduceSum', [labelled], { keepdims: 0 }), one]) : scalar('n_labelled');
  const ceSum = b.op('Neg', [b.op('ReduceSum', [b.op('Mul', [labels, logS])], { keepdims: 0 })]);
  const lossCe = b.op('Div', [ceSum, nLabelled], {}, { output: 'loss_ce' });
  let loss = b.op('Add', [lossKd, b.op('Mul', [oneMinusAlpha, lossCe])]);

  const kdGrad = b.op('Mul', [b.op('Mul', [alpha, temperature]), b.op('Mul', [b.op('Sub', [q, teacherProbs]), invB])]);
  const pS = b.op('Exp', [logS]);
  const ceGrad = b.op('Div', [b.op('Sub', [b.op('Mul', [pS, labelled]), labels]), nLabelled]);
  const seed = b.op('Add', [kdGrad, b.op('Mul', [oneMinusAlpha, ceGrad])], {}, { output: 'dlogits' });

  const shapeOf = (name: string): GradShape => {
    if (name === seed) return { elemType: DataType.FLOAT, dims: [B, classes] };
    return extraShapes.get(name) ?? fmShapes.get(name) ?? o.shape(name);
  };
  const seeds = new Map([[logits, seed]]);
  const extraParams = new Map<string, Float32Array>();
  const fmShapes = new Map<string, GradShape>();
  let lossFm: string | undefined;
  let teacherFeatures: string | undefined;
  const wrt = [...trainable];
  if (o.featureMatch) {
    const fm = o.featureMatch;
    if (!producedValues(g).has(fm.studentTensor)) {
      throw new Error(`feature matching: the student has no tensor '${fm.studentTensor}' (see 'distillery inspect' for its value names)`);
    }
    const sDims = shapeOf(fm.studentTensor).dims;
    const dS = sDims.slice(1).reduce((a, d) => a * d, 1);
    const dT = fm.teacherSize;
    // Projection student → teacher features, Xavier-initialised from the seed.
    const wName = b.fresh('feature_proj.weight');
    const bName = b.fresh('feature_proj.bias');
    extraParams.set(wName, xavier(dS, dT, fm.seed));
    extraParams.set(bName, new Float32Array(dT));
    for (const [name, dims] of [[wName, [dS, dT]], [bName, [dT]]] as const) {
      fmShapes.set(name, { elemType: DataType.FLOAT, dims: [...dims] });
      g.inputs.push({ name, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: [...dims] } });
      trained.push({ name, dataType: DataType.FLOAT, dims: [...dims], data: { kind: 'raw', bytes: new Uint8Array(0) } });
      wrt.push(name);
    }
    teacherFeatures = b.input('teacher_features', DataType.FLOAT, [B, dT]);
    const flat = b.op('Reshape', [fm.studentTensor, b.constInt64('fm_shape', [B, dS])]);
    const mm = b.op('MatMul', [flat, wName]);
    const proj = b.op('Add', [mm, bName]);
    fmShapes.set(flat, { elemType: DataType.FLOAT, dims: [B, dS] });
    fmShapes.set(mm, { elemType: DataType.FLOAT, dims: [B, dT] });
    fmShapes.set(proj, { elemType: DataType.FLOAT, dims: [B, dT] });
    const diff = b.op('Sub', [proj, teacherFeatures]);
    const weight = b.constFloat('fm_weight', [fm.weight]);
    lossFm = b.op('Mul', [weight, b.op('ReduceMean', [b.op('Mul', [diff, diff])], { keepdims: 0 })], {}, { output: 'loss_fm' });
    loss = b.op('Add', [loss, lossFm]);
    // d(loss)/d(proj) in closed form; the autodiff carries it into the student and the projection.
    seeds.set(proj, b.op('Mul', [diff, b.constFloat('fm_scale', [(2 * fm.weight) / (B * dT)])]));
  }
  loss = b.op('Identity', [loss], {}, { output: 'loss' });
  const grads = buildBackward({
    graph: g,
    builder: b,
    opset,
    seeds,
    wrt,
    shape: shapeOf,
    convWeightGrad: fast.convPatches ? 'patches' : 'conv',
    firstConvPool: fast.firstConvPool ?? false,
  });
  lowerTrainingOps(g, b, { convForwardFromPatches: fast.convForwardFromPatches ?? false });
  return {
    model,
    b,
    trained,
    grads,
    wrt,
    inputName,
    classes,
    feeds: { teacherProbs, labels, temperature, alpha },
    ...(stepFeeds ? { stepFeeds } : { scaleFeeds: { invBatch: invB, nLabelled } }),
    outputs: { loss, lossKd, lossCe, ...(lossFm ? { lossFm } : {}) },
    extraParams,
    ...(teacherFeatures ? { teacherFeatures } : {}),
  };
}

/** Global-norm clipping (the norm is reported either way) and the AdamW / SGD update. */
function appendUpdate(
  b: GraphBuilder,
  trained: Tensor[],
  gradOf: (name: string) => string,
  wrt: string[],
  opt: OptimizerConfig,
  clipNorm: number | undefined,
  { lr, bc1, bc2 }: { lr: string; bc1: string; bc2: string },
): { params: ParamSlot[]; gradNorm: string } {
  const one = b.constFloat('one', [1]);
  const sqSums = wrt.map((p) => b.op('ReduceSum', [b.op('Mul', [gradOf(p), gradOf(p)])], { keepdims: 0 }));
  const normSq = sqSums.length === 1 ? sqSums[0]! : b.op('Sum', sqSums);
  const gradNorm = b.op('Sqrt', [normSq], {}, { output: 'grad_norm' });
  let coef: string | undefined;
  if (clipNorm !== undefined) {
    const maxNorm = b.constFloat('clip_norm', [clipNorm]);
    coef = b.op('Min', [one, b.op('Div', [maxNorm, b.op('Add', [gradNorm, b.constFloat('clip_eps', [1e-6])])])]);
  }
  const params: ParamSlot[] = [];
  for (const t of trained) {
    let grad = gradOf(t.name);
    if (coef) grad = b.op('Mul', [grad, coef]);
    const decay = takesDecay(t.dims) && opt.weightDecay > 0;
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
  return { params, gradNorm };
}

export interface TrainLoopGraph {
  /** K train steps in one ONNX Loop; K = the length of the stacked feeds (any K >= 1 per run). */
  model: Model;
  /** Outer input name of every param / optimizer-state input of the step graph. */
  inputOf: Map<string, string>;
  /** Outer output name (the value after the last step) of every param / state input. */
  outputOf: Map<string, string>;
  /**
   * Stacked feeds: input [K, B, ...], teacherProbs / labels [K, B, classes], lr / bc1 / bc2 [K];
   * temperature and alpha stay scalars.
   */
  feeds: { input: string; teacherProbs: string; labels: string; lr: string; bc1: string; bc2: string; temperature: string; alpha: string };
  /** Per-step values, [K] each. */
  outputs: { loss: string; lossKd: string; lossCe: string; gradNorm: string };
}

/**
 * Wraps a train-step graph into an ONNX Loop running K steps per session.run: weights and
 * optimizer state are loop-carried, the batch, teacher targets, labels and per-step lr / bias
 * corrections are gathered from [K, ...] stacks by the iteration number, and the losses come out
 * as scan outputs. The step graph becomes the Loop body unchanged (its inputs are renamed in the
 * outer graph only). K is read from the length of the lr stack, so the last, shorter run of an
 * epoch uses the same session.
 */
export function buildTrainLoop(step: TrainStepGraph): TrainLoopGraph {
  const inner = cloneModel(step.model);
  const body: Graph = inner.graph;
  const stepInputs = new Map(body.inputs.map((i) => [i.name, i]));
  const carried: string[] = [];
  for (const p of step.params) {
    carried.push(p.name);
    for (const s of p.state) carried.push(s.input);
  }
  const carriedOut = new Map<string, string>();
  for (const p of step.params) {
    carriedOut.set(p.name, p.output);
    for (const s of p.state) carriedOut.set(s.input, s.output);
  }
  const stacked: Array<[keyof TrainLoopGraph['feeds'], string]> = [
    ['input', step.inputName],
    ['teacherProbs', step.feeds.teacherProbs],
    ['labels', step.feeds.labels],
    ['lr', step.feeds.lr],
    ['bc1', step.feeds.bc1],
    ['bc2', step.feeds.bc2],
  ];

  const outer: Model = { ...inner, graph: { ...inner.graph, name: 'train_loop', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], quantizationAnnotation: [] } };
  const ob = new GraphBuilder(outer.graph, 'loop/');
  for (const name of [...body.inputs.map((i) => i.name), ...body.outputs.map((o) => o.name)]) ob.names.reserve(name);
  for (const n of body.nodes) for (const o of n.outputs) if (o) ob.names.reserve(o);
  for (const t of body.initializers) ob.names.reserve(t.name);
  const inputOf = new Map<string, string>();
  for (const name of carried) {
    const info = stepInputs.get(name)!;
    const outerName = ob.fresh(`in/${name}`);
    outer.graph.inputs.push({ ...info, name: outerName });
    inputOf.set(name, outerName);
  }
  const feeds = {} as TrainLoopGraph['feeds'];
  const bb = new GraphBuilder(body, 'loop_body/');
  for (const name of outer.graph.inputs.map((i) => i.name)) bb.names.reserve(name);
  const iter = bb.fresh('iter');
  const condIn = bb.fresh('cond_in');
  const gathered: typeof body.nodes = [];
  for (const [key, name] of stacked) {
    const info = stepInputs.get(name)!;
    const dims = info.type?.kind === 'tensor' && info.type.shape ? info.type.shape : [];
    const stackName = ob.fresh(`steps/${name}`);
    outer.graph.inputs.push({ name: stackName, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: ['steps', ...dims] } });
    feeds[key] = stackName;
    gathered.push({ name: bb.fresh(`gather_${key}`), opType: 'Gather', domain: '', inputs: [stackName, iter], outputs: [name], attributes: [{ name: 'axis', type: 'int', value: 0n }] });
  }
  for (const key of ['temperature', 'alpha'] as const) {
    const name = step.feeds[key];
    outer.graph.inputs.push({ ...stepInputs.get(name)! });
    feeds[key] = name;
  }
  const condOut = bb.fresh('cond_out');
  body.nodes = [
    ...gathered,
    { name: bb.fresh('cond_identity'), opType: 'Identity', domain: '', inputs: [condIn], outputs: [condOut], attributes: [] },
    ...body.nodes,
  ];
  body.inputs = [
    { name: iter, type: { kind: 'tensor', elemType: DataType.INT64, shape: [] } },
    { name: condIn, type: { kind: 'tensor', elemType: DataType.BOOL, shape: [] } },
    ...carried.map((n) => stepInputs.get(n)!),
  ];
  const scans = [step.outputs.loss, step.outputs.lossKd, step.outputs.lossCe, step.outputs.gradNorm];
  const outInfo = new Map(body.outputs.map((o) => [o.name, o]));
  body.outputs = [
    { name: condOut, type: { kind: 'tensor', elemType: DataType.BOOL, shape: [] } },
    ...carried.map((n) => outInfo.get(carriedOut.get(n)!)!),
    ...scans.map((n) => outInfo.get(n)!),
  ];
  body.name = 'train_step_body';

  // Trip count = length of the lr stack.
  const lrShape = ob.op('Shape', [feeds.lr]);
  const trips = ob.op('Squeeze', [lrShape, ob.constInt64('axis0', [0])]);
  const loopOuts = carried.map((n) => ob.fresh(`out/${n}`));
  const scanOuts = ['loss', 'loss_kd', 'loss_ce', 'grad_norm'].map((n) => ob.fresh(n));
  ob.opN('Loop', [trips, '', ...carried.map((n) => inputOf.get(n)!)], {}, { outputs: [...loopOuts, ...scanOuts], name: 'train_loop' });
  outer.graph.nodes[outer.graph.nodes.length - 1]!.attributes.push({ name: 'body', type: 'graph', value: body });
  const outputOf = new Map<string, string>();
  carried.forEach((n, i) => {
    const info = stepInputs.get(n)!;
    ob.output(loopOuts[i]!, DataType.FLOAT, info.type?.kind === 'tensor' ? info.type.shape : null);
    outputOf.set(n, loopOuts[i]!);
  });
  for (const s of scanOuts) ob.output(s, DataType.FLOAT, ['steps']);
  return {
    model: outer,
    inputOf,
    outputOf,
    feeds,
    outputs: { loss: scanOuts[0]!, lossKd: scanOuts[1]!, lossCe: scanOuts[2]!, gradNorm: scanOuts[3]! },
  };
}
