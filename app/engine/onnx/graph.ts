// Graph editing: name bookkeeping, topological order, rewiring, and a builder for new nodes.
import { makeAttr, type AttrValue } from './attributes.js';
import type { DataType, Dim, Graph, Node, Tensor, ValueInfo } from './ir.js';
import { floatTensor, int64Tensor } from './tensor.js';

/** Every value name a graph defines (inputs, initializers, node outputs). */
export function definedNames(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const v of graph.inputs) names.add(v.name);
  for (const t of graph.initializers) names.add(t.name);
  for (const s of graph.sparseInitializers) names.add(s.values.name);
  for (const n of graph.nodes) for (const o of n.outputs) if (o) names.add(o);
  return names;
}

/** Map from value name to the node producing it. */
export function producers(graph: Graph): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) map.set(o, n);
  return map;
}

/** Map from value name to the nodes reading it. */
export function consumers(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      const list = map.get(i);
      if (list) list.push(n);
      else map.set(i, [n]);
    }
  }
  return map;
}

/** Names a subgraph reads from its enclosing scopes (used to order If/Loop/Scan nodes). */
export function outerReferences(graph: Graph): Set<string> {
  const local = definedNames(graph);
  const refs = new Set<string>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) if (i && !local.has(i)) refs.add(i);
    for (const a of n.attributes) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const g of subs) for (const r of outerReferences(g)) if (!local.has(r)) refs.add(r);
    }
  }
  for (const o of graph.outputs) if (!local.has(o.name)) refs.add(o.name);
  return refs;
}

function nodeReads(n: Node): string[] {
  const reads = n.inputs.filter((i) => i !== '');
  for (const a of n.attributes) {
    const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const g of subs) reads.push(...outerReferences(g));
  }
  return reads;
}

export class GraphError extends Error {}

/**
 * Nodes in an order where each runs after the producers of its inputs (Kahn's algorithm,
 * stable: ties keep the original order). Throws on cycles, naming a node on the cycle.
 */
export function topologicalOrder(graph: Graph, outerScope: ReadonlySet<string> = new Set()): Node[] {
  const producedBy = producers(graph);
  const pending = new Map<Node, number>();
  const waiting = new Map<Node, Node[]>();
  for (const n of graph.nodes) {
    let count = 0;
    for (const name of new Set(nodeReads(n))) {
      const p = producedBy.get(name);
      if (p && p !== n) {
        count++;
        const list = waiting.get(p);
        if (list) list.push(n);
        else waiting.set(p, [n]);
      } else if (p === n) {
        throw new GraphError(`node '${n.name || n.opType}' reads its own output '${name}' (a cycle)`);
      }
    }
    pending.set(n, count);
  }
  const ready = graph.nodes.filter((n) => pending.get(n) === 0);
  const order: Node[] = [];
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    const released: Node[] = [];
    for (const c of waiting.get(n) ?? []) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) released.push(c);
    }
    if (released.length) {
      ready.push(...released);
      ready.sort((a, b) => index.get(a)! - index.get(b)!);
    }
  }
  if (order.length !== graph.nodes.length) {
    const stuck = graph.nodes.find((n) => pending.get(n)! > 0)!;
    throw new GraphError(`graph '${graph.name}' has a cycle through node '${stuck.name || stuck.opType}'`);
  }
  void outerScope;
  return order;
}

/** Sorts the graph's nodes in place into topological order. */
export function sortGraph(graph: Graph): void {
  graph.nodes = topologicalOrder(graph);
}

/** Value names read by some node or graph output but defined nowhere (dangling references). */
export function danglingNames(graph: Graph, outerScope: ReadonlySet<string> = new Set()): string[] {
  const defined = definedNames(graph);
  const missing = new Set<string>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i && !defined.has(i) && !outerScope.has(i)) missing.add(i);
  for (const o of graph.outputs) if (!defined.has(o.name) && !outerScope.has(o.name)) missing.add(o.name);
  return [...missing];
}

/** Replaces every read of `from` with `to` (node inputs and graph outputs). */
export function replaceUses(graph: Graph, from: string, to: string): void {
  for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
  for (const o of graph.outputs) if (o.name === from) o.name = to;
}

export function removeNodes(graph: Graph, doomed: Iterable<Node>): void {
  const set = new Set(doomed);
  graph.nodes = graph.nodes.filter((n) => !set.has(n));
}

/** Removes nodes and initializers that no graph output depends on. */
export function pruneUnused(graph: Graph): void {
  const needed = new Set(graph.outputs.map((o) => o.name));
  const producedBy = producers(graph);
  const keep = new Set<Node>();
  const stack = [...needed];
  while (stack.length) {
    const name = stack.pop()!;
    const p = producedBy.get(name);
    if (!p || keep.has(p)) continue;
    keep.add(p);
    for (const r of nodeReads(p)) if (!needed.has(r)) {
      needed.add(r);
      stack.push(r);
    }
  }
  graph.nodes = graph.nodes.filter((n) => keep.has(n));
  graph.initializers = graph.initializers.filter((t) => needed.has(t.name));
}

/** Hands out names that do not collide with any name already in the graph. */
export class NameScope {
  private readonly used: Set<string>;
  private readonly counters = new Map<string, number>();

  constructor(graph?: Graph) {
    this.used = graph ? definedNames(graph) : new Set();
    if (graph) for (const n of graph.nodes) if (n.name) this.used.add(n.name);
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  fresh(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let i = this.counters.get(base) ?? 1;
    while (this.used.has(`${base}_${i}`)) i++;
    this.counters.set(base, i + 1);
    const name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

export interface NodeOptions {
  /** Number of outputs (default 1) or explicit output names. */
  outputs?: number | string[];
  domain?: string;
  name?: string;
}

/**
 * Appends nodes, constants and initializers to a graph with collision-free names.
 * `b.op('MatMul', [x, w])` returns the output name; `b.opN` returns all outputs.
 */
export class GraphBuilder {
  readonly names: NameScope;

  constructor(readonly graph: Graph, readonly prefix = '') {
    this.names = new NameScope(graph);
  }

  fresh(base: string): string {
    return this.names.fresh(this.prefix + base);
  }

  opN(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, options: NodeOptions = {}): string[] {
    const outs = options.outputs ?? 1;
    const outputs = typeof outs === 'number' ? Array.from({ length: outs }, () => this.fresh(opType.toLowerCase())) : outs;
    for (const o of outputs) this.names.reserve(o);
    const node: Node = {
      name: options.name ?? this.fresh(`${opType}_node`),
      opType,
      domain: options.domain ?? '',
      inputs,
      outputs,
      attributes: Object.entries(attrs)
        .filter((e): e is [string, AttrValue] => e[1] !== undefined)
        .map(([k, v]) => makeAttr(k, v)),
    };
    this.graph.nodes.push(node);
    return outputs;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, options: Omit<NodeOptions, 'outputs'> & { output?: string } = {}): string {
    const { output, ...rest } = options;
    return this.opN(opType, inputs, attrs, { ...rest, outputs: output ? [output] : 1 })[0]!;
  }

  /** Adds an initializer and returns its (possibly renamed) name. */
  initializer(tensor: Tensor): string {
    const name = this.names.fresh(tensor.name);
    this.graph.initializers.push({ ...tensor, name });
    return name;
  }

  /** A float constant as an initializer (scalars when dims = []). */
  constFloat(base: string, values: number[] | Float32Array, dims: number[] = values.length === 1 ? [] : [values.length]): string {
    return this.initializer(floatTensor(this.prefix + base, dims, values));
  }

  constInt64(base: string, values: ArrayLike<number | bigint>, dims: number[] = [values.length]): string {
    return this.initializer(int64Tensor(this.prefix + base, dims, values));
  }

  input(name: string, elemType: DataType, shape: Dim[] | null): string {
    this.names.reserve(name);
    this.graph.inputs.push({ name, type: { kind: 'tensor', elemType, shape } });
    return name;
  }

  output(name: string, elemType: DataType, shape: Dim[] | null): void {
    const info: ValueInfo = { name, type: { kind: 'tensor', elemType, shape } };
    this.graph.outputs.push(info);
  }
}
