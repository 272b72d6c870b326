// Image-folder datasets: one sub-folder per class, or train/ + test/ each holding class
// sub-folders, or loose images (unlabeled). PNG and JPEG, grayscale or RGB, all one size.
// Samples become float32 NCHW in [0, 1] (then normalised); classes are sorted folder names.
import type { Hash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './errors.js';
import { decodeImage, type DecodedImage } from './image-decode.js';
import { pixelTable, type ByteBudget, type Normalize } from './preprocess.js';
import { UNLABELED, type Split } from './split.js';
import type { ReaderResult } from './idx.js';

const IMAGE_EXT = /\.(png|jpe?g)$/i;
const UNSUPPORTED_IMAGE_EXT = /\.(bmp|gif|webp|tiff?|heic|heif|avif|ppm|pgm)$/i;
const PREFETCH = 8;

interface ImageEntry {
  file: string;
  label: number;
}

interface FolderScan {
  /** Sorted class-folder names, or null for a folder of loose (unlabeled) images. */
  classes: string[] | null;
  /** Images grouped by class, in name order. */
  byClass: ImageEntry[][];
}

async function kindOf(dir: string, entry: Dirent): Promise<'dir' | 'file' | 'other'> {
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  if (entry.isSymbolicLink()) {
    const s = await stat(join(dir, entry.name));
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  }
  return 'other';
}

/** Image files and sub-folders of dir (hidden names skipped, unrelated files ignored). */
async function listFolder(dir: string): Promise<{ dirs: string[]; images: string[] }> {
  const dirs: string[] = [];
  const images: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const kind = await kindOf(dir, entry);
    if (kind === 'dir') dirs.push(entry.name);
    else if (kind === 'file' && IMAGE_EXT.test(entry.name)) images.push(entry.name);
    else if (kind === 'file' && UNSUPPORTED_IMAGE_EXT.test(entry.name)) {
      throw new DatasetError('image format not supported: convert it to PNG or JPEG', join(dir, entry.name));
    }
  }
  // Code-point order, not locale order, so class indices are the same on every machine.
  return { dirs: dirs.sort(byCodePoint), images: images.sort(byCodePoint) };
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function scanFolder(dir: string): Promise<FolderScan> {
  const { dirs, images } = await listFolder(dir);
  if (dirs.length > 0 && images.length > 0) {
    throw new DatasetError(
      `holds both class folders (${dirs.slice(0, 3).join(', ')}) and loose images (${images[0]}); put every image in a class folder, or remove the folders`,
      dir,
    );
  }
  if (images.length > 0) {
    return { classes: null, byClass: [images.map((name) => ({ file: join(dir, name), label: UNLABELED }))] };
  }
  if (dirs.length === 0) throw new DatasetError('holds no PNG or JPEG images and no class folders', dir);
  const byClass: ImageEntry[][] = [];
  for (const [label, name] of dirs.entries()) {
    const classDir = join(dir, name);
    const inner = await listFolder(classDir);
    if (inner.dirs.length > 0) {
      throw new DatasetError(`class folder holds a sub-folder '${inner.dirs[0]}'; class folders must hold images only`, classDir);
    }
    if (inner.images.length === 0) throw new DatasetError('class folder holds no PNG or JPEG images', classDir);
    byClass.push(inner.images.map((file) => ({ file: join(classDir, file), label })));
  }
  return { classes: dirs, byClass };
}

/** All entries, or with a limit the first files of each class taken in turn, so every class stays in. */
function pick(scan: FolderScan, limit: number | undefined): ImageEntry[] {
  if (limit === undefined) return scan.byClass.flat();
  const picked: ImageEntry[] = [];
  for (let i = 0; picked.length < limit; i++) {
    let any = false;
    for (const group of scan.byClass) {
      if (i < group.length && picked.length < limit) {
        picked.push(group[i]!);
        any = true;
      }
    }
    if (!any) break;
  }
  return picked;
}

interface Decoded {
  entries: ImageEntry[];
  images: DecodedImage[];
}

async function decodeAll(entries: ImageEntry[], first: { ref: DecodedImage; file: string } | null, hash: Hash): Promise<Decoded & { first: { ref: DecodedImage; file: string } }> {
  const images: DecodedImage[] = [];
  const queue: Promise<Buffer>[] = [];
  let next = 0;
  let ref = first;
  for (const entry of entries) {
    while (queue.length < PREFETCH && next < entries.length) {
      const p = readFile(entries[next++]!.file);
      p.catch(() => undefined); // failures surface when awaited below
      queue.push(p);
    }
    const bytes = await queue.shift()!.catch((e: Error) => {
      throw new DatasetError(`cannot read (${e.message})`, entry.file);
    });
    hash.update(`${entry.label} ${bytes.length}\n`);
    hash.update(bytes);
    const image = decodeImage(bytes, entry.file);
    if (!ref) ref = { ref: image, file: entry.file };
    else if (image.width !== ref.ref.width || image.height !== ref.ref.height) {
      throw new DatasetError(
        `image is ${image.width}x${image.height} but the first image (${ref.file}) is ${ref.ref.width}x${ref.ref.height}; all images must have the same size`,
        entry.file,
      );
    }
    images.push(image);
  }
  return { entries, images, first: ref! };
}

/** HWC bytes to CHW floats; grayscale images are repeated across three channels when needed. */
function toSplit(decoded: Decoded, channels: 1 | 3, width: number, height: number, table: Float32Array): Split {
  const plane = width * height;
  const size = channels * plane;
  const x = new Float32Array(decoded.images.length * size);
  const y = new Int32Array(decoded.images.length);
  decoded.images.forEach((img, n) => {
    y[n] = decoded.entries[n]!.label;
    const base = n * size;
    for (let c = 0; c < channels; c++) {
      const src = img.channels === 1 ? 0 : c;
      for (let p = 0; p < plane; p++) x[base + c * plane + p] = table[img.data[p * img.channels + src]!]!;
    }
  });
  return { x, y, count: y.length, sampleShape: [channels, height, width] };
}

export async function readImageFolder(
  path: string,
  options: { normalize?: Normalize; limit?: number },
  budget: ByteBudget,
  hash: Hash,
): Promise<ReaderResult> {
  const top = await listFolder(path);
  const hasSplits = top.dirs.includes('train') && top.dirs.includes('test');
  const trainScan = await scanFolder(hasSplits ? join(path, 'train') : path);
  const testScan = hasSplits ? await scanFolder(join(path, 'test')) : null;
  const classes = trainScan.classes ?? [];
  if (testScan) {
    if (!trainScan.classes !== !testScan.classes) {
      throw new DatasetError('train/ and test/ must both hold class folders, or both hold loose images', path);
    }
    // Test classes must be train classes, and keep train's indices.
    testScan.classes?.forEach((name, i) => {
      const index = classes.indexOf(name);
      if (index < 0) throw new DatasetError(`test/ has class folder '${name}' that train/ does not have`, join(path, 'test', name));
      for (const entry of testScan.byClass[i]!) entry.label = index;
    });
  }
  const trainEntries = pick(trainScan, options.limit);
  const testEntries = testScan ? pick(testScan, options.limit) : [];
  const total = trainEntries.length + testEntries.length;

  hash.update(`images classes ${JSON.stringify(classes)}\n`);
  const train = await decodeAll(trainEntries.slice(0, 1), null, hash);
  const { width, height } = train.first.ref;
  budget.claim(total * width * height * 4, path); // refuse early, before decoding everything
  const rest = await decodeAll(trainEntries.slice(1), train.first, hash);
  train.entries = trainEntries;
  train.images.push(...rest.images);
  const test = testScan ? await decodeAll(testEntries, train.first, hash) : null;

  const channels = [...train.images, ...(test?.images ?? [])].some((img) => img.channels === 3) ? 3 : 1;
  if (channels === 3) budget.claim(total * width * height * 8, path);
  const table = pixelTable(options.normalize);
  return {
    train: toSplit(train, channels, width, height, table),
    test: test ? toSplit(test, channels, width, height, table) : null,
    classes,
    sampleShape: [channels, height, width],
    files: [...trainEntries, ...testEntries].map((e) => e.file),
  };
}
