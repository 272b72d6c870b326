// Test fixtures for the runtime tests: a hand-encoded ONNX model (MatMul -> Relu -> Softmax)
// built with a minimal protobuf writer, seeded random data, and comparison helpers.
// (Independent of app/engine/onnx/codec.ts on purpose.)

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const int = (field: number, v: number): number[] => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: ArrayLike<number>): number[] => [...key(field, 2), ...varint(b.length), ...Array.from(b)];
const str = (field: number, s: string): number[] => bytes(field, Buffer.from(s, 'utf8'));

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d)));
  const tensorType = [...int(1, 1), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}

function floatInitializer(name: string, dims: number[], data: Float32Array): number[] {
  return [
    ...dims.flatMap((d) => int(1, d)),
    ...int(2, 1),
    ...str(8, name),
    ...bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  ];
}

function node(op: string, inputs: string[], outputs: string[], intAttrs: Record<string, number> = {}): number[] {
  const attrs = Object.entries(intAttrs).flatMap(([n, v]) =>
    bytes(5, [...str(1, n), ...key(3, 0), ...varint(v < 0 ? 0 : v), ...int(20, 2)]),
  );
  return [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(4, op), ...attrs];
}

/** Seeded uniform random numbers in [-1, 1) (mulberry32). */
export function randomFloats(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * ONNX model (ir 8, opset 13): x[batch, k] -> MatMul(W[k, n], initializer) -> Relu -> h
 * -> Softmax(axis 1) -> p. Outputs h and p.
 */
export function matmulReluSoftmaxModel(batch: number, k: number, n: number, seed = 7): Uint8Array {
  const w = randomFloats(k * n, seed);
  for (let i = 0; i < w.length; i++) w[i]! *= 0.2;
  const graph = [
    ...bytes(1, node('MatMul', ['x', 'W'], ['mm'])),
    ...bytes(1, node('Relu', ['mm'], ['h'])),
    ...bytes(1, node('Softmax', ['h'], ['p'], { axis: 1 })),
    ...str(2, 'mm_relu_softmax'),
    ...bytes(5, floatInitializer('W', [k, n], w)),
    ...bytes(11, valueInfo('x', [batch, k])),
    ...bytes(12, valueInfo('h', [batch, n])),
    ...bytes(12, valueInfo('p', [batch, n])),
  ];
  const model = [
    ...int(1, 8),
    ...str(2, 'distillery-test'),
    ...bytes(7, graph),
    ...bytes(8, [...str(1, ''), ...int(2, 13)]),
  ];
  return new Uint8Array(model);
}

/** Largest |a - b|, and largest |a - b| / (1 + |b|). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; rel: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let abs = 0;
  let rel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= abs)) abs = d; // NaN-propagating
    const r = d / (1 + Math.abs(b[i]!));
    if (!(r <= rel)) rel = r;
  }
  return { abs, rel };
}

export const TEST_ADD_MODEL = '/usr/share/libonnx-testdata/data/node/test_add/model.onnx';
export const LOGSOFTMAX_MODEL = '/usr/share/libonnx-testdata/data/node/test_logsoftmax_axis_1/model.onnx';
