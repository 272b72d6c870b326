// The first-conv trick (ENGINE-NOTES G): a first Conv with one (or few) input channels is slow
// as an int8 QLinearConv on x86, because ORT's u8 kernels want the channel count to be a
// multiple of 4. Zero-padding its input channels up to 4 is exact: the added weight slices are
// zero and the added activation channels are zero, so every output is the same sum as before.
//
// The rewrite: Pad(x, channels C → `to`, value 0) in front of the Conv, and the Conv weight
// [M, C, kh, kw] widened to [M, to, kh, kw] with zeros. The model's input is unchanged (callers
// keep feeding C channels); the Pad costs one small copy per run, which static quantization then
// moves into u8 (Pad is a data-movement op ORT runs on the quantized tensor).
import { attrInt, makeAttr } from '../onnx/attributes.js';
import { NameScope, sortGraph, topologicalOrder } from '../onnx/graph.js';
import { opsetVersion, type Model, type Node } from '../onnx/ir.js';
import { floatData, floatTensor, int64Tensor } from '../onnx/tensor.js';
import { cloneModel, constantsToInitializers, dropUnreadInitializers, floatInitializer, initializerMap, isOnnx, nodeLabel, QuantizeError } from './common.js';

export interface PadFirstConvResult {
  model: Model;
  /** The Conv that was widened, or null when the model had nothing to pad. */
  conv: string | null;
  channelsBefore: number;
  channelsAfter: number;
}

/** The first Conv in topological order (the one that reads the image), or undefined. */
export function firstConv(model: Model): Node | undefined {
  return topologicalOrder(model.graph).find((n) => isOnnx(n) && n.opType === 'Conv');
}

/**
 * Whether the first Conv reads at most `max` channels (the raw image: 1 for grey, 3 for RGB).
 * ORT's int8 QLinearConv is slower than its float Conv there, so static int8 keeps it float.
 */
export function firstConvHasFewChannels(model: Model, max = 4): boolean {
  const conv = firstConv(model);
  const weight = conv && model.graph.initializers.find((t) => t.name === conv.inputs[1]);
  return !!weight && weight.dims.length >= 2 && weight.dims[1]! <= max;
}

/**
 * Widens the first Conv's input channels to `to` with zeros (exact: identical outputs). Returns
 * the model unchanged (conv: null) when the first Conv already has ≥ `to` channels, is grouped,
 * or its weight is not a constant. Pure.
 */
export function padFirstConvChannels(input: Model, to = 4): PadFirstConvResult {
  if (!Number.isInteger(to) || to < 2 || to > 64) throw new QuantizeError(`padFirstConvChannels: 'to' must be an integer in [2, 64] (got ${to})`);
  const model = cloneModel(input);
  const graph = model.graph;
  constantsToInitializers(graph);
  const conv = firstConv(model);
  const none = (c: number): PadFirstConvResult => ({ model: input, conv: null, channelsBefore: c, channelsAfter: c });
  if (!conv) return none(0);
  const inits = initializerMap(graph);
  const w = floatInitializer(inits, graph, conv.inputs[1]);
  if (!w || w.dims.length < 3) return none(0);
  const [M, C] = w.dims as [number, number];
  if (C >= to || attrInt(conv, 'group', 1) !== 1) return none(C);
  if ((opsetVersion(model, '') ?? 1) < 11) {
    throw new QuantizeError('padding the first Conv needs opset >= 11 (Pad with a pads input); re-export the model with opset 13 or newer');
  }
  const spatial = w.dims.slice(2);
  const inner = spatial.reduce((a, d) => a * d, 1);
  const src = floatData(w);
  const dst = new Float32Array(M * to * inner);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) dst.set(src.subarray((m * C + c) * inner, (m * C + c + 1) * inner), (m * to + c) * inner);

  const names = new NameScope(graph);
  const wName = names.fresh(`${w.name}_padded${to}`);
  graph.initializers.push(floatTensor(wName, [M, to, ...spatial], dst));
  const rank = 2 + spatial.length;
  const pads = new Array<number>(2 * rank).fill(0);
  pads[rank + 1] = to - C; // end of the channel axis
  const padsName = names.fresh(`${nodeLabel(conv)}_channel_pads`);
  graph.initializers.push(int64Tensor(padsName, [2 * rank], pads));
  const x = conv.inputs[0]!;
  const padded = names.fresh(`${x}_padded${to}`);
  const pad: Node = {
    name: names.fresh(`${nodeLabel(conv)}_channel_pad`),
    opType: 'Pad',
    domain: '',
    inputs: [x, padsName],
    outputs: [padded],
    attributes: [makeAttr('mode', 'constant')],
  };
  conv.inputs[0] = padded;
  conv.inputs[1] = wName;
  graph.nodes.push(pad);
  sortGraph(graph);
  dropUnreadInitializers(graph);
  return { model, conv: nodeLabel(conv), channelsBefore: C, channelsAfter: to };
}
