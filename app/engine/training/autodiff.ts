// Reverse-mode automatic differentiation of ONNX graphs, written with standard ONNX ops only.
//
// buildBackward appends, to a forward graph, the nodes that compute the gradients of some
// seeded forward values (dL/dvalue given as graph values) with respect to chosen initializers or
// inputs. Every op type has a rule (gradients/*.ts) that receives the output gradients and emits
// the input gradients; recipes follow ENGINE-NOTES section A ("Std" column).
import { DataType, type Graph, type Node } from '../onnx/ir.js';
import { type GraphBuilder, topologicalOrder } from '../onnx/graph.js';
import { bigintData } from '../onnx/tensor.js';
import { attrTensor } from '../onnx/attributes.js';
import { UnsupportedGradientError } from './gradients/errors.js';
import { isFloatType, sameDims, typedConst, typedTensor } from './gradients/util.js';
import { elementwiseRules } from './gradients/elementwise.js';
import { matmulRules } from './gradients/matmul.js';
import { normRules } from './gradients/norm.js';
import { convRules } from './gradients/conv.js';
import { shapeRules } from './gradients/shape.js';

export { decomposeBatchNormForTraining, type DecomposedBatchNorm } from './gradients/norm.js';

/** Static shapes: training graphs are built for a fixed batch size. */
export interface GradShape {
  elemType: DataType;
  dims: number[];
}

export interface BackwardOptions {
  /** Forward graph (already contains the forward nodes); backward nodes are APPENDED to it. */
  graph: Graph;
  /** On that graph, for fresh names and constants. */
  builder: GraphBuilder;
  /** Default-domain opset of the model (>= 13). */
  opset: number;
  /** Forward value name -> name of its gradient value (e.g. logits -> dLogits). */
  seeds: Map<string, string>;
  /** Initializer/input names to differentiate with respect to. */
  wrt: string[];
  /** Static shape of any forward value. */
  shape: (valueName: string) => GradShape;
  /** Known integer values (shape inputs etc.), if available. */
  constValue?: (valueName: string) => bigint[] | undefined;
  /**
   * How Conv weight gradients are built: 'conv' (default) correlates X with dY by a Conv;
   * 'patches' gathers explicit patches (Slices + Concat) and uses a batched MatMul + ReduceSum
   * where that applies (2-D, group 1, stride 1, dilation 1, patches of at most 32M elements),
   * which is faster on ORT's CPU provider for small students.
   */
  convWeightGrad?: 'conv' | 'patches';
  /**
   * With 'patches': a first-layer Conv (no dX) followed by a 2x2 pool computes conv and pool from
   * its dW's window rows (gradients/conv.ts firstConvPool; lowerTrainingOps redirects the pool).
   */
  firstConvPool?: boolean;
}

export { UnsupportedGradientError };

/** What a gradient rule sees. */
export interface GradContext {
  node: Node;
  /** Gradient of each output of the node; null when no gradient flows into that output. */
  gradOutputs: (string | null)[];
  builder: GraphBuilder;
  opset: number;
  shape(valueName: string): GradShape;
  /** BackwardOptions.convWeightGrad (default 'conv'). */
  convWeightGrad: 'conv' | 'patches';
  /** BackwardOptions.firstConvPool (default false). */
  firstConvPool: boolean;
  /** Whether input i needs a gradient (a rule may skip work for the others). */
  needsGrad(inputIndex: number): boolean;
  /** Integer values of a value when known statically (initializer, Constant node, or constValue). */
  constInts(valueName: string): number[] | undefined;
  /** ReduceSum over the broadcast axes (keepdims) followed by a Reshape to targetDims. */
  reduceToShape(grad: string, gradDims: number[], targetDims: number[]): string;

  // Emission helpers (all opset-aware).
  op(opType: string, inputs: string[], attrs?: Parameters<GraphBuilder['op']>[2]): string;
  /** A scalar constant of the given float type. */
  scalar(value: number, elemType: DataType): string;
  constant(values: ArrayLike<number>, dims: number[], elemType: DataType): string;
  int64(values: ArrayLike<number>, dims?: number[]): string;
  /** A zero tensor (ConstantOfShape, no bulky initializer). */
  zeros(dims: number[], elemType: DataType): string;
  reshape(x: string, dims: number[]): string;
  transpose(x: string, perm: number[]): string;
  reduceSum(x: string, axes: number[], keepdims: boolean): string;
  reduceMean(x: string, axes: number[], keepdims: boolean): string;
  unsqueeze(x: string, axes: number[]): string;
  squeeze(x: string, axes: number[]): string;
  cast(x: string, to: DataType): string;
}

/**
 * Returns one entry per node input: its gradient, or null/undefined when it has none
 * (non-differentiable input, or no contribution).
 */
export type GradientRule = (ctx: GradContext) => (string | null | undefined)[];

const registry = new Map<string, GradientRule>();

export function registerGradient(opType: string, rule: GradientRule): void {
  registry.set(opType, rule);
}

export function hasGradient(opType: string): boolean {
  return registry.has(opType);
}

for (const rules of [elementwiseRules, matmulRules, normRules, convRules, shapeRules]) {
  for (const [k, v] of Object.entries(rules)) registerGradient(k, v);
}

/** Integer values of a value when an initializer, a Constant node or the caller knows them. */
export function staticInts(graph: Graph, name: string, constValue?: (n: string) => bigint[] | undefined): bigint[] | undefined {
  if (!name) return undefined;
  const init = graph.initializers.find((t) => t.name === name);
  if (init) {
    if (init.dataType === DataType.INT64 || init.dataType === DataType.INT32) return bigintData(init);
    return undefined;
  }
  const fromCaller = constValue?.(name);
  if (fromCaller) return fromCaller;
  const p = graph.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === name && (n.domain === '' || n.domain === 'ai.onnx'));
  if (p) {
    const t = attrTensor(p, 'value');
    if (t && (t.dataType === DataType.INT64 || t.dataType === DataType.INT32)) return bigintData(t);
    const a = p.attributes.find((x) => x.name === 'value_ints' || x.name === 'value_int');
    if (a?.type === 'ints') return a.value;
    if (a?.type === 'int') return [a.value];
  }
  return undefined;
}

function elemTypeOf(o: BackwardOptions, name: string): DataType | undefined {
  const init = o.graph.initializers.find((t) => t.name === name);
  if (init) return init.dataType;
  const inp = o.graph.inputs.find((v) => v.name === name);
  if (inp?.type?.kind === 'tensor') return inp.type.elemType;
  try {
    return o.shape(name).elemType;
  } catch {
    return undefined;
  }
}

function nodeLabel(n: Node): string {
  return n.name || `${n.opType}->${n.outputs[0] ?? ''}`;
}

function ruleKey(n: Node): string {
  return n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}.${n.opType}`;
}

/**
 * Appends the backward pass to o.graph and returns, for every wrt name, the value holding its
 * gradient (a zero constant when no differentiable path connects it to a seed).
 */
export function buildBackward(o: BackwardOptions): Map<string, string> {
  const { graph, builder: b } = o;
  if (o.opset < 13) throw new UnsupportedGradientError(`opset ${o.opset} is below 13; gradients need opset 13 or newer`);
  const floatCache = new Map<string, boolean>();
  const isFloat = (name: string): boolean => {
    let v = floatCache.get(name);
    if (v === undefined) {
      const t = elemTypeOf(o, name);
      v = t === undefined ? true : isFloatType(t);
      floatCache.set(name, v);
    }
    return v;
  };

  const order = topologicalOrder(graph);

  // Forward sweep: values that depend (differentiably) on some wrt value.
  const active = new Set<string>(o.wrt.filter((w) => isFloat(w)));
  const activeNodes = new Set<Node>();
  for (const n of order) {
    if (!n.inputs.some((i) => i && active.has(i))) continue;
    let any = false;
    for (const out of n.outputs) if (out && isFloat(out)) {
      active.add(out);
      any = true;
    }
    if (any) activeNodes.add(n);
  }
  // Backward sweep: values the seeds depend on.
  const reach = new Set<string>([...o.seeds.keys()].filter((s) => active.has(s)));
  const relevant: Node[] = [];
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    if (!activeNodes.has(n)) continue;
    if (!n.outputs.some((x) => x && reach.has(x))) continue;
    relevant.push(n);
    for (const i of n.inputs) if (i && active.has(i)) reach.add(i);
  }
  // relevant is in reverse topological order.
  const missing = relevant.filter((n) => !registry.has(ruleKey(n)));
  if (missing.length) {
    const types = [...new Set(missing.map(ruleKey))];
    throw new UnsupportedGradientError(
      `no gradient rule for: ${types.join(', ')} (nodes ${missing.map(nodeLabel).join(', ')})`,
    );
  }

  const contributions = new Map<string, string[]>();
  const addContribution = (value: string, grad: string): void => {
    const list = contributions.get(value);
    if (list) list.push(grad);
    else contributions.set(value, [grad]);
  };
  for (const [v, g] of o.seeds) if (active.has(v) || o.wrt.includes(v)) addContribution(v, g);
  const total = (value: string): string | null => {
    const list = contributions.get(value);
    if (!list || list.length === 0) return null;
    if (list.length === 1) return list[0]!;
    const sum = b.op('Sum', list);
    contributions.set(value, [sum]);
    return sum;
  };

  const ctxBase = makeHelpers(o);
  for (const n of relevant) {
    const gradOutputs = n.outputs.map((out) => (out && reach.has(out) ? total(out) : null));
    if (gradOutputs.every((g) => g === null)) continue;
    const needs = n.inputs.map((i) => !!i && active.has(i) && reach.has(i));
    const ctx: GradContext = { ...ctxBase, node: n, gradOutputs, needsGrad: (i) => needs[i] ?? false };
    const grads = registry.get(ruleKey(n))!(ctx);
    n.inputs.forEach((inp, i) => {
      const g = grads[i];
      if (g && needs[i]) addContribution(inp, g);
    });
  }

  const result = new Map<string, string>();
  for (const w of o.wrt) {
    const g = total(w);
    if (g) result.set(w, g);
    else {
      const s = o.shape(w);
      result.set(w, ctxBase.zeros(s.dims, isFloatType(s.elemType) ? s.elemType : DataType.FLOAT));
    }
  }
  return result;
}

function makeHelpers(o: BackwardOptions): Omit<GradContext, 'node' | 'gradOutputs' | 'needsGrad'> {
  const b = o.builder;
  const opset = o.opset;
  const int64 = (values: ArrayLike<number>, dims?: number[]): string => b.constInt64('ints', values, dims ?? [values.length]);
  const scalarCache = new Map<string, string>();
  const h: Omit<GradContext, 'node' | 'gradOutputs' | 'needsGrad'> = {
    builder: b,
    convWeightGrad: o.convWeightGrad ?? 'conv',
    firstConvPool: o.firstConvPool ?? false,
    opset,
    shape: (n) => o.shape(n),
    constInts: (n) => staticInts(o.graph, n, o.constValue)?.map((v) => Number(v)),
    op: (t, inputs, attrs) => b.op(t, inputs, attrs ?? {}),
    scalar: (value, elemType) => {
      const key = `${elemType}:${value}`;
      let name = scalarCache.get(key);
      if (!name) {
        name = typedConst(b, elemType, [value], [], 'scalar');
        scalarCache.set(key, name);
      }
      return name;
    },
    constant: (values, dims, elemType) => typedConst(b, elemType, values, dims, 'const'),
    int64,
    zeros: (dims, elemType) =>
      b.op('ConstantOfShape', [int64(dims, [dims.length])], { value: typedTensor('value', elemType, [0], [1]) }),
    reshape: (x, dims) => b.op('Reshape', [x, int64(dims, [dims.length])]),
    transpose: (x, perm) => b.op('Transpose', [x], { perm }),
    reduceSum: (x, axes, keepdims) => b.op('ReduceSum', [x, int64(axes)], { keepdims: keepdims ? 1 : 0 }),
    reduceMean: (x, axes, keepdims) =>
      opset >= 18
        ? b.op('ReduceMean', [x, int64(axes)], { keepdims: keepdims ? 1 : 0 })
        : b.op('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 }),
    unsqueeze: (x, axes) => b.op('Unsqueeze', [x, int64(axes)]),
    squeeze: (x, axes) => b.op('Squeeze', [x, int64(axes)]),
    cast: (x, to) => b.op('Cast', [x], { to }),
    reduceToShape: (grad, gradDims, targetDims) => {
      if (sameDims(gradDims, targetDims)) return grad;
      const off = gradDims.length - targetDims.length;
      if (off < 0) throw new Error(`reduceToShape: gradient rank ${gradDims.length} < target rank ${targetDims.length}`);
      const axes: number[] = [];
      for (let k = 0; k < gradDims.length; k++) {
        if (k < off) axes.push(k);
        else if (targetDims[k - off] === 1 && gradDims[k] !== 1) axes.push(k);
      }
      const reduced = axes.length ? b.op('ReduceSum', [grad, int64(axes)], { keepdims: 1 }) : grad;
      const keptDims = gradDims.map((d, k) => (axes.includes(k) ? 1 : d));
      return sameDims(keptDims, targetDims) ? reduced : b.op('Reshape', [reduced, int64(targetDims, [targetDims.length])]);
    },
  };
  return h;
}
