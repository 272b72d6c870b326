import { copyFile, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classBalance, DatasetError, loadDataset } from '../../app/engine/data/index.js';
import { idxBytes, makeTempDir, put, SAMPLE_DIR } from '../fixtures/data/make.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(() => cleanup());

/** Writes a small labelled IDX dataset (n images of 2x3) into a fresh folder. */
async function tinyIdx(name: string, n = 4, opts: { gzip?: boolean; labels?: number[]; labelCount?: number } = {}): Promise<string> {
  const folder = join(dir, name);
  const pixels = Array.from({ length: n * 6 }, (_, i) => (i * 17) % 256);
  const labels = opts.labels ?? Array.from({ length: opts.labelCount ?? n }, (_, i) => i % 3);
  const ext = opts.gzip ? '.gz' : '';
  const enc = (b: Buffer): Buffer => (opts.gzip ? gzipSync(b) : b);
  await put(join(folder, `train-images-idx3-ubyte${ext}`), enc(idxBytes([n, 2, 3], pixels)));
  await put(join(folder, `train-labels-idx1-ubyte${ext}`), enc(idxBytes([labels.length], labels)));
  return folder;
}

describe('IDX reader on the bundled Fashion-MNIST subset', () => {
  it('loads train and test with shapes, class names and values in [0, 1]', async () => {
    const d = await loadDataset(SAMPLE_DIR);
    expect(d.kind).toBe('idx');
    expect(d.sampleShape).toEqual([1, 28, 28]);
    expect(d.train.count).toBe(10_000);
    expect(d.test?.count).toBe(2_000);
    expect(d.train.x.length).toBe(10_000 * 784);
    expect(d.classes).toHaveLength(10);
    expect(d.classes[9]).toBe('Ankle boot');
    const balance = classBalance(d.train);
    expect(balance.reduce((a, b) => a + b, 0)).toBe(10_000);
    for (const n of balance) expect(n).toBeGreaterThan(900);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.train.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    expect(d.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches the raw bytes: pixel/255 and labels of the first and last training samples', async () => {
    const images = gunzipSync(await readFile(join(SAMPLE_DIR, 'train-images-idx3-ubyte.gz')));
    const labels = gunzipSync(await readFile(join(SAMPLE_DIR, 'train-labels-idx1-ubyte.gz')));
    const d = await loadDataset(SAMPLE_DIR);
    for (const n of [0, 9_999]) {
      for (const p of [0, 300, 783]) expect(d.train.x[n * 784 + p]).toBeCloseTo(images[16 + n * 784 + p]! / 255, 6);
      expect(d.train.y[n]).toBe(labels[8 + n]);
    }
  });

  it('the subset is the head of the Debian dataset (limit stops reading early)', async () => {
    const full = await loadDataset('/usr/share/datasets/fashion-mnist', { limit: 5 });
    const sample = await loadDataset(SAMPLE_DIR, { limit: 5 });
    expect(full.train.count).toBe(5);
    expect(full.test?.count).toBe(5);
    expect([...full.train.x]).toEqual([...sample.train.x]);
    expect([...full.train.y]).toEqual([...sample.train.y]);
    expect([...full.test!.y]).toEqual([...sample.test!.y]);
  });

  it('normalizes with mean and std, and the fingerprint follows the preprocessing', async () => {
    const plain = await loadDataset(SAMPLE_DIR, { limit: 50 });
    const norm = await loadDataset(SAMPLE_DIR, { limit: 50, normalize: { mean: 0.5, std: 0.25 } });
    expect(norm.train.x[300]).toBeCloseTo((plain.train.x[300]! - 0.5) / 0.25, 5);
    expect(norm.fingerprint).not.toBe(plain.fingerprint);
    expect((await loadDataset(SAMPLE_DIR, { limit: 50 })).fingerprint).toBe(plain.fingerprint);
    expect((await loadDataset(SAMPLE_DIR, { limit: 51 })).fingerprint).not.toBe(plain.fingerprint);
    await expect(loadDataset(SAMPLE_DIR, { normalize: { mean: 0, std: 0 } })).rejects.toThrow(/std must be a positive number/);
  });
});

describe('IDX reader on generated files', () => {
  it('reads raw and gzip files alike, and the fingerprint ignores the compression', async () => {
    const raw = await loadDataset(await tinyIdx('raw'));
    const gz = await loadDataset(await tinyIdx('gz', 4, { gzip: true }));
    expect(raw.test).toBeNull();
    expect(raw.sampleShape).toEqual([1, 2, 3]);
    expect([...raw.train.y]).toEqual([0, 1, 2, 0]);
    expect(raw.classes).toEqual(['0', '1', '2']);
    expect(raw.train.x[1]).toBeCloseTo(17 / 255, 6);
    expect([...gz.train.x]).toEqual([...raw.train.x]);
    expect(gz.fingerprint).toBe(raw.fingerprint);
  });

  it('fingerprint changes when one pixel changes', async () => {
    const a = await tinyIdx('fp-a');
    const b = await tinyIdx('fp-b');
    const file = join(b, 'train-images-idx3-ubyte');
    const bytes = await readFile(file);
    bytes[20] = bytes[20]! ^ 1;
    await put(file, bytes);
    expect((await loadDataset(b)).fingerprint).not.toBe((await loadDataset(a)).fingerprint);
  });

  it('a lone images file without labels is unlabeled', async () => {
    const file = await put(join(dir, 'lone', 'digits-idx3-ubyte'), idxBytes([3, 2, 2], new Array(12).fill(255)));
    const d = await loadDataset(file);
    expect(d.train.count).toBe(3);
    expect([...d.train.y]).toEqual([-1, -1, -1]);
    expect(d.classes).toEqual([]);
    expect(d.train.x[0]).toBe(1);
  });

  it('an images file passed directly is paired with its labels file', async () => {
    const folder = await tinyIdx('pair');
    const d = await loadDataset(join(folder, 'train-images-idx3-ubyte'));
    expect([...d.train.y]).toEqual([0, 1, 2, 0]);
  });
});

describe('IDX errors', () => {
  async function expectError(path: string, pattern: RegExp, where?: string): Promise<void> {
    const err = await loadDataset(path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toMatch(pattern);
    if (where) expect((err as DatasetError).where).toContain(where);
  }

  it('truncated raw file names the file and both sizes', async () => {
    const folder = await tinyIdx('trunc');
    await truncate(join(folder, 'train-images-idx3-ubyte'), 30);
    await expectError(folder, /truncated: the header declares \[4 x 2 x 3\] \(40 bytes\) but the file has 30 bytes/, 'train-images-idx3-ubyte');
  });

  it('truncated gzip file is refused', async () => {
    const folder = await tinyIdx('trunc-gz', 400, { gzip: true });
    const file = join(folder, 'train-images-idx3-ubyte.gz');
    await truncate(file, (await readFile(file)).length - 30);
    await expectError(folder, /truncated or corrupt/, 'train-images-idx3-ubyte.gz');
  });

  it('trailing bytes are refused', async () => {
    const folder = await tinyIdx('trailing');
    const file = join(folder, 'train-labels-idx1-ubyte');
    await put(file, Buffer.concat([await readFile(file), Buffer.from([1, 2])]));
    await expectError(folder, /2 extra bytes at the end/, 'train-labels');
  });

  it('wrong magic number', async () => {
    const folder = await tinyIdx('magic');
    const file = join(folder, 'train-images-idx3-ubyte');
    const bytes = await readFile(file);
    bytes[0] = 0x12;
    await put(file, bytes);
    await expectError(folder, /not an IDX file: the magic number is 0x12000803/, 'train-images');
  });

  it('unsupported data type', async () => {
    const folder = await tinyIdx('dtype');
    const file = join(folder, 'train-images-idx3-ubyte');
    const bytes = await readFile(file);
    bytes[2] = 0x0d;
    await put(file, bytes);
    await expectError(folder, /data type 0x0d \(float32\) is not supported/);
  });

  it('image and label count mismatch', async () => {
    await expectError(await tinyIdx('count', 4, { labelCount: 5 }), /holds 4 images but train-labels-idx1-ubyte holds 5 labels/);
  });

  it('label out of range for the names in classes.txt, naming the index', async () => {
    const folder = await tinyIdx('range', 4, { labels: [0, 1, 7, 1] });
    await put(join(folder, 'classes.txt'), 'a\nb\nc\n');
    await expectError(folder, /label 7 is out of range: there are 3 classes/, 'train-labels-idx1-ubyte label index 2');
    await copyFile(join(SAMPLE_DIR, 'classes.txt'), join(folder, 'classes.txt'));
    expect((await loadDataset(folder)).classes[7]).toBe('Sneaker');
  });

  it('label out of range for numClasses', async () => {
    const folder = await tinyIdx('range2', 4, { labels: [0, 1, 7, 1] });
    await expect(loadDataset(folder, { numClasses: 5 })).rejects.toThrow(/label 7 is out of range: there are 5 classes/);
    expect((await loadDataset(folder, { numClasses: 10 })).classes).toHaveLength(10);
  });

  it('refuses a dataset over the byte cap before reading it', async () => {
    await expect(loadDataset(SAMPLE_DIR, { maxBytes: 10 * 2 ** 20 })).rejects.toThrow(/over the 10.0 MiB cap/);
  });

  it('labels without images, and unrecognised names, are refused', async () => {
    const folder = join(dir, 'only-labels');
    await put(join(folder, 't10k-labels-idx1-ubyte'), idxBytes([1], [0]));
    await put(join(folder, 'train-images-idx3-ubyte'), idxBytes([1, 1, 1], [0]));
    await expectError(folder, /has test labels but no test images/);
    const odd = join(dir, 'odd');
    await put(join(odd, 'weird-idx3-ubyte'), idxBytes([1, 1, 1], [0]));
    await expectError(odd, /cannot tell whether 'weird-idx3-ubyte' is train or test/);
  });
});
