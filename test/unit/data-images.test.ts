import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classBalance, DatasetError, loadDataset } from '../../app/engine/data/index.js';
import { FIXTURES_DIR, gray, jpegBytes, makeTempDir, pngBytes, put } from '../fixtures/data/make.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(() => cleanup());

async function expectError(path: string, pattern: RegExp, where?: string): Promise<void> {
  const err = await loadDataset(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as Error).message).toMatch(pattern);
  if (where) expect((err as DatasetError).where).toContain(where);
}

describe('image-folder reader', () => {
  it('reads grayscale PNG class folders as [1, H, W] with sorted class names', async () => {
    const root = join(dir, 'gray');
    // Folder names deliberately out of order; 'b' gets 2 images, 'a' gets 1.
    await put(join(root, 'b', '2.png'), pngBytes(4, 3, gray(51), false));
    await put(join(root, 'b', '1.png'), pngBytes(4, 3, (x) => [x * 60, x * 60, x * 60], false));
    await put(join(root, 'a', 'x.png'), pngBytes(4, 3, gray(255), false));
    await put(join(root, 'a', 'notes.txt'), 'ignored');
    const d = await loadDataset(root);
    expect(d.kind).toBe('images');
    expect(d.classes).toEqual(['a', 'b']);
    expect(d.sampleShape).toEqual([1, 3, 4]);
    expect(d.train.count).toBe(3);
    expect(d.test).toBeNull();
    expect([...d.train.y]).toEqual([0, 1, 1]);
    expect(d.train.x[0]).toBe(1); // a/x.png
    // b/1.png comes before b/2.png; its row 0 is 0, 60, 120, 180
    expect([...d.train.x.subarray(12, 16)].map((v) => Math.round(v * 255))).toEqual([0, 60, 120, 180]);
    expect(d.train.x[24]).toBeCloseTo(0.2, 6);
    expect(d.files.map((f) => f.slice(root.length + 1))).toEqual(['a/x.png', 'b/1.png', 'b/2.png']);
  });

  it('reads RGB PNG as CHW planes and repeats grayscale images over three channels', async () => {
    const root = join(dir, 'rgb');
    await put(join(root, 'c', 'colour.png'), pngBytes(2, 2, () => [255, 0, 51], true));
    await put(join(root, 'c', 'plain.png'), pngBytes(2, 2, gray(102), false));
    const d = await loadDataset(root);
    expect(d.sampleShape).toEqual([3, 2, 2]);
    const [r, g, b] = [0, 4, 8].map((o) => d.train.x[o]);
    expect([r, g, b]).toEqual([1, 0, 0.2].map((v) => Math.fround(v)));
    expect([...d.train.x.subarray(12, 24)].every((v) => Math.abs(v - 0.4) < 1e-6)).toBe(true);
  });

  it('reads JPEG (colour and values close to the source)', async () => {
    const root = join(dir, 'jpeg');
    await put(join(root, 'red', '1.jpg'), jpegBytes(8, 8, () => [200, 30, 30]));
    await put(join(root, 'blue', '1.JPEG'), jpegBytes(8, 8, () => [20, 40, 220]));
    const d = await loadDataset(root);
    expect(d.classes).toEqual(['blue', 'red']);
    expect(d.sampleShape).toEqual([3, 8, 8]);
    const pix = (n: number, c: number): number => d.train.x[n * 192 + c * 64 + 27]! * 255;
    expect(Math.abs(pix(1, 0) - 200)).toBeLessThan(6);
    expect(Math.abs(pix(1, 1) - 30)).toBeLessThan(6);
    expect(Math.abs(pix(0, 2) - 220)).toBeLessThan(6);
  });

  it('reads a grayscale (one-component) JPEG as one channel', async () => {
    // gray-6x4.jpg: made once with Pillow, mode L, row values 0, 40, ..., 200 (jpeg-js cannot encode grayscale).
    const root = join(dir, 'gray-jpeg');
    await put(join(root, 'k', 'g.jpg'), await readFile(join(FIXTURES_DIR, 'gray-6x4.jpg')));
    const d = await loadDataset(root);
    expect(d.sampleShape).toEqual([1, 4, 6]);
    const row = [...d.train.x.subarray(6, 12)].map((v) => v * 255);
    row.forEach((v, x) => expect(Math.abs(v - x * 40)).toBeLessThan(4));
  });

  it('uses train/ and test/ folders as the splits, with train class indices', async () => {
    const root = join(dir, 'splits');
    for (const cls of ['cat', 'dog']) {
      for (let i = 0; i < 3; i++) await put(join(root, 'train', cls, `${i}.png`), pngBytes(2, 2, gray(i), false));
    }
    await put(join(root, 'test', 'dog', '0.png'), pngBytes(2, 2, gray(9), false));
    const d = await loadDataset(root);
    expect(d.classes).toEqual(['cat', 'dog']);
    expect(d.train.count).toBe(6);
    expect(d.test?.count).toBe(1);
    expect([...d.test!.y]).toEqual([1]);
    // limit takes classes in turn, so both classes stay in
    const limited = await loadDataset(root, { limit: 2 });
    expect(classBalance(limited.train)).toEqual([1, 1]);
  });

  it('a folder of loose images is unlabeled', async () => {
    const root = join(dir, 'loose');
    await put(join(root, 'a.png'), pngBytes(2, 2, gray(0), false));
    await put(join(root, 'b.png'), pngBytes(2, 2, gray(0), false));
    const d = await loadDataset(root);
    expect([...d.train.y]).toEqual([-1, -1]);
    expect(d.classes).toEqual([]);
  });

  it('fingerprint changes with one pixel, and with normalisation', async () => {
    const a = join(dir, 'fp-a');
    const b = join(dir, 'fp-b');
    await put(join(a, 'k', '1.png'), pngBytes(2, 2, gray(10), false));
    await put(join(b, 'k', '1.png'), pngBytes(2, 2, (x, y) => (x + y === 0 ? [11, 11, 11] : [10, 10, 10]), false));
    const fa = await loadDataset(a);
    expect((await loadDataset(b)).fingerprint).not.toBe(fa.fingerprint);
    expect((await loadDataset(a, { normalize: { mean: 0.1, std: 1 } })).fingerprint).not.toBe(fa.fingerprint);
    expect((await loadDataset(a)).fingerprint).toBe(fa.fingerprint);
  });
});

describe('image-folder errors', () => {
  it('mixed sizes name the first mismatching file and the reference', async () => {
    const root = join(dir, 'mixed');
    await put(join(root, 'a', '1.png'), pngBytes(4, 4, gray(0), false));
    await put(join(root, 'a', '2.png'), pngBytes(4, 4, gray(0), false));
    await put(join(root, 'b', '1.png'), pngBytes(5, 4, gray(0), false));
    await put(join(root, 'b', '2.png'), pngBytes(6, 4, gray(0), false));
    await expectError(root, /image is 5x4 but the first image \(.*a\/1\.png\) is 4x4/, join('b', '1.png'));
  });

  it('empty class folder', async () => {
    const root = join(dir, 'empty');
    await put(join(root, 'a', '1.png'), pngBytes(2, 2, gray(0), false));
    await put(join(root, 'b', 'readme.txt'), 'no images here');
    await expectError(root, /class folder holds no PNG or JPEG images/, join('empty', 'b'));
  });

  it('unsupported format, corrupt image, stray images and unknown test classes', async () => {
    const bmp = join(dir, 'bmp');
    await put(join(bmp, 'a', '1.bmp'), 'BM');
    await expectError(bmp, /not supported: convert it to PNG or JPEG/, '1.bmp');

    const corrupt = join(dir, 'corrupt');
    await put(join(corrupt, 'a', '1.png'), pngBytes(2, 2, gray(0), false).subarray(0, 30));
    await expectError(corrupt, /cannot decode image/, '1.png');

    const fake = join(dir, 'fake');
    await put(join(fake, 'a', '1.png'), 'not really a png');
    await expectError(fake, /not a PNG or JPEG file/, '1.png');

    const stray = join(dir, 'stray');
    await put(join(stray, 'a', '1.png'), pngBytes(2, 2, gray(0), false));
    await put(join(stray, 'loose.png'), pngBytes(2, 2, gray(0), false));
    await expectError(stray, /both class folders \(a\) and loose images \(loose\.png\)/);

    const unknown = join(dir, 'unknown');
    await put(join(unknown, 'train', 'a', '1.png'), pngBytes(2, 2, gray(0), false));
    await put(join(unknown, 'test', 'z', '1.png'), pngBytes(2, 2, gray(0), false));
    await expectError(unknown, /test\/ has class folder 'z' that train\/ does not have/);

    const nothing = join(dir, 'nothing');
    await put(join(nothing, 'readme.md'), '#');
    await expectError(nothing, /holds no PNG or JPEG images and no class folders/);
  });

  it('refuses an image dataset over the byte cap', async () => {
    const root = join(dir, 'cap');
    await put(join(root, 'a', '1.png'), pngBytes(64, 64, gray(0), false));
    await expect(loadDataset(root, { maxBytes: 1000 })).rejects.toThrow(/needs 16384 bytes in memory as float32, over the 1000 bytes cap/);
  });
});
