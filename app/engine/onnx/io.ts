// Loading and saving ONNX files, with external data. Paths in a model are untrusted:
// external data must stay inside the model's own folder.
import { writeFailureReason } from '../write-errors.js';
import { open, readFile, realpath, rename, stat, unlink, mkdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { allTensors, decodeModel, encodeModelChunks, OnnxFormatError, type DecodeLimits, defaultLimits } from './codec.js';
import type { ExternalDataRef, Model, Tensor } from './ir.js';
import { escapeControl } from '../safe-text.js';

/** Protobuf's hard limit; above it a model must keep its weights in external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export class ModelFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(escapeControl(`${file}: ${message}`));
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
        let handle: Awaited<ReturnType<typeof open>>;
        try {
          handle = await open(file, 'r');
        } catch (err) {
          throw new ModelFileError(modelPath, `external data '${t.external.location}' for tensor '${t.name}' cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
        const info = await handle.stat();
        if (!info.isFile()) {
          await handle.close();
          throw new ModelFileError(modelPath, `external data '${t.external.location}' for tensor '${t.name}' is not a regular file`);
        }
        entry = { handle, size: info.size };
        files.set(file, entry);
      }
      const { offset, length } = t.external;
      if (offset + length > entry.size) {
        throw new ModelFileError(modelPath, `tensor '${t.name}' needs bytes ${offset}..${offset + length} of '${t.external.location}', but that file has only ${entry.size} bytes`);
      }
      // Own ArrayBuffer (not the shared pool), exposed as a plain Uint8Array like decoded data.
      const slow = Buffer.allocUnsafeSlow(length);
      const buf = new Uint8Array(slow.buffer, slow.byteOffset, slow.byteLength);
      let done = 0;
      while (done < length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await entry.handle.read(buf, done, Math.min(length - done, 1 << 30), offset + done));
        } catch (err) {
          throw new ModelFileError(modelPath, `external data '${t.external.location}' cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
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
  await mkdir(dirname(resolve(path)), { recursive: true }).catch((err: unknown) => {
    throw writeError(path, err);
  });
  const tmp = tempName(path);
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
    throw writeError(path, err);
  }
}

/**
 * A failed write as a plain message naming the file the user would look for: "disk full" and
 * "read-only" are the user's to fix. Other errors pass through unchanged.
 */
export function writeError(path: string, err: unknown): unknown {
  const reason = writeFailureReason(err);
  if (!reason || err instanceof ModelFileError) return err;
  const e = new ModelFileError(path, `cannot be written: ${reason.why}`);
  (e as Error & { code?: string }).code = reason.code;
  return e;
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
  for (const t of allTensors(model)) {
    if (t.external && t.data.kind === 'raw' && t.data.bytes.byteLength === 0 && t.external.length > 0) {
      throw new ModelFileError(path, `cannot save: tensor '${t.name}' keeps its data in '${t.external.location}', which was not loaded (the model was opened with skipExternalData)`);
    }
  }
  if (threshold === Infinity) {
    const { chunks, byteLength } = encodeModelChunks(model);
    if (byteLength > PROTOBUF_LIMIT) {
      throw new ModelFileError(path, `cannot save: the model is ${byteLength} bytes, over protobuf's 2 GB limit; save it with external data (externalThreshold)`);
    }
    await mkdir(dirname(resolve(path)), { recursive: true }).catch((err: unknown) => {
      throw writeError(path, err);
    });
    const tmp = tempName(path);
    try {
      await writeChunks(tmp, chunks);
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw writeError(path, err);
    }
    return;
  }
  const dataName = `${basename(path)}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const placed = new Map<Tensor, ExternalDataRef>();
  const { chunks: modelChunks, byteLength } = encodeModelChunks(model, (t) => {
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
  if (byteLength > PROTOBUF_LIMIT) {
    throw new ModelFileError(path, `cannot save: the graph alone is ${byteLength} bytes, over protobuf's 2 GB limit`);
  }
  const dataPath = join(dirname(resolve(path)), dataName);
  // Both files are written to temp files first; only when both are complete are they renamed
  // (data first), so a failure leaves any previous model and data untouched.
  await mkdir(dirname(resolve(path)), { recursive: true }).catch((err: unknown) => {
    throw writeError(path, err);
  });
  const dataTmp = tempName(dataPath);
  const modelTmp = tempName(path);
  try {
    await writeChunks(dataTmp, chunks);
    await writeChunks(modelTmp, modelChunks);
    await rename(dataTmp, dataPath);
    await rename(modelTmp, path);
  } catch (err) {
    await unlink(dataTmp).catch(() => undefined);
    await unlink(modelTmp).catch(() => undefined);
    throw writeError(path, err);
  }
}

function tempName(path: string): string {
  return join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
}

async function writeChunks(path: string, chunks: Uint8Array[]): Promise<void> {
  const handle = await open(path, 'w');
  try {
    // Small parts go out together (writev); writes of 2 GB or more fail in one call, so large
    // parts are split.
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = async () => {
      let list = batch;
      batch = [];
      batchBytes = 0;
      while (list.length) {
        const { bytesWritten } = await handle.writev(list);
        list = dropWritten(list, bytesWritten);
      }
    };
    for (const c of chunks) {
      if (c.byteLength >= 1 << 20) {
        await flush();
        for (let at = 0; at < c.byteLength; ) {
          const { bytesWritten } = await handle.write(c, at, Math.min(c.byteLength - at, 1 << 30));
          at += bytesWritten;
        }
      } else {
        batch.push(c);
        batchBytes += c.byteLength;
        if (batch.length >= 512 || batchBytes >= 1 << 22) await flush();
      }
    }
    await flush();
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** What is left of `list` after a (possibly partial) writev of `n` bytes. */
function dropWritten(list: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  let left = n;
  while (i < list.length && left >= list[i]!.byteLength) left -= list[i++]!.byteLength;
  const rest = list.slice(i);
  if (left > 0 && rest.length) rest[0] = rest[0]!.subarray(left);
  return rest;
}

