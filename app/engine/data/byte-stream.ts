// Reads a file as a stream of (optionally gunzipped) chunks with bounded buffers, and turns
// stream failures into DatasetErrors that name the file.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { DatasetError } from './errors.js';

export const CHUNK_BYTES = 1 << 20;

export async function* fileChunks(file: string, gzip: boolean): AsyncGenerator<Uint8Array> {
  const raw = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const source = gzip ? raw.pipe(createGunzip({ chunkSize: CHUNK_BYTES })) : raw;
  if (gzip) raw.on('error', (e) => source.destroy(e));
  try {
    for await (const chunk of source) yield chunk as Buffer;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new DatasetError(
      gzip ? `cannot decompress (${reason}): the gzip data is truncated or corrupt` : `cannot read (${reason})`,
      file,
    );
  } finally {
    raw.destroy();
    if (source !== raw) source.destroy();
  }
}
