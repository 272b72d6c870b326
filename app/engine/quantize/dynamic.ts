// Dynamic int8 quantization of MatMul (and Gemm, rewritten to MatMul + Add first): the weights
// become int8 initializers, the activations are quantized at run time; embedding tables become
// int8 rows with a scale per row (embedding.ts). The emitted pattern is
// the one ONNX Runtime fuses at load time into MatMulIntegerToFloat / DynamicQuantizeMatMul:
//
//   x ─DynamicQuantizeLinear→ (xq u8, xs, xzp)
//   MatMulInteger(xq, Wq s8, xzp, wzp) → Cast(float) → Mul(·, Mul(xs, ws)) [→ Add(bias)]
import { makeAttr } from '../onnx/attributes.js';
import { NameScope, sortGraph } from '../onnx/graph.js';
import { DataType, type Model, type Node } from '../onnx/ir.js';
import { floatData, floatTensor, rawTensor } from '../onnx/tensor.js';
import {
  assertHasWeights,
  assertNotQuantized,
  cloneModel,
  constantsToInitializers,
  dropUnreadInitializers,
  floatInitializer,
  gemmToMatMul,
  initializerMap,
  isOnnx,
  nodeLabel,
  QuantizeError,
  requireOpset,
  type LayerReport,
} from './common.js';
import { quantizeEmbeddings } from './embedding.js';

export interface DynamicOptions {
  /** One scale per output column of each weight (axis 1 of B). Default false (per tensor). */
  perChannel?: boolean;
  /**
   * 7-bit weights ([-64, 64]) for CPUs without VNNI, where U8S8 can overflow (ORT #5849).
   * Default false.
   */
  reduceRange?: boolean;
  /** Node names (or first output names) to keep float. */
  excludeNodes?: string[];
  /** Accept a model that already holds quantized ops (mixed precision applies methods in turn). */
  allowQuantized?: boolean;
}

export interface QuantizeResult {
  model: Model;
  layers: LayerReport[];
}

export interface SymmetricInt8 {
  q: Int8Array;
  /** One scale (per tensor) or one per channel. */
  scales: Float32Array;
}

/**
 * Symmetric int8 quantization of a row-major tensor. `axis` = channel axis for per-channel
 * scales (undefined: one scale). qmax 127 (or 64 with reduceRange), zero point 0.
 */
export function quantizeSymmetricInt8(w: Float32Array, dims: readonly number[], axis: number | undefined, reduceRange = false): SymmetricInt8 {
  const qmax = reduceRange ? 64 : 127;
  const qmin = -qmax;
  const channels = axis === undefined ? 1 : dims[axis]!;
  let inner = 1;
  if (axis !== undefined) for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
  const chanOf = (i: number): number => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const amax = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = chanOf(i);
    const a = Math.abs(w[i]!);
    if (a > amax[c]!) amax[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = amax[c]! > 0 ? amax[c]! / qmax : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const v = Math.round(w[i]! / scales[chanOf(i)]!);
    q[i] = v < qmin ? qmin : v > qmax ? qmax : v;
  }
  return { q, scales };
}

function int8Tensor(name: string, dims: number[], q: Int8Array): ReturnType<typeof rawTensor> {
  return rawTensor(name, DataType.INT8, dims, new Uint8Array(q.buffer, q.byteOffset, q.byteLength));
}

/**
 * Dynamic int8 quantization. Pure: returns a new model. Conv stays float (ORT's ConvInteger is
 * slower than its float Conv on CPU); use quantizeStatic for convolutions.
 */
export function quantizeDynamic(input: Model, options: DynamicOptions = {}): QuantizeResult {
  if (!options.allowQuantized) assertNotQuantized(input);
  requireOpset(input, 11, 'dynamic quantization (DynamicQuantizeLinear)');
  const model = cloneModel(input);
  const graph = model.graph;
  constantsToInitializers(graph);
  assertHasWeights(model);
  const gemms = gemmToMatMul(model);
  const perChannel = options.perChannel ?? false;
  const reduceRange = options.reduceRange ?? false;
  const excluded = new Set(options.excludeNodes ?? []);
  const isExcluded = (n: Node): boolean => excluded.has(n.name) || excluded.has(nodeLabel(n)) || excluded.has(n.outputs[0] ?? '');

  const inits = initializerMap(graph);
  const names = new NameScope(graph);
  const layers: LayerReport[] = [];
  const out: Node[] = [];
  const weightCache = new Map<string, { wq: string; ws: string; wzp: string }>();
  const mk = (opType: string, inputs: string[], outputs: string[], base: string, attrs: Node['attributes'] = []): Node => ({
    name: names.fresh(base),
    opType,
    domain: '',
    inputs,
    outputs,
    attributes: attrs,
  });

  for (const n of graph.nodes) {
    const label = nodeLabel(n);
    const fromGemm = gemms.has(label);
    if (!isOnnx(n)) {
      out.push(n);
      continue;
    }
    if (n.opType === 'Conv') {
      layers.push({ name: label, op: 'Conv', precision: 'float32', note: 'Conv stays float in dynamic mode (ConvInteger is slow on CPU); use static quantization for convolutions' });
      out.push(n);
      continue;
    }
    if (n.opType === 'Gemm') {
      layers.push({ name: label, op: 'Gemm', precision: 'float32', note: 'Gemm with transA=1 or a non-constant B stays float' });
      out.push(n);
      continue;
    }
    if (n.opType !== 'MatMul') {
      out.push(n);
      continue;
    }
    if (isExcluded(n)) {
      layers.push({ name: label, op: fromGemm ? 'Gemm' : 'MatMul', precision: 'float32', note: 'excluded by request' });
      out.push(n);
      continue;
    }
    const w = floatInitializer(inits, graph, n.inputs[1]);
    if (!w || w.dims.length !== 2) {
      layers.push({ name: label, op: fromGemm ? 'Gemm' : 'MatMul', precision: 'float32', note: 'B is not a constant 2-D weight' });
      out.push(n);
      continue;
    }
    const [K, N] = w.dims as [number, number];
    let wq = weightCache.get(w.name);
    if (!wq) {
      const { q, scales } = quantizeSymmetricInt8(floatData(w), w.dims, perChannel ? 1 : undefined, reduceRange);
      const wqName = names.fresh(`${w.name}_quantized`);
      const wsName = names.fresh(`${w.name}_scale`);
      const wzpName = names.fresh(`${w.name}_zero_point`);
      graph.initializers.push(int8Tensor(wqName, [K, N], q));
      graph.initializers.push(perChannel ? floatTensor(wsName, [N], scales) : floatTensor(wsName, [], scales));
      // Symmetric weights: one zero point 0 even per channel (per-column zero points, all 0,
      // would only cost bytes and ORT's per-column correction path in its QGEMM).
      graph.initializers.push(int8Tensor(wzpName, [], new Int8Array(1)));
      wq = { wq: wqName, ws: wsName, wzp: wzpName };
      weightCache.set(w.name, wq);
    }
    const x = n.inputs[0]!;
    const y = n.outputs[0]!;
    // One DynamicQuantizeLinear per MatMul: ORT folds it into DynamicQuantizeMatMul only when
    // its outputs feed a single MatMulInteger.
    const xq = names.fresh(`${x}_quantized`);
    const xs = names.fresh(`${x}_scale`);
    const xzp = names.fresh(`${x}_zero_point`);
    out.push(mk('DynamicQuantizeLinear', [x], [xq, xs, xzp], `${label}_dql`));
    const acc = names.fresh(`${y}_int32`);
    out.push(mk('MatMulInteger', [xq, wq.wq, xzp, wq.wzp], [acc], `${label}_matmulinteger`));
    const accF = names.fresh(`${y}_int32_float`);
    out.push(mk('Cast', [acc], [accF], `${label}_cast`, [makeAttr('to', DataType.FLOAT)]));
    const scale = names.fresh(`${y}_scale`);
    out.push(mk('Mul', [xs, wq.ws], [scale], `${label}_scales_mul`));
    out.push({ name: n.name || names.fresh(`${label}_output_scale_mul`), opType: 'Mul', domain: '', inputs: [accF, scale], outputs: [y], attributes: [] });
    layers.push({
      name: label,
      op: fromGemm ? 'Gemm' : 'MatMul',
      precision: 'int8',
      note: `dynamic u8 activations, s8 weights ${perChannel ? 'per channel' : 'per tensor'}${reduceRange ? ', 7-bit' : ''}${fromGemm ? '; Gemm rewritten to MatMul + Add' : ''}`,
    });
  }
  graph.nodes = out;
  layers.push(...quantizeEmbeddings(model, { bits: 8, isExcluded }));
  if (!layers.some((l) => l.precision === 'int8')) {
    throw new QuantizeError('nothing to quantize dynamically: no MatMul/Gemm with constant 2-D weights or embedding table found (Conv needs static quantization)');
  }
  sortGraph(graph);
  dropUnreadInitializers(graph);
  return { model, layers };
}
