// One IDX file (MNIST format): header parsing and validation, size checks before anything is
// allocated, and streaming of the payload in bounded chunks.
// Layout: 0x00 0x00, dtype byte, rank byte, rank big-endian uint32 dims, then the data.
import type { Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { DatasetError } from './errors.js';
import { fileChunks } from './byte-stream.js';

export interface IdxFileInfo {
  file: string;
  gzip: boolean;
  dims: number[];
  headerBytes: number;
  /** Bytes per record (product of the dims after the first). */
  recordBytes: number;
}

const DTYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};
const MAX_RANK = 3;

/** Reads and checks the header and the file's real size; allocates nothing sized by the header. */
export async function inspectIdxFile(file: string): Promise<IdxFileInfo> {
  const handle = await open(file, 'r').catch((e: Error) => {
    throw new DatasetError(`cannot open (${e.message})`, file);
  });
  let size: number;
  let gzip: boolean;
  let gzipSize = -1;
  try {
    size = (await handle.stat()).size;
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    gzip = size >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    if (gzip) {
      if (size < 18) throw new DatasetError(`gzip file of ${size} bytes is too short to hold any data`, file);
      // ISIZE: the uncompressed size mod 2^32, in the last four bytes of a (single-member) gzip.
      const tail = Buffer.alloc(4);
      await handle.read(tail, 0, 4, size - 4);
      gzipSize = tail.readUInt32LE(0);
    }
  } finally {
    await handle.close();
  }

  const header = await readHeaderBytes(file, gzip);
  const dims: number[] = [];
  for (let i = 0; i < header[3]!; i++) dims.push(header.readUInt32BE(4 + 4 * i));
  const headerBytes = 4 + 4 * dims.length;
  const payload = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + payload;
  const declared = `the header declares [${dims.join(' x ')}] (${expected} bytes)`;
  if (!gzip && size !== expected) {
    throw new DatasetError(
      size < expected ? `file is truncated: ${declared} but the file has ${size} bytes` : `${declared} but the file has ${size - expected} extra bytes at the end`,
      file,
    );
  }
  if (gzip && expected % 2 ** 32 !== gzipSize) {
    throw new DatasetError(`${declared} uncompressed but the gzip trailer says ${gzipSize} bytes: the file is truncated or corrupt`, file);
  }
  return { file, gzip, dims, headerBytes, recordBytes: dims.slice(1).reduce((a, b) => a * b, 1) };
}

async function readHeaderBytes(file: string, gzip: boolean): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  let need = 4;
  for await (const chunk of fileChunks(file, gzip)) {
    parts.push(Buffer.from(chunk));
    have += chunk.length;
    if (have >= 4 && need === 4) {
      const first = Buffer.concat(parts);
      checkMagic(first, file);
      need = 4 + 4 * first[3]!;
    }
    if (have >= need) break;
  }
  const bytes = Buffer.concat(parts);
  if (bytes.length < 4) throw new DatasetError(`file is too short (${bytes.length} bytes) to hold an IDX header`, file);
  if (bytes.length < need) throw new DatasetError(`file is truncated inside its header (${bytes.length} of ${need} bytes)`, file);
  return bytes.subarray(0, need);
}

function checkMagic(bytes: Buffer, file: string): void {
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = bytes.subarray(0, 4).toString('hex');
    throw new DatasetError(`not an IDX file: the magic number is 0x${magic}, expected 0x0000 followed by a type and a rank`, file);
  }
  const dtype = bytes[2]!;
  if (dtype !== 0x08) {
    const name = DTYPES[dtype];
    throw new DatasetError(
      name
        ? `data type 0x${hex(dtype)} (${name}) is not supported; only unsigned-byte (0x08) IDX files are read`
        : `unknown IDX data type 0x${hex(dtype)} in the magic number`,
      file,
    );
  }
  const rank = bytes[3]!;
  if (rank < 1 || rank > MAX_RANK) throw new DatasetError(`rank ${rank} in the magic number is not supported (1 to ${MAX_RANK})`, file);
}

const hex = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * Streams the first `records` records to onChunk(bytes, payloadOffset), hashing the header and
 * every delivered byte. Stops early when fewer records than the file holds are wanted.
 */
export async function readIdxRecords(
  info: IdxFileInfo,
  records: number,
  onChunk: (bytes: Uint8Array, offset: number) => void,
  hash: Hash,
): Promise<void> {
  const wanted = records * info.recordBytes;
  const readsAll = records === info.dims[0];
  let pos = 0; // position in the whole (decompressed) file
  for await (const chunk of fileChunks(info.file, info.gzip)) {
    const start = Math.max(0, info.headerBytes - pos);
    if (start > 0) hash.update(chunk.subarray(0, Math.min(start, chunk.length)));
    const payloadPos = pos + start - info.headerBytes;
    pos += chunk.length;
    if (start >= chunk.length) continue;
    const take = Math.min(chunk.length - start, wanted - payloadPos);
    if (take > 0) {
      const part = chunk.subarray(start, start + take);
      hash.update(part);
      onChunk(part, payloadPos);
    }
    if (payloadPos + (chunk.length - start) > wanted) {
      if (readsAll) throw new DatasetError('file has extra bytes after the data its header declares', info.file);
      return;
    }
    if (payloadPos + take === wanted && !readsAll) return;
  }
  const got = Math.max(0, pos - info.headerBytes);
  if (got < wanted) {
    throw new DatasetError(`file is truncated: expected ${wanted} bytes of data after the header, found ${got}`, info.file);
  }
}
