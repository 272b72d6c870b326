// Untrusted ONNX bytes: truncation, wrong file types, protobuf bombs. Every failure must be an
// OnnxFormatError (or a ModelFileError naming the file when loading from disk), quickly, without
// large allocations.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { decodeModel, decodeTensor, encodeModel, OnnxFormatError } from '../../app/engine/onnx/codec.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel } from '../../app/engine/onnx/ir.js';
import { loadModel, ModelFileError } from '../../app/engine/onnx/io.js';
import { ChunkWriter } from '../../app/engine/onnx/wire.js';

const MODEL = '/usr/share/libonnx-testdata/data/pytorch-operator/test_operator_conv/model.onnx';

function decodeError(bytes: Uint8Array): OnnxFormatError {
  try {
    decodeModel(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(OnnxFormatError);
    return err as OnnxFormatError;
  }
  throw new Error('decoded without error');
}

/** Position of the top-level graph field (7) of a ModelProto: [start of payload, end). */
function graphSpan(bytes: Uint8Array): [number, number] {
  const r = protobuf.Reader.create(new Uint8Array(bytes));
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 7 && (tag & 7) === 2) {
      const len = r.uint32();
      return [r.pos, r.pos + len];
    }
    r.skipType(tag & 7);
  }
  throw new Error('no graph');
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) & 0xff);
}

const tmp = mkdtempSync(join(tmpdir(), 'distillery-onnx-bad-'));

describe('truncated files', () => {
  const full = readFileSync(MODEL);

  it('every cut inside the graph is a format error; no cut throws anything else', () => {
    const [gStart, gEnd] = graphSpan(full);
    expect(gEnd - gStart).toBeGreaterThan(1000);
    let errors = 0;
    for (let cut = 0; cut < full.length; cut += 7) {
      const part = full.subarray(0, cut);
      let threw: unknown = null;
      try {
        decodeModel(part);
      } catch (err) {
        threw = err;
      }
      if (threw) {
        expect(threw).toBeInstanceOf(OnnxFormatError);
        errors++;
      }
      if (cut > gStart && cut < gEnd) expect(threw, `cut at ${cut}`).not.toBeNull();
    }
    expect(errors).toBeGreaterThan(full.length / 7 - 10);
  });

  it('loading a truncated file names the file and says it may be truncated', async () => {
    const file = join(tmp, 'cut.onnx');
    writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
    const err = await loadModel(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
    expect((err as Error).message).toMatch(/truncated/);
  });
});

describe('files that are not ONNX models', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /empty/],
    ['png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0]), /not a valid ONNX protobuf|not an ONNX model|invalid/],
    ['text', new TextEncoder().encode('hello, this is a plain text file\nwith two lines\n'), /not a valid ONNX protobuf|not an ONNX model|invalid/],
    ['json', new TextEncoder().encode('{"irVersion": 8, "graph": {}}'), /not a valid ONNX protobuf|not an ONNX model|invalid/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`${name}: a ModelFileError naming the file`, async () => {
      const file = join(tmp, `${name}.onnx`);
      writeFileSync(file, bytes);
      const err = await loadModel(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFileError);
      expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('random bytes (200 seeded samples) never decode and only raise format errors', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = lcg(seed);
      const bytes = Uint8Array.from({ length: 16 + (seed % 7) * 300 }, next);
      decodeError(bytes);
    }
  });

  it('a folder and a missing path give ModelFileErrors', async () => {
    await expect(loadModel(tmp)).rejects.toThrow(/is a folder/);
    await expect(loadModel(join(tmp, 'nope.onnx'))).rejects.toThrow(/nope\.onnx: cannot be read \(ENOENT\)/);
  });
});

describe('protobuf bombs', () => {
  it('graphs nested 10,000 deep through If attributes stop at the depth limit, quickly', () => {
    const depth = 10_000;
    const v = new ChunkWriter();
    v.uint32((1 << 3) | 0).int64(8);
    v.uint32((7 << 3) | 2).fork(); // model.graph
    for (let i = 0; i < depth; i++) {
      v.uint32((1 << 3) | 2).fork(); // graph.node
      v.uint32((4 << 3) | 2).string('If');
      v.uint32((5 << 3) | 2).fork(); // node.attribute
      v.uint32((1 << 3) | 2).string('then_branch');
      v.uint32((20 << 3) | 0).int32(5);
      v.uint32((6 << 3) | 2).fork(); // attribute.g
    }
    for (let i = 0; i < depth; i++) v.ldelim().ldelim().ldelim();
    v.ldelim();
    const bytes = v.finish();
    expect(bytes.length).toBeGreaterThan(depth * 20);
    const t0 = performance.now();
    const err = decodeError(bytes);
    expect(err.message).toMatch(/nested more than \d+ levels deep/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('types nested 10,000 deep (sequence of sequence of …) stop at the depth limit', () => {
    const v = new ChunkWriter();
    v.uint32((1 << 3) | 0).int64(8);
    v.uint32((7 << 3) | 2).fork(); // graph
    v.uint32((11 << 3) | 2).fork(); // graph.input (ValueInfo)
    v.uint32((1 << 3) | 2).string('x');
    v.uint32((2 << 3) | 2).fork(); // type
    for (let i = 0; i < 10_000; i++) {
      v.uint32((4 << 3) | 2).fork(); // sequence_type
      v.uint32((1 << 3) | 2).fork(); // elem_type
    }
    for (let i = 0; i < 10_000; i++) v.ldelim().ldelim();
    v.ldelim().ldelim().ldelim();
    expect(decodeError(v.finish()).message).toMatch(/nested more than/);
  });

  it('protobuf groups (wire type 3) nested deeply are refused without recursion', () => {
    const bytes = new Uint8Array(200_000).fill(0x0b); // field 1, wire type 3, repeated
    expect(decodeError(bytes).message).toMatch(/wire type 3/);
  });

  it('a length prefix claiming 2 GB is refused without allocating', () => {
    const w = new ChunkWriter();
    w.uint32((1 << 3) | 0).int64(8);
    w.uint32((7 << 3) | 2).uint32(2 ** 31); // graph of 2 GB…
    w.uint32((2 << 3) | 2).string('g'); // …followed by a few bytes
    const before = process.memoryUsage().arrayBuffers;
    const err = decodeError(w.finish());
    expect(err.message).toMatch(/declares 2147483648 bytes but only \d+ remain/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });

  it('a raw_data length prefix claiming 4 GB is refused', () => {
    const w = new ChunkWriter();
    w.uint32((1 << 3) | 0).int64(1000);
    w.uint32((2 << 3) | 0).int32(DataType.FLOAT);
    w.uint32((9 << 3) | 2).uint32(2 ** 32 - 1);
    w.uint32(0x01020304);
    expect(() => decodeTensor(w.finish())).toThrow(OnnxFormatError);
  });

  const hugeDims = (write: (w: ChunkWriter) => void) => {
    const w = new ChunkWriter();
    w.uint32((1 << 3) | 0).int64(1e9);
    w.uint32((1 << 3) | 0).int64(1e9);
    w.uint32((2 << 3) | 0).int32(DataType.FLOAT);
    w.uint32((8 << 3) | 2).string('w');
    write(w);
    return w.finish();
  };

  it('dims [1e9, 1e9] with 16 bytes of raw_data is refused', () => {
    const bytes = hugeDims((w) => w.uint32((9 << 3) | 2).bytes(new Uint8Array(16)));
    expect(() => decodeTensor(bytes)).toThrow(/raw_data has 16 bytes but float\[1000000000,1000000000\] needs/);
  });

  it('dims [1e9, 1e9] with one float_data value is refused before allocating', () => {
    const bytes = hugeDims((w) => w.uint32((4 << 3) | 5).float(1));
    expect(() => decodeTensor(bytes)).toThrow(/float_data has 1 values but shape \[1000000000,1000000000\] needs/);
  });

  it('dims [1e9, 1e9] and no data at all is refused', () => {
    expect(() => decodeTensor(hugeDims(() => undefined))).toThrow(/has shape \[1000000000,1000000000\] but no data/);
  });

  it('a negative or absurd dimension is refused', () => {
    const w = new ChunkWriter();
    w.uint32((1 << 3) | 0).int64(-3);
    w.uint32((2 << 3) | 0).int32(DataType.FLOAT);
    expect(() => decodeTensor(w.finish())).toThrow(/invalid dimension -3/);
  });

  it('the item limit stops models with absurd node counts', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m.graph);
    let x = b.input('x', DataType.FLOAT, [1]);
    for (let i = 0; i < 50; i++) x = b.op('Relu', [x]);
    b.output(x, DataType.FLOAT, [1]);
    const bytes = encodeModel(m);
    expect(() => decodeModel(bytes, { maxDepth: 48, maxItems: 20, maxRank: 64 })).toThrow(/too many node entries \(limit 20\)/);
    expect(decodeModel(bytes).graph.nodes).toHaveLength(50);
  });
});
