// Shared pieces of the quantizers: errors, model checks, initializer access, the Gemm → MatMul
// rewrite, element-type lookup and the per-layer report.
import { attrFloat, attrInt, attrTensor } from '../onnx/attributes.js';
import { encodeModel } from '../onnx/codec.js';
import { NameScope, sortGraph } from '../onnx/graph.js';
import { DataType, opsetVersion, type Graph, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { inferShapes } from '../onnx/shape-inference.js';
import { floatData, floatTensor } from '../onnx/tensor.js';

export class QuantizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantizeError';
  }
}

/** Precision a layer ended up in. */
export type LayerPrecision = 'int8' | 'int4' | 'float16' | 'float32';

export interface LayerReport {
  /** Node name (or its first output when the node has no name). */
  name: string;
  op: string;
  precision: LayerPrecision;
  /** Why a layer stayed float, or how it was quantized (per-channel, block size...). */
  note?: string;
}

/** Op types that only exist in already-quantized (or compressed) models. */
const QUANTIZED_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'MatMulInteger',
  'ConvInteger',
  'MatMulNBits',
  'GatherBlockQuantized',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'QGemm',
  'QAttention',
  'DynamicQuantizeLSTM',
]);

export function isQuantizedOp(op: string): boolean {
  return QUANTIZED_OPS.has(op) || op.startsWith('QLinear');
}

/** Throws when the model already holds quantized ops: quantizing twice only loses accuracy. */
export function assertNotQuantized(model: Model): void {
  const found = [...new Set(model.graph.nodes.map((n) => n.opType).filter(isQuantizedOp))];
  if (found.length > 0) {
    throw new QuantizeError(
      `the model is already quantized (it contains ${found.join(', ')}); quantize the original float model instead`,
    );
  }
}

export function nodeLabel(n: Node): string {
  return n.name || n.outputs[0] || n.opType;
}

/** A deep copy: the quantizers never modify the caller's model. */
export function cloneModel(model: Model): Model {
  return structuredClone(model);
}

export function initializerMap(graph: Graph): Map<string, Tensor> {
  return new Map(graph.initializers.map((t) => [t.name, t]));
}

/** A FLOAT initializer, or undefined when `name` is an activation, a graph input or another type. */
export function floatInitializer(inits: Map<string, Tensor>, graph: Graph, name: string | undefined): Tensor | undefined {
  if (!name) return undefined;
  const t = inits.get(name);
  if (!t || t.dataType !== DataType.FLOAT) return undefined;
  // An initializer that is also a graph input can be overridden at run time: not a constant.
  if (graph.inputs.some((i) => i.name === name)) return undefined;
  return t;
}

/** Turns Constant nodes holding a tensor into initializers, so weights exported as Constants quantize too. */
export function constantsToInitializers(graph: Graph): void {
  const keep: Node[] = [];
  for (const n of graph.nodes) {
    if (n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx')) {
      const t = attrTensor(n, 'value');
      if (t && t.data.kind === 'raw' && n.outputs[0]) {
        graph.initializers.push({ ...t, name: n.outputs[0] });
        continue;
      }
    }
    keep.push(n);
  }
  graph.nodes = keep;
}

/** Removes initializers that nothing reads any more (the float weights after quantization). */
export function dropUnreadInitializers(graph: Graph): void {
  const read = new Set<string>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) read.add(i);
  for (const o of graph.outputs) read.add(o.name);
  for (const i of graph.inputs) read.add(i.name);
  graph.initializers = graph.initializers.filter((t) => read.has(t.name));
}

/** Drops value_info entries for names that no longer exist in the graph. */
export function dropStaleValueInfo(graph: Graph): void {
  const live = new Set<string>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) live.add(o);
  graph.valueInfo = graph.valueInfo.filter((v) => live.has(v.name));
}

export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

/**
 * Rewrites every Gemm whose B is a 2-D float initializer into MatMul (+ Add for C): transB is
 * applied by transposing the weight, alpha folded into the weight and beta into C. Gemms with
 * transA=1 or a non-constant B are left alone. Returns the rewritten node names.
 */
export function gemmToMatMul(model: Model): Set<string> {
  const graph = model.graph;
  const inits = initializerMap(graph);
  const names = new NameScope(graph);
  const rewritten = new Set<string>();
  const transposed = new Map<string, string>();
  const nodes: Node[] = [];
  for (const n of graph.nodes) {
    if (n.opType !== 'Gemm' || (n.domain !== '' && n.domain !== 'ai.onnx')) {
      nodes.push(n);
      continue;
    }
    const w = floatInitializer(inits, graph, n.inputs[1]);
    const transA = attrInt(n, 'transA', 0);
    if (!w || w.dims.length !== 2 || transA !== 0) {
      nodes.push(n);
      continue;
    }
    const transB = attrInt(n, 'transB', 0);
    const alpha = attrFloat(n, 'alpha', 1);
    const beta = attrFloat(n, 'beta', 1);
    const key = `${w.name}|${transB}|${alpha}`;
    let wName = transposed.get(key);
    if (wName === undefined) {
      if (transB === 0 && alpha === 1) {
        wName = w.name;
      } else {
        const [r, c] = w.dims as [number, number];
        let data = transB ? transpose2d(floatData(w), r, c) : Float32Array.from(floatData(w));
        if (alpha !== 1) data = data.map((v) => v * alpha);
        wName = names.fresh(`${w.name}_kn`);
        graph.initializers.push(floatTensor(wName, transB ? [c, r] : [r, c], data));
      }
      transposed.set(key, wName);
    }
    const label = nodeLabel(n);
    const y = n.outputs[0]!;
    const c = n.inputs[2];
    if (!c || beta === 0) {
      nodes.push({ name: n.name, opType: 'MatMul', domain: '', inputs: [n.inputs[0]!, wName], outputs: [y], attributes: [] });
    } else {
      let cName = c;
      if (beta !== 1) {
        const ct = floatInitializer(inits, graph, c);
        if (ct) {
          cName = names.fresh(`${c}_scaled`);
          graph.initializers.push(floatTensor(cName, ct.dims, floatData(ct).map((v) => v * beta)));
        } else {
          const betaName = names.fresh(`${label}_beta`);
          graph.initializers.push(floatTensor(betaName, [], [beta]));
          cName = names.fresh(`${label}_c_scaled`);
          nodes.push({ name: names.fresh(`${label}_beta_mul`), opType: 'Mul', domain: '', inputs: [c, betaName], outputs: [cName], attributes: [] });
        }
      }
      const mm = names.fresh(`${label}_matmul_out`);
      nodes.push({ name: n.name, opType: 'MatMul', domain: '', inputs: [n.inputs[0]!, wName], outputs: [mm], attributes: [] });
      nodes.push({ name: names.fresh(`${label}_bias_add`), opType: 'Add', domain: '', inputs: [mm, cName], outputs: [y], attributes: [] });
    }
    rewritten.add(label);
  }
  graph.nodes = nodes;
  sortGraph(graph);
  dropUnreadInitializers(graph);
  return rewritten;
}

/** True for nodes of the default ONNX domain. */
export function isOnnx(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

/** Conv / MatMul / Gemm nodes whose weight is a float initializer. */
export function weightedNodes(model: Model): Node[] {
  const graph = model.graph;
  const inits = initializerMap(graph);
  return graph.nodes.filter(
    (n) => isOnnx(n) && (n.opType === 'Conv' || n.opType === 'MatMul' || n.opType === 'Gemm') && floatInitializer(inits, graph, n.inputs[1]) !== undefined,
  );
}

export function assertHasWeights(model: Model, what = 'MatMul/Gemm/Conv'): void {
  if (weightedNodes(model).length === 0) {
    throw new QuantizeError(`nothing to quantize: no ${what} with constant weights found in the model`);
  }
}

/**
 * Element types of every value we can tell (graph inputs, initializers, node outputs), from the
 * shared shape inference; falls back to declared types when inference gives up on the model.
 */
export function elementTypes(model: Model): Map<string, DataType> {
  const out = new Map<string, DataType>();
  try {
    for (const [name, t] of inferShapes(model).types) out.set(name, t.elemType);
  } catch {
    // Inconsistent shapes somewhere: fall back to what the model declares.
  }
  const g = model.graph;
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) {
    if (!out.has(v.name) && v.type?.kind === 'tensor') out.set(v.name, v.type.elemType);
  }
  for (const t of g.initializers) out.set(t.name, t.dataType);
  return out;
}

export function requireOpset(model: Model, min: number, why: string): number {
  const v = opsetVersion(model, '') ?? 1;
  if (v < min) {
    throw new QuantizeError(`${why} needs ONNX opset >= ${min}, but the model imports opset ${v}; re-export or upgrade the model to opset ${min} or newer`);
  }
  return v;
}

/** Size of the encoded model in bytes (what a saved .onnx file would take). */
export function modelBytes(model: Model): number {
  return encodeModel(model).byteLength;
}

export function absMax(values: Float32Array, start = 0, end = values.length, stride = 1): number {
  let m = 0;
  for (let i = start; i < end; i += stride) {
    const a = Math.abs(values[i]!);
    if (a > m) m = a;
  }
  return m;
}
