// Writes resources/sample-data/fashion-mnist-small/: the first 10,000 train and the first 2,000
// test (t10k) images and labels of Fashion-MNIST, as IDX gz files, plus licence and README.
// Deterministic: the first N records, gzip level 9 with no name, mtime 0 and a fixed OS byte,
// so re-running with the same Node (zlib) version rewrites identical bytes.
// Usage: npx tsx scripts/make-sample-data.ts [SOURCE_DIR]
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const outDir = join(root, 'resources', 'sample-data', 'fashion-mnist-small');

const SUBSETS = [
  { prefix: 'train', count: 10_000 },
  { prefix: 't10k', count: 2_000 },
] as const;

const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The first `count` records of an IDX file, with the count in its header rewritten. */
function firstRecords(idx: Buffer, count: number, file: string): Buffer {
  if (idx[0] !== 0 || idx[1] !== 0 || idx[2] !== 0x08) throw new Error(`${file}: not an unsigned-byte IDX file`);
  const rank = idx[3]!;
  const headerBytes = 4 + 4 * rank;
  const dims = Array.from({ length: rank }, (_, i) => idx.readUInt32BE(4 + 4 * i));
  if (dims[0]! < count) throw new Error(`${file}: holds ${dims[0]} records, fewer than the ${count} wanted`);
  const record = dims.slice(1).reduce((a, b) => a * b, 1);
  if (idx.length !== headerBytes + dims[0]! * record) throw new Error(`${file}: size does not match its header`);
  const out = Buffer.from(idx.subarray(0, headerBytes + count * record));
  out.writeUInt32BE(count, 4);
  return out;
}

function deterministicGzip(data: Buffer): Buffer {
  const gz = gzipSync(data, { level: 9 });
  // Node writes mtime 0 and no file name; pin the OS byte too (zlib sets it per platform).
  gz[9] = 3;
  return gz;
}

async function writeAtomic(file: string, data: Buffer | string): Promise<void> {
  await writeFile(`${file}.tmp`, data);
  await rename(`${file}.tmp`, file);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const rows: string[] = [];
  for (const { prefix, count } of SUBSETS) {
    for (const kind of ['images-idx3', 'labels-idx1']) {
      const name = `${prefix}-${kind}-ubyte.gz`;
      const raw = gunzipSync(await readFile(join(source, name)));
      const subset = firstRecords(raw, count, name);
      const gz = deterministicGzip(subset);
      await writeAtomic(join(outDir, name), gz);
      rows.push(`| ${name} | ${count} | ${gz.length} | \`${sha256(subset)}\` |`);
      process.stderr.write(`${name}: ${count} records, ${gz.length} bytes gz, sha256(uncompressed) ${sha256(subset)}\n`);
    }
  }
  await writeAtomic(join(outDir, 'classes.txt'), CLASS_NAMES.join('\n') + '\n');
  await writeAtomic(join(outDir, 'LICENSE'), LICENSE);
  await writeAtomic(join(outDir, 'README.md'), readme(rows));
}

const LICENSE = `Fashion-MNIST
Copyright (c) 2017 Zalando SE, https://tech.zalando.com

The MIT License (MIT)

Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included
in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;

function readme(rows: string[]): string {
  return `# Fashion-MNIST, small subset

A subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist) by Zalando Research
(28x28 grayscale images of clothing, 10 classes), bundled so Distillery's first run and tests have
real data. Licence: MIT, see \`LICENSE\` (Copyright (c) 2017 Zalando SE).

- \`train-*\`: the **first 10,000** of the 60,000 training images and labels.
- \`t10k-*\`: the **first 2,000** of the 10,000 test images and labels.
- Format: IDX (MNIST format), gzip-compressed; only the record count in each header changed.
- \`classes.txt\`: class names, line i naming label i-1.

Made by \`npx tsx scripts/make-sample-data.ts\` from Debian's \`dataset-fashion-mnist\` package
(\`/usr/share/datasets/fashion-mnist/\`). The subset is the first N records, so it is reproducible;
re-running rewrites identical files with the same Node version (gzip level 9, no timestamp).

| File | Records | Bytes (gz) | sha256 of the uncompressed IDX |
|---|---|---|---|
${rows.join('\n')}

Classes: ${CLASS_NAMES.map((c, i) => `${i} ${c}`).join(', ')}.
`;
}

main().catch((e: unknown) => {
  process.stderr.write(`make-sample-data: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
