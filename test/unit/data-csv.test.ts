import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, loadDataset } from '../../app/engine/data/index.js';
import { splitCsvLine } from '../../app/engine/data/csv.js';
import { makeTempDir, put } from '../fixtures/data/make.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(() => cleanup());

async function csv(name: string, text: string): Promise<string> {
  return put(join(dir, name), text);
}

async function expectError(path: string, pattern: RegExp, where?: string, options = {}): Promise<void> {
  const err = await loadDataset(path, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as Error).message).toMatch(pattern);
  if (where) expect((err as DatasetError).where).toContain(where);
}

describe('CSV reader', () => {
  it('reads integer labels and numeric features into [N, F]', async () => {
    const file = await csv('basic.csv', '\uFEFFf1,label,f2\r\n1.5,0,-2\r\n3,2,4e-1\r\n\r\n.5,1,+7\r\n');
    const d = await loadDataset(file);
    expect(d.kind).toBe('csv');
    expect(d.sampleShape).toEqual([2]);
    expect(d.train.count).toBe(3);
    expect([...d.train.x]).toEqual([1.5, -2, 3, 0.4, 0.5, 7].map(Math.fround));
    expect([...d.train.y]).toEqual([0, 2, 1]);
    expect(d.classes).toEqual(['0', '1', '2']);
    expect(d.test).toBeNull();
    expect(d.preprocessing).toMatchObject({ scale: 'none', labelColumn: 'label' });
  });

  it('uses a named label column, class-name labels, quotes, and empty = unlabeled', async () => {
    const file = await csv('names.csv', 'a,"b, quoted",species\n1,2,setosa\n3,4,"virginica"\n5,6,\n7,8,setosa\n');
    const d = await loadDataset(file, { labelColumn: 'species' });
    expect(d.classes).toEqual(['setosa', 'virginica']);
    expect([...d.train.y]).toEqual([0, 1, -1, 0]);
    expect(d.train.x[7]).toBe(8);
  });

  it('reads train.csv + test.csv from a folder, classes.txt names, limit and normalize', async () => {
    await csv('folder/train.csv', 'x,y,label\n0,1,1\n2,3,0\n4,5,1\n');
    await csv('folder/test.csv', 'x,y,label\n6,7,0\n');
    await csv('folder/classes.txt', 'no\nyes\n');
    const folder = join(dir, 'folder');
    const d = await loadDataset(folder);
    expect(d.train.count).toBe(3);
    expect(d.test?.count).toBe(1);
    expect(d.classes).toEqual(['no', 'yes']);
    expect([...d.test!.x]).toEqual([6, 7]);
    const limited = await loadDataset(folder, { limit: 2, normalize: { mean: 1, std: 2 } });
    expect(limited.train.count).toBe(2);
    expect([...limited.train.x]).toEqual([-0.5, 0, 0.5, 1]);
    expect(limited.fingerprint).not.toBe(d.fingerprint);
  });

  it('fingerprint changes when a cell changes', async () => {
    const a = await loadDataset(await csv('fa.csv', 'f,label\n1,0\n2,1\n'));
    const b = await loadDataset(await csv('fb.csv', 'f,label\n1,0\n2.5,1\n'));
    const a2 = await loadDataset(await csv('fa2.csv', 'f,label\n1,0\n2,1\n'));
    expect(b.fingerprint).not.toBe(a.fingerprint);
    expect(a2.fingerprint).toBe(a.fingerprint);
  });

  it('splitCsvLine handles quotes and escaped quotes', () => {
    expect(splitCsvLine('a, "b,c" ,"d""e"')).toEqual(['a', 'b,c', 'd"e']);
    expect(splitCsvLine('"open')).toBeNull();
  });
});

describe('CSV errors', () => {
  it('non-numeric cell names line and column', async () => {
    await expectError(await csv('nan.csv', 'f1,f2,label\n1,2,0\n3,abc,1\n'), /column 'f2' 'abc' is not a number/, 'nan.csv line 3');
    await expectError(await csv('empty-cell.csv', 'f1,f2,label\n1,,0\n'), /column 'f2' is empty/, 'line 2');
  });

  it('ragged row names the line', async () => {
    await expectError(await csv('ragged.csv', 'f1,f2,label\n1,2,0\n1,2\n'), /row has 2 cells but the header has 3 columns/, 'ragged.csv line 3');
  });

  it('missing label column lists the columns', async () => {
    await expectError(await csv('nolabel.csv', 'a,b\n1,2\n'), /no label column 'label' in the header \(columns: a, b\)/, 'line 1');
    await expectError(join(dir, 'basic.csv'), /no label column 'target'/, undefined, { labelColumn: 'target' });
  });

  it('negative or out-of-range labels name the line', async () => {
    await expectError(await csv('neg.csv', 'f,label\n1,0\n1,-3\n'), /label -3 is negative/, 'neg.csv line 3');
    await csv('range/train.csv', 'f,label\n1,0\n1,5\n');
    await csv('range/classes.txt', 'a\nb\n');
    await expectError(join(dir, 'range'), /label 5 is out of range: classes.txt names 2 classes/, 'train.csv line 3');
  });

  it('other bad files', async () => {
    await expectError(await csv('quote.csv', 'f,label\n"1,0\n'), /quoted cell is not closed/, 'line 2');
    await expectError(await csv('dup.csv', 'f,f,label\n'), /column 'f' appears twice/);
    await expectError(await csv('norows.csv', 'f,label\n'), /no data rows/);
    await expectError(await csv('blank.csv', ''), /file is empty/);
    await expectError(await csv('onlylabel.csv', 'label\n1\n'), /no feature columns/);
    await csv('mismatch/train.csv', 'a,b,label\n1,2,0\n');
    await csv('mismatch/test.csv', 'a,c,label\n1,2,0\n');
    await expectError(join(dir, 'mismatch'), /feature columns \(a, c\) differ from train.csv's \(a, b\)/, 'test.csv');
    await csv('loose/data.csv', 'f,label\n1,0\n');
    await expectError(join(dir, 'loose'), /holds data.csv but no train.csv/);
  });

  it('refuses a CSV over the byte cap', async () => {
    await expectError(join(dir, 'basic.csv'), /over the 100 bytes cap/, undefined, { maxBytes: 100 });
  });
});
