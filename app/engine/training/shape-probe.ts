// Exact static shapes of every value of a model, by running it once: every node output becomes a
// graph output, one ORT CPU session runs the feeds, and the dims/types are read off the results.
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../onnx/codec.js';
import { DataType, type Model } from '../onnx/ir.js';
import type { GradShape } from './autodiff.js';

const ORT_TYPES: Record<string, DataType> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  float16: DataType.FLOAT16,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  int16: DataType.INT16,
  uint16: DataType.UINT16,
  int32: DataType.INT32,
  uint32: DataType.UINT32,
  int64: DataType.INT64,
  uint64: DataType.UINT64,
  bool: DataType.BOOL,
  string: DataType.STRING,
};

/** Maps an ORT tensor type name to the ONNX element type. */
export function ortElemType(type: string): DataType {
  const t = ORT_TYPES[type];
  if (t === undefined) throw new Error(`unknown ORT tensor type '${type}'`);
  return t;
}

/**
 * Shapes of the graph inputs (from the feeds), initializers, and every node output of the main
 * graph (subgraph values are not reported). The model is not modified.
 */
export async function probeShapes(model: Model, feeds: Record<string, ort.Tensor>): Promise<Map<string, GradShape>> {
  const g = model.graph;
  const result = new Map<string, GradShape>();
  for (const t of g.initializers) result.set(t.name, { elemType: t.dataType, dims: [...t.dims] });
  for (const [name, t] of Object.entries(feeds)) result.set(name, { elemType: ortElemType(t.type), dims: [...t.dims] });

  const existing = new Set(g.outputs.map((o) => o.name));
  const extra: string[] = [];
  for (const n of g.nodes) for (const o of n.outputs) if (o && !existing.has(o) && !extra.includes(o)) extra.push(o);
  const probe: Model = {
    ...model,
    graph: { ...g, outputs: [...g.outputs, ...extra.map((name) => ({ name, type: null }))] },
  };
  const session = await ort.InferenceSession.create(encodeModel(probe), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'disabled',
  });
  try {
    const out = await session.run(feeds);
    for (const [name, t] of Object.entries(out)) {
      result.set(name, { elemType: ortElemType(t.type), dims: t.dims.map(Number) });
      t.dispose?.();
    }
  } finally {
    await session.release();
  }
  return result;
}

/** A `shape` callback for buildBackward over a probed map; names the value when it is missing. */
export function shapeLookup(shapes: ReadonlyMap<string, GradShape>): (name: string) => GradShape {
  return (name) => {
    const s = shapes.get(name);
    if (!s) throw new Error(`no static shape known for value '${name}'`);
    return s;
  };
}
