// Exact rewrites that keep ONNX Runtime's int8 CPU kernels on their fast path. ORT runs QLinearConv
// and u8 MaxPool channels-last (NHWC) and inserts Transposes where the ONNX graph (NCHW) meets
// other ops; these rewrites remove two such costs seen in the optimized graphs of the CNNs here.
//
// 1. A float Conv → Relu → MaxPool in front of an int8 layer: ORT's QDQPropagationTransformer
//    moves the QuantizeLinear up across the MaxPool, which then runs on u8 in NCHW — a slow
//    kernel (3.9 ms of 6.5 ms for the teacher at batch 64). MaxPool → Relu is the same function
//    (max and ReLU commute); with the Relu last, the QuantizeLinear stays behind the pool (Relu is
//    not propagated across) and ORT folds the Relu into it (zero point 0), leaving Conv and
//    MaxPool in ORT's fast float NCHWc kernels.
// 2. Flatten of an int8 NCHW feature map into an int8 Gemm/MatMul: ORT transposes the u8 map back
//    from NHWC before the Flatten (4 % of the teacher's int8 time at batch 64). Flattening in NHWC
//    order instead (Transpose [0,2,3,1] first, the next layer's weight rows permuted to match)
//    gives the same products; ORT cancels our Transpose against its own.
// 3. The float map leaving a float Conv → MaxPool → Relu for an int8 Conv: ORT reorders it from
//    its blocked float layout (NCHWc) to NCHW, quantizes, then transposes the u8 map to NHWC for
//    QLinearConv (0.20 ms of 1.43 for the teacher at batch 64 on 2 threads). A float Transpose to
//    NHWC right after the pool lets ORT's NCHWc pass emit NHWC directly (ReorderOutput with
//    channels_last); the Transpose back to NCHW in front of the QuantizeLinear cancels against the
//    one ORT adds for QLinearConv. An identity Reshape and the Relu between the two Transposes keep
//    ORT's earlier passes from cancelling them (or moving the QuantizeLinear up) too soon. ORT
//    keeps the pool NCHWc only when the channels fill its blocks (16 floats with AVX-512, 8 with
//    AVX2); otherwise the map is NCHW already and the rewrite would add a float Transpose.
import { attrInts, makeAttr } from '../onnx/attributes.js';
import { consumers, type NameScope } from '../onnx/graph.js';
import type { Graph, Node, Tensor } from '../onnx/ir.js';
import { floatData, floatTensor, int64Tensor } from '../onnx/tensor.js';
import { isOnnx } from './common.js';

/**
 * Rewrites `conv` → Relu → MaxPool into `conv` → MaxPool → Relu when the Relu and the pool are
 * each the only reader of their input and nothing in between is a graph output. Returns the
 * swapped Relu, or undefined when the pattern is not there.
 */
export function moveReluBehindPool(graph: Graph, conv: Node): Node | undefined {
  const readers = consumers(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const only = (t: string | undefined): Node | undefined => {
    const r = t === undefined || outputs.has(t) ? undefined : readers.get(t);
    return r?.length === 1 ? r[0] : undefined;
  };
  const relu = only(conv.outputs[0]);
  if (!relu || !isOnnx(relu) || relu.opType !== 'Relu') return undefined;
  const pool = only(relu.outputs[0]);
  if (!pool || !isOnnx(pool) || pool.opType !== 'MaxPool' || pool.outputs.filter(Boolean).length !== 1) return undefined;
  // Keep the tensor names at the ends: pool reads conv's output, the Relu writes pool's old output.
  const mid = relu.outputs[0]!;
  pool.inputs[0] = conv.outputs[0]!;
  relu.inputs[0] = mid;
  relu.outputs[0] = pool.outputs[0]!;
  pool.outputs[0] = mid;
  return relu;
}

/**
 * Makes `flatten` (axis 1, input [N, C, H, W]) read the channels-last order: a Transpose [0,2,3,1]
 * in front of it, and the rows (K axis `kAxis`) of `weight` — the 2-D weight of the Gemm/MatMul
 * reading the Flatten — permuted from (c, h, w) to (h, w, c) order. Adds the Transpose node and the
 * permuted weight (a new initializer; the old one may be shared). Returns the Transpose output and
 * the new weight.
 */
export function flattenChannelsLast(
  graph: Graph,
  names: NameScope,
  flatten: Node,
  chw: readonly [number, number, number],
  weight: Tensor,
  kAxis: 0 | 1,
): { transposed: string; weight: Tensor } {
  const [C, H, W] = chw;
  const x = flatten.inputs[0]!;
  const transposed = names.fresh(`${x}_nhwc`);
  graph.nodes.push({ name: names.fresh(`${flatten.name || x}_nhwc`), opType: 'Transpose', domain: '', inputs: [x], outputs: [transposed], attributes: [makeAttr('perm', [0, 2, 3, 1])] });
  flatten.inputs[0] = transposed;
  const [rows, cols] = weight.dims as [number, number];
  const src = floatData(weight);
  const dst = new Float32Array(src.length);
  const hw = H * W;
  // New K index (p·C + c) takes old K index (c·HW + p), p = h·W + w.
  for (let p = 0; p < hw; p++) {
    for (let c = 0; c < C; c++) {
      const from = c * hw + p;
      const to = p * C + c;
      if (kAxis === 0) dst.set(src.subarray(from * cols, (from + 1) * cols), to * cols);
      else for (let r = 0; r < rows; r++) dst[r * cols + to] = src[r * cols + from]!;
    }
  }
  const permuted = floatTensor(names.fresh(`${weight.name}_nhwc`), [rows, cols], dst);
  graph.initializers.push(permuted);
  return { transposed, weight: permuted };
}

/** ORT's largest NCHWc block (AVX-512): a multiple of it is a multiple of every block size. */
const NCHWC_BLOCK = 16;

/**
 * Wraps `relu` (MaxPool → Relu → QuantizeLinear readers only, 4-D NCHW) in channels-last form:
 * MaxPool → Transpose[0,2,3,1] → Reshape(identity) → Relu → Transpose[0,3,1,2] → readers. Same
 * values; see rewrite 3 above. `channels`: the pool's channel count. Returns false (graph untouched) when the pattern is not there.
 */
export function channelsLastHandoff(graph: Graph, names: NameScope, relu: Node, channels: number): boolean {
  if (channels % NCHWC_BLOCK !== 0) return false;
  const out = relu.outputs[0]!;
  if (graph.outputs.some((o) => o.name === out)) return false;
  const readers = consumers(graph).get(out) ?? [];
  if (readers.length === 0 || !readers.every((r) => isOnnx(r) && r.opType === 'QuantizeLinear')) return false;
  const pool = graph.nodes.find((n) => n.outputs[0] === relu.inputs[0]);
  if (!pool || !isOnnx(pool) || pool.opType !== 'MaxPool' || attrInts(pool, 'kernel_shape', []).length !== 2) return false;
  const x = relu.inputs[0]!;
  const nhwc = names.fresh(`${x}_nhwc`);
  const kept = names.fresh(`${x}_nhwc_kept`);
  const shape = names.fresh(`${x}_nhwc_same_shape`);
  const reluNhwc = names.fresh(`${out}_nhwc`);
  graph.initializers.push(int64Tensor(shape, [4], [0, 0, 0, 0]));
  const node = (base: string, opType: string, inputs: string[], output: string, perm?: number[]): Node => ({
    name: names.fresh(base),
    opType,
    domain: '',
    inputs,
    outputs: [output],
    attributes: perm ? [makeAttr('perm', perm)] : [],
  });
  relu.inputs[0] = kept;
  relu.outputs[0] = reluNhwc;
  graph.nodes.push(
    node(`${x}_to_nhwc`, 'Transpose', [x], nhwc, [0, 2, 3, 1]),
    node(`${x}_nhwc_identity`, 'Reshape', [nhwc, shape], kept),
    node(`${out}_to_nchw`, 'Transpose', [reluNhwc], out, [0, 3, 1, 2]),
  );
  return true;
}
