// Embedding tables — a Gather on axis 0 of a 2-D float initializer, the token → vector lookup of
// a transformer — stored in int8 or int4 and dequantized only for the rows looked up (a whole-table
// DequantizeLinear would cost ~10 ms per run for 8.4 M values):
// - int8: Gather(int8 table, ids) → Cast(float) → Mul by Gather(row scales [rows, 1], ids);
//   symmetric, one scale per row (row absmax / 127; an all-zero row gets 1). Standard ONNX ops.
// - int4: com.microsoft GatherBlockQuantized on uint8 data with bits=4 (ORT's CPU kernel:
//   gather_axis 0, quantize_axis the last axis). Blocks of `blockSize` values along a row, with
//   MatMulNBits's layout for the transposed table (int4.ts): data uint8 [rows, cols/2], low nibble
//   first; scales [rows, kb = cols/blockSize]; zero points uint8 [rows, ⌈kb/2⌉], two blocks per
//   byte (none when symmetric: ORT implies 8). Rows whose length is not a multiple of the block
//   size get int8 instead (the op has no padding).
//   Scales are float16 when every one is a normal float16 (and 15·scale is finite): 2 bytes less
//   per block, which takes the benchmark transformer's int4 file from 0.162 to 0.156 of float32
//   (issue 4's bar is 0.16; the MatMulNBits weights alone are 0.1602 at block 32). The op then
//   yields float16 rows, cast to float32 (rounding a value to float16 costs < 0.05 % of it,
//   far below int4's own error); other scales stay float32.
// A table that something else also reads (a tied output layer left float, a Transpose...) stays
// float: a quantized copy next to the float one would only add bytes.
import { attrInt, makeAttr } from '../onnx/attributes.js';
import { NameScope, outerReferences, sortGraph } from '../onnx/graph.js';
import { DataType, type Graph, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { elementCount, floatData, floatTensor, floatToHalf, halfToFloat, rawTensor } from '../onnx/tensor.js';
import { cloneModel, dropUnreadInitializers, floatInitializer, initializerMap, isOnnx, nodeLabel, QuantizeError, transpose2d, type LayerReport } from './common.js';
import { quantizeSymmetricInt8 } from './dynamic.js';
import { checkBlockSize, quantizeInt4Weights } from './int4.js';

/** Smaller tables are not worth a quantized lookup. */
export const MIN_EMBEDDING_ELEMENTS = 1024;
/**
 * Shorter rows are left float: a 4-byte row scale would eat most of the gain (and the int8
 * path's own [rows, 1] scale tables are never taken for embeddings).
 */
export const MIN_EMBEDDING_ROW = 16;

/** The table of an embedding lookup (Gather, axis 0, on a large 2-D float initializer), else undefined. */
export function embeddingTable(graph: Graph, inits: Map<string, Tensor>, n: Node): Tensor | undefined {
  if (!isOnnx(n) || n.opType !== 'Gather') return undefined;
  const t = floatInitializer(inits, graph, n.inputs[0]);
  if (!t || t.dims.length !== 2) return undefined;
  const axis = attrInt(n, 'axis', 0);
  if (axis !== 0 && axis !== -2) return undefined;
  // Constant indices select constant rows: shape arithmetic or a fixed token, not a lookup.
  if (!n.inputs[1] || inits.has(n.inputs[1])) return undefined;
  if (t.dims[1]! < MIN_EMBEDDING_ROW || elementCount(t.dims) < MIN_EMBEDDING_ELEMENTS) return undefined;
  return t;
}

/** The embedding-lookup Gathers of a model (see embeddingTable). */
export function embeddingGathers(model: Model): Node[] {
  const inits = initializerMap(model.graph);
  return model.graph.nodes.filter((n) => embeddingTable(model.graph, inits, n) !== undefined);
}

export interface EmbeddingOptions {
  /** 8: int8 rows; 4: GatherBlockQuantized (int8 for rows not a multiple of blockSize). */
  bits: 4 | 8;
  /** int4 block length along a row (a power of two, 16..256). Default 32. */
  blockSize?: number;
  /** int4: symmetric blocks (no zero points) or asymmetric (default). */
  symmetric?: boolean;
  method?: 'rtn' | 'mse';
  /** Lookups to leave float. */
  isExcluded?: (n: Node) => boolean;
}

/** Per-row symmetric int8 of a [rows, cols] table: codes and one scale per row. */
export function quantizeEmbeddingInt8(table: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  return quantizeSymmetricInt8(table, [rows, cols], 0);
}

export interface Int4Embedding {
  /** uint8 [rows, cols/2]: two codes per byte along a row, low nibble first. */
  packed: Uint8Array;
  /** [rows, cols/blockSize]: float32 values, or float16 bits (see the top of this file). */
  scales: Float32Array | Uint16Array;
  /** uint8 [rows, ⌈kb/2⌉], absent when symmetric. */
  zeroPoints?: Uint8Array;
  /** The table as GatherBlockQuantized gives it back (float16 rows cast to float32 with float16 scales), [rows, cols]. */
  dequantized: Float32Array;
}

// Smallest normal float16; 15 steps of the largest scale must stay finite.
const HALF_MIN_NORMAL = 2 ** -14;
const HALF_MAX_SCALE = 65504 / 15;

/** The scales as float16 bits when all fit (0 or a normal float16 magnitude), else undefined. */
function halfScales(scales: Float32Array): Uint16Array | undefined {
  for (const s of scales) {
    const a = Math.abs(s);
    if (a !== 0 && (a < HALF_MIN_NORMAL || a > HALF_MAX_SCALE)) return undefined;
  }
  return Uint16Array.from(scales, floatToHalf);
}

/**
 * int4 blocks of a [rows, cols] table along its rows (cols a multiple of blockSize): the
 * MatMulNBits quantization of the transposed table [cols, rows], whose bytes are
 * GatherBlockQuantized's layout.
 */
export function quantizeEmbeddingInt4(table: Float32Array, rows: number, cols: number, blockSize: number, symmetric: boolean, method: 'rtn' | 'mse' = 'mse'): Int4Embedding {
  checkBlockSize(blockSize);
  if (cols % blockSize !== 0) throw new QuantizeError(`int4 embedding: the row length ${cols} is not a multiple of the block size ${blockSize}; use int8 for this table or a block size that divides ${cols}`);
  const q = quantizeInt4Weights(transpose2d(table, rows, cols), cols, rows, blockSize, symmetric, method);
  const half = halfScales(q.scales);
  const out: Int4Embedding = { packed: q.packed, scales: half ?? q.scales, dequantized: transpose2d(q.dequantized, cols, rows) };
  if (q.zeroPoints) out.zeroPoints = q.zeroPoints;
  if (half) {
    // (code − zero point) · float16 scale in float32, rounded to float16: what the op computes.
    const kb = cols / blockSize;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const b = r * kb + Math.floor(c / blockSize);
        out.dequantized[r * cols + c] = halfToFloat(floatToHalf(Math.fround((q.codes[r * cols + c]! - q.blockZeroPoints[b]!) * halfToFloat(half[b]!))));
      }
    }
  }
  return out;
}

/** Names read by something other than the embedding lookups (other nodes, subgraphs, graph outputs). */
function readByOthers(graph: Graph, lookups: ReadonlySet<Node>): Map<string, string> {
  const others = new Map<string, string>();
  for (const n of graph.nodes) {
    if (lookups.has(n)) continue;
    for (const i of n.inputs) if (i && !others.has(i)) others.set(i, n.opType);
    for (const a of n.attributes) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const g of subs) for (const r of outerReferences(g)) if (!others.has(r)) others.set(r, `a subgraph of ${n.opType}`);
    }
  }
  for (const o of graph.outputs) others.set(o.name, 'a graph output');
  return others;
}

/**
 * Quantizes the embedding lookups of `model` in place (the quantizers call it on their copy,
 * after their own rewrites, so a table also read by a layer they quantized is free to go). Adds
 * the new nodes at the end of graph.nodes (callers sort) and returns one report per lookup.
 */
export function quantizeEmbeddings(model: Model, options: EmbeddingOptions): LayerReport[] {
  const graph = model.graph;
  const inits = initializerMap(graph);
  const bs = options.blockSize ?? 32;
  if (options.bits === 4) checkBlockSize(bs);
  const lookups = graph.nodes.filter((n) => embeddingTable(graph, inits, n) !== undefined);
  if (lookups.length === 0) return [];
  // An excluded lookup keeps its table float, so it counts as another reader.
  const others = readByOthers(graph, new Set(lookups.filter((n) => !options.isExcluded?.(n))));
  const names = new NameScope(graph);
  const layers: LayerReport[] = [];
  const added: Node[] = [];
  const int8Cache = new Map<string, { q: string; s: string }>();
  const int4Cache = new Map<string, { data: string; scales: string; zp?: string; half: boolean }>();
  const mk = (opType: string, inputs: string[], outputs: string[], base: string, attributes: Node['attributes'] = []): Node => ({ name: names.fresh(base), opType, domain: '', inputs, outputs, attributes });
  for (const n of lookups) {
    const t = embeddingTable(graph, inits, n)!;
    const label = nodeLabel(n);
    const [rows, cols] = t.dims as [number, number];
    if (options.isExcluded?.(n)) {
      layers.push({ name: label, op: 'Gather', precision: 'float32', note: 'excluded by request' });
      continue;
    }
    const other = others.get(t.name);
    if (other) {
      layers.push({ name: label, op: 'Gather', precision: 'float32', note: `table '${t.name}' is also read by ${other}, which keeps it float (tied weights?): a quantized copy would only add bytes` });
      continue;
    }
    const ids = n.inputs[1]!;
    const y = n.outputs[0]!;
    if (options.bits === 4 && cols % bs === 0) {
      let e = int4Cache.get(t.name);
      if (!e) {
        const q = quantizeEmbeddingInt4(floatData(t), rows, cols, bs, options.symmetric ?? false, options.method ?? 'mse');
        const half = q.scales instanceof Uint16Array;
        e = { data: names.fresh(`${t.name}_Q4`), scales: names.fresh(`${t.name}_scales`), half };
        graph.initializers.push(rawTensor(e.data, DataType.UINT8, [rows, cols / 2], q.packed));
        const scaleDims = [rows, cols / bs];
        if (q.scales instanceof Uint16Array) graph.initializers.push(rawTensor(e.scales, DataType.FLOAT16, scaleDims, new Uint8Array(q.scales.buffer)));
        else graph.initializers.push(floatTensor(e.scales, scaleDims, q.scales));
        if (q.zeroPoints) {
          e.zp = names.fresh(`${t.name}_zero_points`);
          graph.initializers.push(rawTensor(e.zp, DataType.UINT8, [rows, Math.ceil(cols / bs / 2)], q.zeroPoints));
        }
        int4Cache.set(t.name, e);
      }
      n.opType = 'GatherBlockQuantized';
      n.domain = 'com.microsoft';
      n.inputs = e.zp ? [e.data, ids, e.scales, e.zp] : [e.data, ids, e.scales];
      if (e.half) {
        n.outputs = [names.fresh(`${y}_fp16`)];
        added.push(mk('Cast', [n.outputs[0]!], [y], `${label}_cast`, [makeAttr('to', DataType.FLOAT)]));
      }
      n.attributes = [makeAttr('gather_axis', 0), makeAttr('quantize_axis', 1), makeAttr('block_size', bs), makeAttr('bits', 4)];
      if (!model.opsetImports.some((o) => o.domain === 'com.microsoft')) model.opsetImports.push({ domain: 'com.microsoft', version: 1 });
      layers.push({ name: label, op: 'Gather', precision: 'int4', note: `GatherBlockQuantized, block ${bs}, ${options.symmetric ? 'symmetric' : 'asymmetric'}, ${options.method ?? 'mse'}, ${e.half ? 'float16' : 'float32'} scales` });
      continue;
    }
    let e = int8Cache.get(t.name);
    if (!e) {
      const { q, scales } = quantizeEmbeddingInt8(floatData(t), rows, cols);
      e = { q: names.fresh(`${t.name}_quantized`), s: names.fresh(`${t.name}_row_scale`) };
      graph.initializers.push(rawTensor(e.q, DataType.INT8, [rows, cols], new Uint8Array(q.buffer, q.byteOffset, q.byteLength)));
      graph.initializers.push(floatTensor(e.s, [rows, 1], scales));
      int8Cache.set(t.name, e);
    }
    // The Gather keeps its name (plans refer to it) and now reads int8 rows.
    const rowsQ = names.fresh(`${y}_int8`);
    const rowsF = names.fresh(`${y}_int8_float`);
    const rowScale = names.fresh(`${y}_row_scale`);
    n.inputs = [e.q, ids];
    n.outputs = [rowsQ];
    added.push(mk('Cast', [rowsQ], [rowsF], `${label}_cast`, [makeAttr('to', DataType.FLOAT)]));
    added.push(mk('Gather', [e.s, ids], [rowScale], `${label}_scale_gather`, [makeAttr('axis', 0)]));
    added.push(mk('Mul', [rowsF, rowScale], [y], `${label}_scale_mul`));
    const why = options.bits === 4 ? `; int8, not int4: the row length ${cols} is not a multiple of the block size ${bs}` : '';
    layers.push({ name: label, op: 'Gather', precision: 'int8', note: `int8 table, one scale per row (Gather → Cast → Mul)${why}` });
  }
  graph.nodes.push(...added);
  return layers;
}

/** quantizeEmbeddings on a copy, for the named lookups only (mixed precision's per-layer choice). Pure. */
export function quantizeEmbeddingLayers(input: Model, only: ReadonlySet<string>, options: Omit<EmbeddingOptions, 'isExcluded'>): { model: Model; layers: LayerReport[] } {
  const model = cloneModel(input);
  const layers = quantizeEmbeddings(model, { ...options, isExcluded: (n) => !only.has(n.name) && !only.has(nodeLabel(n)) });
  sortGraph(model.graph);
  dropUnreadInitializers(model.graph);
  return { model, layers: layers.filter((l) => only.has(l.name)) };
}
