// Shape and type inference over the IR, with constant folding of the small integer tensors
// that exporters use for shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape), so
// Reshape/Expand/Tile/Slice/ConstantOfShape get exact output shapes.
//
// Unknown ops never throw: they are listed in `unknownOps` and their outputs stay unknown.
// Definitely inconsistent static shapes (MatMul 3 vs 4, Concat rank mismatch...) throw a
// ShapeInferenceError naming the node and op.
import {
  DataType,
  emptyGraph,
  opsetVersion,
  type Attribute,
  type Dim,
  type FunctionProto,
  type Graph,
  type Model,
  type Node,
  type TypeInfo,
} from './ir.js';
import { topologicalOrder } from './graph.js';
import {
  fmtShape,
  isIntType,
  isStatic,
  MAX_TRACKED,
  ShapeInferenceError,
  staticCount,
  toNumber,
  type Elem,
  type OpContext,
  type ValueType,
} from './shapes/common.js';
import { MS_RULES, ONNX_RULES, tensorElems, type Rule } from './shapes/ops.js';

export { ShapeInferenceError, type ValueType } from './shapes/common.js';

export interface InferenceResult {
  /** Types of every value we could say something about (inputs, initializers, node outputs). */
  types: Map<string, ValueType>;
  /** Op types we could not infer (outputs left unknown), each listed once. */
  unknownOps: string[];
  /** Values of small integer tensors computed by constant folding (shape arithmetic). */
  knownValues: Map<string, bigint[]>;
}

export interface InferOptions {
  /** Overrides graph input shapes, e.g. { input: [32, 3, 224, 224] } to fix the batch. */
  inputShapes?: Record<string, Dim[]>;
  /**
   * Values of (small) graph inputs known ahead of time, e.g. a shape tensor fed at run time;
   * row-major, as many as the input's static shape holds. Lets Reshape/Slice/Tile... fold.
   */
  inputValues?: Record<string, ArrayLike<number | bigint>>;
}

const DEFAULT_OPSET = 21;

class Scope {
  readonly types = new Map<string, ValueType>();
  readonly values = new Map<string, Elem[]>();
  constructor(readonly parent?: Scope) {}

  type(name: string): ValueType | undefined {
    return this.types.get(name) ?? this.parent?.type(name);
  }

  value(name: string): Elem[] | undefined {
    if (this.types.has(name)) return this.values.get(name);
    return this.parent?.value(name);
  }

  set(name: string, t: ValueType, value?: Elem[]): void {
    this.types.set(name, t);
    this.values.delete(name);
    if (value && isStatic(t.shape)) {
      const n = staticCount(t.shape)!;
      if (n === value.length && n <= MAX_TRACKED) this.values.set(name, value);
    }
  }
}

interface Env {
  opset: number;
  domains: Map<string, number>;
  unknown: Set<string>;
  /** Model-local functions by `domain:name`. */
  functions: Map<string, FunctionProto>;
  depth: number;
}

const MAX_FUNCTION_DEPTH = 16;

/** Infers a call to a model-local function by running its body in a fresh scope. */
function inferFunctionCall(fn: FunctionProto, node: Node, scope: Scope, env: Env, out: (i: number, t: ValueType, v?: Elem[]) => void): void {
  if (env.depth >= MAX_FUNCTION_DEPTH) return;
  const inner = new Scope();
  fn.inputs.forEach((name, i) => {
    const actual = node.inputs[i];
    const t = actual ? scope.type(actual) : undefined;
    if (t) inner.set(name, t, scope.value(actual!));
  });
  const given = new Map(node.attributes.map((a) => [a.name, a]));
  const defaults = new Map(fn.attributeProtos.map((a) => [a.name, a]));
  const resolve = (a: Attribute): Attribute | undefined => {
    if (a.type !== 'ref') return a;
    const src = given.get(a.refAttrName) ?? defaults.get(a.refAttrName);
    return src ? ({ ...src, name: a.name } as Attribute) : undefined;
  };
  const body: Graph = {
    ...emptyGraph(fn.name),
    nodes: fn.nodes.map((n) => ({ ...n, attributes: n.attributes.map(resolve).filter((a): a is Attribute => a !== undefined) })),
    valueInfo: fn.valueInfo,
  };
  const domains = new Map(env.domains);
  for (const o of fn.opsetImports) domains.set(o.domain === 'ai.onnx' ? '' : o.domain, o.version);
  const innerEnv: Env = { ...env, opset: domains.get('') ?? env.opset, domains, depth: env.depth + 1 };
  runGraph(body, inner, innerEnv);
  fn.outputs.forEach((name, i) => {
    const t = inner.types.get(name);
    if (t) out(i, t, inner.values.get(name));
  });
}

function tensorType(t: TypeInfo | null): ValueType | undefined {
  if (!t || t.kind !== 'tensor') return undefined;
  return { elemType: t.elemType, shape: t.shape ? [...t.shape] : null };
}

function ruleFor(node: Node): Rule | undefined {
  const d = node.domain;
  if (d === '' || d === 'ai.onnx') return ONNX_RULES.get(node.opType);
  if (d === 'com.microsoft') return MS_RULES.get(node.opType);
  return undefined;
}

function fillFromDeclared(t: ValueType | undefined, declared: ValueType | undefined): ValueType | undefined {
  if (!declared) return t;
  if (!t) return declared;
  const elemType = t.elemType || declared.elemType;
  if (!t.shape) return { elemType, shape: declared.shape };
  if (declared.shape && declared.shape.length === t.shape.length) {
    return { elemType, shape: t.shape.map((d, i) => (d === null ? declared.shape![i]! : d)) };
  }
  return { elemType, shape: t.shape };
}

function runGraph(graph: Graph, scope: Scope, env: Env): void {
  for (const t of graph.initializers) {
    scope.set(t.name, { elemType: t.dataType, shape: [...t.dims] }, tensorElems(t));
  }
  for (const s of graph.sparseInitializers) {
    scope.set(s.values.name, { elemType: s.values.dataType, shape: [...s.dims] });
  }
  const declared = new Map<string, ValueType>();
  for (const vi of graph.valueInfo) {
    const t = tensorType(vi.type);
    if (t) declared.set(vi.name, t);
  }
  let order: Node[];
  try {
    order = topologicalOrder(graph);
  } catch {
    order = graph.nodes;
  }
  for (const node of order) inferNode(node, scope, env, declared);
}

function inferNode(node: Node, scope: Scope, env: Env, declared: Map<string, ValueType>): void {
  const rule = ruleFor(node);
  const opset = node.domain === '' || node.domain === 'ai.onnx' ? env.opset : env.domains.get(node.domain) ?? env.opset;
  const set = new Set<number>();
  const typeOf = (i: number) => {
    const name = node.inputs[i];
    return name ? scope.type(name) : undefined;
  };
  const ctx: OpContext = {
    node,
    opset: node.domain === 'com.microsoft' ? env.opset : opset,
    nOut: node.outputs.length,
    type: typeOf,
    shape: (i) => typeOf(i)?.shape ?? null,
    elem: (i) => typeOf(i)?.elemType ?? DataType.UNDEFINED,
    rank: (i) => typeOf(i)?.shape?.length ?? null,
    has: (i) => !!node.inputs[i],
    value: (i) => {
      const name = node.inputs[i];
      return name ? scope.value(name) : undefined;
    },
    numbers: (i) => {
      const name = node.inputs[i];
      const v = name ? scope.value(name) : undefined;
      if (!v) return undefined;
      const out: number[] = [];
      for (const e of v) {
        const n = toNumber(e);
        if (n === null) return undefined;
        out.push(n);
      }
      return out;
    },
    out: (i, elemType, shape, value) => {
      const name = node.outputs[i];
      if (!name) return;
      set.add(i);
      scope.set(name, { elemType, shape: shape ? [...shape] : null }, value);
    },
    fail: (msg) => {
      throw new ShapeInferenceError(node, msg);
    },
    subgraph: (g, inputs) => {
      const child = new Scope(scope);
      g.inputs.forEach((vi, k) => {
        const t = inputs[k] ?? tensorType(vi.type);
        if (t) child.set(vi.name, { elemType: t.elemType || tensorType(vi.type)?.elemType || DataType.UNDEFINED, shape: t.shape });
      });
      runGraph(g, child, env);
      return g.outputs.map((o) => fillFromDeclared(child.type(o.name), tensorType(o.type)));
    },
  };
  const fn = rule ? undefined : env.functions.get(`${node.domain}:${node.opType}`);
  if (fn) {
    inferFunctionCall(fn, node, scope, env, (i, t, v) => {
      if (i < node.outputs.length) ctx.out(i, t.elemType, t.shape, v);
    });
  } else if (!rule) {
    env.unknown.add(node.domain && node.domain !== 'ai.onnx' ? `${node.domain}:${node.opType}` : node.opType);
  } else {
    try {
      rule(ctx);
    } catch (e) {
      if (e instanceof ShapeInferenceError) throw e;
      throw new ShapeInferenceError(node, e instanceof Error ? e.message : String(e));
    }
  }
  // Fall back on (or complete from) value_info the file declares.
  node.outputs.forEach((name, i) => {
    if (!name) return;
    const d = declared.get(name);
    if (!d) return;
    const t = set.has(i) ? scope.types.get(name) : undefined;
    const merged = fillFromDeclared(t, d)!;
    if (merged !== t) scope.set(name, merged, scope.values.get(name));
  });
}

function collect(scope: Scope, env: Env): InferenceResult {
  const knownValues = new Map<string, bigint[]>();
  for (const [name, v] of scope.values) {
    const t = scope.types.get(name);
    if (!t || !isIntType(t.elemType)) continue;
    if (v.every((e) => typeof e === 'bigint')) knownValues.set(name, v as bigint[]);
  }
  return { types: scope.types, unknownOps: [...env.unknown].sort(), knownValues };
}

/** Infers types and shapes of every value in the model's main graph. */
export function inferShapes(model: Model, options: InferOptions = {}): InferenceResult {
  const domains = new Map<string, number>();
  for (const o of model.opsetImports) domains.set(o.domain === 'ai.onnx' ? '' : o.domain, o.version);
  const functions = new Map(model.functions.map((f) => [`${f.domain}:${f.name}`, f]));
  const env: Env = { opset: opsetVersion(model, '') ?? DEFAULT_OPSET, domains, unknown: new Set(), functions, depth: 0 };
  const scope = new Scope();
  const overrides = options.inputShapes ?? {};
  const init = new Set(model.graph.initializers.map((t) => t.name));
  for (const vi of model.graph.inputs) {
    if (init.has(vi.name)) continue; // IR < 4: initializers listed as inputs; the initializer wins
    const t = tensorType(vi.type);
    const shape = overrides[vi.name];
    if (shape) scope.set(vi.name, { elemType: t?.elemType ?? DataType.UNDEFINED, shape: [...shape] });
    else if (t) scope.set(vi.name, t);
  }
  for (const [name, vals] of Object.entries(options.inputValues ?? {})) {
    const t = scope.types.get(name);
    if (!t || !model.graph.inputs.some((vi) => vi.name === name)) throw new Error(`inferShapes: no graph input named '${name}'`);
    const n = staticCount(t.shape);
    if (n === null || n !== vals.length) {
      throw new Error(`inferShapes: ${vals.length} values given for input '${name}' of shape ${fmtShape(t.shape)}`);
    }
    const int = isIntType(t.elemType);
    scope.set(name, t, Array.from(vals, (v) => (int ? BigInt(v) : Number(v))));
  }
  for (const name of Object.keys(overrides)) {
    if (!model.graph.inputs.some((vi) => vi.name === name)) throw new Error(`inferShapes: no graph input named '${name}'`);
  }
  runGraph(model.graph, scope, env);
  return collect(scope, env);
}

/**
 * Infers a graph (e.g. a subgraph) given the types already known in enclosing scopes and of its
 * inputs (`known`); the graph's own declared input types fill anything `known` lacks.
 */
export function inferGraph(
  graph: Graph,
  opset: number,
  known: Map<string, ValueType>,
  functions: FunctionProto[] = [],
): InferenceResult {
  const env: Env = {
    opset,
    domains: new Map([['', opset]]),
    unknown: new Set(),
    functions: new Map(functions.map((f) => [`${f.domain}:${f.name}`, f])),
    depth: 0,
  };
  const outer = new Scope();
  for (const [k, v] of known) outer.set(k, v);
  const scope = new Scope(outer);
  for (const vi of graph.inputs) {
    if (known.has(vi.name)) continue;
    const t = tensorType(vi.type);
    if (t) scope.set(vi.name, t);
  }
  runGraph(graph, scope, env);
  const res = collect(scope, env);
  for (const [k, v] of known) if (!res.types.has(k)) res.types.set(k, v);
  return res;
}
