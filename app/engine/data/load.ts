// loadDataset: works out which kind of dataset a path is, runs its reader, and fingerprints the
// result (content + preprocessing, never the path) so caches can key on what was read.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { DatasetError } from './errors.js';
import { isIdxFileName, readIdxDataset } from './idx.js';
import { readImageFolder } from './image-folder.js';
import { DEFAULT_LABEL_COLUMN, readCsvDataset } from './csv.js';
import { ByteBudget, checkLimit, checkNormalize, DEFAULT_MAX_DATASET_BYTES, type Normalize } from './preprocess.js';
import { assertLabelsInRange, type Split } from './split.js';

export type DatasetKind = 'idx' | 'images' | 'csv';

export interface LoadOptions {
  /** CSV label column; default 'label'. */
  labelColumn?: string;
  /** Applied after scaling pixels to [0, 1] (CSV: to the raw values): (v - mean) / std. */
  normalize?: Normalize;
  /** Read at most this many samples per split (IDX/CSV: the first ones; images: classes in turn). */
  limit?: number;
  /** Refuse datasets needing more float32 bytes than this; default DEFAULT_MAX_DATASET_BYTES. */
  maxBytes?: number;
  /** When set (e.g. the model's output count), every label must be below it. */
  numClasses?: number;
}

export interface Preprocessing {
  /** How raw values were scaled before normalisation. */
  scale: 'pixel/255' | 'none';
  normalize: Normalize | null;
  limit: number | null;
  labelColumn: string | null;
}

export interface LoadedDataset {
  kind: DatasetKind;
  source: string;
  /** Class names; index i names label i. Empty when nothing is labelled. */
  classes: string[];
  sampleShape: number[];
  train: Split;
  /** The dataset's own test split, or null (then make one with makeTestSplit). */
  test: Split | null;
  /** sha256 (hex) over the contents read and the preprocessing. */
  fingerprint: string;
  files: string[];
  preprocessing: Preprocessing;
}

async function statOrThrow(path: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(code === 'ENOENT' ? 'does not exist' : `cannot open (${(e as Error).message})`, path);
  }
}

export async function detectDatasetKind(path: string): Promise<DatasetKind> {
  const info = await statOrThrow(path);
  if (info.isFile()) {
    if (extname(path).toLowerCase() === '.csv') return 'csv';
    if (isIdxFileName(path)) return 'idx';
    if (/\.(png|jpe?g)$/i.test(path)) throw new DatasetError('one image is not a dataset; pass the folder that holds the images', path);
    throw new DatasetError('not a dataset: expected an IDX file (…-idx3-ubyte[.gz]), a .csv file, or a folder', path);
  }
  const names = await readdir(path);
  const idx = names.some(isIdxFileName);
  const csv = names.includes('train.csv');
  if (idx && csv) throw new DatasetError('holds both IDX files and train.csv; keep one dataset per folder', path);
  if (idx) return 'idx';
  if (csv) return 'csv';
  const looseCsv = names.filter((n) => n.toLowerCase().endsWith('.csv'));
  if (looseCsv.length > 0 && !names.some((n) => /\.(png|jpe?g)$/i.test(n))) {
    const subdirs = await Promise.all(names.map(async (n) => (await stat(`${path}/${n}`)).isDirectory()));
    if (!subdirs.some(Boolean)) {
      throw new DatasetError(`holds ${looseCsv.join(', ')} but no train.csv: pass the CSV file itself, or name the files train.csv and test.csv`, path);
    }
  }
  return 'images';
}

export async function loadDataset(path: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  checkNormalize(options.normalize);
  checkLimit(options.limit);
  if (options.numClasses !== undefined && (!Number.isInteger(options.numClasses) || options.numClasses < 1)) {
    throw new DatasetError(`numClasses must be a positive integer, got ${options.numClasses}`);
  }
  const kind = await detectDatasetKind(path);
  const budget = new ByteBudget(options.maxBytes ?? DEFAULT_MAX_DATASET_BYTES);
  const hash = createHash('sha256');
  hash.update(`distillery-dataset v1 ${kind}\n`);
  const read =
    kind === 'idx'
      ? await readIdxDataset(path, options, budget, hash)
      : kind === 'images'
        ? await readImageFolder(path, options, budget, hash)
        : await readCsvDataset(path, options, budget, hash);

  let classes = read.classes;
  if (options.numClasses !== undefined) {
    // Name the dataset: the caller's numClasses usually comes from the model, so the message
    // must say which data disagrees with it.
    assertLabelsInRange(read.train, options.numClasses, `${path} (train split)`);
    if (read.test) assertLabelsInRange(read.test, options.numClasses, `${path} (test split)`);
    if (classes.length > options.numClasses) {
      throw new DatasetError(`has ${classes.length} classes but numClasses is ${options.numClasses}`, path);
    }
    // Integer-named classes grow to the model's class count (a class may have no samples).
    if (classes.every((c, i) => c === String(i))) classes = Array.from({ length: options.numClasses }, (_, i) => String(i));
  }
  const preprocessing: Preprocessing = {
    scale: kind === 'csv' ? 'none' : 'pixel/255',
    normalize: options.normalize ? { mean: options.normalize.mean, std: options.normalize.std } : null,
    limit: options.limit ?? null,
    labelColumn: kind === 'csv' ? (options.labelColumn ?? DEFAULT_LABEL_COLUMN) : null,
  };
  hash.update(`preprocessing ${JSON.stringify(preprocessing)} classes ${JSON.stringify(classes)}\n`);
  return {
    kind,
    source: path,
    classes,
    sampleShape: read.sampleShape,
    train: read.train,
    test: read.test,
    fingerprint: hash.digest('hex'),
    files: read.files,
    preprocessing,
  };
}
