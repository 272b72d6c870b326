// 4-bit block-wise weight-only quantization of MatMul weights into com.microsoft MatMulNBits,
// with the exact layout of ORT's MatMulNBitsQuantizer / MLAS (ENGINE-NOTES E3):
// - W [K, N] is cut into blocks of `blockSize` consecutive K values of one column; K is padded
//   with zeros to kb·blockSize, kb = ⌈K / blockSize⌉;
// - B: uint8 [N, kb, blockSize/2], byte j of a block = q[2j] | q[2j+1] << 4 (low nibble = even k);
// - scales: float [N·kb], column-major over blocks (index n·kb + b);
// - zero_points (asymmetric only): uint8 [N·⌈kb/2⌉], per column two blocks per byte, low nibble
//   first, the last byte of a column padded; symmetric has no zero_points (implied 8).
import { makeAttr } from '../onnx/attributes.js';
import { NameScope, sortGraph } from '../onnx/graph.js';
import { DataType, type Model, type Node } from '../onnx/ir.js';
import { floatData, floatTensor, rawTensor } from '../onnx/tensor.js';
import { quantizeInt4Codes, type Int4Codes } from './int4-codes.js';
import { addConvDequantize, opset21Blocker, quantizeConvWeightInt4, upgradeOpsetTo21 } from './int4-conv.js';
import { quantizeEmbeddings } from './embedding.js';
import {
  assertHasWeights,
  assertNotQuantized,
  cloneModel,
  constantsToInitializers,
  dropUnreadInitializers,
  elementTypes,
  floatInitializer,
  gemmToMatMul,
  initializerMap,
  isOnnx,
  nodeLabel,
  QuantizeError,
  type LayerReport,
} from './common.js';
import type { QuantizeResult } from './dynamic.js';

export interface Int4Options {
  /** Block size along K: a power of two in [16, 256]; 32, 64 or 128 are the usual choices. */
  blockSize: number;
  /** Symmetric blocks (s = signed absmax / −8, no zero points) or asymmetric (min/max, zero points). */
  symmetric: boolean;
  /** 'mse' (default): per-block search of the clipping range; 'rtn': ORT's plain min/max rounding. */
  method?: 'rtn' | 'mse';
  /** Node names (or first output names) to keep float, e.g. a small classifier head. */
  excludeNodes?: string[];
  /** MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 activations. Omitted when undefined. */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  /** Accept a model that already holds quantized ops (mixed precision applies methods in turn). */
  allowQuantized?: boolean;
  /** Leave Conv weights float (default: int4 through DequantizeLinear, see int4-conv.ts). */
  keepConvFloat?: boolean;
}

/** A packed MatMulNBits weight. */
export interface Int4Blob {
  K: number;
  N: number;
  blockSize: number;
  /** uint8 [N, kb, blockSize/2]. */
  packed: Uint8Array;
  /** float [N·kb]. */
  scales: Float32Array;
  /** uint8 [N·⌈kb/2⌉]; absent for symmetric blocks (implied zero point 8). */
  zeroPoints?: Uint8Array;
}

export interface Int4Quantized extends Int4Blob, Int4Codes {}

export function checkBlockSize(bs: number): void {
  if (!Number.isInteger(bs) || bs < 16 || bs > 256 || (bs & (bs - 1)) !== 0) {
    throw new QuantizeError(`int4 block size must be a power of two between 16 and 256 (got ${bs})`);
  }
}

/**
 * Quantizes a row-major [K, N] weight into MatMulNBits blocks. method 'rtn' is ORT's default
 * quantizer (block min/max or signed absmax); 'mse' (default) also tries narrower ranges per
 * block and keeps the one with the least squared error. The layout is the same either way.
 */
export function quantizeInt4Weights(
  w: Float32Array,
  K: number,
  N: number,
  blockSize: number,
  symmetric: boolean,
  method: 'rtn' | 'mse' = 'mse',
): Int4Quantized {
  checkBlockSize(blockSize);
  const { codes, scales, blockZeroPoints: blockZp, dequantized } = quantizeInt4Codes(w, K, N, blockSize, symmetric, method);
  const kb = Math.ceil(K / blockSize);
  const kPad = kb * blockSize;
  const half = blockSize / 2;
  const packed = new Uint8Array(N * kb * half);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < kPad / 2; j++) {
      packed[n * kb * half + j] = codes[n * kPad + 2 * j]! | (codes[n * kPad + 2 * j + 1]! << 4);
    }
  }
  const result: Int4Quantized = { K, N, blockSize, packed, scales, codes, blockZeroPoints: blockZp, dequantized };
  if (!symmetric) {
    const zpCols = Math.ceil(kb / 2);
    const zps = new Uint8Array(N * zpCols);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < kb; b++) {
        const z = blockZp[n * kb + b]!;
        zps[n * zpCols + (b >> 1)]! |= (b & 1) === 0 ? z : z << 4;
      }
    }
    result.zeroPoints = zps;
  }
  return result;
}

/** Unpacks a MatMulNBits weight back to float [K, N] (the inverse of the layout above). */
export function dequantizeInt4Blob(blob: Int4Blob): Float32Array {
  const { K, N, blockSize, packed, scales, zeroPoints } = blob;
  checkBlockSize(blockSize);
  const kb = Math.ceil(K / blockSize);
  const half = blockSize / 2;
  if (packed.length !== N * kb * half) throw new QuantizeError(`int4 blob: packed has ${packed.length} bytes, expected ${N * kb * half}`);
  if (scales.length !== N * kb) throw new QuantizeError(`int4 blob: ${scales.length} scales, expected ${N * kb}`);
  const zpCols = Math.ceil(kb / 2);
  if (zeroPoints && zeroPoints.length !== N * zpCols) throw new QuantizeError(`int4 blob: ${zeroPoints.length} zero-point bytes, expected ${N * zpCols}`);
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const s = scales[n * kb + b]!;
      const zb = zeroPoints ? zeroPoints[n * zpCols + (b >> 1)]! : 0;
      const zp = zeroPoints ? ((b & 1) === 0 ? zb & 0x0f : zb >> 4) : 8;
      const base = (n * kb + b) * half;
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i;
        if (k >= K) break;
        const byte = packed[base + (i >> 1)]!;
        const q = (i & 1) === 0 ? byte & 0x0f : byte >> 4;
        out[k * N + n] = Math.fround((q - zp) * s);
      }
    }
  }
  return out;
}

/**
 * 4-bit weight-only quantization: every MatMul with a constant 2-D float weight (Gemm rewritten
 * to MatMul + Add first) becomes com.microsoft MatMulNBits; every Conv reads an int4 weight
 * through DequantizeLinear (int4-conv.ts; opset raised to 21) unless keepConvFloat; embedding
 * tables become com.microsoft GatherBlockQuantized with the same blocks (embedding.ts). Pure.
 */
export function quantizeInt4(input: Model, options: Int4Options): QuantizeResult {
  if (!options.allowQuantized) assertNotQuantized(input);
  checkBlockSize(options.blockSize);
  if (options.accuracyLevel !== undefined && ![0, 1, 2, 3, 4].includes(options.accuracyLevel)) {
    throw new QuantizeError(`accuracyLevel must be 0..4 (got ${String(options.accuracyLevel)})`);
  }
  const model = cloneModel(input);
  const graph = model.graph;
  constantsToInitializers(graph);
  assertHasWeights(model);
  const gemms = gemmToMatMul(model);
  const inits = initializerMap(graph);
  const types = elementTypes(model);
  const excluded = new Set(options.excludeNodes ?? []);
  const isExcluded = (n: Node): boolean => excluded.has(n.name) || excluded.has(nodeLabel(n)) || excluded.has(n.outputs[0] ?? '');
  // int4 Conv weights need DequantizeLinear-21: raise the opset first, only when a Conv will use it.
  const convsWanted = !options.keepConvFloat && graph.nodes.some((n) => isOnnx(n) && n.opType === 'Conv' && !isExcluded(n) && floatInitializer(inits, graph, n.inputs[1]));
  const opsetProblem = convsWanted ? opset21Blocker(model) : null;
  if (convsWanted && !opsetProblem) upgradeOpsetTo21(model);
  const names = new NameScope(graph);
  const layers: LayerReport[] = [];
  const cache = new Map<string, { b: string; s: string; zp?: string; K: number; N: number }>();
  const nodes: Node[] = [];
  const bs = options.blockSize;
  const method = options.method ?? 'mse';
  const convCache = new Map<string, string>();
  const scaling = new Map<string, string>();
  const convToInt4 = (n: Node): LayerReport => {
    const label = nodeLabel(n);
    const w = floatInitializer(inits, graph, n.inputs[1]);
    if (!w || w.dims.length < 3 || types.get(n.inputs[0]!) !== DataType.FLOAT) {
      return { name: label, op: 'Conv', precision: 'float32', note: 'weight is not a constant float initializer' };
    }
    if (opsetProblem) return { name: label, op: 'Conv', precision: 'float32', note: `Conv stays float: ${opsetProblem}` };
    let dequantized = convCache.get(w.name);
    if (!dequantized) {
      const q = quantizeConvWeightInt4(floatData(w), w.dims, bs, options.symmetric, method);
      const added = addConvDequantize(graph, names, w.name, q);
      nodes.push(...added.nodes);
      dequantized = added.output;
      convCache.set(w.name, dequantized);
      scaling.set(w.name, q.blockSize ? `block ${q.blockSize}` : 'one scale per output channel');
    }
    n.inputs[1] = dequantized;
    return { name: label, op: 'Conv', precision: 'int4', note: `int4 weight through DequantizeLinear (${scaling.get(w.name)}, ${options.symmetric ? 'symmetric' : 'asymmetric'}, ${method}), float compute` };
  };
  for (const n of graph.nodes) {
    const label = nodeLabel(n);
    if (!isOnnx(n) || (n.opType !== 'MatMul' && n.opType !== 'Conv' && n.opType !== 'Gemm')) {
      nodes.push(n);
      continue;
    }
    if (isExcluded(n)) {
      layers.push({ name: label, op: gemms.has(label) ? 'Gemm' : n.opType, precision: 'float32', note: 'excluded by request' });
      nodes.push(n);
      continue;
    }
    if (n.opType === 'Conv') {
      layers.push(options.keepConvFloat ? { name: label, op: 'Conv', precision: 'float32', note: 'Conv kept float by request' } : convToInt4(n));
      nodes.push(n);
      continue;
    }
    if (n.opType !== 'MatMul') {
      layers.push({ name: label, op: n.opType, precision: 'float32', note: 'Gemm with transA=1 or a non-constant B stays float' });
      nodes.push(n);
      continue;
    }
    const w = floatInitializer(inits, graph, n.inputs[1]);
    const a = n.inputs[0]!;
    if (!w || w.dims.length !== 2 || types.get(a) !== DataType.FLOAT) {
      layers.push({ name: label, op: gemms.has(label) ? 'Gemm' : 'MatMul', precision: 'float32', note: 'B is not a constant 2-D float weight' });
      nodes.push(n);
      continue;
    }
    const [K, N] = w.dims as [number, number];
    let e = cache.get(w.name);
    if (!e) {
      const q = quantizeInt4Weights(floatData(w), K, N, bs, options.symmetric, method);
      const kb = Math.ceil(K / bs);
      const bName = names.fresh(`${w.name}_Q4`);
      const sName = names.fresh(`${w.name}_scales`);
      graph.initializers.push(rawTensor(bName, DataType.UINT8, [N, kb, bs / 2], q.packed));
      graph.initializers.push(floatTensor(sName, [N * kb], q.scales));
      e = { b: bName, s: sName, K, N };
      if (q.zeroPoints) {
        e.zp = names.fresh(`${w.name}_zero_points`);
        graph.initializers.push(rawTensor(e.zp, DataType.UINT8, [q.zeroPoints.length], q.zeroPoints));
      }
      cache.set(w.name, e);
    }
    const attrs = [makeAttr('K', K), makeAttr('N', N), makeAttr('bits', 4), makeAttr('block_size', bs)];
    if (options.accuracyLevel !== undefined) attrs.push(makeAttr('accuracy_level', options.accuracyLevel));
    nodes.push({
      name: n.name || names.fresh(`${label}_MatMulNBits`),
      opType: 'MatMulNBits',
      domain: 'com.microsoft',
      inputs: e.zp ? [a, e.b, e.s, e.zp] : [a, e.b, e.s],
      outputs: [...n.outputs],
      attributes: attrs,
    });
    layers.push({
      name: label,
      op: gemms.has(label) ? 'Gemm' : 'MatMul',
      precision: 'int4',
      note: `MatMulNBits, block ${bs}, ${options.symmetric ? 'symmetric' : 'asymmetric'}, ${method}${gemms.has(label) ? '; Gemm rewritten to MatMul + Add' : ''}`,
    });
  }
  graph.nodes = nodes;
  layers.push(...quantizeEmbeddings(model, { bits: 4, blockSize: bs, symmetric: options.symmetric, method, isExcluded }));
  if (!layers.some((l) => l.precision === 'int4')) {
    const why = opsetProblem ?? `no MatMul/Gemm with constant 2-D weights${options.keepConvFloat ? ' (Conv kept float by request)' : ' or Conv with constant weights'} found`;
    throw new QuantizeError(`nothing to quantize to int4: ${why}`);
  }
  if (!model.opsetImports.some((o) => o.domain === 'com.microsoft')) model.opsetImports.push({ domain: 'com.microsoft', version: 1 });
  sortGraph(graph);
  dropUnreadInitializers(graph);
  return { model, layers };
}
