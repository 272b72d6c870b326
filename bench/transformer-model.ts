// A transformer-style encoder classifier built as ONNX with the project's GraphBuilder, with
// random weights, for quantization benchmarks: token embedding + position embedding, N pre-LN
// encoder blocks (LayerNormalization, multi-head attention with MatMul on 4-D tensors, GELU MLP
// written with Erf as exporters emit it), final LayerNorm, mean over tokens, linear head.
// Defaults: d=512, 8 heads, MLP 2048, vocab 16384, 4 blocks, 32 tokens → 21.0M parameters.
//
// Also writes the weights as raw float32 + a JSON manifest so bench/torch_quant_ref.py can build
// the same model in PyTorch (Linear weights are stored [in, out] as the ONNX MatMul B).
import { createRng } from '../app/engine/data/prng.js';
import { writeFileSync } from 'node:fs';
import { GraphBuilder } from '../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../app/engine/onnx/ir.js';
import { floatData, floatTensor, int64Tensor } from '../app/engine/onnx/tensor.js';

export interface TransformerSpec {
  vocab: number;
  dim: number;
  heads: number;
  mlp: number;
  blocks: number;
  tokens: number;
  classes: number;
  seed: number;
}

export const transformerDefaults: TransformerSpec = { vocab: 16384, dim: 512, heads: 8, mlp: 2048, blocks: 4, tokens: 32, classes: 4, seed: 7 };

/** Standard normal samples from the project's seeded PRNG. */
function rng(seed: number): () => number {
  const r = createRng(seed);
  return () => Math.sqrt(-2 * Math.log(Math.max(r.next(), 1e-12))) * Math.cos(2 * Math.PI * r.next());
}

export function buildTransformer(spec: Partial<TransformerSpec> = {}): Model {
  const s = { ...transformerDefaults, ...spec };
  const normal = rng(s.seed);
  const rand = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => normal() * std);
  const m = emptyModel(17, 'transformer');
  const b = new GraphBuilder(m.graph);
  b.input('tokens', DataType.INT64, ['batch', s.tokens]);
  const D = s.dim;
  const dh = D / s.heads;
  const emb = b.initializer(floatTensor('embed.weight', [s.vocab, D], rand(s.vocab * D, 0.02)));
  const pos = b.initializer(floatTensor('pos.weight', [s.tokens, D], rand(s.tokens * D, 0.02)));
  let x = b.op('Add', [b.op('Gather', [emb, 'tokens'], { axis: 0 }, { name: 'embed' }), pos], {}, { name: 'pos_add' });
  const headsShape = b.initializer(int64Tensor('heads_shape', [4], [0, 0, s.heads, dh]));
  const mergeShape = b.initializer(int64Tensor('merge_shape', [3], [0, 0, D]));
  const scale = b.initializer(floatTensor('attn_scale', [], [1 / Math.sqrt(dh)]));
  const half = b.initializer(floatTensor('half', [], [0.5]));
  const one = b.initializer(floatTensor('one', [], [1]));
  const sqrt2 = b.initializer(floatTensor('sqrt2', [], [Math.SQRT2]));
  const linear = (name: string, v: string, inF: number, outF: number): string => {
    const w = b.initializer(floatTensor(`${name}.weight`, [inF, outF], rand(inF * outF, Math.sqrt(1 / inF))));
    const bias = b.initializer(floatTensor(`${name}.bias`, [outF], rand(outF, 0.01)));
    return b.op('Add', [b.op('MatMul', [v, w], {}, { name }), bias], {}, { name: `${name}_bias` });
  };
  const layerNorm = (name: string, v: string): string => {
    const g = b.initializer(floatTensor(`${name}.weight`, [D], Float32Array.from({ length: D }, () => 1 + normal() * 0.02)));
    const bb = b.initializer(floatTensor(`${name}.bias`, [D], rand(D, 0.02)));
    return b.op('LayerNormalization', [v, g, bb], { axis: -1, epsilon: 1e-5 }, { name });
  };
  for (let i = 0; i < s.blocks; i++) {
    const p = `block${i}`;
    const h = layerNorm(`${p}.ln1`, x);
    const split = (t: string, perm: number[]): string => b.op('Transpose', [b.op('Reshape', [t, headsShape])], { perm });
    const q = split(linear(`${p}.attn.q`, h, D, D), [0, 2, 1, 3]);
    const k = split(linear(`${p}.attn.k`, h, D, D), [0, 2, 3, 1]);
    const v = split(linear(`${p}.attn.v`, h, D, D), [0, 2, 1, 3]);
    const scores = b.op('Mul', [b.op('MatMul', [q, k], {}, { name: `${p}.attn.qk` }), scale]);
    const probs = b.op('Softmax', [scores], { axis: -1 });
    const ctx = b.op('MatMul', [probs, v], {}, { name: `${p}.attn.pv` });
    const merged = b.op('Reshape', [b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), mergeShape]);
    x = b.op('Add', [x, linear(`${p}.attn.o`, merged, D, D)]);
    const h2 = layerNorm(`${p}.ln2`, x);
    const up = linear(`${p}.mlp.up`, h2, D, s.mlp);
    // GELU as torch.onnx.export writes it (x/√2 by Div), the form ORT fuses into one Gelu op.
    const gelu = b.op('Mul', [b.op('Mul', [up, half]), b.op('Add', [b.op('Erf', [b.op('Div', [up, sqrt2])]), one])]);
    x = b.op('Add', [x, linear(`${p}.mlp.down`, gelu, s.mlp, D)]);
  }
  const pooled = b.op('ReduceMean', [layerNorm('ln_f', x)], { axes: [1], keepdims: 0 });
  const logits = linear('head', pooled, D, s.classes);
  b.op('Identity', [logits], {}, { output: 'logits' });
  b.output('logits', DataType.FLOAT, ['batch', s.classes]);
  return m;
}

export function parameterCount(model: Model): number {
  return model.graph.initializers.filter((t) => t.dataType === DataType.FLOAT).reduce((a, t) => a + t.dims.reduce((x, d) => x * d, 1), 0);
}

/** Writes every float initializer as raw float32 (`.bin`) with a manifest (`.json`: name → offset, shape). */
export function exportWeights(model: Model, base: string, extra: Record<string, unknown> = {}): void {
  const tensors: Record<string, { offset: number; shape: number[] }> = {};
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const t of model.graph.initializers) {
    if (t.dataType !== DataType.FLOAT) continue;
    const d = floatData(t);
    tensors[t.name] = { offset, shape: [...t.dims] };
    parts.push(d);
    offset += d.length;
  }
  const all = new Float32Array(offset);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  writeFileSync(`${base}.bin`, new Uint8Array(all.buffer));
  writeFileSync(`${base}.json`, JSON.stringify({ tensors, ...extra }, null, 1));
}

/** Seeded random token ids [batch, tokens]. */
export function randomTokens(batch: number, spec: Partial<TransformerSpec> = {}, seed = 3): BigInt64Array {
  const s = { ...transformerDefaults, ...spec };
  let st = seed >>> 0;
  const out = new BigInt64Array(batch * s.tokens);
  for (let i = 0; i < out.length; i++) {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    out[i] = BigInt(st % s.vocab);
  }
  return out;
}
