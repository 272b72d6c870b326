// Model graph → boxes, pills and edges placed top to bottom by dagre (the inspector's graph
// view). Pure: no DOM, so it is tested in Node.
import dagre from '@dagrejs/dagre';
import type { ModelGraph, ValueInfo } from '../../../app/contract/api.js';

export type OpCategory = 'conv' | 'linear' | 'activation' | 'pool' | 'norm' | 'quant' | 'shape' | 'other';

export interface LaidNode {
  id: string;
  kind: 'op' | 'input' | 'output';
  label: string;
  /** Node name (ops) or value name (pills). */
  name: string;
  /** Index into graph.nodes for ops; -1 for pills. */
  index: number;
  category: OpCategory | 'io';
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LaidEdge {
  id: string;
  from: string;
  to: string;
  /** The value (tensor) that flows along it. */
  value: string;
  points: { x: number; y: number }[];
}

export interface GraphLayout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
}

/** Where a node's input comes from. */
export type Source = { kind: 'node'; index: number } | { kind: 'input' } | { kind: 'weight' } | { kind: 'none' };

const CATEGORY: Record<string, OpCategory> = {};
for (const [cat, ops] of Object.entries({
  conv: 'Conv ConvTranspose ConvInteger QLinearConv',
  linear: 'Gemm MatMul MatMulInteger MatMulNBits QLinearMatMul Einsum',
  activation: 'Relu LeakyRelu PRelu Sigmoid HardSigmoid Tanh Gelu FastGelu Softmax LogSoftmax Elu Selu Softplus Clip HardSwish Mish Erf',
  pool: 'MaxPool AveragePool GlobalAveragePool GlobalMaxPool LpPool',
  norm: 'BatchNormalization LayerNormalization InstanceNormalization GroupNormalization LRN SkipLayerNormalization',
  quant: 'QuantizeLinear DequantizeLinear DynamicQuantizeLinear',
  shape: 'Reshape Flatten Transpose Squeeze Unsqueeze Concat Split Gather Shape Slice Expand Tile Pad Identity Cast',
} as Record<OpCategory, string>)) {
  for (const op of ops.split(' ')) CATEGORY[op] = cat as OpCategory;
}

export function categoryOf(opType: string): OpCategory {
  return CATEGORY[opType] ?? 'other';
}

const CHAR_W = 7.2;

/** Lays the graph out top to bottom. Values that no node produces and that are not graph inputs (weights) get no edge. */
export function graphLayout(graph: ModelGraph, inputs: ValueInfo[], outputs: ValueInfo[]): GraphLayout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 22, ranksep: 34, edgesep: 10, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));

  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const inputNames = new Set(inputs.map((i) => i.name));
  const nodes = new Map<string, LaidNode>();
  const add = (n: Omit<LaidNode, 'x' | 'y'>) => {
    nodes.set(n.id, { ...n, x: 0, y: 0 });
    g.setNode(n.id, { width: n.w, height: n.h });
  };

  // Graph inputs that something uses (an unused one still gets a pill so nothing is hidden).
  for (const i of inputs) add({ id: `in:${i.name}`, kind: 'input', label: i.name, name: i.name, index: -1, category: 'io', w: pillWidth(i.name), h: 26 });
  graph.nodes.forEach((n, i) => add({ id: `n:${i}`, kind: 'op', label: n.opType, name: n.name, index: i, category: categoryOf(n.opType), w: Math.max(84, Math.ceil(n.opType.length * CHAR_W + 28)), h: 32 }));
  for (const o of outputs) add({ id: `out:${o.name}`, kind: 'output', label: o.name, name: o.name, index: -1, category: 'io', w: pillWidth(o.name), h: 26 });

  const edgeValue = new Map<string, string>();
  const connect = (from: string, to: string, value: string) => {
    if (from === to || g.hasEdge(from, to)) return;
    g.setEdge(from, to);
    edgeValue.set(`${from}->${to}`, value);
  };
  graph.nodes.forEach((n, i) => {
    for (const v of n.inputs) {
      if (!v) continue;
      const p = producer.get(v);
      if (p !== undefined) connect(`n:${p}`, `n:${i}`, v);
      else if (inputNames.has(v)) connect(`in:${v}`, `n:${i}`, v);
    }
  });
  for (const o of outputs) {
    const p = producer.get(o.name);
    if (p !== undefined) connect(`n:${p}`, `out:${o.name}`, o.name);
    else if (inputNames.has(o.name)) connect(`in:${o.name}`, `out:${o.name}`, o.name);
  }

  dagre.layout(g);

  for (const id of g.nodes()) {
    const laid = g.node(id) as { x: number; y: number } | undefined;
    const n = nodes.get(id);
    if (n && laid) {
      n.x = laid.x;
      n.y = laid.y;
    }
  }
  const edges: LaidEdge[] = g.edges().map((e) => {
    const label = g.edge(e) as { points?: { x: number; y: number }[] } | undefined;
    return { id: `${e.v}->${e.w}`, from: e.v, to: e.w, value: edgeValue.get(`${e.v}->${e.w}`) ?? '', points: label?.points ?? [] };
  });
  const gl = g.graph() as { width?: number; height?: number };
  return { nodes: [...nodes.values()], edges, width: gl.width ?? 0, height: gl.height ?? 0 };
}

/** Where each input of node `index` comes from (another node, a graph input, or a weight). */
export function sourcesOf(graph: ModelGraph, inputs: ValueInfo[], index: number): { value: string; source: Source }[] {
  const node = graph.nodes[index];
  if (!node) return [];
  const inputNames = new Set(inputs.map((i) => i.name));
  return node.inputs.map((value) => {
    if (!value) return { value, source: { kind: 'none' } as Source };
    const p = graph.nodes.findIndex((n) => n.outputs.includes(value));
    if (p >= 0 && p !== index) return { value, source: { kind: 'node', index: p } as Source };
    return { value, source: (inputNames.has(value) ? { kind: 'input' } : { kind: 'weight' }) as Source };
  });
}

/** Nodes that read each output of node `index`. */
export function consumersOf(graph: ModelGraph, index: number): { value: string; consumers: number[] }[] {
  const node = graph.nodes[index];
  if (!node) return [];
  return node.outputs.map((value) => ({
    value,
    consumers: value ? graph.nodes.flatMap((n, i) => (i !== index && n.inputs.includes(value) ? [i] : [])) : [],
  }));
}

/** SVG path through dagre's edge points (straight segments, rounded by the stroke join). */
export function edgePath(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('');
}

/** Scale and offset that show the whole layout in a box, never zoomed in past 1 nor out past minScale. */
export function fitView(layout: { width: number; height: number }, box: { width: number; height: number }, minScale = 0.7): { k: number; x: number; y: number } {
  if (layout.width <= 0 || layout.height <= 0 || box.width <= 0 || box.height <= 0) return { k: 1, x: 0, y: 0 };
  const k = Math.max(minScale, Math.min(1, box.width / layout.width, box.height / layout.height));
  const x = (box.width - layout.width * k) / 2;
  // A tall graph starts at its top; a short one is centred.
  const y = layout.height * k <= box.height ? (box.height - layout.height * k) / 2 : 0;
  return { k, x, y };
}

function pillWidth(name: string): number {
  return Math.min(240, Math.max(64, Math.ceil(name.length * CHAR_W + 26)));
}

/** A few plain figures about the graph's shape: longest chain of operations, fan-outs, weights read. */
export function graphSummary(graph: ModelGraph, inputs: ValueInfo[]): { depth: number; branches: number; weights: number } {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const inputNames = new Set(inputs.map((i) => i.name));
  const depthOf: number[] = [];
  const uses = new Map<string, number>();
  const weights = new Set<string>();
  graph.nodes.forEach((n, i) => {
    let d = 0;
    for (const v of n.inputs) {
      if (!v) continue;
      uses.set(v, (uses.get(v) ?? 0) + 1);
      const p = producer.get(v);
      if (p !== undefined && p < i) d = Math.max(d, depthOf[p]!);
      else if (p === undefined && !inputNames.has(v)) weights.add(v);
    }
    depthOf[i] = d + 1;
  });
  let branches = 0;
  for (const [v, count] of uses) if (count > 1 && (producer.has(v) || inputNames.has(v))) branches++;
  return { depth: depthOf.reduce((a, b) => Math.max(a, b), 0), branches, weights: weights.size };
}
