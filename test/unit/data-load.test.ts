import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  batches,
  checkAgainstModelInput,
  classBalance,
  DatasetError,
  detectDatasetKind,
  keepLabelsPerClass,
  loadDataset,
  planSplits,
} from '../../app/engine/data/index.js';
import { gray, makeTempDir, pngBytes, put, SAMPLE_DIR } from '../fixtures/data/make.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(() => cleanup());

describe('dataset detection', () => {
  it('tells the kinds apart', async () => {
    expect(await detectDatasetKind(SAMPLE_DIR)).toBe('idx');
    expect(await detectDatasetKind(join(SAMPLE_DIR, 'train-images-idx3-ubyte.gz'))).toBe('idx');
    expect(await detectDatasetKind(await put(join(dir, 'a.csv'), 'f,label\n1,0\n'))).toBe('csv');
    await put(join(dir, 'csvdir', 'train.csv'), 'f,label\n1,0\n');
    expect(await detectDatasetKind(join(dir, 'csvdir'))).toBe('csv');
    await put(join(dir, 'imgs', 'a', '1.png'), pngBytes(2, 2, gray(0), false));
    expect(await detectDatasetKind(join(dir, 'imgs'))).toBe('images');
  });

  it('explains paths that are not datasets', async () => {
    await expect(loadDataset(join(dir, 'missing'))).rejects.toThrow(/missing: does not exist/);
    await expect(loadDataset(join(dir, 'imgs', 'a', '1.png'))).rejects.toThrow(/one image is not a dataset/);
    await expect(loadDataset(await put(join(dir, 'model.onnx'), 'x'))).rejects.toThrow(/not a dataset: expected an IDX file/);
    await expect(loadDataset(SAMPLE_DIR, { limit: 0 })).rejects.toBeInstanceOf(DatasetError);
  });

  it('numClasses refuses datasets with more classes than the model', async () => {
    await put(join(dir, 'three', 'a', '1.png'), pngBytes(2, 2, gray(0), false));
    await put(join(dir, 'three', 'b', '1.png'), pngBytes(2, 2, gray(0), false));
    await put(join(dir, 'three', 'c', '1.png'), pngBytes(2, 2, gray(0), false));
    await expect(loadDataset(join(dir, 'three'), { numClasses: 2 })).rejects.toThrow(/label 2 is out of range: there are 2 classes/);
  });
});

describe('sample dataset end to end', () => {
  it('plans splits from its own test split, batches an epoch, and fits an MLP input', async () => {
    const d = await loadDataset(SAMPLE_DIR, { limit: 1000 });
    const plan = planSplits(d, { seed: 42, validationFraction: 0.1 });
    expect(plan.testFrom).toBe('dataset');
    expect(plan.test.count).toBe(1000);
    expect(plan.validation.count).toBe(100);
    const trainBalance = classBalance(d.train, 10);
    const valBalance = classBalance(plan.validation, 10);
    valBalance.forEach((n, c) => expect(Math.abs(n - trainBalance[c]! / 10)).toBeLessThanOrEqual(1));

    const seen = new Uint8Array(plan.train.count);
    for (const b of batches(plan.train, 128, { shuffle: true, seed: 1 })) for (const i of b.indices) seen[i]!++;
    expect(seen.every((n) => n === 1)).toBe(true);

    expect(checkAgainstModelInput(d, ['N', 784]).reshape).toBe('flatten');
    expect(classBalance(keepLabelsPerClass(plan.train, 5, 42), 10)).toEqual(new Array(10).fill(5));
  });
});
