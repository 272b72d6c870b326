// Tensor payload helpers: element sizes, typed views, and constructors.
import { DataType, type Tensor } from './ir.js';

/** Bits per element; 0 for strings (variable). */
export function elementBits(dt: DataType): number {
  switch (dt) {
    case DataType.UINT4:
    case DataType.INT4:
    case DataType.FLOAT4E2M1:
      return 4;
    case DataType.BOOL:
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
      return 8;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 16;
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 32;
    case DataType.DOUBLE:
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.COMPLEX64:
      return 64;
    case DataType.COMPLEX128:
      return 128;
    default:
      return 0;
  }
}

export function dataTypeName(dt: DataType): string {
  for (const [k, v] of Object.entries(DataType)) if (v === dt) return k.toLowerCase();
  return `type${dt}`;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes the raw payload of a tensor of this type and shape occupies (4-bit types pack two per byte). */
export function rawByteLength(dt: DataType, dims: readonly number[]): number {
  return Math.ceil((elementCount(dims) * elementBits(dt)) / 8);
}

export function rawBytes(t: Tensor): Uint8Array {
  if (t.data.kind !== 'raw') throw new Error(`tensor '${t.name}' holds strings, not numeric data`);
  return t.data.bytes;
}

function aligned<T>(bytes: Uint8Array, size: number, make: (b: ArrayBuffer, o: number, n: number) => T): T {
  if (bytes.byteOffset % size === 0) return make(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes); // not bytes.slice(): on a Node Buffer that is a view, not a copy
  return make(copy.buffer, 0, copy.byteLength / size);
}

/** A Float32Array over the tensor's data (a view when aligned, else a copy). FLOAT tensors only. */
export function floatData(t: Tensor): Float32Array {
  if (t.dataType === DataType.FLOAT) return aligned(rawBytes(t), 4, (b, o, n) => new Float32Array(b, o, n));
  if (t.dataType === DataType.DOUBLE) return Float32Array.from(aligned(rawBytes(t), 8, (b, o, n) => new Float64Array(b, o, n)));
  if (t.dataType === DataType.FLOAT16) return Float32Array.from(aligned(rawBytes(t), 2, (b, o, n) => new Uint16Array(b, o, n)), halfToFloat);
  throw new Error(`tensor '${t.name}' is ${dataTypeName(t.dataType)}, expected a float type`);
}

/** Integer data of an INT64/INT32/… tensor as bigints. */
export function bigintData(t: Tensor): bigint[] {
  const b = rawBytes(t);
  switch (t.dataType) {
    case DataType.INT64:
      return Array.from(aligned(b, 8, (buf, o, n) => new BigInt64Array(buf, o, n)));
    case DataType.UINT64:
      return Array.from(aligned(b, 8, (buf, o, n) => new BigUint64Array(buf, o, n)));
    case DataType.INT32:
      return Array.from(aligned(b, 4, (buf, o, n) => new Int32Array(buf, o, n)), BigInt);
    case DataType.UINT32:
      return Array.from(aligned(b, 4, (buf, o, n) => new Uint32Array(buf, o, n)), BigInt);
    case DataType.INT16:
      return Array.from(aligned(b, 2, (buf, o, n) => new Int16Array(buf, o, n)), BigInt);
    case DataType.UINT16:
      return Array.from(aligned(b, 2, (buf, o, n) => new Uint16Array(buf, o, n)), BigInt);
    case DataType.INT8:
      return Array.from(new Int8Array(b.buffer, b.byteOffset, b.byteLength), BigInt);
    case DataType.UINT8:
    case DataType.BOOL:
      return Array.from(b, BigInt);
    default:
      throw new Error(`tensor '${t.name}' is ${dataTypeName(t.dataType)}, expected an integer type`);
  }
}

/** Integer data as JS numbers, clamped to the safe range (INT64_MAX in Slice ends etc.). */
export function intData(t: Tensor): number[] {
  return bigintData(t).map(clampBigint);
}

export function clampBigint(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function floatTensor(name: string, dims: number[], values: Float32Array | number[]): Tensor {
  const arr = values instanceof Float32Array ? values : Float32Array.from(values);
  if (arr.length !== elementCount(dims)) throw new Error(`floatTensor '${name}': ${arr.length} values for shape [${dims}]`);
  return { name, dataType: DataType.FLOAT, dims: [...dims], data: { kind: 'raw', bytes: bytesOf(arr) } };
}

export function int64Tensor(name: string, dims: number[], values: ArrayLike<number | bigint>): Tensor {
  const arr = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  if (arr.length !== elementCount(dims)) throw new Error(`int64Tensor '${name}': ${arr.length} values for shape [${dims}]`);
  return { name, dataType: DataType.INT64, dims: [...dims], data: { kind: 'raw', bytes: bytesOf(arr) } };
}

export function int32Tensor(name: string, dims: number[], values: ArrayLike<number>): Tensor {
  const arr = Int32Array.from(values);
  return { name, dataType: DataType.INT32, dims: [...dims], data: { kind: 'raw', bytes: bytesOf(arr) } };
}

export function rawTensor(name: string, dataType: DataType, dims: number[], bytes: Uint8Array): Tensor {
  const want = rawByteLength(dataType, dims);
  if (bytes.byteLength !== want) throw new Error(`rawTensor '${name}': ${bytes.byteLength} bytes, expected ${want}`);
  return { name, dataType, dims: [...dims], data: { kind: 'raw', bytes } };
}

// IEEE 754 half precision conversions (round to nearest even).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1)) ? 1 : 0));
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
