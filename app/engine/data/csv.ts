// CSV datasets: one file, or a folder holding train.csv (+ test.csv). A header row names the
// columns; the label column (default 'label') holds class indices or class names, every other
// column is a numeric feature. Read line by line with bounded buffers.
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from './errors.js';
import { readClassNames } from './class-names.js';
import { applyNormalize, type ByteBudget, type Normalize } from './preprocess.js';
import { UNLABELED, type Split } from './split.js';
import type { ReaderResult } from './idx.js';

export const DEFAULT_LABEL_COLUMN = 'label';
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const ROWS_PER_BLOCK = 4096;
/** Largest integer label accepted as a class index. */
export const MAX_CLASS_INDEX = 99_999;

export interface CsvReadOptions {
  labelColumn?: string;
  normalize?: Normalize;
  limit?: number;
}

interface CsvTable {
  file: string;
  features: string[];
  x: Float32Array;
  /** Raw label cells ('' = unlabeled) and the line each row came from, for error messages. */
  labels: string[];
  lines: number[];
  labelColumn: string;
}

/** Splits one CSV line; supports "quoted, cells" with "" escapes. Returns null for an unclosed quote. */
export function splitCsvLine(line: string): string[] | null {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  if (quoted) return null;
  cells.push(cell.trim());
  return cells;
}

async function readCsvTable(file: string, options: CsvReadOptions, budget: ByteBudget, hash: Hash): Promise<CsvTable> {
  const labelColumn = options.labelColumn ?? DEFAULT_LABEL_COLUMN;
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 });
  const reader = createInterface({ input, crlfDelay: Infinity });
  let header: string[] | null = null;
  let labelIndex = -1;
  const blocks: Float32Array[] = [];
  let block = new Float32Array(0);
  let inBlock = 0;
  let features = 0;
  const labels: string[] = [];
  const lines: number[] = [];
  let lineNo = 0;
  try {
    for await (const raw of reader) {
      lineNo++;
      const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      const where = `${file} line ${lineNo}`;
      const cells = splitCsvLine(line);
      if (!cells) throw new DatasetError('a quoted cell is not closed', where);
      if (!header) {
        header = cells;
        hash.update(`csv header ${JSON.stringify(header)}\n`);
        const dup = header.find((name, i) => header!.indexOf(name) !== i);
        if (dup !== undefined) throw new DatasetError(`column '${dup}' appears twice in the header`, where);
        labelIndex = header.indexOf(labelColumn);
        if (labelIndex < 0) {
          throw new DatasetError(
            `no label column '${labelColumn}' in the header (columns: ${header.join(', ')}); name the label column with --label-column`,
            where,
          );
        }
        features = header.length - 1;
        if (features === 0) throw new DatasetError('the header has a label column but no feature columns', where);
        continue;
      }
      if (options.limit !== undefined && labels.length >= options.limit) break;
      if (cells.length !== header.length) {
        throw new DatasetError(`row has ${cells.length} cells but the header has ${header.length} columns`, where);
      }
      hash.update(line);
      hash.update('\n');
      if (inBlock === block.length / features) {
        budget.claim(ROWS_PER_BLOCK * features * 4, file);
        block = new Float32Array(ROWS_PER_BLOCK * features);
        blocks.push(block);
        inBlock = 0;
      }
      let f = 0;
      for (let c = 0; c < cells.length; c++) {
        if (c === labelIndex) continue;
        const cell = cells[c]!;
        if (!NUMBER.test(cell)) {
          const what = cell === '' ? 'is empty' : `'${cell.length > 40 ? cell.slice(0, 40) + '…' : cell}' is not a number`;
          throw new DatasetError(`column '${header[c]}' ${what}`, where);
        }
        // 1e400 matches NUMBER but is Infinity, and 1e308 overflows float32: either would turn
        // every loss into NaN. Samples are stored as float32, so check what will be stored.
        const value = Math.fround(applyNormalize(Number(cell), options.normalize));
        if (!Number.isFinite(value)) {
          throw new DatasetError(`column '${header[c]}' value ${cell.length > 40 ? cell.slice(0, 40) + '…' : cell} is out of range (beyond ±3.4e38 as float32)`, where);
        }
        block[inBlock * features + f++] = value;
      }
      inBlock++;
      labels.push(cells[labelIndex]!);
      lines.push(lineNo);
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`cannot read (${(e as Error).message})`, file);
  } finally {
    reader.close();
    input.destroy();
  }
  if (!header) throw new DatasetError('file is empty: expected a header row and data rows', file);
  if (labels.length === 0) throw new DatasetError('has a header but no data rows', file);
  // Join the blocks, dropping the unused tail of the last one.
  const x = new Float32Array(labels.length * features);
  blocks.forEach((b, i) => x.set(b.subarray(0, Math.min(b.length, x.length - i * b.length)), i * ROWS_PER_BLOCK * features));
  return { file, features: header.filter((_, i) => i !== labelIndex), x, labels, lines, labelColumn };
}

/**
 * Turns label cells into class indices. Integer labels are class indices (-1 or an empty cell
 * = unlabeled; names from classes.txt when present); any other text makes every label a class
 * name, and classes are the sorted distinct names.
 */
function labelTables(tables: CsvTable[], namesFromFile: string[] | null): { ys: Int32Array[]; classes: string[] } {
  const numeric = tables.every((t) => t.labels.every((l) => l === '' || INTEGER.test(l)));
  if (numeric) {
    let max = -1;
    const ys = tables.map((t) =>
      Int32Array.from(t.labels, (cell, row) => {
        if (cell === '') return UNLABELED;
        const value = Number(cell);
        const where = `${t.file} line ${t.lines[row]}`;
        if (value < UNLABELED) throw new DatasetError(`label ${cell} is negative; labels are class indices 0, 1, 2, … (-1 or empty = unlabeled)`, where);
        // The class list is built up to the largest index: an index like 2147483648 (a wrong
        // label column, an id) must be refused before it allocates billions of class names.
        if (value > MAX_CLASS_INDEX) {
          throw new DatasetError(`label ${cell} is too large: class indices go up to ${MAX_CLASS_INDEX} (is '${t.labelColumn}' really the label column?)`, where);
        }
        if (namesFromFile && value >= namesFromFile.length) {
          throw new DatasetError(`label ${value} is out of range: classes.txt names ${namesFromFile.length} classes (0..${namesFromFile.length - 1})`, where);
        }
        max = Math.max(max, value);
        return value;
      }),
    );
    return { ys, classes: namesFromFile ?? Array.from({ length: max + 1 }, (_, i) => String(i)) };
  }
  const names = [...new Set(tables.flatMap((t) => t.labels.filter((l) => l !== '')))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(names.map((n, i) => [n, i]));
  const ys = tables.map((t) => Int32Array.from(t.labels, (cell) => (cell === '' ? UNLABELED : index.get(cell)!)));
  return { ys, classes: names };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function readCsvDataset(path: string, options: CsvReadOptions, budget: ByteBudget, hash: Hash): Promise<ReaderResult> {
  const isDir = (await stat(path)).isDirectory();
  const trainFile = isDir ? join(path, 'train.csv') : path;
  if (isDir && !(await exists(trainFile))) throw new DatasetError('folder has no train.csv', path);
  const testFile = isDir && (await exists(join(path, 'test.csv'))) ? join(path, 'test.csv') : null;
  const train = await readCsvTable(trainFile, options, budget, hash);
  const test = testFile ? await readCsvTable(testFile, options, budget, hash) : null;
  if (test && test.features.join('\u0000') !== train.features.join('\u0000')) {
    throw new DatasetError(`feature columns (${test.features.join(', ')}) differ from train.csv's (${train.features.join(', ')})`, test.file);
  }
  const { ys, classes } = labelTables(test ? [train, test] : [train], isDir ? await readClassNames(path) : null);
  const sampleShape = [train.features.length];
  const split = (t: CsvTable, y: Int32Array): Split => ({ x: t.x, y, count: y.length, sampleShape: [...sampleShape] });
  return {
    train: split(train, ys[0]!),
    test: test ? split(test, ys[1]!) : null,
    classes,
    sampleShape,
    files: test ? [train.file, test.file] : [train.file],
  };
}
