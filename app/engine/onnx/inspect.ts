// What a model is: inputs, outputs, opsets, parameters, op histogram, a FLOPs estimate, and
// which ops ONNX Runtime cannot run here. The numbers feed the teacher wizard and `distillery inspect`.
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { attrInt, attrInts } from './attributes.js';
import { allTensors } from './codec.js';
import { topologicalOrder } from './graph.js';
import { DataType, type Dim, type Graph, type Model, type Node, type Tensor, type TypeInfo } from './ir.js';
import { loadModel } from './io.js';
import { dataTypeName, elementCount, intData } from './tensor.js';

export interface ValueSummary {
  name: string;
  /** 'float32', 'int64', 'sequence<float32>', 'map<int64,float32>', … */
  type: string;
  /** Numbers for fixed dims, strings for symbolic ones ('?' when unknown); null when the rank is unknown. */
  shape: (number | string)[] | null;
}

export interface UnsupportedOp {
  opType: string;
  /** '' for the default ONNX domain. */
  domain: string;
  /** Plain-words reason, from ONNX Runtime's error. */
  reason: string;
  node?: string;
}

export interface ModelSummary {
  irVersion: number;
  /** Domain → version; the default domain is reported as 'ai.onnx'. */
  opsetImports: Record<string, number>;
  producer: { name: string; version: string };
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** Elements of float and integer (not int64/bool/string) initializers: the weights. */
  parameters: number;
  /** Bytes on disk: the .onnx file plus its external data files. */
  sizeBytes: number;
  /** OpType → count, subgraphs included; non-default domains prefixed ('com.microsoft.MatMulNBits'). */
  ops: Record<string, number>;
  /** Multiply-adds × 2 of MatMul/Gemm/Conv-like nodes for one sample (symbolic dims count as 1). */
  flops: number;
  /** Nodes whose FLOPs could not be estimated because shapes were unknown. */
  flopsUnknownNodes: number;
  unsupportedOps: UnsupportedOp[];
  metadata: Record<string, string>;
  nodes: number;
  initializers: number;
  externalData: boolean;
}

export interface InspectOptions {
  sizeBytes: number;
  /** Value types from shape inference, if available; declared shapes and local propagation fill the rest. */
  shapes?: ReadonlyMap<string, { elemType: number; shape: Dim[] | null }>;
  unsupportedOps?: UnsupportedOp[];
}

export function elemTypeName(dt: number): string {
  if (dt === DataType.FLOAT) return 'float32';
  if (dt === DataType.DOUBLE) return 'float64';
  return dataTypeName(dt as DataType);
}

export function typeString(t: TypeInfo | null): string {
  if (!t) return 'unknown';
  switch (t.kind) {
    case 'tensor': return elemTypeName(t.elemType);
    case 'sparse_tensor': return `sparse_tensor<${elemTypeName(t.elemType)}>`;
    case 'sequence': return `sequence<${typeString(t.elem)}>`;
    case 'optional': return `optional<${typeString(t.elem)}>`;
    case 'map': return `map<${elemTypeName(t.keyType)},${typeString(t.value)}>`;
  }
}

function shapeOf(t: TypeInfo | null): (number | string)[] | null {
  if (!t || (t.kind !== 'tensor' && t.kind !== 'sparse_tensor') || !t.shape) return null;
  return t.shape.map((d) => (d === null ? '?' : d));
}

const WEIGHT_TYPES = new Set<number>([
  DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16,
  DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT4E2M1,
  DataType.INT8, DataType.UINT8, DataType.INT4, DataType.UINT4, DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32,
]);

function* graphsOf(graph: Graph): Generator<Graph> {
  yield graph;
  for (const n of graph.nodes) {
    for (const a of n.attributes) {
      if (a.type === 'graph') yield* graphsOf(a.value);
      else if (a.type === 'graphs') for (const g of a.value) yield* graphsOf(g);
    }
  }
}

export function opKey(n: Node): string {
  const d = n.domain === 'ai.onnx' ? '' : n.domain;
  return d ? `${d}.${n.opType}` : n.opType;
}

export function inspectModel(model: Model, opts: InspectOptions): ModelSummary {
  const opsetImports: Record<string, number> = {};
  for (const o of model.opsetImports) opsetImports[o.domain === '' ? 'ai.onnx' : o.domain] = o.version;

  const initNames = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs
    .filter((v) => !initNames.has(v.name)) // IR < 4 lists initializers as inputs too
    .map((v) => ({ name: v.name, type: typeString(v.type), shape: shapeOf(v.type) }));
  const outputs = model.graph.outputs.map((v) => ({ name: v.name, type: typeString(v.type), shape: shapeOf(v.type) }));

  let parameters = 0;
  let initializers = 0;
  let externalData = false;
  for (const g of graphsOf(model.graph)) {
    const weights: Tensor[] = [...g.initializers, ...g.sparseInitializers.map((s) => s.values)];
    for (const t of weights) {
      initializers++;
      if (WEIGHT_TYPES.has(t.dataType)) parameters += elementCount(t.dims);
    }
  }
  for (const t of allTensors(model)) if (t.external) externalData = true;

  const ops: Record<string, number> = {};
  let nodes = 0;
  for (const g of graphsOf(model.graph)) {
    for (const n of g.nodes) {
      nodes++;
      const k = opKey(n);
      ops[k] = (ops[k] ?? 0) + 1;
    }
  }
  const sortedOps = Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));

  const { flops, unknown } = estimateFlops(model, opts.shapes);
  const metadata: Record<string, string> = {};
  for (const kv of model.metadataProps) metadata[kv.key] = kv.value;

  return {
    irVersion: model.irVersion,
    opsetImports,
    producer: { name: model.producerName, version: model.producerVersion },
    inputs,
    outputs,
    parameters,
    sizeBytes: opts.sizeBytes,
    ops: sortedOps,
    flops,
    flopsUnknownNodes: unknown,
    unsupportedOps: opts.unsupportedOps ?? [],
    metadata,
    nodes,
    initializers,
    externalData,
  };
}

// ─── FLOPs ─────────────────────────────────────────────────────────────────────────────

type Shape = number[]; // symbolic and unknown dims already replaced by 1

const UNARY_SAME = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Gelu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign',
  'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Reciprocal', 'Erf', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Not',
  'Identity', 'Dropout', 'Cast', 'CastLike', 'Clip', 'Softmax', 'LogSoftmax', 'BatchNormalization', 'InstanceNormalization',
  'LayerNormalization', 'LRN', 'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'Mish', 'ThresholdedRelu', 'Celu',
  'IsNaN', 'IsInf', 'Shrink', 'Hardmax', 'MeanVarianceNormalization', 'GroupNormalization',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mean', 'Sum', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Where', 'Mod', 'BitShift']);

function concrete(dims: Dim[]): Shape {
  return dims.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
}

function broadcast(shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v !== 1) d = v;
    }
    out.push(d);
  }
  return out;
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Output spatial size of a conv/pool window. */
function windowOut(n: Node, x: Shape, kernel: number[]): Shape | null {
  const spatial = x.length - 2;
  if (spatial < 1 || kernel.length !== spatial) return null;
  const strides = attrInts(n, 'strides') ?? kernel.map(() => 1);
  const dil = attrInts(n, 'dilations') ?? kernel.map(() => 1);
  const pads = attrInts(n, 'pads') ?? kernel.map(() => 0).concat(kernel.map(() => 0));
  const autoPad = n.attributes.find((a) => a.name === 'auto_pad');
  const autoPadStr = autoPad && autoPad.type === 'string' ? new TextDecoder().decode(autoPad.value) : 'NOTSET';
  const out: number[] = [];
  for (let i = 0; i < spatial; i++) {
    const inDim = x[i + 2]!;
    const s = strides[i] ?? 1;
    if (autoPadStr === 'SAME_UPPER' || autoPadStr === 'SAME_LOWER') out.push(Math.ceil(inDim / s));
    else {
      const k = ((kernel[i]! - 1) * (dil[i] ?? 1)) + 1;
      const p = autoPadStr === 'VALID' ? 0 : (pads[i] ?? 0) + (pads[i + spatial] ?? 0);
      out.push(Math.max(1, Math.floor((inDim + p - k) / s) + 1));
    }
  }
  return out;
}

/**
 * Estimates FLOPs for one sample. Shapes come from `known` (shape inference), then the declared
 * value_info/inputs/outputs/initializers, then a small local propagation over common ops.
 */
export function estimateFlops(model: Model, known?: InspectOptions['shapes']): { flops: number; unknown: number } {
  const shapes = new Map<string, Shape>();
  const consts = new Map<string, number[]>();
  let flops = 0;
  let unknown = 0;

  const visit = (graph: Graph) => {
    for (const t of graph.initializers) {
      shapes.set(t.name, [...t.dims]);
      if ((t.dataType === DataType.INT64 || t.dataType === DataType.INT32) && t.data.kind === 'raw' && t.data.bytes.byteLength > 0 && elementCount(t.dims) <= 64) {
        consts.set(t.name, intData(t));
      }
    }
    for (const v of [...graph.inputs, ...graph.outputs, ...graph.valueInfo]) {
      if (v.type && v.type.kind === 'tensor' && v.type.shape && !shapes.has(v.name)) shapes.set(v.name, concrete(v.type.shape));
    }
    if (known) for (const [name, vt] of known) if (vt.shape && !shapes.has(name)) shapes.set(name, concrete(vt.shape));

    let order: Node[];
    try {
      order = topologicalOrder(graph);
    } catch {
      order = graph.nodes;
    }
    for (const n of order) {
      const ins = n.inputs.map((i) => (i ? shapes.get(i) : undefined));
      const setOut = (s: Shape | null | undefined, idx = 0) => {
        const o = n.outputs[idx];
        if (s && o && !shapes.has(o)) shapes.set(o, s);
      };
      const x = ins[0];
      const domain = n.domain === 'ai.onnx' ? '' : n.domain;
      const op = domain === '' || domain === 'com.microsoft' ? n.opType : '';
      const kernelFlops = (): number | null => {
        switch (op) {
          case 'MatMul':
          case 'MatMulInteger':
          case 'QLinearMatMul':
          case 'FusedMatMul': {
            const a = ins[0];
            const b = op === 'QLinearMatMul' ? ins[3] : ins[1];
            if (!a || !b) return null;
            const A = a.length === 1 ? [1, a[0]!] : a;
            const B = b.length === 1 ? [b[0]!, 1] : b;
            const M = A[A.length - 2]!, K = A[A.length - 1]!, N = B[B.length - 1]!;
            const batch = broadcast([A.slice(0, -2), B.slice(0, -2)]);
            const out = [...batch, ...(a.length === 1 ? [] : [M]), ...(b.length === 1 ? [] : [N])];
            setOut(out);
            return 2 * prod(batch) * M * K * N;
          }
          case 'MatMulNBits': {
            const K = attrInt(n, 'K'), N = attrInt(n, 'N');
            if (!x || K === undefined || N === undefined) return null;
            setOut([...x.slice(0, -1), N]);
            return 2 * prod(x.slice(0, -1)) * K * N;
          }
          case 'Gemm': {
            const a = ins[0], b = ins[1];
            if (!a || !b || a.length !== 2 || b.length !== 2) return null;
            const [M, K] = attrInt(n, 'transA', 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
            const N = attrInt(n, 'transB', 0) ? b[0]! : b[1]!;
            setOut([M, N]);
            return 2 * M * K * N + (n.inputs[2] ? M * N : 0);
          }
          case 'Conv':
          case 'ConvInteger':
          case 'QLinearConv':
          case 'FusedConv': {
            const w = op === 'QLinearConv' ? ins[3] : ins[1];
            if (!x || !w || w.length < 3) return null;
            const kernel = attrInts(n, 'kernel_shape') ?? w.slice(2);
            const spatial = windowOut(n, x, kernel);
            if (!spatial) return null;
            const group = attrInt(n, 'group', 1);
            const out = [x[0]!, w[0]!, ...spatial];
            setOut(out);
            const hasBias = op === 'QLinearConv' ? !!n.inputs[8] : op === 'Conv' ? !!n.inputs[2] : false;
            return 2 * prod(out) * (x[1]! / group) * prod(kernel) + (hasBias ? prod(out) : 0);
          }
          case 'ConvTranspose': {
            const w = ins[1];
            if (!x || !w || w.length < 3) return null;
            const group = attrInt(n, 'group', 1);
            const kernel = attrInts(n, 'kernel_shape') ?? w.slice(2);
            const outShape = attrInts(n, 'output_shape');
            const strides = attrInts(n, 'strides') ?? kernel.map(() => 1);
            const spatial = outShape ?? x.slice(2).map((d, i) => d * (strides[i] ?? 1));
            setOut([x[0]!, w[1]! * group, ...spatial]);
            return 2 * prod(x) * (w[1]!) * prod(kernel);
          }
          default:
            return null;
        }
      };
      const isCompute = ['MatMul', 'MatMulInteger', 'QLinearMatMul', 'FusedMatMul', 'MatMulNBits', 'Gemm', 'Conv', 'ConvInteger', 'QLinearConv', 'FusedConv', 'ConvTranspose'].includes(op);
      // A malformed node (an attribute of the wrong type, say) makes its FLOPs unknown; the
      // estimate never fails the inspection of an otherwise readable model.
      if (isCompute) {
        let f: number | null;
        try {
          f = kernelFlops();
        } catch {
          f = null;
        }
        if (f === null || !Number.isFinite(f)) unknown++;
        else flops += f;
      } else {
        try {
          propagate(n, op, ins, x, setOut, consts);
        } catch {
          /* output shape stays unknown */
        }
      }
      for (const a of n.attributes) {
        if (a.type === 'graph') visit(a.value);
        else if (a.type === 'graphs') a.value.forEach(visit);
      }
    }
  };
  visit(model.graph);
  return { flops, unknown };
}

function propagate(n: Node, op: string, ins: (Shape | undefined)[], x: Shape | undefined, setOut: (s: Shape | null | undefined, idx?: number) => void, consts: Map<string, number[]>): void {
  if (UNARY_SAME.has(op)) return setOut(x);
  if (BROADCAST.has(op)) {
    const known = ins.filter((s): s is Shape => !!s);
    if (known.length === ins.length && known.length > 0) setOut(broadcast(known));
    return;
  }
  if (!x) return;
  switch (op) {
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const kernel = attrInts(n, 'kernel_shape');
      if (!kernel) return;
      const spatial = windowOut(n, x, kernel);
      if (spatial) setOut([x[0]!, x[1]!, ...spatial]);
      return;
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return setOut([...x.slice(0, 2), ...x.slice(2).map(() => 1)]);
    case 'Flatten': {
      let axis = attrInt(n, 'axis', 1);
      if (axis < 0) axis += x.length;
      return setOut([prod(x.slice(0, axis)), prod(x.slice(axis))]);
    }
    case 'Transpose': {
      const perm = attrInts(n, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      return setOut(perm.map((p) => x[p] ?? 1));
    }
    case 'Reshape': {
      const target = consts.get(n.inputs[1] ?? '');
      if (!target) return;
      const total = prod(x);
      const dims = target.map((d, i) => (d === 0 ? x[i] ?? 1 : d));
      const rest = prod(dims.filter((d) => d !== -1));
      return setOut(dims.map((d) => (d === -1 ? Math.max(1, Math.round(total / rest)) : d)));
    }
    case 'Unsqueeze': {
      const axes = attrInts(n, 'axes') ?? consts.get(n.inputs[1] ?? '');
      if (!axes) return;
      const rank = x.length + axes.length;
      const norm = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
      const out: number[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : x[j++] ?? 1);
      return setOut(out);
    }
    case 'Squeeze': {
      const axes = attrInts(n, 'axes') ?? consts.get(n.inputs[1] ?? '');
      const norm = axes ? new Set(axes.map((a) => (a < 0 ? a + x.length : a))) : null;
      return setOut(x.filter((d, i) => (norm ? !norm.has(i) : d !== 1)));
    }
    case 'Concat': {
      if (ins.some((s) => !s)) return;
      let axis = attrInt(n, 'axis', 0);
      if (axis < 0) axis += x.length;
      if (axis < 0 || axis >= x.length) return; // out of range: writing out[axis] would make a huge sparse array
      const out = [...x];
      out[axis] = ins.reduce((sum, s) => sum + (s![axis] ?? 0), 0);
      return setOut(out);
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin': {
      const axes = attrInts(n, 'axes') ?? consts.get(n.inputs[1] ?? '');
      const keep = attrInt(n, 'keepdims', 1);
      const norm = new Set((axes ?? x.map((_, i) => i)).map((a) => (a < 0 ? a + x.length : a)));
      return setOut(keep ? x.map((d, i) => (norm.has(i) ? 1 : d)) : x.filter((_, i) => !norm.has(i)));
    }
  }
}

// ─── Can ONNX Runtime run it? ──────────────────────────────────────────────────────────

export type RunCheck = { ok: true } | { ok: false; error: string; unsupported: UnsupportedOp[] };

/** Turns ONNX Runtime's session-creation error into the ops it names, in plain words. */
export function parseOrtError(message: string): UnsupportedOp[] {
  const found: UnsupportedOp[] = [];
  const impl = /Could not find an implementation for ([\w.]+)\((\d+)\) node with name '([^']*)'/g;
  for (const m of message.matchAll(impl)) {
    found.push({ opType: m[1]!, domain: '', node: m[3]!, reason: `ONNX Runtime has no CPU kernel for ${m[1]} (opset ${m[2]}) with these input types` });
  }
  const noOp = /No Op registered for ([\w.]+) with domain_version of (\d+)/g;
  for (const m of message.matchAll(noOp)) {
    const node = /In Node, \("([^"]*)", [\w.]+, "([^"]*)"/.exec(message);
    found.push({ opType: m[1]!, domain: node?.[2] ?? '', node: node?.[1], reason: `${m[1]} does not exist in opset ${m[2]} of its domain (unknown operator)` });
  }
  const fatal = /([\w.]*):([\w.]+)\((-?\d+)\) is not a registered function\/op/g;
  for (const m of message.matchAll(fatal)) {
    found.push({ opType: m[2]!, domain: m[1]!, reason: `ONNX Runtime does not know ${m[1] ? `${m[1]}.` : ''}${m[2]} (custom or unknown operator domain)` });
  }
  return found;
}

/**
 * Tries to create an ONNX Runtime CPU session. `source` is the model's bytes, or its path
 * when it has external data (ORT resolves that relative to the file).
 */
export async function checkRunnable(source: Uint8Array | string): Promise<RunCheck> {
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>> | undefined;
  try {
    const options = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 as const, graphOptimizationLevel: 'disabled' as const };
    session = typeof source === 'string' ? await ort.InferenceSession.create(source, options) : await ort.InferenceSession.create(source, options);
    return { ok: true };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { ok: false, error, unsupported: parseOrtError(error) };
  } finally {
    await session?.release();
  }
}

export interface InspectFileOptions {
  /** Try an ONNX Runtime CPU session to find unsupported ops (default true). */
  runCheck?: boolean;
}

export interface FileSummary extends ModelSummary {
  path: string;
  /** Session creation failed for a reason other than named ops (null when not checked or fine). */
  runError: string | null;
  runChecked: boolean;
}

/** Loads a model file (without its external weights) and summarizes it. */
export async function inspectFile(path: string, options: InspectFileOptions = {}): Promise<{ model: Model; summary: FileSummary }> {
  const model = await loadModel(path, { skipExternalData: true });
  let sizeBytes = (await stat(path)).size;
  const dataFiles = new Set<string>();
  for (const t of allTensors(model)) if (t.external) dataFiles.add(t.external.location);
  for (const f of dataFiles) {
    try {
      sizeBytes += (await stat(join(dirname(resolve(path)), f))).size;
    } catch {
      /* reported by the run check / loader when it matters */
    }
  }
  const shapes = await tryInferShapes(model);
  let unsupported: UnsupportedOp[] = [];
  let runError: string | null = null;
  const runChecked = options.runCheck !== false;
  if (runChecked) {
    const { readFile } = await import('node:fs/promises');
    const check = await checkRunnable(dataFiles.size > 0 ? resolve(path) : await readFile(path));
    if (!check.ok) {
      unsupported = check.unsupported;
      // ORT names the node for some errors only; fill in the first matching node otherwise.
      for (const u of unsupported) {
        if (u.node !== undefined) continue;
        for (const g of graphsOf(model.graph)) {
          const n = g.nodes.find((x) => x.opType === u.opType && (x.domain === 'ai.onnx' ? '' : x.domain) === u.domain);
          if (n) {
            u.node = n.name;
            break;
          }
        }
      }
      if (unsupported.length === 0) runError = firstLine(check.error);
    }
  }
  const summary = inspectModel(model, { sizeBytes, shapes, unsupportedOps: unsupported });
  return { model, summary: { path, ...summary, runError, runChecked } };
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 500);
}

/** Uses the shape inference module when it is present and succeeds; otherwise undefined. */
async function tryInferShapes(model: Model): Promise<InspectOptions['shapes']> {
  try {
    const spec = './shape-inference.js';
    const mod = (await import(/* @vite-ignore */ spec)) as { inferShapes?: (m: Model) => { types: Map<string, { elemType: number; shape: Dim[] | null }> } };
    return mod.inferShapes?.(model).types;
  } catch {
    return undefined;
  }
}
