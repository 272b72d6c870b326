// Static int8 quantization in QDQ form: calibrate activation ranges, then insert
// QuantizeLinear → DequantizeLinear pairs around the ops ONNX Runtime's CPU provider fuses into
// integer kernels (QLinearConv, QLinearMatMul / MatMulIntegerToFloat, QGemm, QLinearAdd,
// QLinearAveragePool, QLinearGlobalAveragePool; Q/DQ dropped around MaxPool, Flatten, Reshape,
// Transpose). Formats follow ORT's quantizer (ENGINE-NOTES E2):
// - activations u8, asymmetric, range extended to include 0;
// - weights s8 symmetric ([-127, 127]), per channel (Conv axis 0, MatMul axis 1, Gemm transB=1
//   axis 0) or per tensor;
// - Conv/Gemm bias int32 with scale x_s·w_s and zero point 0;
// - one QuantizeLinear per activation, one DequantizeLinear per consumer (ORT's selectors want a
//   DQ that feeds exactly one node);
// - a Relu right after a quantized op is folded into the u8 range (zero point 0 clamps at 0);
// - embedding tables (Gather lookups): int8 rows, one scale per row (embedding.ts).
import { attrFloat, attrInt, setAttr } from '../onnx/attributes.js';
import { consumers, NameScope, sortGraph, topologicalOrder } from '../onnx/graph.js';
import { DataType, opsetVersion, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { inferShapes } from '../onnx/shape-inference.js';
import { floatData, floatTensor, int32Tensor, rawTensor } from '../onnx/tensor.js';
import { calibrate, type CalibrationMethod, type CalibrationSource, type TensorRange } from './calibrate.js';
import {
  assertHasWeights,
  assertNotQuantized,
  cloneModel,
  constantsToInitializers,
  dropStaleValueInfo,
  dropUnreadInitializers,
  elementTypes,
  floatInitializer,
  initializerMap,
  isOnnx,
  nodeLabel,
  QuantizeError,
  type LayerReport,
} from './common.js';
import { quantizeSymmetricInt8, type QuantizeResult } from './dynamic.js';
import { quantizeEmbeddings } from './embedding.js';
import { channelsLastHandoff, flattenChannelsLast, moveReluBehindPool } from './int8-layout.js';

export interface StaticOptions {
  /** Activation range estimate (default 'minmax'). */
  method?: CalibrationMethod;
  /** For 'percentile' (default 99.999). */
  percentile?: number;
  /** Per-channel weight scales (default true). */
  perChannel?: boolean;
  /** Node names (or first output names) to keep float. */
  excludeNodes?: string[];
  /**
   * Keep the first Conv (and what follows it up to the next quantized op) float. On single-channel
   * inputs an int8 first conv is slower than float at large batches (ENGINE-NOTES G). A float
   * Conv → Relu → MaxPool becomes Conv → MaxPool → Relu (exact) so ORT keeps the pool float.
   */
  firstConvFloat?: boolean;
  /**
   * Hand the float map of such a conv to the int8 layers channels-last (exact; default: on x64,
   * where ORT runs float convs in its blocked NCHWc layout). See int8-layout.ts, rewrite 3.
   */
  channelsLastHandoff?: boolean;
  /** Histogram bins for percentile/entropy (default 2048). */
  bins?: number;
  /** Use at most this many calibration batches. */
  maxBatches?: number;
  /** Threads for the calibration session. */
  threads?: number;
}

export interface StaticResult extends QuantizeResult {
  /** Calibrated range of every quantized activation (after percentile/entropy clipping). */
  ranges: Record<string, TensorRange>;
  calibration: { method: CalibrationMethod; batches: number; samples: number; stateSize: number };
}

/** u8 asymmetric parameters for a range (extended to include 0), as ORT's compute_scale_zp. */
export function u8Params(range: TensorRange): { scale: number; zeroPoint: number } {
  const rmin = Math.min(0, range.min);
  const rmax = Math.max(0, range.max);
  if (!(rmax > rmin)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((rmax - rmin) / 255);
  const zp = Math.round(0 - rmin / scale);
  return { scale, zeroPoint: Math.min(255, Math.max(0, zp)) };
}

// Ops whose definition did not change (for inference) between opset 7 and 13, so an older model
// that uses only these can have its opset import raised to 13.
const UPGRADE_SAFE = new Set([
  'Conv', 'ConvTranspose', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'HardSigmoid', 'PRelu',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div',
  'Flatten', 'Reshape', 'Transpose', 'Concat', 'Identity', 'Constant', 'Shape', 'Gather', 'Cast', 'Abs', 'Neg',
  'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Pow', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'BatchNormalization', 'Sum',
  'Max', 'Min', 'Floor', 'Ceil', 'Erf', 'InstanceNormalization', 'LRN', 'Not', 'Equal', 'Greater', 'Less', 'Where',
]);

/** Raises the default-domain opset import to 13 when the model's ops allow it; otherwise throws (`why` opens the message). */
export function upgradeOpsetTo13(model: Model, why = 'static quantization needs ONNX opset 13 (per-channel DequantizeLinear)'): void {
  const v = opsetVersion(model, '') ?? 1;
  if (v >= 13) return;
  const problems = new Set<string>();
  if (v < 7) problems.add(`opset ${v} (< 7)`);
  let shapes: Map<string, { shape: unknown[] | null }> | undefined;
  for (const n of model.graph.nodes) {
    if (!isOnnx(n)) continue;
    if (UPGRADE_SAFE.has(n.opType)) {
      if (n.opType === 'BatchNormalization' && (v < 9 || n.attributes.some((a) => a.name === 'spatial'))) problems.add(n.opType);
      continue;
    }
    if (n.opType === 'Clip' && v >= 11) continue;
    if (n.opType === 'Dropout' && v >= 12) continue;
    if (n.opType === 'Softmax' || n.opType === 'LogSoftmax') {
      // Before 13 they flatten to 2-D at `axis` (default 1); for a 2-D input at axis 1/-1 that is the same as 13.
      shapes ??= inferShapes(model).types;
      const rank = shapes.get(n.inputs[0]!)?.shape?.length;
      const axis = attrInt(n, 'axis', 1);
      if (rank === 2 && (axis === 1 || axis === -1)) continue;
    }
    problems.add(n.opType);
  }
  if (problems.size > 0) {
    throw new QuantizeError(
      `${why}, but the model imports opset ${v} and uses ${[...problems].join(', ')}, whose definition changed before 13; re-export the model at opset 13 or newer`,
    );
  }
  for (const o of model.opsetImports) if (o.domain === '' || o.domain === 'ai.onnx') o.version = 13;
  if (model.irVersion < 7) model.irVersion = 7;
}

type Role = 'compute' | 'elementwise' | 'pool' | 'passthrough';
const ROLES: Record<string, Role> = {
  Conv: 'compute',
  MatMul: 'compute',
  Gemm: 'compute',
  Add: 'elementwise',
  AveragePool: 'pool',
  GlobalAveragePool: 'pool',
  MaxPool: 'passthrough',
  Flatten: 'passthrough',
  Reshape: 'passthrough',
  Transpose: 'passthrough',
};

interface Plan {
  node: Node;
  role: Role;
  label: string;
  /** Inputs that are activations to quantize (u8). */
  acts: string[];
  /** Constant float inputs of Add to store as u8. */
  constActs: string[];
  weight?: { tensor: Tensor; axis: number };
  bias?: Tensor;
}

/**
 * Static int8 QDQ quantization. Calibrates activation ranges by streaming `calibration` batches
 * through ORT, then rewrites a copy of the model. The model's opset import is raised to 13 when
 * lower (throws when its ops changed meaning before 13).
 */
export async function quantizeStatic(input: Model, calibration: CalibrationSource, options: StaticOptions = {}): Promise<StaticResult> {
  assertNotQuantized(input);
  const model = cloneModel(input);
  const graph = model.graph;
  constantsToInitializers(graph);
  assertHasWeights(model);
  upgradeOpsetTo13(model);
  graph.nodes = topologicalOrder(graph);

  const method = options.method ?? 'minmax';
  const perChannel = options.perChannel ?? true;
  const excluded = new Set(options.excludeNodes ?? []);
  const inits = initializerMap(graph);
  const types = elementTypes(model);
  const isFloat = (name: string | undefined): name is string => !!name && types.get(name) === DataType.FLOAT;
  const isConst = (name: string): boolean => inits.has(name) && !graph.inputs.some((i) => i.name === name);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const layers: LayerReport[] = [];
  const notes = new Map<Node, string>();

  // 0. A Conv that stays float: its Relu moves behind its MaxPool (exact; see int8-layout.ts).
  const firstConv = options.firstConvFloat ? graph.nodes.find((n) => isOnnx(n) && n.opType === 'Conv') : undefined;
  const isExcluded = (n: Node): boolean => excluded.has(n.name) || excluded.has(n.outputs[0] ?? '');
  const movedRelus = new Map<Node, Node>(); // float conv → its Relu, now behind the pool
  for (const n of graph.nodes) {
    const relu = isOnnx(n) && n.opType === 'Conv' && (n === firstConv || isExcluded(n)) ? moveReluBehindPool(graph, n) : undefined;
    if (relu) movedRelus.set(n, relu);
  }
  const swapped = [...movedRelus.keys()];
  if (swapped.length > 0) graph.nodes = topologicalOrder(graph);

  // 1. Choose the nodes to quantize.
  const plans = new Map<Node, Plan>();
  const floatReason = new Map<Node, string>();
  for (const n of graph.nodes) {
    const role = isOnnx(n) ? ROLES[n.opType] : undefined;
    if (!role) continue;
    const label = nodeLabel(n);
    const reluMoved = swapped.includes(n) ? '; its Relu moved behind the MaxPool (same function, keeps the pool in fast float kernels)' : '';
    if (isExcluded(n)) {
      floatReason.set(n, `excluded by request${reluMoved}`);
      continue;
    }
    if (n === firstConv) {
      floatReason.set(n, `first Conv kept float: it reads the raw input, where ORT's int8 convolution is slower than float${reluMoved}`);
      continue;
    }
    const x = n.inputs[0];
    if (!isFloat(x) || !isFloat(n.outputs[0])) {
      floatReason.set(n, 'not a float32 tensor op');
      continue;
    }
    const plan: Plan = { node: n, role, label, acts: [], constActs: [] };
    if (role === 'compute') {
      const w = floatInitializer(inits, graph, n.inputs[1]);
      if (!w || isConst(x)) {
        floatReason.set(n, 'weight is not a constant initializer');
        continue;
      }
      if (n.opType === 'Conv') {
        plan.weight = { tensor: w, axis: 0 };
        const b = n.inputs[2] ? floatInitializer(inits, graph, n.inputs[2]) : undefined;
        if (n.inputs[2] && !b) {
          floatReason.set(n, 'bias is not a constant');
          continue;
        }
        plan.bias = b;
      } else if (n.opType === 'MatMul') {
        if (w.dims.length !== 2) {
          floatReason.set(n, 'weight is not 2-D');
          continue;
        }
        plan.weight = { tensor: w, axis: 1 };
      } else {
        const transA = attrInt(n, 'transA', 0);
        const c = n.inputs[2] ? floatInitializer(inits, graph, n.inputs[2]) : undefined;
        const N = attrInt(n, 'transB', 0) ? w.dims[0]! : w.dims[1]!;
        const cOk = !n.inputs[2] || (c !== undefined && (c.dims.length === 1 || (c.dims.length === 2 && c.dims[0] === 1)) && c.dims[c.dims.length - 1] === N);
        if (transA !== 0 || w.dims.length !== 2 || !cOk) {
          floatReason.set(n, transA ? 'transA=1 is not supported' : 'C is not a constant 1-D bias');
          continue;
        }
        plan.weight = { tensor: w, axis: attrInt(n, 'transB', 0) ? 0 : 1 };
        plan.bias = c;
      }
      plan.acts = [x];
    } else if (role === 'elementwise') {
      const [a, b] = [n.inputs[0]!, n.inputs[1]!];
      if (!isFloat(b)) {
        floatReason.set(n, 'not a float32 tensor op');
        continue;
      }
      if (isConst(a) && isConst(b)) continue;
      for (const t of [a, b]) (isConst(t) ? plan.constActs : plan.acts).push(t);
    } else if (role === 'pool') {
      plan.acts = [x];
    } else {
      if (n.opType === 'MaxPool' && n.outputs.length > 1 && n.outputs[1]) {
        floatReason.set(n, 'MaxPool with Indices output');
        continue;
      }
      plan.acts = [x];
    }
    plans.set(n, plan);
  }
  const computeCount = [...plans.values()].filter((p) => p.role === 'compute').length;
  if (computeCount === 0) {
    throw new QuantizeError('nothing to quantize: no MatMul/Gemm/Conv with constant weights is left after the exclusions');
  }

  // 2. Relu folding: producer → Relu (sole consumer, no graph outputs) lets the u8 range do the Relu.
  let readers = consumers(graph);
  const folded = new Map<Node, Node>(); // relu → producer
  for (const n of graph.nodes) {
    if (!isOnnx(n) || n.opType !== 'Relu' || excluded.has(n.name) || excluded.has(n.outputs[0] ?? '')) continue;
    const x = n.inputs[0]!;
    const prod = graph.nodes.find((p) => p.outputs[0] === x);
    const plan = prod && plans.get(prod);
    if (!plan || plan.role === 'passthrough') continue;
    if ((readers.get(x)?.length ?? 0) !== 1 || graphOutputs.has(x) || graphOutputs.has(n.outputs[0]!)) continue;
    folded.set(n, prod!);
  }

  // 3. Which tensors get Q → DQ (and with whose range)?
  const quantized = new Map<string, { rangeOf: string } | { sameAs: string }>();
  const foldedOutput = new Map<Node, string>(); // producer → relu output
  for (const [relu, prod] of folded) foldedOutput.set(prod, relu.outputs[0]!);
  for (const n of graph.nodes) {
    const plan = plans.get(n);
    if (!plan) continue;
    if (plan.role === 'passthrough') {
      const src = plan.acts[0]!;
      if (!quantized.has(src) || isConst(src)) {
        plans.delete(n);
        floatReason.set(n, 'input is not quantized, nothing to pass through');
        continue;
      }
      quantized.set(n.outputs[0]!, { sameAs: src });
      continue;
    }
    for (const a of plan.acts) if (!quantized.has(a)) quantized.set(a, { rangeOf: a });
    const out = foldedOutput.get(n) ?? n.outputs[0]!;
    const needsOut = plan.role !== 'compute' || n.opType === 'Conv' || foldedOutput.has(n) || !graphOutputs.has(out);
    if (needsOut) quantized.set(out, { rangeOf: out });
  }

  // 4. Calibrate every tensor whose range we need.
  const toCalibrate = [...new Set([...quantized.values()].flatMap((q) => ('rangeOf' in q ? [q.rangeOf] : [])))];
  const cal = await calibrate(model, toCalibrate, calibration, {
    method,
    ...(options.percentile !== undefined ? { percentile: options.percentile } : {}),
    ...(options.bins !== undefined ? { bins: options.bins } : {}),
    ...(options.maxBatches !== undefined ? { maxBatches: options.maxBatches } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  const ranges: Record<string, TensorRange> = {};
  const paramsOf = (t: string): { scale: number; zeroPoint: number } => {
    const known = params.get(t);
    if (known) return known;
    const q = quantized.get(t)!;
    let p: { scale: number; zeroPoint: number };
    if ('sameAs' in q) p = paramsOf(q.sameAs);
    else {
      const r = cal.ranges.get(q.rangeOf) ?? { min: 0, max: 0 };
      ranges[t] = r;
      p = u8Params(r);
    }
    params.set(t, p);
    return p;
  };
  for (const t of quantized.keys()) paramsOf(t);
  const names = new NameScope(graph);

  // 4b. Flatten of an int8 NCHW map into an int8 Gemm/MatMul reads channels-last (int8-layout.ts).
  let shapes: ReturnType<typeof inferShapes>['types'] | undefined;
  for (const plan of plans.values()) {
    const f = plan.node;
    if (f.opType !== 'Flatten' || attrInt(f, 'axis', 1) !== 1 || graphOutputs.has(f.outputs[0]!)) continue;
    const next = readers.get(f.outputs[0]!);
    const nextPlan = next?.length === 1 ? plans.get(next[0]!) : undefined;
    if (!nextPlan?.weight || nextPlan.node.opType === 'Conv') continue;
    const x = f.inputs[0]!;
    const prod = graph.nodes.find((p) => p.outputs[0] === x);
    const src = prod && (folded.get(prod) ?? prod);
    if (!src || !plans.has(src) || !['Conv', 'MaxPool'].includes(src.opType)) continue; // ops ORT runs NHWC in int8
    try {
      shapes ??= inferShapes(model).types;
    } catch {
      break;
    }
    const dims = shapes.get(x)?.shape;
    if (dims?.length !== 4 || !dims.slice(1).every((d): d is number => typeof d === 'number') || (dims[2] as number) * (dims[3] as number) === 1) continue;
    const kAxis = nextPlan.node.opType === 'Gemm' && attrInt(nextPlan.node, 'transB', 0) ? 1 : 0;
    const r = flattenChannelsLast(graph, names, f, [dims[1] as number, dims[2] as number, dims[3] as number], nextPlan.weight.tensor, kAxis);
    nextPlan.weight = { ...nextPlan.weight, tensor: r.weight };
    quantized.set(r.transposed, { sameAs: x });
    params.set(r.transposed, params.get(x)!);
    notes.set(f, 'flattens channels-last (the next layer\'s weight rows permuted to match), so ORT needs no Transpose here');
  }

  // 5. Rewrite.
  for (const [relu, prod] of folded) {
    prod.outputs[0] = relu.outputs[0]!;
    notes.set(prod, 'Relu folded into the u8 output range');
  }
  graph.nodes = graph.nodes.filter((n) => !folded.has(n));
  const newNodes: Node[] = [];
  const scaleNames = new Map<string, { s: string; zp: string }>();
  const qOutput = new Map<string, string>();
  const qparamInits = (t: string): { s: string; zp: string } => {
    let e = scaleNames.get(t);
    if (!e) {
      const p = params.get(t)!;
      e = { s: names.fresh(`${t}_scale`), zp: names.fresh(`${t}_zero_point`) };
      graph.initializers.push(floatTensor(e.s, [], [p.scale]));
      graph.initializers.push(rawTensor(e.zp, DataType.UINT8, [], Uint8Array.of(p.zeroPoint)));
      scaleNames.set(t, e);
    }
    return e;
  };
  for (const t of quantized.keys()) {
    const { s, zp } = qparamInits(t);
    const q = names.fresh(`${t}_QuantizeLinear_Output`);
    newNodes.push({ name: names.fresh(`${t}_QuantizeLinear`), opType: 'QuantizeLinear', domain: '', inputs: [t, s, zp], outputs: [q], attributes: [] });
    qOutput.set(t, q);
  }
  const dq = (src: string, s: string, zp: string, base: string, axis?: number): string => {
    const out = names.fresh(`${base}_DequantizeLinear_Output`);
    newNodes.push({
      name: names.fresh(`${base}_DequantizeLinear`),
      opType: 'DequantizeLinear',
      domain: '',
      inputs: [src, s, zp],
      outputs: [out],
      attributes: axis === undefined ? [] : [{ name: 'axis', type: 'int', value: BigInt(axis) }],
    });
    return out;
  };

  // Every reader of a quantized activation gets its own DequantizeLinear.
  readers = consumers(graph);
  for (const [t, q] of qOutput) {
    const { s, zp } = scaleNames.get(t)!;
    for (const r of readers.get(t) ?? []) {
      const d = dq(q, s, zp, t);
      r.inputs = r.inputs.map((i) => (i === t ? d : i));
    }
  }

  // Weights, biases and constant Add inputs.
  const weightCache = new Map<string, { q: string; s: string; zp: string; scales: Float32Array }>();
  for (const plan of plans.values()) {
    const n = plan.node;
    if (plan.weight) {
      const { tensor: w, axis } = plan.weight;
      const alpha = n.opType === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1;
      const key = `${w.name}|${axis}|${alpha}|${perChannel}`;
      let wq = weightCache.get(key);
      if (!wq) {
        const data = alpha === 1 ? floatData(w) : floatData(w).map((v) => v * alpha);
        const { q, scales } = quantizeSymmetricInt8(data, w.dims, perChannel ? axis : undefined);
        const C = perChannel ? w.dims[axis]! : 1;
        const qName = names.fresh(`${w.name}_quantized`);
        const sName = names.fresh(`${w.name}_scale`);
        const zpName = names.fresh(`${w.name}_zero_point`);
        graph.initializers.push(rawTensor(qName, DataType.INT8, w.dims, new Uint8Array(q.buffer)));
        graph.initializers.push(perChannel ? floatTensor(sName, [C], scales) : floatTensor(sName, [], scales));
        graph.initializers.push(rawTensor(zpName, DataType.INT8, perChannel ? [C] : [], new Uint8Array(C)));
        wq = { q: qName, s: sName, zp: zpName, scales };
        weightCache.set(key, wq);
      }
      n.inputs[1] = dq(wq.q, wq.s, wq.zp, w.name, perChannel ? axis : undefined);
      if (alpha !== 1) setAttr(n, 'alpha', { float: 1 });
      if (plan.bias) {
        const beta = n.opType === 'Gemm' ? attrFloat(n, 'beta', 1) : 1;
        const xs = params.get(plan.acts[0]!)!.scale;
        const b = floatData(plan.bias);
        const bs = new Float32Array(b.length);
        const bq = new Int32Array(b.length);
        for (let i = 0; i < b.length; i++) {
          const s = Math.fround(xs * wq.scales[perChannel ? i : 0]!);
          bs[i] = s;
          const v = Math.round((b[i]! * beta) / s);
          bq[i] = Math.max(-2147483648, Math.min(2147483647, v));
        }
        const qName = names.fresh(`${plan.bias.name}_quantized`);
        const sName = names.fresh(`${plan.bias.name}_scale`);
        const zpName = names.fresh(`${plan.bias.name}_zero_point`);
        graph.initializers.push(int32Tensor(qName, plan.bias.dims, bq));
        graph.initializers.push(perChannel ? floatTensor(sName, [b.length], bs) : floatTensor(sName, [], [bs[0]!]));
        graph.initializers.push(int32Tensor(zpName, perChannel ? [b.length] : [], new Int32Array(perChannel ? b.length : 1)));
        n.inputs[2] = dq(qName, sName, zpName, plan.bias.name, perChannel ? 0 : undefined);
        if (beta !== 1) setAttr(n, 'beta', { float: 1 });
      }
    }
    for (const c of plan.constActs) {
      const t = inits.get(c)!;
      const data = floatData(t);
      let mn = Infinity;
      let mx = -Infinity;
      for (const v of data) {
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const p = u8Params({ min: mn, max: mx });
      const q = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) q[i] = Math.max(0, Math.min(255, Math.round(data[i]! / p.scale) + p.zeroPoint));
      const qName = names.fresh(`${c}_quantized`);
      const sName = names.fresh(`${c}_scale`);
      const zpName = names.fresh(`${c}_zero_point`);
      graph.initializers.push(rawTensor(qName, DataType.UINT8, t.dims, q));
      graph.initializers.push(floatTensor(sName, [], [p.scale]));
      graph.initializers.push(rawTensor(zpName, DataType.UINT8, [], Uint8Array.of(p.zeroPoint)));
      const d = dq(qName, sName, zpName, c);
      n.inputs = n.inputs.map((i) => (i === c ? d : i));
    }
  }

  graph.nodes.push(...newNodes);
  // 5b. The float map a moved Relu hands to int8 layers leaves ORT's NCHWc kernels channels-last
  // (int8-layout.ts, rewrite 3). Only x64 builds of ORT have NCHWc kernels to hand over from.
  if (options.channelsLastHandoff ?? process.arch === 'x64') {
    for (const [conv, relu] of movedRelus) {
      const channels = inits.get(conv.inputs[1]!)?.dims[0] ?? 0;
      if (channelsLastHandoff(graph, names, relu, channels)) floatReason.set(conv, `${floatReason.get(conv) ?? 'left float'}; hands its map to the int8 layers channels-last (ORT needs no u8 Transpose there)`);
    }
  }
  const embeddings = quantizeEmbeddings(model, { bits: 8, isExcluded });
  sortGraph(graph);
  dropUnreadInitializers(graph);
  dropStaleValueInfo(graph);

  // 6. Report.
  for (const n of input.graph.nodes) {
    if (!isOnnx(n) || !ROLES[n.opType]) continue;
    const label = nodeLabel(n);
    const mine = [...plans.values()].find((p) => p.label === label);
    if (mine) {
      const extra = notes.get(mine.node);
      let note =
        mine.role === 'compute'
          ? `u8 activations, s8 weights ${perChannel ? 'per channel' : 'per tensor'}${mine.bias ? ', int32 bias' : ''}`
          : mine.role === 'passthrough'
            ? 'runs on u8 (Q/DQ dropped by ORT)'
            : 'u8 in and out';
      if (extra) note += `; ${extra}`;
      layers.push({ name: label, op: n.opType, precision: 'int8', note });
    } else {
      const orig = [...floatReason.entries()].find(([k]) => nodeLabel(k) === label);
      layers.push({ name: label, op: n.opType, precision: 'float32', note: orig?.[1] ?? 'left float' });
    }
  }
  layers.push(...embeddings);
  return {
    model,
    layers,
    ranges,
    calibration: { method, batches: cal.batches, samples: cal.samples, stateSize: cal.stateSize },
  };
}
