// Training-only rewrites of the student's forward graph (the exported inference model is never
// touched: buildTrainStep works on a copy, and the trainer exports the ORIGINAL graph with the
// trained weights).
//
//  1. Relu → MaxPool(2x2, stride 2)  becomes  MaxPool → Relu. Exact: max commutes with the
//     monotone ReLU. The ReLU (forward and gradient) then runs at pooled resolution, 4x fewer
//     elements, and its gradient mask is applied before the routing.
//  2. MaxPool 2x2 / stride 2 (no padding, even H and W) gets a gradient without the Indices
//     output (ORT's MaxPool with Indices, plus ScatterElements, is slow): each window's gradient
//     goes to exactly ONE input, the first of the four positions (row-major) equal to the max,
//     found with three strided 1x1 / 1x2 / 2x1 MaxPools. Flat image backgrounds make windows
//     tie; a "compare with the max" gradient would count ties several times (ENGINE-NOTES G).
//     The four pieces go back to full resolution with one Concat + DepthToSpace.
//     (Four strided Slices + Max for the forward were measured too: slower than MaxPool here.)
//
//  3. (after the backward pass) A Conv whose dW rule built explicit patches of its input runs its
//     forward as one MatMul over those same patches: Pᵀ [N·Ho·Wo, kh·kw·C] times Wᵀ, back to NCHW.
//     The patches are then built once per step for both, and ORT's Conv (with its NCHWc reorders
//     in and out) leaves the step: −5 % per step for cnn:8,16/32 at batch 128.
//  4. (after the backward pass) A first-layer Conv followed by a 2x2 pool: its dW rule computed
//     the conv at every window position from the window rows it needs anyway, and the pool as
//     their maximum (gradients/conv.ts firstConvPool); the pool node becomes a Reshape of that.
//
// Between rewriteForTraining and lowerTrainingOps the pool is a private node
// (TRAINING_DOMAIN.MaxPool2x2) that only the autodiff sees; lowerTrainingOps replaces it with
// standard ops after the backward pass has been built.
import { attrInt, attrInts, attrString } from '../onnx/attributes.js';
import { consumers, producers, sortGraph, type GraphBuilder } from '../onnx/graph.js';
import type { DataType, Graph, Node } from '../onnx/ir.js';
import { registerGradient, type GradContext, type GradShape } from './autodiff.js';
import { convPatches, poolForwardsOf, recordInterleaved } from './gradients/util.js';

export const TRAINING_DOMAIN = 'ai.distillery.training';
const POOL = 'MaxPool2x2';

function isPool2x2(n: Node, shape: (v: string) => GradShape): boolean {
  if (n.opType !== 'MaxPool' || (n.domain !== '' && n.domain !== 'ai.onnx')) return false;
  if (n.outputs.length > 1 && n.outputs[1]) return false; // Indices are used
  const k = attrInts(n, 'kernel_shape', []);
  const s = attrInts(n, 'strides', [1, 1]);
  const d = attrInts(n, 'dilations', [1, 1]);
  const pads = attrInts(n, 'pads', [0, 0, 0, 0]);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (k.length !== 2 || k[0] !== 2 || k[1] !== 2 || s[0] !== 2 || s[1] !== 2) return false;
  if (d.some((v) => v !== 1) || pads.some((v) => v !== 0)) return false;
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return false;
  if (attrInt(n, 'storage_order', 0) !== 0) return false;
  let dims: number[];
  try {
    dims = shape(n.inputs[0]!).dims;
  } catch {
    return false;
  }
  return dims.length === 4 && dims[2]! % 2 === 0 && dims[3]! % 2 === 0;
}

export interface TrainingRewrite {
  /** Shapes of values the rewrite introduced. */
  shapes: Map<string, GradShape>;
  pools: number;
  reluSwaps: number;
}

export interface RewriteOptions {
  /** MaxPool 2x2 → Slices + Max with the tie-safe gradient (default true). */
  pool?: boolean;
  /** Relu → MaxPool 2x2 ⇒ MaxPool → Relu (default true). */
  reluSwap?: boolean;
}

/** Rewrites the (copied) training graph in place; see the file comment. */
export function rewriteForTraining(
  graph: Graph,
  shape: (v: string) => GradShape,
  fresh: (base: string) => string,
  options: RewriteOptions = {},
): TrainingRewrite {
  const doPool = options.pool ?? true;
  const doSwap = options.reluSwap ?? true;
  const shapes = new Map<string, GradShape>();
  const outputs = new Set(graph.outputs.map((o) => o.name));
  let pools = 0;
  let reluSwaps = 0;
  const readers = consumers(graph);
  const made = producers(graph);
  for (const pool of [...graph.nodes]) {
    if (!isPool2x2(pool, shape)) continue;
    const x = pool.inputs[0]!;
    const y = pool.outputs[0]!;
    if (doPool) {
      pool.domain = TRAINING_DOMAIN;
      pool.opType = POOL;
      pool.attributes = [];
      pool.outputs = [y];
      pools++;
    }
    const relu = made.get(x);
    if (doSwap && relu && relu.opType === 'Relu' && (relu.domain === '' || relu.domain === 'ai.onnx') && !outputs.has(x) && (readers.get(x)?.length ?? 0) === 1) {
      // Relu(a) → x → pool → y   ⇒   pool(a) → p → Relu → y
      const a = relu.inputs[0]!;
      const p = fresh(`${y}_prerelu`);
      pool.inputs = [a];
      pool.outputs = doPool ? [p] : [p, ...pool.outputs.slice(1)];
      relu.inputs = [p];
      relu.outputs = [y];
      shapes.set(p, shape(y));
      // The Relu now runs after the pool: move it right behind it.
      graph.nodes.splice(graph.nodes.indexOf(relu), 1);
      graph.nodes.splice(graph.nodes.indexOf(pool) + 1, 0, relu);
      reluSwaps++;
    }
  }
  return { shapes, pools, reluSwaps };
}

/** Replaces the private training nodes by standard ops (after buildBackward); see rewrites 3 and 4. */
export function lowerTrainingOps(graph: Graph, b: GraphBuilder, options: { convForwardFromPatches?: boolean } = {}): void {
  const redirected = new Map(poolForwardsOf(b).map((f) => [f.y, f]));
  let reorder = options.convForwardFromPatches === true && convForwardFromPatches(graph, b) > 0;
  for (const n of graph.nodes) {
    if (n.domain !== TRAINING_DOMAIN) continue;
    if (n.opType !== POOL) throw new Error(`internal: unknown training op ${n.opType}`);
    const f = redirected.get(n.outputs[0]!);
    if (f) {
      // Rewrite 4: the pool's output is the maximum a rule already computed (gradients/conv.ts
      // firstConvPool); the Conv before it is then read by nothing and pruned.
      n.domain = '';
      n.opType = 'Reshape';
      n.inputs = [f.from, b.constInt64('pool_output_shape', f.dims)];
      n.attributes = [];
      reorder = true;
      continue;
    }
    // The forward stays ORT's MaxPool (fast without the Indices output).
    n.domain = '';
    n.opType = 'MaxPool';
    n.attributes = [
      { name: 'kernel_shape', type: 'ints', value: [2n, 2n] },
      { name: 'strides', type: 'ints', value: [2n, 2n] },
    ];
  }
  if (reorder) sortGraph(graph);
}

/** Rewrite 3: forward Convs read the patches their dW built. Returns how many were replaced. */
function convForwardFromPatches(graph: Graph, b: GraphBuilder): number {
  const live = new Set(graph.nodes);
  let replaced = 0;
  for (const e of convPatches(b)) {
    const conv = e.conv;
    if (!live.has(conv) || conv.opType !== 'Conv') continue;
    const [, w, bias] = conv.inputs as [string, string, string | undefined];
    const [N, M, Ho, Wo] = e.yDims as [number, number, number, number];
    const [kh, kw] = e.kernel;
    // Patch columns are (i·kw + j)·C + c, so W goes to [kh, kw, C, M] → [kh·kw·C, M].
    const wT = b.op('Reshape', [b.op('Transpose', [w], { perm: [2, 3, 1, 0] }), b.constInt64('conv_weight_columns', [kh * kw * e.channels, M])]);
    // Pᵀ·Wᵀ is one GEMM over all N·Ho·Wo positions; its [N, Ho·Wo, M] result goes back to NCHW.
    let yT = b.op('MatMul', [e.patchesT, wT]);
    if (bias) yT = b.op('Add', [yT, bias]);
    const y = b.op('Transpose', [yT], { perm: [0, 2, 1] });
    // The Conv node becomes the Reshape back to [N, M, Ho, Wo]: its output name stays.
    conv.opType = 'Reshape';
    conv.inputs = [y, b.constInt64('conv_output_shape', [N, M, Ho, Wo])];
    conv.attributes = [];
    replaced++;
  }
  return replaced;
}

/**
 * Tie-safe gradient of the 2x2 pool: the window's gradient goes to its FIRST maximal position
 * (row-major: (0,0), (0,1), (1,0), (1,1)). Three cheap strided pools locate it without Indices:
 *   x00 = MaxPool 1x1/2, top = MaxPool 1x2/2 = max(x00, x01), left = MaxPool 2x1/2 = max(x00, x10);
 *   first = (0,0) if x00 = y; else (0,1) if top = y; else (1,0) if left = y; else (1,1).
 */
function poolGradient(c: GradContext): (string | null)[] {
  const dy = c.gradOutputs[0]!;
  const x = c.node.inputs[0]!;
  const y = c.node.outputs[0]!;
  const t = c.shape(y).elemType;
  const pool = (kernel: number[]) => c.op('MaxPool', [x], { kernel_shape: kernel, strides: [2, 2] });
  const probes = [pool([1, 1]), pool([1, 2]), pool([2, 1])];
  const grads: string[] = [];
  let rest = dy;
  for (const probe of probes) {
    // rest·hit and rest − rest·hit with a 0/1 mask are exact, and ORT's Mul/Sub beat a pair of
    // Where (measured 0.70 against 0.94 ms per probe at [128, 8, 14, 14], one thread).
    const hit = c.op('Cast', [c.op('Equal', [probe, y])], { to: t });
    const routed = c.op('Mul', [rest, hit]);
    grads.push(routed);
    rest = c.op('Sub', [rest, routed]);
  }
  grads.push(rest);
  const full = interleave(c, grads, c.shape(y).dims, t);
  recordInterleaved(c.builder, full, { pieces: grads, pool: { y, dy } });
  return [full];
}

/** Widths up to which interleave() uses a permutation MatMul (its cost grows with the width). */
const MATMUL_INTERLEAVE_MAX_WIDTH = 16;

/**
 * Pieces [N, C, h, w] for window positions ab = 2a + b back to full resolution:
 * out[n, c, 2u + a, 2v + b] = piece_ab[n, c, u, v]. For narrow maps the pieces are concatenated
 * along the width, [.., u, ab·w + v], and one MatMul with a constant 0/1 matrix puts every value
 * at a·2w + 2v + b, i.e. output rows 2u and 2u + 1 side by side (exact: one term per output).
 * At [128, 16, 14, 14], one thread: 0.95 → 0.45 ms against Concat + DepthToSpace, which wider maps
 * still use. A NaN or Inf gradient spreads along its output row (0·NaN): the step fails either way.
 */
function interleave(c: GradContext, pieces: string[], pooledDims: number[], t: DataType): string {
  const [N, C, h, w] = pooledDims as [number, number, number, number];
  if (w > MATMUL_INTERLEAVE_MAX_WIDTH) {
    // grads[k] holds window position (k >> 1, k & 1); DepthToSpace (DCR):
    // out[n, c, 2i + a, 2j + b] = in[n, (2a + b)·C + c, i, j].
    return c.op('DepthToSpace', [c.op('Concat', pieces, { axis: 1 })], { blocksize: 2, mode: 'DCR' });
  }
  const perm = new Array<number>(16 * w * w).fill(0);
  for (let ab = 0; ab < 4; ab++) for (let v = 0; v < w; v++) perm[(ab * w + v) * 4 * w + (ab >> 1) * 2 * w + 2 * v + (ab & 1)] = 1;
  const rows = c.op('MatMul', [c.op('Concat', pieces, { axis: 3 }), c.constant(perm, [4 * w, 4 * w], t)]);
  return c.reshape(rows, [N, C, 2 * h, 2 * w]);
}

registerGradient(`${TRAINING_DOMAIN}.${POOL}`, poolGradient);
