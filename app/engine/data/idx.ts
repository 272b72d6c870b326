// IDX datasets: a folder holding train-* and (optionally) t10k-* / test-* image and label files,
// or one images file. Pixels become float32 NCHW in [0, 1] (then normalised).
import type { Hash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DatasetError } from './errors.js';
import { inspectIdxFile, readIdxRecords, type IdxFileInfo } from './idx-file.js';
import { numericClassNames, readClassNames } from './class-names.js';
import { pixelTable, type ByteBudget, type Normalize } from './preprocess.js';
import { UNLABELED, type Split } from './split.js';

export interface IdxReadOptions {
  normalize?: Normalize;
  limit?: number;
}

export interface ReaderResult {
  train: Split;
  test: Split | null;
  classes: string[];
  sampleShape: number[];
  /** Files read, in reading order. */
  files: string[];
}

// e.g. train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte, emnist-letters-test-images-idx3-ubyte
const IDX_NAME = /^(.*?)(train|t10k|test)-(images|labels)[.-]idx([1-3])-ubyte(\.gz)?$/i;
const ANY_IDX = /idx[1-3]-ubyte(\.gz)?$/i;

export function isIdxFileName(name: string): boolean {
  return ANY_IDX.test(name);
}

interface SplitFiles {
  images?: string;
  labels?: string;
}

/** Finds the images/labels files of each split in a folder (or next to one images file). */
async function locate(path: string): Promise<{ dir: string; train: SplitFiles; test: SplitFiles }> {
  const isFile = (await stat(path)).isFile();
  const dir = isFile ? dirname(path) : path;
  const names = isFile ? [basename(path)] : (await readdir(dir)).filter((n) => ANY_IDX.test(n)).sort();
  const train: SplitFiles = {};
  const test: SplitFiles = {};
  for (const name of names) {
    const m = IDX_NAME.exec(name);
    if (!m) {
      if (isFile) {
        train.images = join(dir, name); // a lone images file with no recognisable role
        continue;
      }
      throw new DatasetError(`cannot tell whether '${name}' is train or test data: expected names like train-images-idx3-ubyte.gz or t10k-labels-idx1-ubyte.gz`, dir);
    }
    const split = m[2]!.toLowerCase() === 'train' ? train : test;
    const role = m[3]!.toLowerCase() as 'images' | 'labels';
    if (isFile && role === 'labels') {
      throw new DatasetError('this is a labels file; pass the images file or the folder holding both', path);
    }
    if (split[role]) {
      throw new DatasetError(`two ${m[2]} ${role} files: '${basename(split[role]!)}' and '${name}'; keep one`, dir);
    }
    split[role] = join(dir, name);
    if (isFile) {
      // Pair a lone images file with its labels file when one sits next to it.
      const prefix = `${m[1]}${m[2]}-labels`;
      const sibling = (await readdir(dir)).filter((n) => n.startsWith(prefix) && ANY_IDX.test(n)).sort();
      if (sibling.length > 1) throw new DatasetError(`several labels files match: ${sibling.join(', ')}`, dir);
      if (sibling.length === 1) split.labels = join(dir, sibling[0]!);
    }
  }
  if (!train.images) {
    const hint = test.images ? ' (only test images were found)' : '';
    throw new DatasetError(`no train images file (e.g. train-images-idx3-ubyte.gz)${hint}`, path);
  }
  for (const [name, split] of [['train', train], ['test', test]] as const) {
    if (split.labels && !split.images) throw new DatasetError(`has ${name} labels but no ${name} images`, path);
  }
  return { dir, train, test };
}

function sampleShapeOf(info: IdxFileInfo): number[] {
  if (info.dims.length === 3) return [1, info.dims[1]!, info.dims[2]!];
  if (info.dims.length === 2) return [info.dims[1]!];
  throw new DatasetError(`an images file needs rank 2 or 3, this one has rank ${info.dims.length}`, info.file);
}

interface PlannedSplit {
  images: IdxFileInfo;
  labels: IdxFileInfo | null;
  count: number;
}

async function plan(files: SplitFiles, limit: number | undefined): Promise<PlannedSplit> {
  const images = await inspectIdxFile(files.images!);
  const labels = files.labels ? await inspectIdxFile(files.labels) : null;
  if (images.dims[0] === 0) throw new DatasetError('holds no images', images.file);
  if (labels) {
    if (labels.dims.length !== 1) {
      throw new DatasetError(`a labels file needs rank 1, this one has rank ${labels.dims.length}`, labels.file);
    }
    if (labels.dims[0] !== images.dims[0]) {
      throw new DatasetError(
        `count mismatch: ${basename(images.file)} holds ${images.dims[0]} images but ${basename(labels.file)} holds ${labels.dims[0]} labels`,
        dirname(images.file),
      );
    }
  }
  return { images, labels, count: Math.min(images.dims[0]!, limit ?? Infinity) };
}

async function readSplit(p: PlannedSplit, table: Float32Array, maxClasses: number | null, hash: Hash): Promise<Split> {
  const sampleShape = sampleShapeOf(p.images);
  const x = new Float32Array(p.count * p.images.recordBytes);
  hash.update(`idx images ${p.count}\n`);
  await readIdxRecords(p.images, p.count, (bytes, offset) => {
    for (let i = 0; i < bytes.length; i++) x[offset + i] = table[bytes[i]!]!;
  }, hash);
  const y = new Int32Array(p.count).fill(UNLABELED);
  if (p.labels) {
    const file = p.labels.file;
    hash.update(`idx labels ${p.count}\n`);
    await readIdxRecords(p.labels, p.count, (bytes, offset) => {
      for (let i = 0; i < bytes.length; i++) {
        if (maxClasses !== null && bytes[i]! >= maxClasses) {
          throw new DatasetError(`label ${bytes[i]} is out of range: there are ${maxClasses} classes (0..${maxClasses - 1})`, `${file} label index ${offset + i}`);
        }
        y[offset + i] = bytes[i]!;
      }
    }, hash);
  }
  return { x, y, count: p.count, sampleShape };
}

export async function readIdxDataset(
  path: string,
  options: IdxReadOptions & { numClasses?: number },
  budget: ByteBudget,
  hash: Hash,
): Promise<ReaderResult> {
  const { dir, train, test } = await locate(path);
  const trainPlan = await plan(train, options.limit);
  const testPlan = test.images ? await plan(test, options.limit) : null;
  const sampleShape = sampleShapeOf(trainPlan.images);
  if (testPlan) {
    const testShape = sampleShapeOf(testPlan.images);
    if (testShape.join('x') !== sampleShape.join('x')) {
      throw new DatasetError(`test samples are [${testShape.join(', ')}] but train samples are [${sampleShape.join(', ')}]`, testPlan.images.file);
    }
    if (!trainPlan.labels !== !testPlan.labels) {
      throw new DatasetError('one split has a labels file and the other does not; add the missing labels file', dir);
    }
  }
  for (const p of [trainPlan, testPlan]) {
    if (p) budget.claim(p.count * p.images.recordBytes * 4, p.images.file);
  }
  const named = trainPlan.labels ? await readClassNames(dir) : null;
  const maxClasses = named ? named.length : (options.numClasses ?? null);
  const table = pixelTable(options.normalize);
  const trainSplit = await readSplit(trainPlan, table, maxClasses, hash);
  const testSplit = testPlan ? await readSplit(testPlan, table, maxClasses, hash) : null;
  const classes = named ?? numericClassNames(testSplit ? [trainSplit.y, testSplit.y] : [trainSplit.y]);
  const files = [trainPlan, testPlan].flatMap((p) => (p ? [p.images.file, ...(p.labels ? [p.labels.file] : [])] : []));
  return { train: trainSplit, test: testSplit, classes, sampleShape, files };
}
