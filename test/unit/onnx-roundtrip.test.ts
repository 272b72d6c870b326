// decode → encode → decode gives an identical IR for every model of ONNX's test suite, and the
// writer is deterministic (encoding the re-read model gives the same bytes again).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, decodeTensor, encodeModel, encodeTensor } from '../../app/engine/onnx/codec.js';
import { ChunkWriter } from '../../app/engine/onnx/wire.js';
import { DataType } from '../../app/engine/onnx/ir.js';
import { canonical } from './onnx-helpers.js';

const ROOT = '/usr/share/libonnx-testdata/data';

function modelFiles(): string[] {
  const files: string[] = [];
  for (const suite of ['node', 'pytorch-converted', 'pytorch-operator']) {
    for (const t of readdirSync(join(ROOT, suite)).sort()) files.push(join(ROOT, suite, t, 'model.onnx'));
  }
  return files;
}

describe('codec round trip over the ONNX test suite', () => {
  const files = modelFiles();

  it('finds the whole suite', () => {
    expect(files.length).toBeGreaterThan(1000);
  });

  it('decode → encode → decode is identical for every model, and encoding is stable', () => {
    const bad: string[] = [];
    for (const f of files) {
      const first = decodeModel(readFileSync(f));
      const bytes = encodeModel(first);
      const second = decodeModel(bytes);
      if (canonical(first) !== canonical(second)) bad.push(`${f}: IR differs`);
      else if (Buffer.compare(Buffer.from(encodeModel(second)), Buffer.from(bytes)) !== 0) bad.push(`${f}: second encoding differs`);
    }
    expect(bad).toEqual([]);
  });

  it('decoded tensor data are plain Uint8Arrays, never Buffers (Buffer#slice is a view)', () => {
    const m = decodeModel(readFileSync(join(ROOT, 'pytorch-operator', 'test_operator_conv', 'model.onnx')));
    expect(m.graph.initializers.length).toBeGreaterThan(0);
    for (const t of m.graph.initializers) {
      expect(t.data.kind).toBe('raw');
      if (t.data.kind === 'raw') {
        expect(Object.getPrototypeOf(t.data.bytes)).toBe(Uint8Array.prototype);
        const copy = t.data.bytes.slice();
        copy[0] = (copy[0]! + 1) & 0xff;
        expect(copy[0]).not.toBe(t.data.bytes[0]);
      }
    }
  });

  it('round-trips every TensorProto of the test data sets, including typed (non-raw) fields', () => {
    let n = 0;
    let skipped = 0;
    for (const suite of ['node', 'pytorch-converted', 'pytorch-operator']) {
      for (const t of readdirSync(join(ROOT, suite)).sort()) {
        const dir = join(ROOT, suite, t, 'test_data_set_0');
        let files: string[];
        try {
          files = readdirSync(dir).filter((f) => f.endsWith('.pb'));
        } catch {
          continue;
        }
        for (const f of files) {
          let tensor;
          try {
            tensor = decodeTensor(readFileSync(join(dir, f)));
          } catch {
            skipped++; // SequenceProto / OptionalProto files are other message types
            continue;
          }
          const again = decodeTensor(encodeTensor(tensor));
          expect(canonical(again)).toBe(canonical(tensor));
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(2000);
    expect(skipped).toBeLessThan(100);
  });

  it('converts typed float_data / int64_data fields to raw little-endian bytes', () => {
    // TensorProto: dims=[2] (field 1), data_type=FLOAT (2), float_data packed (4) = [1.5, -2]
    const f = new Uint8Array([0x08, 0x02, 0x10, 0x01, 0x22, 0x08, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0, 0x42, 0x01, 0x78]);
    const t = decodeTensor(f);
    expect(t.name).toBe('x');
    expect(t.dataType).toBe(DataType.FLOAT);
    expect(t.data.kind === 'raw' && Array.from(new Float32Array(new Uint8Array(t.data.bytes).buffer))).toEqual([1.5, -2]);
    // int64_data unpacked: dims=[2], type INT64, values 7 and -1
    const i = new Uint8Array([0x08, 0x02, 0x10, 0x07, 0x38, 0x07, 0x38, ...Array(9).fill(0xff), 0x01]);
    const ti = decodeTensor(i);
    expect(ti.data.kind === 'raw' && Array.from(new BigInt64Array(new Uint8Array(ti.data.bytes).buffer))).toEqual([7n, -1n]);
  });

  it('reads a million int64_data / uint64_data values compactly and exactly', () => {
    const n = 1_000_000;
    for (const [dataType, field] of [[DataType.INT64, 7], [DataType.UINT64, 11]] as const) {
      const w = new ChunkWriter();
      w.uint32((1 << 3) | 0).int64(n);
      w.uint32((2 << 3) | 0).int32(dataType);
      w.uint32((field << 3) | 2).fork();
      for (let i = 0; i < n; i++) w.int64(i % 3 === 0 ? -i : i * 1_000_003);
      w.ldelim();
      const t0 = performance.now();
      const t = decodeTensor(w.finish());
      expect(performance.now() - t0).toBeLessThan(5000);
      const values = new BigInt64Array(new Uint8Array(t.data.kind === 'raw' ? t.data.bytes : []).buffer);
      expect(values.length).toBe(n);
      for (const i of [0, 1, 2, 3, 999_999]) expect(values[i]).toBe(BigInt(i % 3 === 0 ? -i : i * 1_000_003));
    }
  });
});
