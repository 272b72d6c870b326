// Running sessions and moving data in and out of ort.Tensor.
import * as ort from 'onnxruntime-node';

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;

/** Run a session; checks that every feed the model declares is present. */
export async function run(session: ort.InferenceSession, feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs> {
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length > 0) {
    throw new Error(`missing input(s) ${missing.join(', ')}; the model expects ${session.inputNames.join(', ')}`);
  }
  const out = outputNames === undefined ? await session.run(feeds) : await session.run(feeds, outputNames);
  return out as Outputs;
}

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid dimension ${d} in [${dims.join(', ')}]`);
    n *= d;
  }
  return n;
}

/**
 * Wrap typed data as an ort.Tensor with a checked shape (no copy). Float32Array → float32,
 * BigInt64Array → int64, Int32Array → int32, Float64Array → float64, Uint8Array → uint8
 * (or bool with type 'bool'), Int8Array → int8, Uint16Array → float16 bits (type 'float16')
 * or uint16. Plain arrays: numbers become float32, bigints int64.
 */
export function toOrtTensor(
  data: TensorData | readonly number[] | readonly bigint[],
  dims: readonly number[],
  type?: 'bool' | 'float16' | 'uint16',
): ort.Tensor {
  let typed: TensorData;
  if (Array.isArray(data)) {
    typed = data.length > 0 && typeof data[0] === 'bigint'
      ? BigInt64Array.from(data as bigint[])
      : Float32Array.from(data as number[]);
  } else {
    typed = data as TensorData;
  }
  const n = elementCount(dims);
  if (typed.length !== n) {
    throw new Error(`data has ${typed.length} elements but shape [${dims.join(', ')}] needs ${n}`);
  }
  const shape = [...dims];
  if (typed instanceof Float32Array) return new ort.Tensor('float32', typed, shape);
  if (typed instanceof Float64Array) return new ort.Tensor('float64', typed, shape);
  if (typed instanceof BigInt64Array) return new ort.Tensor('int64', typed, shape);
  if (typed instanceof Int32Array) return new ort.Tensor('int32', typed, shape);
  if (typed instanceof Int8Array) return new ort.Tensor('int8', typed, shape);
  if (typed instanceof Uint16Array) {
    return type === 'float16' ? new ort.Tensor('float16', typed, shape) : new ort.Tensor('uint16', typed, shape);
  }
  return type === 'bool' ? new ort.Tensor('bool', typed, shape) : new ort.Tensor('uint8', typed, shape);
}

/** int64 tensor from numbers or bigints (indices, shapes, labels). */
export function int64Tensor(values: readonly number[] | readonly bigint[] | BigInt64Array, dims: readonly number[] = [values.length]): ort.Tensor {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(values as readonly (number | bigint)[], (v) => BigInt(v));
  return toOrtTensor(data, dims);
}

/** A tensor's values as a Float32Array (copies unless it already is float32). */
export function toFloat32(t: ort.Tensor): Float32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float32Array.from(d, (v) => Number(v));
  if (Array.isArray(d)) throw new Error(`cannot read a ${t.type} tensor as numbers`);
  return Float32Array.from(d as ArrayLike<number>);
}
