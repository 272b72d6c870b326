// What a probe computes: the service calls that open ONNX Runtime on something the user chose
// (a model file, the machine's GPU drivers). They run in a short-lived process (probe-child.ts)
// so that a native crash or a hang there cannot take the app down (probes.ts).
import type { DeviceInfo, ModelInspection } from '../contract/api.js';
import { MODEL_GRAPH_NODE_LIMIT } from '../contract/api.js';

export interface Probes {
  inspectModel: { params: { path: string }; result: ModelInspection };
  detectDevices: { params: Record<string, never>; result: DeviceInfo[] };
}
export type ProbeName = keyof Probes;
export type ProbeParams<P extends ProbeName> = Probes[P]['params'];
export type ProbeResult<P extends ProbeName> = Probes[P]['result'];

export const PROBE_TASKS: { [P in ProbeName]: (params: ProbeParams<P>) => Promise<ProbeResult<P>> } = {
  /** Decodes the file, summarizes it and tries an ONNX Runtime CPU session on it. */
  async inspectModel({ path }) {
    const { inspectFile } = await import('../engine/onnx/inspect.js');
    const { model, summary } = await inspectFile(path);
    // The main graph for drawing (cheap: names only, capped; the file is already decoded).
    const nodes = model.graph.nodes;
    const graph = {
      nodes: nodes.slice(0, MODEL_GRAPH_NODE_LIMIT).map((n) => ({ name: n.name, opType: n.opType, inputs: [...n.inputs], outputs: [...n.outputs] })),
      truncated: nodes.length > MODEL_GRAPH_NODE_LIMIT,
    };
    return {
      path,
      irVersion: summary.irVersion,
      opsetImports: summary.opsetImports,
      producer: summary.producer,
      inputs: summary.inputs,
      outputs: summary.outputs,
      parameters: summary.parameters,
      sizeBytes: summary.sizeBytes,
      ops: summary.ops,
      flops: summary.flops,
      unsupportedOps: summary.unsupportedOps,
      metadata: summary.metadata,
      nodes: summary.nodes,
      initializers: summary.initializers,
      externalData: summary.externalData,
      runError: summary.runError,
      graph,
    };
  },
  /** Runs a tiny model once on every device this ONNX Runtime build offers. */
  async detectDevices() {
    const { detectDevices } = await import('../engine/runtime/index.js');
    return (await detectDevices()).map((d) => ({ ...d }));
  },
};
