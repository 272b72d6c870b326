// float32 → float16 conversion in the manner of onnxconverter-common's convert_float_to_float16
// (ENGINE-NOTES E4): float initializers and constant tensors become float16 (values clamped away
// from 0 and from infinity), Cast(to=FLOAT) becomes Cast(to=FLOAT16), value types are retyped,
// blocked ops run in float32 between Casts, and with keepIoTypes the graph's inputs and outputs
// stay float32 behind Cast nodes.
import { attrInt, findAttr } from '../onnx/attributes.js';
import { consumers, NameScope, sortGraph } from '../onnx/graph.js';
import { DataType, type Attribute, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { floatData, floatToHalf } from '../onnx/tensor.js';
import { assertNotQuantized, cloneModel, elementTypes, isOnnx, nodeLabel, QuantizeError, type LayerReport } from './common.js';

/** onnxconverter-common's DEFAULT_OP_BLOCK_LIST. */
export const CONVERTER_DEFAULT_BLOCK_LIST: readonly string[] = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer',
  'Imputer', 'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder',
  'RandomUniformLike', 'SVMClassifier', 'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier',
  'TreeEnsembleRegressor', 'ZipMap', 'NonMaxSuppression', 'TopK', 'RoiAlign', 'Resize', 'Range', 'CumSum',
  'Min', 'Max', 'Upsample',
];

/** The default block list: the converter's plus ops whose fp16 range or precision often hurts. */
export const DEFAULT_FP16_BLOCK_LIST: readonly string[] = [
  ...CONVERTER_DEFAULT_BLOCK_LIST,
  'LayerNormalization', 'SimplifiedLayerNormalization', 'Softmax', 'LogSoftmax', 'Pow', 'ReduceMean', 'Sqrt', 'Exp', 'Log',
];

export interface Fp16Options {
  /** Keep graph inputs and outputs float32 with Casts (default true). */
  keepIoTypes?: boolean;
  /** Op types that stay float32 (default DEFAULT_FP16_BLOCK_LIST). */
  blockList?: readonly string[];
  /** Node names (or first output names) that stay float32. */
  nodeBlockList?: readonly string[];
  /** Non-zero values closer to 0 are stored as ±minPositive (default 1e-7). */
  minPositive?: number;
  /** Larger magnitudes are stored as ±maxFinite (default 1e4). */
  maxFinite?: number;
}

export interface Fp16Result {
  model: Model;
  layers: LayerReport[];
  /** Values whose magnitude had to be clamped (below minPositive or above maxFinite). */
  clamped: number;
}

/** float32 values → float16 bits, clamping like onnxconverter-common (0 and ±Inf untouched). */
export function toHalfClamped(values: Float32Array, minPositive = 1e-7, maxFinite = 1e4): { bits: Uint16Array; clamped: number } {
  const bits = new Uint16Array(values.length);
  let clamped = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    if (v > 0 && v < minPositive) (v = minPositive), clamped++;
    else if (v < 0 && v > -minPositive) (v = -minPositive), clamped++;
    else if (v > maxFinite && v < Infinity) (v = maxFinite), clamped++;
    else if (v < -maxFinite && v > -Infinity) (v = -maxFinite), clamped++;
    bits[i] = floatToHalf(v);
  }
  return { bits, clamped };
}

function halfTensor(t: Tensor, minPositive: number, maxFinite: number): { tensor: Tensor; clamped: number } {
  const { bits, clamped } = toHalfClamped(floatData(t), minPositive, maxFinite);
  const tensor: Tensor = { name: t.name, dataType: DataType.FLOAT16, dims: [...t.dims], data: { kind: 'raw', bytes: new Uint8Array(bits.buffer) } };
  if (t.docString) tensor.docString = t.docString;
  return { tensor, clamped };
}

const castNode = (name: string, input: string, output: string, to: number): Node => ({
  name,
  opType: 'Cast',
  domain: '',
  inputs: [input],
  outputs: [output],
  attributes: [{ name: 'to', type: 'int', value: BigInt(to) }],
});

/** Converts a float32 model to float16. Pure: returns a new model. */
export function convertFp16(input: Model, options: Fp16Options = {}): Fp16Result {
  assertNotQuantized(input);
  const keepIo = options.keepIoTypes ?? true;
  const minPositive = options.minPositive ?? 1e-7;
  const maxFinite = options.maxFinite ?? 1e4;
  const blockedOps = new Set(options.blockList ?? DEFAULT_FP16_BLOCK_LIST);
  const blockedNames = new Set(options.nodeBlockList ?? []);
  const model = cloneModel(input);
  const graph = model.graph;
  for (const n of graph.nodes) {
    if (n.attributes.some((a) => a.type === 'graph' || a.type === 'graphs')) {
      throw new QuantizeError(`float16 conversion does not handle control flow yet (${n.opType} '${nodeLabel(n)}' has a subgraph)`);
    }
  }
  const types = elementTypes(model);
  const isF32 = (name: string): boolean => types.get(name) === DataType.FLOAT;
  if (![...types.values()].some((t) => t === DataType.FLOAT)) {
    throw new QuantizeError('nothing to convert: the model has no float32 tensors');
  }
  const isBlocked = (n: Node): boolean =>
    blockedOps.has(n.opType) || n.domain === 'ai.onnx.ml' || blockedNames.has(n.name) || blockedNames.has(n.outputs[0] ?? '');
  const names = new NameScope(graph);
  const readers = consumers(graph);
  const graphOutputNames = new Set(graph.outputs.map((o) => o.name));
  let clamped = 0;

  // Initializers: float16 unless only blocked nodes read them.
  const keptF32 = new Set<string>();
  graph.initializers = graph.initializers.map((t) => {
    if (t.dataType !== DataType.FLOAT) return t;
    const rs = readers.get(t.name) ?? [];
    if (rs.length > 0 && rs.every(isBlocked) && !graphOutputNames.has(t.name)) {
      keptF32.add(t.name);
      return t;
    }
    const h = halfTensor(t, minPositive, maxFinite);
    clamped += h.clamped;
    return h.tensor;
  });

  const added: Node[] = [];
  // Graph inputs.
  const inits = new Set(graph.initializers.map((t) => t.name));
  for (const inp of graph.inputs) {
    if (inits.has(inp.name) || inp.type?.kind !== 'tensor' || inp.type.elemType !== DataType.FLOAT) continue;
    if (!keepIo) {
      inp.type.elemType = DataType.FLOAT16;
      continue;
    }
    keptF32.add(inp.name);
    const rs = (readers.get(inp.name) ?? []).filter((r) => !isBlocked(r));
    if (rs.length === 0) continue;
    const half = names.fresh(`${inp.name}_fp16`);
    added.push(castNode(names.fresh(`graph_input_cast_${inp.name}`), inp.name, half, DataType.FLOAT16));
    for (const r of rs) r.inputs = r.inputs.map((i) => (i === inp.name ? half : i));
    types.set(half, DataType.FLOAT);
  }

  // Graph outputs.
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  for (const out of graph.outputs) {
    if (out.type?.kind !== 'tensor' || !isF32(out.name)) continue;
    const p = producer.get(out.name);
    if (!keepIo) {
      out.type.elemType = DataType.FLOAT16;
      continue;
    }
    if (!p || isBlocked(p)) continue; // a graph input or a blocked node's float output: already float32
    const half = names.fresh(`${out.name}_fp16`);
    p.outputs = p.outputs.map((o) => (o === out.name ? half : o));
    for (const r of readers.get(out.name) ?? []) r.inputs = r.inputs.map((i) => (i === out.name ? half : i));
    added.push(castNode(names.fresh(`graph_output_cast_${out.name}`), half, out.name, DataType.FLOAT));
    types.set(half, DataType.FLOAT);
    keptF32.add(out.name);
  }

  const layers: LayerReport[] = [];
  for (const n of [...graph.nodes]) {
    if (isBlocked(n)) {
      // Float32 island: cast float16 inputs up, float outputs back down.
      const touchesFloat = n.outputs.some((o) => o && isF32(o)) || n.inputs.some((i) => i && isF32(i));
      const inputs: string[] = [];
      for (const i of n.inputs) {
        if (i && isF32(i) && !keptF32.has(i)) {
          const up = names.fresh(`${i}_fp32`);
          added.push(castNode(names.fresh(`${nodeLabel(n)}_input_cast`), i, up, DataType.FLOAT));
          inputs.push(up);
        } else inputs.push(i);
      }
      n.inputs = inputs;
      n.outputs = n.outputs.map((o) => {
        if (!o || !isF32(o) || (keepIo && graphOutputNames.has(o))) return o;
        const raw = names.fresh(`${o}_fp32`);
        added.push(castNode(names.fresh(`${nodeLabel(n)}_output_cast`), raw, o, DataType.FLOAT16));
        return raw;
      });
      if (touchesFloat) {
        layers.push({ name: nodeLabel(n), op: n.opType, precision: 'float32', note: 'blocked op: runs in float32 between Casts' });
      }
      continue;
    }
    if (!isOnnx(n)) continue;
    if (n.opType === 'Cast' && attrInt(n, 'to') === DataType.FLOAT) {
      n.attributes = n.attributes.map((a) => (a.name === 'to' ? { ...a, value: BigInt(DataType.FLOAT16) } as Attribute : a));
    } else if (n.opType === 'Constant') {
      const v = findAttr(n, 'value');
      const vf = findAttr(n, 'value_float');
      const vfs = findAttr(n, 'value_floats');
      if (v?.type === 'tensor' && v.value.dataType === DataType.FLOAT) {
        const h = halfTensor(v.value, minPositive, maxFinite);
        clamped += h.clamped;
        v.value = h.tensor;
      } else if ((vf?.type === 'float' || vfs?.type === 'floats') && n.outputs[0]) {
        const vals = vf?.type === 'float' ? [vf.value] : vfs?.type === 'floats' ? vfs.value : [];
        const t: Tensor = { name: '', dataType: DataType.FLOAT, dims: vf ? [] : [vals.length], data: { kind: 'raw', bytes: new Uint8Array(Float32Array.from(vals).buffer) } };
        const h = halfTensor(t, minPositive, maxFinite);
        clamped += h.clamped;
        n.attributes = [{ name: 'value', type: 'tensor', value: h.tensor }];
      }
    } else if (n.opType === 'ConstantOfShape') {
      const v = findAttr(n, 'value');
      if (v?.type === 'tensor' && v.value.dataType === DataType.FLOAT) v.value = halfTensor(v.value, minPositive, maxFinite).tensor;
      else if (!v && n.outputs[0] && isF32(n.outputs[0])) {
        n.attributes.push({ name: 'value', type: 'tensor', value: { name: '', dataType: DataType.FLOAT16, dims: [1], data: { kind: 'raw', bytes: new Uint8Array(2) } } });
      }
    } else if (['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'EyeLike'].includes(n.opType) && attrInt(n, 'dtype') === DataType.FLOAT) {
      n.attributes = n.attributes.map((a) => (a.name === 'dtype' ? { ...a, value: BigInt(DataType.FLOAT16) } as Attribute : a));
    }
    for (const a of n.attributes) {
      if (a.type === 'tensor' && a.value.dataType === DataType.FLOAT && n.opType !== 'Constant' && n.opType !== 'ConstantOfShape') {
        a.value = halfTensor(a.value, minPositive, maxFinite).tensor;
      }
    }
    if (['Conv', 'MatMul', 'Gemm', 'ConvTranspose'].includes(n.opType)) {
      layers.push({ name: nodeLabel(n), op: n.opType, precision: 'float16' });
    }
  }
  graph.nodes.push(...added);
  sortGraph(graph);

  // Retype value_info of the values that became float16.
  for (const v of graph.valueInfo) {
    if (v.type?.kind === 'tensor' && v.type.elemType === DataType.FLOAT && !keptF32.has(v.name)) v.type.elemType = DataType.FLOAT16;
  }
  return { model, layers, clamped };
}
