// Loading and saving ONNX files, with external data. Paths in a model are untrusted:
// external data must stay inside the model's own folder.
import { open, readFile, realpath, rename, stat, unlink, mkdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { allTensors, decodeModel, encodeModel, OnnxFormatError, type DecodeLimits, defaultLimits } from './codec.js';
import type { ExternalDataRef, Model, Tensor } from './ir.js';

/** Protobuf's hard limit; above it a model must keep its weights in external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export class ModelFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ModelFileError';
  }
}

export interface LoadOptions {
  limits?: DecodeLimits;
  /** Leave external tensors unloaded (for inspection of huge models). */
  skipExternalData?: boolean;
}

export async function loadModel(path: string, options: LoadOptions = {}): Promise<Model> {
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new ModelFileError(path, 'is a folder, not an ONNX file');
    if (info.size > PROTOBUF_LIMIT) throw new ModelFileError(path, `is ${info.size} bytes, over protobuf's 2 GB limit; large models must store weights as external data`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeModelFile(path, bytes, options);
}

/** Decodes bytes read from `path` and resolves external data relative to it. */
export async function decodeModelFile(path: string, bytes: Uint8Array, options: LoadOptions = {}): Promise<Model> {
  let model: Model;
  try {
    model = decodeModel(bytes, options.limits ?? defaultLimits);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw new ModelFileError(path, err.message);
    throw err;
  }
  if (!options.skipExternalData) await loadExternalData(model, path);
  return model;
}

export async function loadExternalData(model: Model, modelPath: string): Promise<void> {
  const dir = dirname(resolve(modelPath));
  const files = new Map<string, { handle: Awaited<ReturnType<typeof open>>; size: number }>();
  try {
    for (const t of allTensors(model)) {
      if (!t.external || t.data.kind !== 'raw' || t.data.bytes.byteLength === t.external.length) continue;
      const file = await safeExternalPath(dir, t.external.location, modelPath, t.name);
      let entry = files.get(file);
      if (!entry) {
        const handle = await open(file, 'r');
        entry = { handle, size: (await handle.stat()).size };
        files.set(file, entry);
      }
      const { offset, length } = t.external;
      if (offset + length > entry.size) {
        throw new ModelFileError(modelPath, `tensor '${t.name}' needs bytes ${offset}..${offset + length} of '${t.external.location}', but that file has only ${entry.size} bytes`);
      }
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await entry.handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new ModelFileError(modelPath, `external data '${t.external.location}' ended early`);
        done += bytesRead;
      }
      t.data = { kind: 'raw', bytes: buf };
    }
  } finally {
    for (const { handle } of files.values()) await handle.close();
  }
}

async function safeExternalPath(dir: string, location: string, modelPath: string, tensor: string): Promise<string> {
  if (isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
    throw new ModelFileError(modelPath, `tensor '${tensor}' points its external data outside the model's folder ('${location}'); refused`);
  }
  const full = join(dir, location);
  let real: string;
  try {
    real = await realpath(full);
  } catch {
    throw new ModelFileError(modelPath, `external data file '${location}' for tensor '${tensor}' is missing (expected next to the model)`);
  }
  const realDir = await realpath(dir);
  const rel = relative(realDir, real);
  if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep)[0] === '..') {
    throw new ModelFileError(modelPath, `external data '${location}' is a link that leads outside the model's folder; refused`);
  }
  return real;
}

/** Writes `data` to `path` atomically: a temp file in the same folder, then rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  const tmp = join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export interface SaveOptions {
  /**
   * Store tensors at least this large (bytes) in `<model>.data` next to the model.
   * Defaults to external data only when the model would not fit in one protobuf.
   */
  externalThreshold?: number;
}

export async function saveModel(model: Model, path: string, options: SaveOptions = {}): Promise<void> {
  let threshold = options.externalThreshold;
  if (threshold === undefined) {
    let total = 0;
    for (const t of allTensors(model)) if (t.data.kind === 'raw') total += t.data.bytes.byteLength;
    threshold = total > 1.8 * 2 ** 30 ? 1024 : Infinity;
  }
  if (threshold === Infinity) {
    await writeFileAtomic(path, encodeModel(model));
    return;
  }
  const dataName = `${basename(path)}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const placed = new Map<Tensor, ExternalDataRef>();
  const bytes = encodeModel(model, (t) => {
    if (t.data.kind !== 'raw' || t.data.bytes.byteLength < threshold!) return null;
    const known = placed.get(t);
    if (known) return known;
    // Align each tensor to 4 KiB so runtimes can memory-map it.
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    const ref: ExternalDataRef = { location: dataName, offset, length: t.data.bytes.byteLength };
    chunks.push(t.data.bytes);
    offset += t.data.bytes.byteLength;
    placed.set(t, ref);
    return ref;
  });
  const dataPath = join(dirname(resolve(path)), dataName);
  await writeChunksAtomic(dataPath, chunks);
  await writeFileAtomic(path, bytes);
}

async function writeChunksAtomic(path: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    for (const c of chunks) await handle.write(c);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

