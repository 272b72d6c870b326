// Loading and saving files: external data (and its safety rules), atomic writes, >2 GB mechanics.
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, type ExternalPlacer } from '../../app/engine/onnx/codec.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { loadModel, ModelFileError, saveModel, writeFileAtomic } from '../../app/engine/onnx/io.js';
import { floatData, floatTensor } from '../../app/engine/onnx/tensor.js';
import { canonical } from './onnx-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'distillery-onnx-io-'));
let dirCounter = 0;
const freshDir = () => {
  const d = join(root, `d${dirCounter++}`);
  mkdirSync(d);
  return d;
};

/** x → Add(w0) → Add(w1) → … with `n` float initializers of `size` elements each. */
function chainModel(n: number, size: number): Model {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph);
  let x = b.input('x', DataType.FLOAT, [size]);
  for (let i = 0; i < n; i++) {
    const w = b.initializer(floatTensor(`w${i}`, [size], Float32Array.from({ length: size }, (_, j) => i * 1000 + j + 0.5)));
    x = b.op('Add', [x, w]);
  }
  b.output(x, DataType.FLOAT, [size]);
  return m;
}

/** Writes a model whose tensor `w` (4 floats) points at `location` with the given offset/length. */
function writeExternalRef(dir: string, location: string, offset = 0, length = 16): string {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', DataType.FLOAT, [4]);
  const w = b.initializer(floatTensor('w', [4], [1, 2, 3, 4]));
  b.output(b.op('Add', [x, w]), DataType.FLOAT, [4]);
  const place: ExternalPlacer = (t) => (t.name === 'w' ? { location, offset, length } : null);
  const file = join(dir, 'model.onnx');
  writeFileSync(file, encodeModel(m, place));
  return file;
}

describe('external data', () => {
  it('externalThreshold=0 puts every tensor in <name>.data; reloading gives identical tensors', async () => {
    const dir = freshDir();
    const m = chainModel(5, 1000);
    const file = join(dir, 'chain.onnx');
    await saveModel(m, file, { externalThreshold: 0 });
    expect(existsSync(join(dir, 'chain.onnx.data'))).toBe(true);
    expect(statSync(file).size).toBeLessThan(2000); // weights are not inside the protobuf
    const raw = decodeModel(readFileSync(file));
    for (const t of raw.graph.initializers) {
      expect(t.external?.location).toBe('chain.onnx.data');
      expect(t.external!.offset % 4096).toBe(0);
    }
    const back = await loadModel(file);
    expect(back.graph.initializers.map((t) => t.name)).toEqual(m.graph.initializers.map((t) => t.name));
    back.graph.initializers.forEach((t, i) => {
      expect(Array.from(floatData(t))).toEqual(Array.from(floatData(m.graph.initializers[i]!)));
      delete t.external;
    });
    expect(canonical(back)).toBe(canonical(m));
    // Saving the reloaded model inline gives the same file as saving the original inline.
    await saveModel(back, join(dir, 'inline.onnx'));
    await saveModel(m, join(dir, 'inline2.onnx'));
    expect(readFileSync(join(dir, 'inline.onnx')).equals(readFileSync(join(dir, 'inline2.onnx')))).toBe(true);
  });

  it('skipExternalData leaves tensors unloaded, and saving such a model is refused', async () => {
    const dir = freshDir();
    const file = join(dir, 'm.onnx');
    await saveModel(chainModel(2, 64), file, { externalThreshold: 0 });
    const m = await loadModel(file, { skipExternalData: true });
    expect(m.graph.initializers[0]!.data.kind === 'raw' && m.graph.initializers[0]!.data.bytes.byteLength).toBe(0);
    await expect(saveModel(m, join(dir, 'copy.onnx'))).rejects.toThrow(/was not loaded \(the model was opened with skipExternalData\)/);
    expect(existsSync(join(dir, 'copy.onnx'))).toBe(false);
  });

  it('reads tensors beyond the 2 GB mark of a (sparse) data file and never reads the whole file', async () => {
    const dir = freshDir();
    const m = chainModel(3, 1024);
    const offsets = [0, 2 ** 31 + 4096, 3 * 2 ** 30];
    const dataFile = join(dir, 'big.onnx.data');
    const fd = openSync(dataFile, 'w');
    m.graph.initializers.forEach((t, i) => {
      if (t.data.kind === 'raw') writeSync(fd, t.data.bytes, 0, t.data.bytes.byteLength, offsets[i]);
    });
    closeSync(fd);
    expect(statSync(dataFile).size).toBeGreaterThan(3 * 2 ** 30);
    const place: ExternalPlacer = (t) => {
      const i = m.graph.initializers.indexOf(t);
      return { location: 'big.onnx.data', offset: offsets[i]!, length: 4096 };
    };
    writeFileSync(join(dir, 'big.onnx'), encodeModel(m, place));
    const before = process.memoryUsage().arrayBuffers;
    const back = await loadModel(join(dir, 'big.onnx'));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(256 * 2 ** 20);
    back.graph.initializers.forEach((t, i) => expect(Array.from(floatData(t))).toEqual(Array.from(floatData(m.graph.initializers[i]!))));
  });

  it('an .onnx file over 2 GB is refused up front with a clear message', async () => {
    const dir = freshDir();
    const file = join(dir, 'huge.onnx');
    writeFileSync(file, '');
    truncateSync(file, 2 ** 31 + 10); // sparse: costs no disk
    await expect(loadModel(file)).rejects.toThrow(/over protobuf's 2 GB limit; large models must store weights as external data/);
  });

  const refused: [string, (dir: string) => string, RegExp][] = [
    ['a location with ..', (dir) => writeExternalRef(dir, '../secret.bin'), /outside the model's folder \('\.\.\/secret\.bin'\); refused/],
    ['an absolute location', (dir) => writeExternalRef(dir, '/etc/passwd'), /outside the model's folder \('\/etc\/passwd'\); refused/],
    ['a symlink leading outside', (dir) => {
      const outside = join(root, `outside-${dirCounter}.bin`);
      writeFileSync(outside, new Uint8Array(64));
      symlinkSync(outside, join(dir, 'link.bin'));
      return writeExternalRef(dir, 'link.bin');
    }, /'link\.bin' is a link that leads outside the model's folder; refused/],
    ['a missing file', (dir) => writeExternalRef(dir, 'missing.bin'), /external data file 'missing\.bin' for tensor 'w' is missing/],
    ['a file too short', (dir) => {
      writeFileSync(join(dir, 'short.bin'), new Uint8Array(10));
      return writeExternalRef(dir, 'short.bin');
    }, /tensor 'w' needs bytes 0\.\.16 of 'short\.bin', but that file has only 10 bytes/],
    ['an offset past the end', (dir) => {
      writeFileSync(join(dir, 'd.bin'), new Uint8Array(100));
      return writeExternalRef(dir, 'd.bin', 2 ** 40);
    }, /needs bytes 1099511627776\.\.1099511627792 of 'd\.bin'/],
    ['a folder as data file', (dir) => {
      mkdirSync(join(dir, 'sub'));
      return writeExternalRef(dir, 'sub/.');
    }, /is not a regular file/],
  ];
  for (const [name, make, message] of refused) {
    it(`${name} is a clear ModelFileError`, async () => {
      const dir = freshDir();
      const file = make(dir);
      const err = await loadModel(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFileError);
      expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('a declared length that does not match the shape is refused at decode time', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'd.bin'), new Uint8Array(100));
    const file = writeExternalRef(dir, 'd.bin', 0, 12);
    await expect(loadModel(file)).rejects.toThrow(/external data length 12 does not match shape \[4\] \(16 bytes\)/);
  });
});

describe('atomic writes', () => {
  it('saving into an unwritable place fails cleanly', async () => {
    // /proc refuses new files even for root (chmod is no obstacle to root).
    await expect(saveModel(chainModel(1, 4), '/proc/distillery-test.onnx')).rejects.toThrow();
    await expect(saveModel(chainModel(1, 4), '/proc/distillery-test.onnx', { externalThreshold: 0 })).rejects.toThrow();
    expect(existsSync('/proc/distillery-test.onnx')).toBe(false);
  });

  it('a failed save leaves the previous model and data intact and no temp files', async () => {
    const dir = freshDir();
    const file = join(dir, 'm.onnx');
    await saveModel(chainModel(2, 8), file);
    const before = readFileSync(file);
    // Make the data file's final path unusable: a folder with that name.
    mkdirSync(join(dir, 'm.onnx.data'));
    await expect(saveModel(chainModel(3, 8), file, { externalThreshold: 0 })).rejects.toThrow();
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'm.onnx.data']);
    // And a folder in place of the model file itself.
    const target = join(dir, 'target.onnx');
    mkdirSync(target);
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow();
    expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'm.onnx.data', 'target.onnx']);
  });

  it('an existing file is replaced whole, never truncated in place', async () => {
    const dir = freshDir();
    const file = join(dir, 'm.onnx');
    await saveModel(chainModel(4, 256), file);
    const inode = statSync(file).ino;
    await saveModel(chainModel(1, 4), file);
    expect(statSync(file).ino).not.toBe(inode); // a rename, not an overwrite
    expect((await loadModel(file)).graph.initializers).toHaveLength(1);
  });
});
