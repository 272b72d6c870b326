// Shared by the ONNX unit tests.

/** A canonical string form of an IR value: byte arrays by content (Buffer or Uint8Array alike), bigints tagged. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Uint8Array) return `bytes:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}`;
    if (typeof v === 'number' && !Number.isFinite(v)) return `num:${v}`;
    return v;
  });
}
