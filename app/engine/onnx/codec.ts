// ONNX protobuf ⇄ IR. Wire-level reading comes from protobufjs's Reader, writing from wire.ts;
// the message layout follows onnx.proto (field numbers below). Reading is defensive: an
// ONNX file is untrusted input, so nesting depth, element counts and declared sizes are
// checked before anything large is allocated.
import protobuf from 'protobufjs/minimal.js';
import Long from 'long';
import {
  DataType,
  type Attribute,
  type ExternalDataRef,
  type FunctionProto,
  type Graph,
  type KeyValue,
  type Model,
  type Node,
  type OpsetImport,
  type SparseTensor,
  type Tensor,
  type TensorAnnotation,
  type TypeInfo,
  type ValueInfo,
  type Dim,
} from './ir.js';
import { elementBits, elementCount, rawByteLength } from './tensor.js';
import { ChunkWriter } from './wire.js';
import { escapeControl } from '../safe-text.js';

protobuf.util.Long = Long;
protobuf.configure();

const { Reader } = protobuf;
type Reader = protobuf.Reader;
type Writer = ChunkWriter;

export class OnnxFormatError extends Error {
  constructor(message: string) {
    // Messages quote tensor and node names from the file: no control characters get through.
    super(escapeControl(message));
    this.name = 'OnnxFormatError';
  }
}

export interface DecodeLimits {
  /** Deepest nesting of graphs and types inside each other. */
  maxDepth: number;
  /** Most nodes + tensors + values over the whole model. */
  maxItems: number;
  /** Largest rank of a tensor. */
  maxRank: number;
}

export const defaultLimits: DecodeLimits = { maxDepth: 48, maxItems: 20_000_000, maxRank: 64 };

const utf8 = new TextDecoder('utf-8');

function toBigint(v: Long | number): bigint {
  if (typeof v === 'number') return BigInt(v);
  return (BigInt(v.high) << 32n) | BigInt(v.low >>> 0);
}

function toLongString(v: bigint): string {
  return BigInt.asIntN(64, v).toString();
}

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Walks one message's fields; the callback reads the value or returns false to skip it. */
class MessageReader {
  items = 0;
  constructor(readonly r: Reader, readonly limits: DecodeLimits) {}

  fields(end: number, depth: number, what: string, onField: (field: number, wire: number) => boolean): void {
    if (depth > this.limits.maxDepth) throw new OnnxFormatError(`${what} is nested more than ${this.limits.maxDepth} levels deep`);
    const r = this.r;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 0) throw new OnnxFormatError(`invalid field number 0 in ${what} at byte ${r.pos}`);
      // Groups (wire types 3/4) never occur in ONNX; skipping them recurses once per level.
      if (wire === 3 || wire === 4 || wire > 5) throw new OnnxFormatError(`invalid wire type ${wire} in ${what} at byte ${r.pos}`);
      if (!onField(field, wire)) r.skipType(wire);
    }
    if (r.pos !== end) throw new OnnxFormatError(`${what} overruns its declared length at byte ${r.pos}`);
  }

  /** Reads a length prefix and returns the end offset of the nested message. */
  sub(what: string): number {
    const len = this.r.uint32();
    const end = this.r.pos + len;
    if (end > this.r.len) throw new OnnxFormatError(`${what} declares ${len} bytes but only ${this.r.len - this.r.pos} remain (file truncated?)`);
    return end;
  }

  count(what: string): void {
    if (++this.items > this.limits.maxItems) throw new OnnxFormatError(`too many ${what} entries (limit ${this.limits.maxItems})`);
  }

  str(): string {
    return utf8.decode(this.bytes());
  }

  bytes(): Uint8Array {
    return this.r.bytes();
  }

  /** A varint as a signed 64-bit integer (read directly: protobufjs's Long path is slow for millions of values). */
  int64(): bigint {
    const r = this.r;
    const buf = r.buf;
    const len = r.len;
    let pos = r.pos;
    let lo = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= len) throw new OnnxFormatError(`a varint runs past the end of the data at byte ${pos} (file truncated?)`);
      const b = buf[pos++]!;
      lo += (b & 127) * mul;
      if (b < 128) {
        r.pos = pos;
        return BigInt(lo);
      }
      mul *= 128;
    }
    let v = BigInt(lo);
    let shift = 49n;
    for (let i = 7; i < 10; i++) {
      if (pos >= len) throw new OnnxFormatError(`a varint runs past the end of the data at byte ${pos} (file truncated?)`);
      const b = buf[pos++]!;
      v |= BigInt(b & 127) << shift;
      if (b < 128) {
        r.pos = pos;
        return BigInt.asIntN(64, v);
      }
      shift += 7n;
    }
    throw new OnnxFormatError(`a varint is longer than 10 bytes at byte ${pos}`);
  }

  /**
   * A varint that the IR keeps as a JS number (versions, dims): refused unless it is a safe
   * integer, so it cannot silently change on the way back out (2^63 - 1 would be written as -2^63).
   */
  safeInt(what: string): number {
    const at = this.r.pos;
    const v = this.int64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new OnnxFormatError(`${what} ${v} at byte ${at} is out of range`);
    }
    return Number(v);
  }

  /** A repeated scalar field that may arrive packed (LEN) or one value per tag. */
  repeated<T>(wire: number, out: { push(v: T): unknown }, readOne: () => T, what: string): void {
    if (wire === WIRE_LEN) {
      const end = this.sub(what);
      while (this.r.pos < end) out.push(readOne());
      if (this.r.pos !== end) throw new OnnxFormatError(`${what}: packed values overrun their length`);
    } else {
      out.push(readOne());
    }
  }
}

function keyValue(m: MessageReader, what: string): KeyValue {
  const end = m.sub(what);
  const kv: KeyValue = { key: '', value: '' };
  m.fields(end, 0, what, (f, w) => {
    if (f === 1 && w === WIRE_LEN) kv.key = m.str();
    else if (f === 2 && w === WIRE_LEN) kv.value = m.str();
    else return false;
    return true;
  });
  return kv;
}

function opsetImport(m: MessageReader): OpsetImport {
  const end = m.sub('opset_import');
  const o: OpsetImport = { domain: '', version: 0 };
  m.fields(end, 0, 'opset_import', (f, w) => {
    if (f === 1 && w === WIRE_LEN) o.domain = m.str();
    else if (f === 2 && w === WIRE_VARINT) o.version = m.safeInt('opset version');
    else return false;
    return true;
  });
  return o;
}

function readShape(m: MessageReader, depth: number): Dim[] {
  const end = m.sub('shape');
  const dims: Dim[] = [];
  m.fields(end, depth, 'shape', (f, w) => {
    if (f !== 1 || w !== WIRE_LEN) return false;
    if (dims.length >= m.limits.maxRank) throw new OnnxFormatError(`a shape has more than ${m.limits.maxRank} dimensions`);
    const dEnd = m.sub('dim');
    let dim: Dim = null;
    m.fields(dEnd, depth, 'dim', (df, dw) => {
      if (df === 1 && dw === WIRE_VARINT) dim = m.safeInt('dimension');
      else if (df === 2 && dw === WIRE_LEN) dim = m.str();
      else return false;
      return true;
    });
    dims.push(dim);
    return true;
  });
  return dims;
}

function readTensorType(m: MessageReader, depth: number, kind: 'tensor' | 'sparse_tensor'): TypeInfo {
  const end = m.sub('tensor_type');
  let elemType: DataType = DataType.UNDEFINED;
  let shape: Dim[] | null = null;
  m.fields(end, depth, 'tensor_type', (f, w) => {
    if (f === 1 && w === WIRE_VARINT) elemType = m.r.int32() as DataType;
    else if (f === 2 && w === WIRE_LEN) shape = readShape(m, depth + 1);
    else return false;
    return true;
  });
  return { kind, elemType, shape };
}

function readNestedType(m: MessageReader, depth: number, field: number): TypeInfo | null {
  const end = m.sub('type');
  let elem: TypeInfo | null = null;
  m.fields(end, depth, 'type', (f, w) => {
    if (f === field && w === WIRE_LEN) elem = readType(m, depth + 1);
    else return false;
    return true;
  });
  return elem;
}

function readType(m: MessageReader, depth: number): TypeInfo {
  const end = m.sub('type');
  let t: TypeInfo | null = null;
  let denotation: string | undefined;
  m.fields(end, depth, 'type', (f, w) => {
    if (w !== WIRE_LEN) return false;
    if (f === 1) t = readTensorType(m, depth + 1, 'tensor');
    else if (f === 8) t = readTensorType(m, depth + 1, 'sparse_tensor');
    else if (f === 4) t = { kind: 'sequence', elem: readNestedType(m, depth + 1, 1) };
    else if (f === 9) t = { kind: 'optional', elem: readNestedType(m, depth + 1, 1) };
    else if (f === 5) {
      const mEnd = m.sub('map_type');
      const map: TypeInfo = { kind: 'map', keyType: DataType.UNDEFINED, value: null };
      m.fields(mEnd, depth + 1, 'map_type', (mf, mw) => {
        if (mf === 1 && mw === WIRE_VARINT) map.keyType = m.r.int32() as DataType;
        else if (mf === 2 && mw === WIRE_LEN) map.value = readType(m, depth + 2);
        else return false;
        return true;
      });
      t = map;
    } else if (f === 6) denotation = m.str();
    else return false;
    return true;
  });
  const result: TypeInfo = t ?? { kind: 'tensor', elemType: DataType.UNDEFINED, shape: null };
  if (denotation !== undefined) result.denotation = denotation;
  return result;
}

function readValueInfo(m: MessageReader, depth: number): ValueInfo {
  const end = m.sub('value_info');
  m.count('value_info');
  const v: ValueInfo = { name: '', type: null };
  m.fields(end, depth, 'value_info', (f, w) => {
    if (w !== WIRE_LEN) return false;
    if (f === 1) v.name = m.str();
    else if (f === 2) v.type = readType(m, depth + 1);
    else if (f === 3) v.docString = m.str();
    else return false;
    return true;
  });
  return v;
}

/** Converts the typed repeated fields of a TensorProto into little-endian raw bytes. */
function typedToRaw(t: { name: string; dataType: DataType; dims: number[] }, typed: TypedFields): Uint8Array {
  const dt = t.dataType;
  const n = elementCount(t.dims);
  const need = (arr: { length: number }, per: number, field: string) => {
    if (arr.length !== n * per) {
      throw new OnnxFormatError(`tensor '${t.name}': ${field} has ${arr.length} values but shape [${t.dims}] needs ${n * per}`);
    }
  };
  // Check the value count against the shape before allocating: a tiny file may declare
  // dims [1e9, 1e9] with a single value.
  switch (dt) {
    case DataType.FLOAT: need(typed.floats, 1, 'float_data'); break;
    case DataType.COMPLEX64: need(typed.floats, 2, 'float_data'); break;
    case DataType.DOUBLE: need(typed.doubles, 1, 'double_data'); break;
    case DataType.COMPLEX128: need(typed.doubles, 2, 'double_data'); break;
    case DataType.INT64: need(typed.int64s, 1, 'int64_data'); break;
    case DataType.UINT64:
    case DataType.UINT32: need(typed.uint64s, 1, 'uint64_data'); break;
    case DataType.INT4:
    case DataType.UINT4:
    case DataType.FLOAT4E2M1:
      if (typed.int32s.length !== Math.ceil(n / 2)) {
        throw new OnnxFormatError(`tensor '${t.name}': int32_data has ${typed.int32s.length} values, expected ${Math.ceil(n / 2)}`);
      }
      break;
    default: {
      const bits = elementBits(dt);
      if (bits === 0 || bits > 32) throw new OnnxFormatError(`tensor '${t.name}': data type ${dt} cannot be stored in int32_data`);
      need(typed.int32s, 1, 'int32_data');
    }
  }
  const out = new Uint8Array(rawByteLength(dt, t.dims));
  const view = new DataView(out.buffer);
  switch (dt) {
    case DataType.FLOAT:
    case DataType.COMPLEX64: {
      const per = dt === DataType.COMPLEX64 ? 2 : 1;
      need(typed.floats, per, 'float_data');
      typed.floats.forEach((v, i) => view.setFloat32(i * 4, v, true));
      break;
    }
    case DataType.DOUBLE:
    case DataType.COMPLEX128: {
      const per = dt === DataType.COMPLEX128 ? 2 : 1;
      need(typed.doubles, per, 'double_data');
      typed.doubles.forEach((v, i) => view.setFloat64(i * 8, v, true));
      break;
    }
    case DataType.INT64:
      need(typed.int64s, 1, 'int64_data');
      for (let i = 0; i < n; i++) view.setBigInt64(i * 8, typed.int64s.data[i]!, true);
      break;
    case DataType.UINT64:
      need(typed.uint64s, 1, 'uint64_data');
      for (let i = 0; i < n; i++) view.setBigInt64(i * 8, typed.uint64s.data[i]!, true);
      break;
    case DataType.UINT32:
      need(typed.uint64s, 1, 'uint64_data');
      for (let i = 0; i < n; i++) view.setUint32(i * 4, Number(BigInt.asUintN(32, typed.uint64s.data[i]!)), true);
      break;
    case DataType.INT4:
    case DataType.UINT4:
    case DataType.FLOAT4E2M1: {
      // Two 4-bit values per int32_data entry, in its low byte.
      const bytes = Math.ceil(n / 2);
      if (typed.int32s.length !== bytes) throw new OnnxFormatError(`tensor '${t.name}': int32_data has ${typed.int32s.length} values, expected ${bytes}`);
      typed.int32s.forEach((v, i) => (out[i] = v & 0xff));
      break;
    }
    default: {
      const bits = elementBits(dt);
      if (bits === 0 || bits > 32) throw new OnnxFormatError(`tensor '${t.name}': data type ${dt} cannot be stored in int32_data`);
      need(typed.int32s, 1, 'int32_data');
      const bytesPer = bits / 8;
      typed.int32s.forEach((v, i) => {
        if (bytesPer === 1) out[i] = v & 0xff;
        else if (bytesPer === 2) view.setUint16(i * 2, v & 0xffff, true);
        else view.setInt32(i * 4, v, true);
      });
    }
  }
  return out;
}

/**
 * A growable list of 64-bit integers in a BigInt64Array: int64_data/uint64_data can hold millions
 * of values, and a bigint[] would cost ~40 bytes of heap per value (one byte in the file).
 */
class BigList {
  data = new BigInt64Array(16);
  length = 0;
  push(v: bigint): void {
    if (this.length === this.data.length) {
      const bigger = new BigInt64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = BigInt.asIntN(64, v);
  }
}

interface TypedFields {
  floats: number[];
  doubles: number[];
  int32s: number[];
  int64s: BigList;
  uint64s: BigList;
}

function readTensorBody(m: MessageReader, end: number, depth: number): Tensor {
  m.count('tensor');
  const t: Tensor = { name: '', dataType: DataType.UNDEFINED, dims: [], data: { kind: 'raw', bytes: new Uint8Array(0) } };
  const typed: TypedFields = { floats: [], doubles: [], int32s: [], int64s: new BigList(), uint64s: new BigList() };
  const strings: Uint8Array[] = [];
  let raw: Uint8Array | undefined;
  let hasTyped = false;
  let location = 0;
  const external: KeyValue[] = [];
  m.fields(end, depth, 'tensor', (f, w) => {
    switch (f) {
      case 1:
        m.repeated(w, t.dims, () => m.safeInt('tensor dimension'), 'dims');
        if (t.dims.length > m.limits.maxRank) throw new OnnxFormatError(`a tensor has more than ${m.limits.maxRank} dimensions`);
        return true;
      case 2:
        t.dataType = m.r.int32() as DataType;
        return true;
      case 4:
        hasTyped = true;
        m.repeated(w, typed.floats, () => m.r.float(), 'float_data');
        return true;
      case 5:
        hasTyped = true;
        m.repeated(w, typed.int32s, () => m.r.int32(), 'int32_data');
        return true;
      case 6:
        if (w !== WIRE_LEN) return false;
        strings.push(m.bytes());
        return true;
      case 7:
        hasTyped = true;
        m.repeated(w, typed.int64s, () => m.int64(), 'int64_data');
        return true;
      case 8:
        t.name = m.str();
        return true;
      case 9:
        raw = m.bytes();
        return true;
      case 10:
        hasTyped = true;
        m.repeated(w, typed.doubles, () => m.r.double(), 'double_data');
        return true;
      case 11:
        hasTyped = true;
        m.repeated(w, typed.uint64s, () => toBigint(m.r.uint64() as unknown as Long), 'uint64_data');
        return true;
      case 12:
        t.docString = m.str();
        return true;
      case 13:
        external.push(keyValue(m, 'external_data'));
        return true;
      case 14:
        location = m.r.int32();
        return true;
      default:
        return false;
    }
  });
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxFormatError(`tensor '${t.name}' has an invalid dimension ${d}`);
  }
  if (t.dataType === DataType.STRING) {
    if (strings.length !== elementCount(t.dims)) {
      throw new OnnxFormatError(`tensor '${t.name}': ${strings.length} strings for shape [${t.dims}]`);
    }
    t.data = { kind: 'strings', values: strings };
    return t;
  }
  if (location === 1) {
    t.external = parseExternal(t.name, external);
    const want = rawByteLength(t.dataType, t.dims);
    if (t.external.length < 0) t.external.length = want;
    if (t.external.length !== want) {
      throw new OnnxFormatError(`tensor '${t.name}': external data length ${t.external.length} does not match shape [${t.dims}] (${want} bytes)`);
    }
    return t;
  }
  const want = rawByteLength(t.dataType, t.dims);
  if (raw !== undefined) {
    if (raw.byteLength !== want) {
      throw new OnnxFormatError(`tensor '${t.name}': raw_data has ${raw.byteLength} bytes but ${typeName(t.dataType)}[${t.dims}] needs ${want}`);
    }
    t.data = { kind: 'raw', bytes: raw };
  } else if (hasTyped || want === 0) {
    t.data = { kind: 'raw', bytes: typedToRaw(t, typed) };
  } else if (elementCount(t.dims) > 0) {
    throw new OnnxFormatError(`tensor '${t.name}' has shape [${t.dims}] but no data`);
  }
  return t;
}

function typeName(dt: DataType): string {
  for (const [k, v] of Object.entries(DataType)) if (v === dt) return k.toLowerCase();
  return `type ${dt}`;
}

function parseExternal(name: string, entries: KeyValue[]): ExternalDataRef {
  const ref: ExternalDataRef = { location: '', offset: 0, length: -1 };
  for (const { key, value } of entries) {
    if (key === 'location') ref.location = value;
    else if (key === 'offset' || key === 'length') {
      const v = Number(value);
      if (!Number.isSafeInteger(v) || v < 0) throw new OnnxFormatError(`tensor '${name}': external data ${key} '${value}' is not a valid size`);
      ref[key] = v;
    } else if (key === 'checksum') ref.checksum = value;
  }
  if (!ref.location) throw new OnnxFormatError(`tensor '${name}' says its data is external but names no location`);
  return ref;
}

function readTensor(m: MessageReader, depth: number): Tensor {
  const end = m.sub('tensor');
  return readTensorBody(m, end, depth);
}

function readSparse(m: MessageReader, depth: number): SparseTensor {
  const end = m.sub('sparse_tensor');
  let values: Tensor | undefined;
  let indices: Tensor | undefined;
  const dims: number[] = [];
  m.fields(end, depth, 'sparse_tensor', (f, w) => {
    if (f === 1 && w === WIRE_LEN) values = readTensor(m, depth + 1);
    else if (f === 2 && w === WIRE_LEN) indices = readTensor(m, depth + 1);
    else if (f === 3) m.repeated(w, dims, () => m.safeInt('sparse tensor dimension'), 'dims');
    else return false;
    return true;
  });
  const empty = (name: string): Tensor => ({ name, dataType: DataType.FLOAT, dims: [0], data: { kind: 'raw', bytes: new Uint8Array(0) } });
  return { values: values ?? empty(''), indices: indices ?? { ...empty(''), dataType: DataType.INT64 }, dims };
}

const attrTypeCodes: Record<Attribute['type'], number> = {
  float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8, tensors: 9, graphs: 10,
  sparse_tensor: 11, sparse_tensors: 12, type_proto: 13, type_protos: 14, ref: 0,
};

function readAttribute(m: MessageReader, depth: number): Attribute {
  const end = m.sub('attribute');
  let name = '';
  let type = 0;
  let refAttrName: string | undefined;
  let docString: string | undefined;
  let f32: number | undefined;
  let i64: bigint | undefined;
  let s: Uint8Array | undefined;
  let t: Tensor | undefined;
  let g: Graph | undefined;
  let sp: SparseTensor | undefined;
  let tp: TypeInfo | undefined;
  const floats: number[] = [];
  const ints: bigint[] = [];
  const strings: Uint8Array[] = [];
  const tensors: Tensor[] = [];
  const graphs: Graph[] = [];
  const sparses: SparseTensor[] = [];
  const types: TypeInfo[] = [];
  m.fields(end, depth, 'attribute', (f, w) => {
    switch (f) {
      case 1: name = m.str(); return true;
      case 21: refAttrName = m.str(); return true;
      case 13: docString = m.str(); return true;
      case 20: type = m.r.int32(); return true;
      case 2: f32 = m.r.float(); return true;
      case 3: i64 = m.int64(); return true;
      case 4: s = m.bytes(); return true;
      case 5: t = readTensor(m, depth + 1); return true;
      case 6: g = readGraph(m, depth + 1); return true;
      case 22: sp = readSparse(m, depth + 1); return true;
      case 14: tp = readType(m, depth + 1); return true;
      case 7: m.repeated(w, floats, () => m.r.float(), 'floats'); return true;
      case 8: m.repeated(w, ints, () => m.int64(), 'ints'); return true;
      case 9: strings.push(m.bytes()); return true;
      case 10: tensors.push(readTensor(m, depth + 1)); return true;
      case 11: graphs.push(readGraph(m, depth + 1)); return true;
      case 23: sparses.push(readSparse(m, depth + 1)); return true;
      case 15: types.push(readType(m, depth + 1)); return true;
      default: return false;
    }
  });
  const base = docString !== undefined ? { name, docString } : { name };
  if (refAttrName !== undefined) return { ...base, type: 'ref', refAttrName, refType: type };
  // Old writers (IR < 4) omit `type`; infer it from whichever field is present.
  if (type === 0) {
    type = f32 !== undefined ? 1 : i64 !== undefined ? 2 : s !== undefined ? 3 : t ? 4 : g ? 5 : floats.length ? 6 : ints.length ? 7 : strings.length ? 8 : tensors.length ? 9 : graphs.length ? 10 : 0;
  }
  switch (type) {
    case 1: return { ...base, type: 'float', value: f32 ?? 0 };
    case 2: return { ...base, type: 'int', value: i64 ?? 0n };
    case 3: return { ...base, type: 'string', value: s ?? new Uint8Array(0) };
    case 4: if (!t) break; return { ...base, type: 'tensor', value: t };
    case 5: if (!g) break; return { ...base, type: 'graph', value: g };
    case 6: return { ...base, type: 'floats', value: floats };
    case 7: return { ...base, type: 'ints', value: ints };
    case 8: return { ...base, type: 'strings', value: strings };
    case 9: return { ...base, type: 'tensors', value: tensors };
    case 10: return { ...base, type: 'graphs', value: graphs };
    case 11: if (!sp) break; return { ...base, type: 'sparse_tensor', value: sp };
    case 12: return { ...base, type: 'sparse_tensors', value: sparses };
    case 13: if (!tp) break; return { ...base, type: 'type_proto', value: tp };
    case 14: return { ...base, type: 'type_protos', value: types };
  }
  throw new OnnxFormatError(`attribute '${name}' has an unknown or empty type (${type})`);
}

function readNode(m: MessageReader, depth: number): Node {
  const end = m.sub('node');
  m.count('node');
  const n: Node = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  m.fields(end, depth, 'node', (f, w) => {
    if (w !== WIRE_LEN) return false;
    switch (f) {
      case 1: n.inputs.push(m.str()); return true;
      case 2: n.outputs.push(m.str()); return true;
      case 3: n.name = m.str(); return true;
      case 4: n.opType = m.str(); return true;
      case 7: n.domain = m.str(); return true;
      case 8: n.overload = m.str(); return true;
      case 5: n.attributes.push(readAttribute(m, depth + 1)); return true;
      case 6: n.docString = m.str(); return true;
      case 9: (n.metadataProps ??= []).push(keyValue(m, 'metadata_props')); return true;
      default: return false;
    }
  });
  if (!n.opType) throw new OnnxFormatError(`node '${n.name}' has no op_type`);
  return n;
}

function readGraph(m: MessageReader, depth: number): Graph {
  const end = m.sub('graph');
  const g: Graph = {
    name: '', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], quantizationAnnotation: [],
  };
  m.fields(end, depth, 'graph', (f, w) => {
    if (w !== WIRE_LEN) return false;
    switch (f) {
      case 1: g.nodes.push(readNode(m, depth + 1)); return true;
      case 2: g.name = m.str(); return true;
      case 5: g.initializers.push(readTensor(m, depth + 1)); return true;
      case 15: g.sparseInitializers.push(readSparse(m, depth + 1)); return true;
      case 10: g.docString = m.str(); return true;
      case 11: g.inputs.push(readValueInfo(m, depth + 1)); return true;
      case 12: g.outputs.push(readValueInfo(m, depth + 1)); return true;
      case 13: g.valueInfo.push(readValueInfo(m, depth + 1)); return true;
      case 14: {
        const aEnd = m.sub('quantization_annotation');
        const a: TensorAnnotation = { tensorName: '', quantParameterTensorNames: [] };
        m.fields(aEnd, depth + 1, 'quantization_annotation', (af, aw) => {
          if (af === 1 && aw === WIRE_LEN) a.tensorName = m.str();
          else if (af === 2 && aw === WIRE_LEN) a.quantParameterTensorNames.push(keyValue(m, 'quant_parameter_tensor_names'));
          else return false;
          return true;
        });
        g.quantizationAnnotation.push(a);
        return true;
      }
      case 16: (g.metadataProps ??= []).push(keyValue(m, 'metadata_props')); return true;
      default: return false;
    }
  });
  return g;
}

function readFunction(m: MessageReader, depth: number): FunctionProto {
  const end = m.sub('function');
  const fn: FunctionProto = { name: '', domain: '', inputs: [], outputs: [], attributes: [], attributeProtos: [], nodes: [], opsetImports: [], valueInfo: [] };
  m.fields(end, depth, 'function', (f, w) => {
    if (w !== WIRE_LEN) return false;
    switch (f) {
      case 1: fn.name = m.str(); return true;
      case 4: fn.inputs.push(m.str()); return true;
      case 5: fn.outputs.push(m.str()); return true;
      case 6: fn.attributes.push(m.str()); return true;
      case 11: fn.attributeProtos.push(readAttribute(m, depth + 1)); return true;
      case 7: fn.nodes.push(readNode(m, depth + 1)); return true;
      case 8: fn.docString = m.str(); return true;
      case 9: fn.opsetImports.push(opsetImport(m)); return true;
      case 10: fn.domain = m.str(); return true;
      case 13: fn.overload = m.str(); return true;
      case 12: fn.valueInfo.push(readValueInfo(m, depth + 1)); return true;
      case 14: (fn.metadataProps ??= []).push(keyValue(m, 'metadata_props')); return true;
      default: return false;
    }
  });
  return fn;
}

/**
 * A plain Uint8Array view of the input (no copy). Tensor data in the IR are views into it; a
 * Buffer's `slice()` returns a view rather than a copy, so the IR never hands out Buffers.
 */
function plainView(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a ModelProto. Tensors with external data keep an `external` reference and empty data. */
export function decodeModel(bytes: Uint8Array, limits: DecodeLimits = defaultLimits): Model {
  if (bytes.byteLength === 0) throw new OnnxFormatError('the file is empty');
  const m = new MessageReader(Reader.create(plainView(bytes)), limits);
  const model: Model = {
    irVersion: 0, opsetImports: [], producerName: '', producerVersion: '', domain: '', modelVersion: 0n, docString: '',
    graph: { name: '', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [], quantizationAnnotation: [] },
    metadataProps: [], functions: [], trainingInfo: [],
  };
  let sawGraph = false;
  try {
    m.fields(bytes.byteLength, 0, 'model', (f, w) => {
      switch (f) {
        case 1: if (w !== WIRE_VARINT) return false; model.irVersion = m.safeInt('IR version'); return true;
        case 8: if (w !== WIRE_LEN) return false; model.opsetImports.push(opsetImport(m)); return true;
        case 2: if (w !== WIRE_LEN) return false; model.producerName = m.str(); return true;
        case 3: if (w !== WIRE_LEN) return false; model.producerVersion = m.str(); return true;
        case 4: if (w !== WIRE_LEN) return false; model.domain = m.str(); return true;
        case 5: if (w !== WIRE_VARINT) return false; model.modelVersion = m.int64(); return true;
        case 6: if (w !== WIRE_LEN) return false; model.docString = m.str(); return true;
        case 7: if (w !== WIRE_LEN) return false; model.graph = readGraph(m, 1); sawGraph = true; return true;
        case 14: if (w !== WIRE_LEN) return false; model.metadataProps.push(keyValue(m, 'metadata_props')); return true;
        case 20: if (w !== WIRE_LEN) return false; model.trainingInfo.push(m.bytes()); return true;
        case 25: if (w !== WIRE_LEN) return false; model.functions.push(readFunction(m, 1)); return true;
        default: return false;
      }
    });
  } catch (err) {
    if (err instanceof OnnxFormatError) throw err;
    // protobufjs throws RangeError / Error("index out of range ...") on truncated or garbled input.
    const msg = err instanceof Error ? err.message : String(err);
    throw new OnnxFormatError(`not a valid ONNX protobuf (${msg}); the file may be truncated or not an ONNX model`);
  }
  if (!sawGraph || model.irVersion <= 0) {
    throw new OnnxFormatError('not an ONNX model: it has no graph or no IR version (is this really a .onnx file?)');
  }
  return model;
}

/** Decodes a standalone TensorProto (the .pb files of ONNX's test suite). */
export function decodeTensor(bytes: Uint8Array, limits: DecodeLimits = defaultLimits): Tensor {
  const m = new MessageReader(Reader.create(plainView(bytes)), limits);
  try {
    return readTensorBody(m, bytes.byteLength, 0);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw err;
    throw new OnnxFormatError(`not a valid TensorProto (${err instanceof Error ? err.message : String(err)})`);
  }
}

// ─── Writing ────────────────────────────────────────────────────────────────────────────

function tag(w: Writer, field: number, wire: number): Writer {
  return w.uint32((field << 3) | wire);
}

function writeString(w: Writer, field: number, value: string | undefined): void {
  if (value) tag(w, field, WIRE_LEN).string(value);
}

function writeKeyValues(w: Writer, field: number, kvs: KeyValue[] | undefined): void {
  for (const kv of kvs ?? []) {
    tag(w, field, WIRE_LEN).fork();
    writeString(w, 1, kv.key);
    writeString(w, 2, kv.value);
    w.ldelim();
  }
}

function writeShape(w: Writer, dims: Dim[]): void {
  for (const d of dims) {
    tag(w, 1, WIRE_LEN).fork();
    if (typeof d === 'number') tag(w, 1, WIRE_VARINT).int64(d);
    else if (typeof d === 'string') writeString(w, 2, d);
    w.ldelim();
  }
}

function writeType(w: Writer, t: TypeInfo): void {
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor':
      tag(w, t.kind === 'tensor' ? 1 : 8, WIRE_LEN).fork();
      if (t.elemType) tag(w, 1, WIRE_VARINT).int32(t.elemType);
      if (t.shape) {
        tag(w, 2, WIRE_LEN).fork();
        writeShape(w, t.shape);
        w.ldelim();
      }
      w.ldelim();
      break;
    case 'sequence':
    case 'optional':
      tag(w, t.kind === 'sequence' ? 4 : 9, WIRE_LEN).fork();
      if (t.elem) {
        tag(w, 1, WIRE_LEN).fork();
        writeType(w, t.elem);
        w.ldelim();
      }
      w.ldelim();
      break;
    case 'map':
      tag(w, 5, WIRE_LEN).fork();
      tag(w, 1, WIRE_VARINT).int32(t.keyType);
      if (t.value) {
        tag(w, 2, WIRE_LEN).fork();
        writeType(w, t.value);
        w.ldelim();
      }
      w.ldelim();
      break;
  }
  if (t.denotation) writeString(w, 6, t.denotation);
}

function writeValueInfo(w: Writer, field: number, v: ValueInfo): void {
  tag(w, field, WIRE_LEN).fork();
  writeString(w, 1, v.name);
  if (v.type) {
    tag(w, 2, WIRE_LEN).fork();
    writeType(w, v.type);
    w.ldelim();
  }
  writeString(w, 3, v.docString);
  w.ldelim();
}

/** Decides, per tensor, whether its data goes into the protobuf or to an external file. */
export type ExternalPlacer = (t: Tensor) => ExternalDataRef | null;

function writeTensor(w: Writer, field: number, t: Tensor, place?: ExternalPlacer): void {
  tag(w, field, WIRE_LEN).fork();
  for (const d of t.dims) tag(w, 1, WIRE_VARINT).int64(d);
  if (t.dataType) tag(w, 2, WIRE_VARINT).int32(t.dataType);
  writeString(w, 8, t.name);
  writeString(w, 12, t.docString);
  if (t.data.kind === 'strings') {
    for (const s of t.data.values) tag(w, 6, WIRE_LEN).bytes(s);
  } else {
    const ext = place?.(t) ?? null;
    if (ext) {
      writeKeyValues(w, 13, [
        { key: 'location', value: ext.location },
        { key: 'offset', value: String(ext.offset) },
        { key: 'length', value: String(ext.length) },
        ...(ext.checksum ? [{ key: 'checksum', value: ext.checksum }] : []),
      ]);
      tag(w, 14, WIRE_VARINT).int32(1);
    } else if (t.data.bytes.byteLength > 0 || elementCount(t.dims) > 0) {
      tag(w, 9, WIRE_LEN).bytes(t.data.bytes);
    }
  }
  w.ldelim();
}

function writeSparse(w: Writer, field: number, s: SparseTensor, place?: ExternalPlacer): void {
  tag(w, field, WIRE_LEN).fork();
  writeTensor(w, 1, s.values, place);
  writeTensor(w, 2, s.indices, place);
  for (const d of s.dims) tag(w, 3, WIRE_VARINT).int64(d);
  w.ldelim();
}

function writeAttribute(w: Writer, field: number, a: Attribute, place?: ExternalPlacer): void {
  tag(w, field, WIRE_LEN).fork();
  writeString(w, 1, a.name);
  writeString(w, 13, a.docString);
  if (a.type === 'ref') {
    writeString(w, 21, a.refAttrName);
    if (a.refType) tag(w, 20, WIRE_VARINT).int32(a.refType);
    w.ldelim();
    return;
  }
  tag(w, 20, WIRE_VARINT).int32(attrTypeCodes[a.type]);
  switch (a.type) {
    case 'float': tag(w, 2, WIRE_I32).float(a.value); break;
    case 'int': tag(w, 3, WIRE_VARINT).int64(toLongString(a.value)); break;
    case 'string': tag(w, 4, WIRE_LEN).bytes(a.value); break;
    case 'tensor': writeTensor(w, 5, a.value, place); break;
    case 'graph': writeGraph(w, 6, a.value, place); break;
    case 'sparse_tensor': writeSparse(w, 22, a.value, place); break;
    case 'type_proto': tag(w, 14, WIRE_LEN).fork(); writeType(w, a.value); w.ldelim(); break;
    case 'floats': for (const v of a.value) tag(w, 7, WIRE_I32).float(v); break;
    case 'ints': for (const v of a.value) tag(w, 8, WIRE_VARINT).int64(toLongString(v)); break;
    case 'strings': for (const v of a.value) tag(w, 9, WIRE_LEN).bytes(v); break;
    case 'tensors': for (const v of a.value) writeTensor(w, 10, v, place); break;
    case 'graphs': for (const v of a.value) writeGraph(w, 11, v, place); break;
    case 'sparse_tensors': for (const v of a.value) writeSparse(w, 23, v, place); break;
    case 'type_protos': for (const v of a.value) { tag(w, 15, WIRE_LEN).fork(); writeType(w, v); w.ldelim(); } break;
  }
  w.ldelim();
}

function writeNode(w: Writer, field: number, n: Node, place?: ExternalPlacer): void {
  tag(w, field, WIRE_LEN).fork();
  for (const i of n.inputs) tag(w, 1, WIRE_LEN).string(i);
  for (const o of n.outputs) tag(w, 2, WIRE_LEN).string(o);
  writeString(w, 3, n.name);
  writeString(w, 4, n.opType);
  writeString(w, 7, n.domain);
  writeString(w, 8, n.overload);
  for (const a of n.attributes) writeAttribute(w, 5, a, place);
  writeString(w, 6, n.docString);
  writeKeyValues(w, 9, n.metadataProps);
  w.ldelim();
}

function writeGraph(w: Writer, field: number, g: Graph, place?: ExternalPlacer): void {
  tag(w, field, WIRE_LEN).fork();
  for (const n of g.nodes) writeNode(w, 1, n, place);
  writeString(w, 2, g.name);
  for (const t of g.initializers) writeTensor(w, 5, t, place);
  for (const s of g.sparseInitializers) writeSparse(w, 15, s, place);
  writeString(w, 10, g.docString);
  for (const v of g.inputs) writeValueInfo(w, 11, v);
  for (const v of g.outputs) writeValueInfo(w, 12, v);
  for (const v of g.valueInfo) writeValueInfo(w, 13, v);
  for (const a of g.quantizationAnnotation) {
    tag(w, 14, WIRE_LEN).fork();
    writeString(w, 1, a.tensorName);
    writeKeyValues(w, 2, a.quantParameterTensorNames);
    w.ldelim();
  }
  writeKeyValues(w, 16, g.metadataProps);
  w.ldelim();
}

function writeFunction(w: Writer, field: number, fn: FunctionProto, place?: ExternalPlacer): void {
  tag(w, field, WIRE_LEN).fork();
  writeString(w, 1, fn.name);
  for (const i of fn.inputs) tag(w, 4, WIRE_LEN).string(i);
  for (const o of fn.outputs) tag(w, 5, WIRE_LEN).string(o);
  for (const a of fn.attributes) tag(w, 6, WIRE_LEN).string(a);
  for (const a of fn.attributeProtos) writeAttribute(w, 11, a, place);
  for (const n of fn.nodes) writeNode(w, 7, n, place);
  writeString(w, 8, fn.docString);
  for (const o of fn.opsetImports) writeOpset(w, 9, o);
  writeString(w, 10, fn.domain);
  writeString(w, 13, fn.overload);
  for (const v of fn.valueInfo) writeValueInfo(w, 12, v);
  writeKeyValues(w, 14, fn.metadataProps);
  w.ldelim();
}

function writeOpset(w: Writer, field: number, o: OpsetImport): void {
  tag(w, field, WIRE_LEN).fork();
  writeString(w, 1, o.domain);
  tag(w, 2, WIRE_VARINT).int64(o.version);
  w.ldelim();
}

/** Encodes a model. With `place`, chosen tensors are written as external-data references. */
export function encodeModel(model: Model, place?: ExternalPlacer): Uint8Array {
  return writeModel(model, place).finish();
}

/**
 * Encodes a model as a list of parts to be written one after the other (large tensors are the
 * model's own arrays, not copies): saving never holds a second copy of the weights in memory.
 */
export function encodeModelChunks(model: Model, place?: ExternalPlacer): { chunks: Uint8Array[]; byteLength: number } {
  const w = writeModel(model, place);
  return { chunks: w.chunks(), byteLength: w.length };
}

function writeModel(model: Model, place?: ExternalPlacer): ChunkWriter {
  const w = new ChunkWriter();
  tag(w, 1, WIRE_VARINT).int64(model.irVersion);
  writeString(w, 2, model.producerName);
  writeString(w, 3, model.producerVersion);
  writeString(w, 4, model.domain);
  if (model.modelVersion) tag(w, 5, WIRE_VARINT).int64(toLongString(model.modelVersion));
  writeString(w, 6, model.docString);
  writeGraph(w, 7, model.graph, place);
  for (const o of model.opsetImports) writeOpset(w, 8, o);
  writeKeyValues(w, 14, model.metadataProps);
  for (const t of model.trainingInfo) tag(w, 20, WIRE_LEN).bytes(t);
  for (const fn of model.functions) writeFunction(w, 25, fn, place);
  return w;
}

/** Encodes a standalone TensorProto. */
export function encodeTensor(t: Tensor): Uint8Array {
  // Write it as field 1 of a wrapper, then strip the wrapper's tag and length.
  const w = new ChunkWriter();
  writeTensor(w, 1, t);
  const wrapped = w.finish();
  const r = Reader.create(wrapped);
  r.uint32();
  const len = r.uint32();
  return wrapped.subarray(r.pos, r.pos + len);
}

/** Every tensor in the model, including those inside subgraphs and attributes. */
export function* allTensors(model: Model): Generator<Tensor> {
  function* inGraph(g: Graph): Generator<Tensor> {
    yield* g.initializers;
    for (const s of g.sparseInitializers) yield s.values, yield s.indices;
    for (const n of g.nodes) yield* inAttrs(n.attributes);
  }
  function* inAttrs(attrs: Attribute[]): Generator<Tensor> {
    for (const a of attrs) {
      if (a.type === 'tensor') yield a.value;
      else if (a.type === 'tensors') yield* a.value;
      else if (a.type === 'graph') yield* inGraph(a.value);
      else if (a.type === 'graphs') for (const g of a.value) yield* inGraph(g);
      else if (a.type === 'sparse_tensor') yield a.value.values, yield a.value.indices;
    }
  }
  yield* inGraph(model.graph);
  for (const fn of model.functions) {
    for (const n of fn.nodes) yield* inAttrs(n.attributes);
    yield* inAttrs(fn.attributeProtos);
  }
}
