// Decodes one PNG or JPEG (chosen by its magic bytes, not its extension) into 8-bit pixels,
// keeping one channel for grayscale files and three for colour. Alpha is dropped.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError } from './errors.js';

export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** width * height * channels bytes, interleaved (HWC). */
  data: Uint8Array;
}

/**
 * Largest image accepted (width x height). The decoders size their output from the header,
 * so a 100-byte PNG claiming 30000 x 30000 would take 4 GB and half a minute: refuse it first.
 */
export const MAX_IMAGE_PIXELS = 25_000_000;

function checkSize(width: number, height: number, file: string): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new DatasetError(`image header says ${width}x${height} pixels, over the ${MAX_IMAGE_PIXELS / 1e6}-megapixel limit (corrupt file, or too large for a training image)`, file);
  }
}

export function decodeImage(bytes: Buffer, file: string): DecodedImage {
  // PNG: IHDR is always the first chunk (8-byte signature, length, 'IHDR', width, height).
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.toString('latin1', 12, 16) === 'IHDR') {
    checkSize(bytes.readUInt32BE(16), bytes.readUInt32BE(20), file);
  }
  try {
    if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) return decodePng(bytes);
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return decodeJpeg(bytes);
  } catch (e) {
    throw new DatasetError(`cannot decode image (${e instanceof Error ? e.message : String(e)})`, file);
  }
  throw new DatasetError('not a PNG or JPEG file (unrecognised signature)', file);
}

function decodePng(bytes: Buffer): DecodedImage {
  const png = PNG.sync.read(bytes);
  // pngjs always returns 8-bit RGBA; `color` says whether the file stored colour.
  return fromRgba(png.width, png.height, png.data, png.color ? 3 : 1);
}

function decodeJpeg(bytes: Buffer): DecodedImage {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
  return fromRgba(img.width, img.height, img.data, jpegComponents(bytes) === 1 ? 1 : 3);
}

function fromRgba(width: number, height: number, rgba: Uint8Array, channels: 1 | 3): DecodedImage {
  const pixels = width * height;
  const data = new Uint8Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = rgba[p * 4 + c]!;
  }
  return { width, height, channels, data };
}

/** Component count from the JPEG frame header (SOFn), which jpeg-js does not report. */
function jpegComponents(bytes: Buffer): number {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return 3;
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const length = bytes.readUInt16BE(pos + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && pos + 9 < bytes.length) return bytes[pos + 9]!;
    pos += 2 + length;
  }
  return 3;
}
