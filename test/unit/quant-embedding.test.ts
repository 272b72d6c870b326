// Embedding tables (Gather lookups) in int8 (Gather → Cast → Mul by the row scale) and int4
// (com.microsoft GatherBlockQuantized), run in ORT against the TypeScript dequantization.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attrInt } from '../../app/engine/onnx/attributes.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model, type Tensor } from '../../app/engine/onnx/ir.js';
import { inferShapes } from '../../app/engine/onnx/shape-inference.js';
import { floatData, floatToHalf, halfToFloat, rawBytes } from '../../app/engine/onnx/tensor.js';
import { toHalfClamped } from '../../app/engine/quantize/fp16.js';
import {
  applyPrecisions,
  candidatePrecisions,
  dequantizeInt4Blob,
  modelBytes,
  nameWeightedNodes,
  quantizeDynamic,
  quantizeEmbeddingInt4,
  quantizeEmbeddingInt8,
  quantizeInt4,
  quantizeStatic,
  sqnr,
  weightedLayers,
} from '../../app/engine/quantize/index.js';
import { rng, session } from './quant-fixtures.js';

const V = 300; // rows
const D = 96; // row length: 3 blocks of 32 (odd: padded zero-point bytes), not a multiple of 64
const T = 8; // tokens
const ZERO_ROW = 5;

interface Options {
  /** How the output layer reads the table: its own weights, tied through Gemm transB=1, or through a Transpose node. */
  head?: 'own' | 'tied-gemm' | 'tied-transpose';
  /** Token ids as a float input Cast to int64 (so float calibration batches can feed it). */
  floatIds?: boolean;
  /** Multiplies the table (default 1). */
  scale?: number;
}

/** tokens [N, T] → Gather(table [V, D]) → 'emb' → mean over tokens → MatMul 96→64 → Relu → head → 'logits'. */
function buildEmbeddingModel(options: Options = {}): Model {
  const r = rng(11);
  const m = emptyModel(17, 'embedding');
  const b = new GraphBuilder(m.graph);
  const table = Float32Array.from({ length: V * D }, (_, i) => (Math.floor(i / D) === ZERO_ROW ? 0 : r.normal() * (1 + (Math.floor(i / D) % 7)) * (options.scale ?? 1)));
  const E = b.constFloat('embed.weight', table, [V, D]);
  let ids = b.input('tokens', options.floatIds ? DataType.FLOAT : DataType.INT64, ['N', T]);
  if (options.floatIds) ids = b.op('Cast', [ids], { to: DataType.INT64 });
  b.op('Gather', [E, ids], { axis: 0 }, { name: 'embed', output: 'emb' });
  const pooled = b.op('ReduceMean', ['emb'], { axes: [1], keepdims: 0 });
  const w1 = b.constFloat('fc.weight', Float32Array.from({ length: D * 64 }, () => r.normal() / Math.sqrt(D)), [D, 64]);
  const h = b.op('Relu', [b.op('MatMul', [pooled, w1], {}, { name: 'fc' })]);
  const classes = options.head === 'own' || !options.head ? 10 : V;
  if (options.head === 'tied-gemm') {
    const h2 = b.op('MatMul', [h, b.constFloat('proj.weight', Float32Array.from({ length: 64 * D }, () => r.normal() / 8), [64, D])], {}, { name: 'proj' });
    b.op('Gemm', [h2, E], { transB: 1 }, { name: 'head', output: 'logits' });
  } else if (options.head === 'tied-transpose') {
    const h2 = b.op('MatMul', [h, b.constFloat('proj.weight', Float32Array.from({ length: 64 * D }, () => r.normal() / 8), [64, D])], {}, { name: 'proj' });
    b.op('MatMul', [h2, b.op('Transpose', [E], { perm: [1, 0] })], {}, { name: 'head', output: 'logits' });
  } else {
    b.op('MatMul', [h, b.constFloat('head.weight', Float32Array.from({ length: 64 * 10 }, () => r.normal() / 8), [64, 10])], {}, { name: 'head', output: 'logits' });
  }
  b.output('logits', DataType.FLOAT, ['N', classes]);
  b.output('emb', DataType.FLOAT, ['N', T, D]);
  return m;
}

/** Token ids [N, T], with the all-zero row and negative (from the end) indices among them. */
function tokenIds(n: number, seed = 3): number[] {
  const r = rng(seed);
  return Array.from({ length: n * T }, (_, i) => (i % 17 === 0 ? ZERO_ROW : i % 23 === 0 ? -1 - (i % 5) : Math.floor(r.uniform() * V)));
}

async function run(model: Model, ids: number[], floatIds = false): Promise<{ logits: Float32Array; emb: Float32Array }> {
  const s = await session(model);
  try {
    const n = ids.length / T;
    const tokens = floatIds ? new ort.Tensor('float32', Float32Array.from(ids), [n, T]) : new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [n, T]);
    const out = await s.run({ tokens });
    return { logits: out.logits!.data as Float32Array, emb: out.emb!.data as Float32Array };
  } finally {
    await s.release();
  }
}

const init = (m: Model, name: string | undefined): Tensor => {
  const t = m.graph.initializers.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
};
const row = (id: number): number => (id < 0 ? id + V : id);
const floatTable = (m: Model): Float32Array => floatData(init(m, 'embed.weight'));

describe('int8 embedding (Gather → Cast → Mul by the row scale)', () => {
  it('ORT output equals the TypeScript dequantization of the stored int8 rows and row scales, exactly', async () => {
    const model = buildEmbeddingModel();
    const { model: q, layers } = quantizeDynamic(model);
    expect(layers.find((l) => l.name === 'embed')).toMatchObject({ op: 'Gather', precision: 'int8' });
    const g = q.graph.nodes.find((n) => n.name === 'embed')!;
    expect(g.opType).toBe('Gather');
    const codes = init(q, g.inputs[0]);
    expect(codes.dataType).toBe(DataType.INT8);
    expect(codes.dims).toEqual([V, D]);
    const scaleGather = q.graph.nodes.find((n) => n.opType === 'Gather' && n !== g)!;
    const scales = init(q, scaleGather.inputs[0]);
    expect(scales.dims).toEqual([V, 1]);
    // No float table is left: the file holds one byte per value plus a scale per row.
    expect(q.graph.initializers.some((t) => t.name === 'embed.weight')).toBe(false);
    const stored = { q: new Int8Array(rawBytes(codes).slice().buffer), s: floatData(scales) };
    // What is stored is the per-row quantization of the table; an all-zero row gets scale 1.
    const ref = quantizeEmbeddingInt8(floatTable(model), V, D);
    expect(Array.from(stored.q)).toEqual(Array.from(ref.q));
    expect(Array.from(stored.s)).toEqual(Array.from(ref.scales));
    expect(stored.s[ZERO_ROW]).toBe(1);
    expect(new Set(stored.s).size).toBeGreaterThan(V / 2); // one scale per row, not one per table
    const ids = tokenIds(16);
    const { emb } = await run(q, ids);
    const expected = new Float32Array(ids.length * D);
    ids.forEach((id, i) => {
      for (let c = 0; c < D; c++) expected[i * D + c] = Math.fround(stored.q[row(id) * D + c]! * stored.s[row(id)]!);
    });
    expect(emb).toEqual(expected);
    // Symmetric rounding: every value within half a step of the float table.
    const w = floatTable(model);
    ids.forEach((id, i) => {
      for (let c = 0; c < D; c++) expect(Math.abs(emb[i * D + c]! - w[row(id) * D + c]!)).toBeLessThanOrEqual(stored.s[row(id)]! / 2 + 1e-6);
    });
  });

  it('whole model: dynamic and static int8 agree with float; the file shrinks to about a quarter', async () => {
    const model = buildEmbeddingModel({ floatIds: true });
    const ids = tokenIds(64, 9);
    const ref = await run(model, ids, true);
    const calibration = [{ tokens: { data: Float32Array.from(tokenIds(64, 5)), dims: [64, T] } }];
    const quantized = [quantizeDynamic(model), await quantizeStatic(model, calibration)];
    for (const { model: q, layers } of quantized) {
      expect(layers.filter((l) => l.op === 'Gather').map((l) => [l.name, l.precision])).toEqual([['embed', 'int8']]);
      const out = await run(q, ids, true);
      expect(sqnr(ref.emb, out.emb)).toBeGreaterThan(38);
      expect(sqnr(ref.logits, out.logits)).toBeGreaterThan(30);
      expect(modelBytes(q) / modelBytes(model)).toBeLessThan(0.3);
    }
  });
});

describe('int4 embedding (GatherBlockQuantized)', () => {
  /** Independent unpacking of GatherBlockQuantized's uint8 layout: row r, column c → (code − zero point) · scale. */
  function unpackRows(q: Model, scale: (bits: Tensor, i: number) => number, roundToHalf: boolean): Float32Array {
    const g = q.graph.nodes.find((n) => n.name === 'embed')!;
    const [data, , scales, zp] = g.inputs.map((i, k) => (i && k !== 1 ? init(q, i) : undefined));
    const bytes = rawBytes(data!);
    const zpBytes = zp ? rawBytes(zp) : undefined;
    const out = new Float32Array(V * D);
    for (let r = 0; r < V; r++) {
      for (let c = 0; c < D; c++) {
        const b = Math.floor(c / 32);
        const code = (bytes[r * (D / 2) + (c >> 1)]! >> ((c & 1) * 4)) & 15;
        const z = zpBytes ? (zpBytes[r * 2 + (b >> 1)]! >> ((b & 1) * 4)) & 15 : 8;
        const v = Math.fround((code - z) * scale(scales!, r * 3 + b));
        out[r * D + c] = roundToHalf ? halfToFloat(floatToHalf(v)) : v;
      }
    }
    return out;
  }

  for (const [symmetric, tiny] of [[false, false], [true, false], [false, true]] as const) {
    const what = `${symmetric ? 'symmetric' : 'asymmetric'}, ${tiny ? 'float32 scales (values too small for float16)' : 'float16 scales'}`;
    it(`ORT output equals the TypeScript unpacking of the stored blocks exactly (block 32, ${what})`, async () => {
      const model = buildEmbeddingModel({ scale: tiny ? 1e-5 : 1 });
      const { model: q, layers } = quantizeInt4(model, { blockSize: 32, symmetric });
      expect(layers.find((l) => l.name === 'embed')).toMatchObject({ op: 'Gather', precision: 'int4' });
      const g = q.graph.nodes.find((n) => n.name === 'embed')!;
      expect([g.opType, g.domain]).toEqual(['GatherBlockQuantized', 'com.microsoft']);
      expect([attrInt(g, 'gather_axis'), attrInt(g, 'quantize_axis'), attrInt(g, 'block_size'), attrInt(g, 'bits')]).toEqual([0, 1, 32, 4]);
      const [data, , scales, zp] = g.inputs.map((i, k) => (i && k !== 1 ? init(q, i) : undefined));
      expect([data!.dataType, ...data!.dims]).toEqual([DataType.UINT8, V, D / 2]);
      expect([scales!.dataType, ...scales!.dims]).toEqual([tiny ? DataType.FLOAT : DataType.FLOAT16, V, 3]);
      if (symmetric) expect(zp).toBeUndefined();
      else expect([zp!.dataType, ...zp!.dims]).toEqual([DataType.UINT8, V, 2]);
      // float16 scales: the op yields float16 rows, one Cast to float32 after it.
      expect(q.graph.nodes.filter((n) => n.opType === 'Cast' && n.inputs[0] === g.outputs[0])).toHaveLength(tiny ? 0 : 1);
      // Our shape inference knows the op: [N, T] ids → [N, T, D] rows in the scales' type.
      expect(inferShapes(q).types.get(g.outputs[0]!)).toEqual({ elemType: tiny ? DataType.FLOAT : DataType.FLOAT16, shape: ['N', T, D] });
      const unpacked = tiny
        ? unpackRows(q, (t, i) => floatData(t)[i]!, false)
        : unpackRows(q, (t, i) => halfToFloat(new Uint16Array(rawBytes(t).slice().buffer)[i]!), true);
      expect(quantizeEmbeddingInt4(floatTable(model), V, D, 32, symmetric).dequantized).toEqual(unpacked);
      if (tiny) {
        // float32 scales: the bytes are MatMulNBits's layout of the transposed table ([K = D, N = V]).
        const blob = dequantizeInt4Blob({ K: D, N: V, blockSize: 32, packed: rawBytes(data!), scales: floatData(scales!), ...(zp ? { zeroPoints: rawBytes(zp) } : {}) });
        expect(unpacked).toEqual(Float32Array.from({ length: V * D }, (_, i) => blob[(i % D) * V + Math.floor(i / D)]!));
      }
      const ids = tokenIds(16);
      const { emb } = await run(q, ids);
      const expected = new Float32Array(ids.length * D);
      ids.forEach((id, i) => expected.set(unpacked.subarray(row(id) * D, (row(id) + 1) * D), i * D));
      expect(emb).toEqual(expected);
      // The all-zero row stays zero.
      expect(Array.from(emb.subarray(0, D)).every((v) => v === 0)).toBe(true);
    });
  }

  it('whole model agrees with float; the table takes 0.58 byte per value; rows not a multiple of the block fall back to int8', async () => {
    const model = buildEmbeddingModel();
    const ids = tokenIds(64, 9);
    const ref = await run(model, ids);
    const q = quantizeInt4(model, { blockSize: 32, symmetric: false });
    const out = await run(q.model, ids);
    expect(sqnr(ref.emb, out.emb)).toBeGreaterThan(19);
    expect(sqnr(ref.logits, out.logits)).toBeGreaterThan(14);
    // Codes V·D/2 bytes, zero points two per byte (rows padded), a float16 scale per 32 values.
    const g = q.model.graph.nodes.find((n) => n.name === 'embed')!;
    expect([g.inputs[0], g.inputs[3], g.inputs[2]].map((i) => rawBytes(init(q.model, i)).byteLength)).toEqual([(V * D) / 2, V * 2, V * 3 * 2]);
    // 96 is not a multiple of 64: int8 rows instead, said so.
    const q64 = quantizeInt4(model, { blockSize: 64, symmetric: false });
    const l = q64.layers.find((x) => x.name === 'embed')!;
    expect(l.precision).toBe('int8');
    expect(l.note).toMatch(/96 is not a multiple of the block size 64/);
    expect(sqnr(ref.emb, (await run(q64.model, ids)).emb)).toBeGreaterThan(38);
  });

  it('a model with GatherBlockQuantized counts as quantized', () => {
    const q = quantizeInt4(buildEmbeddingModel(), { blockSize: 32, symmetric: false }).model;
    expect(() => quantizeDynamic(q)).toThrow(/already quantized \(it contains .*GatherBlockQuantized/);
  });
});

describe('tables shared with the output layer (tied weights)', () => {
  it('tied through Gemm transB=1: the head gets its own quantized copy and the lookup too; no float table is left', async () => {
    const model = buildEmbeddingModel({ head: 'tied-gemm' });
    const ids = tokenIds(32, 9);
    const ref = await run(model, ids);
    for (const q of [quantizeDynamic(model), quantizeInt4(model, { blockSize: 32, symmetric: false })]) {
      expect(q.layers.find((l) => l.name === 'embed')!.precision).not.toBe('float32');
      expect(q.model.graph.initializers.filter((t) => t.dataType === DataType.FLOAT && t.dims.length === 2 && t.dims[0]! * t.dims[1]! >= V * D)).toEqual([]);
      // Two quantized copies of the table still take less than the one float copy did.
      expect(modelBytes(q.model)).toBeLessThan(modelBytes(model) * 0.6);
      expect(sqnr(ref.logits, (await run(q.model, ids)).logits)).toBeGreaterThan(q.layers.some((l) => l.precision === 'int4') ? 10 : 25);
    }
  });

  it('read by a float op too (Transpose into the head): the lookup stays float, and says why', async () => {
    const model = buildEmbeddingModel({ head: 'tied-transpose' });
    for (const q of [quantizeDynamic(model), quantizeInt4(model, { blockSize: 32, symmetric: false })]) {
      const l = q.layers.find((x) => x.name === 'embed')!;
      expect(l.precision).toBe('float32');
      expect(l.note).toMatch(/'embed\.weight' is also read by Transpose/);
      expect(q.model.graph.nodes.find((n) => n.name === 'embed')!.inputs[0]).toBe('embed.weight');
      expect(floatData(init(q.model, 'embed.weight'))).toEqual(floatTable(model));
    }
  });
});

describe('Gathers that are not embedding lookups are left alone', () => {
  it('small tables, axis-1 and activation Gathers, constant indices, shape arithmetic', async () => {
    const r = rng(4);
    const m = emptyModel(17, 'gathers');
    const b = new GraphBuilder(m.graph);
    b.input('tokens', DataType.INT64, ['N', T]);
    const big = Float32Array.from({ length: 64 * 32 }, () => r.normal());
    // A 16 x 32 table (512 values, under 1,024): too small to be worth it.
    const small = b.op('Gather', [b.constFloat('small.weight', big.slice(0, 16 * 32), [16, 32]), b.op('Mod', ['tokens', b.constInt64('sixteen', [16], [])])], { axis: 0 }, { name: 'small' });
    // axis 1 on a large table: selects columns, not rows.
    const cols = b.op('Gather', [b.constFloat('cols.weight', big, [64, 32]), b.op('Mod', ['tokens', b.constInt64('thirtytwo', [32], [])])], { axis: 1 }, { name: 'cols' });
    // Constant indices on a large table: a constant, not a lookup.
    const fixed = b.op('Gather', [b.constFloat('fixed.weight', big, [64, 32]), b.constInt64('fixed_ids', [0, 3], [2])], { axis: 0 }, { name: 'fixed' });
    // Gather on an activation (axis 1), and on a Shape (index constant in shape arithmetic).
    const first = b.op('Gather', [small, b.constInt64('zero', [0], [])], { axis: 1 }, { name: 'first_token' });
    const batch = b.op('Gather', [b.op('Shape', [first]), b.constInt64('zero_idx', [0], [])], { axis: 0 }, { name: 'batch_dim' });
    const pooled = b.op('Reshape', [first, b.op('Concat', [b.op('Unsqueeze', [batch, b.constInt64('axes0', [0], [1])]), b.constInt64('minus1', [-1], [1])], { axis: 0 })]);
    const w = b.constFloat('fc.weight', Float32Array.from({ length: 32 * 4 }, () => r.normal()), [32, 4]);
    b.op('MatMul', [pooled, w], {}, { name: 'fc', output: 'logits' });
    b.op('Identity', [cols], {}, { output: 'cols_out' });
    b.op('Identity', [fixed], {}, { output: 'fixed_out' });
    b.output('logits', DataType.FLOAT, ['N', 4]);
    b.output('cols_out', DataType.FLOAT, null);
    b.output('fixed_out', DataType.FLOAT, null);
    const gathers = (x: Model): string[] => x.graph.nodes.filter((n) => n.opType === 'Gather').map((n) => `${n.name}:${n.inputs[0]}`);
    for (const q of [quantizeDynamic(m), quantizeInt4(m, { blockSize: 32, symmetric: false })]) {
      expect(q.layers.filter((l) => l.op === 'Gather')).toEqual([]);
      expect(gathers(q.model)).toEqual(gathers(m));
      expect(weightedLayers(nameWeightedNodes(m)).map((l) => l.op)).toEqual(['MatMul']);
      const tokens = new ort.Tensor('int64', BigInt64Array.from(tokenIds(4).map((v) => BigInt(Math.abs(v)))), [4, T]);
      const run2 = async (x: Model): Promise<ort.InferenceSession.OnnxValueMapType> => {
        const s = await session(x);
        const out = await s.run({ tokens });
        await s.release();
        return out;
      };
      const [a, c] = [await run2(m), await run2(q.model)];
      expect(c.cols_out!.data).toEqual(a.cols_out!.data);
      expect(c.fixed_out!.data).toEqual(a.fixed_out!.data);
    }
  });
});

describe('mixed precision', () => {
  it('lists the lookup as a layer and applies int4, int8 or float16 to it alone', async () => {
    const named = nameWeightedNodes(buildEmbeddingModel());
    const layers = weightedLayers(named);
    expect(layers.map((l) => [l.name, l.op, l.params])).toEqual([
      ['embed', 'Gather', V * D],
      ['fc', 'MatMul', D * 64],
      ['head', 'MatMul', 640],
    ]);
    const embed = layers[0]!;
    expect(candidatePrecisions(embed, {})).toEqual(['int4', 'int8', 'float16', 'float32']);
    expect(candidatePrecisions(embed, { int4: { blockSize: 64 } })).toEqual(['int8', 'float16', 'float32']);
    const ids = tokenIds(16);
    const ref = await run(named, ids);
    const w = floatTable(named);
    for (const p of ['int4', 'int8', 'float16'] as const) {
      const { model, layers: report } = await applyPrecisions(named, { embed: p });
      expect(report.find((l) => l.name === 'embed')!.precision).toBe(p);
      // Only the lookup changed: the MatMuls are still float.
      expect(model.graph.nodes.filter((n) => n.opType === 'MatMul').map((n) => n.inputs[1])).toEqual(['fc.weight', 'head.weight']);
      const { emb } = await run(model, ids);
      if (p === 'float16') {
        // float16 rows gathered, then cast: the half-precision table values exactly.
        const half = toHalfClamped(w).bits;
        const expected = Float32Array.from({ length: ids.length * D }, (_, i) => halfToFloat(half[row(ids[Math.floor(i / D)]!) * D + (i % D)]!));
        expect(emb).toEqual(expected);
        expect(model.graph.nodes.find((n) => n.name === 'embed')!.opType).toBe('Gather');
      } else {
        expect(sqnr(ref.emb, emb)).toBeGreaterThan(p === 'int8' ? 38 : 15);
      }
    }
    // With the MatMuls int8 too (the lookup through embedding.ts, the MatMuls through dynamic int8).
    const all = await applyPrecisions(named, { embed: 'int8', fc: 'int8', head: 'int8' });
    expect(all.layers.map((l) => l.precision)).toEqual(['int8', 'int8', 'int8']);
    expect(sqnr(ref.logits, (await run(all.model, ids)).logits)).toBeGreaterThan(25);
  });
});
