// A protobuf wire writer for large messages. protobufjs 8's Writer grows one buffer by doubling
// and shifts a nested message's whole content when its length prefix needs more than one byte,
// so a 500 MB graph was copied four or five times. This writer keeps a list of parts instead:
// large byte fields are referenced (not copied) until the end, length prefixes are filled in
// when a nested message closes, and the result is either one exact-size buffer or the parts
// themselves (streamed to a file without ever building the whole message in memory).

const BLOCK = 64 * 1024;
/** Byte fields at least this large are referenced instead of copied. */
const REFERENCE_MIN = 2048;

const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const utf8 = new TextEncoder();

function varintBytes(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v > 127) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

export class ChunkWriter {
  private readonly parts: (Uint8Array | null)[] = [];
  private block = new Uint8Array(BLOCK);
  private start = 0;
  private pos = 0;
  private sealed = 0;
  private readonly stack: { index: number; at: number }[] = [];

  /** Bytes written so far (closed length prefixes included). */
  get length(): number {
    return this.sealed + (this.pos - this.start);
  }

  private seal(): void {
    if (this.pos > this.start) {
      this.parts.push(this.block.subarray(this.start, this.pos));
      this.sealed += this.pos - this.start;
      this.start = this.pos;
    }
  }

  private ensure(n: number): void {
    if (this.pos + n > this.block.length) {
      this.seal();
      this.block = new Uint8Array(Math.max(BLOCK, n));
      this.start = this.pos = 0;
    }
  }

  /** Unsigned varint of a non-negative integer below 2^53. */
  private varint(value: number): this {
    this.ensure(10);
    let v = value;
    const b = this.block;
    while (v > 127) {
      b[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
    return this;
  }

  private varint64(value: bigint): this {
    this.ensure(10);
    let v = BigInt.asUintN(64, value);
    const b = this.block;
    while (v > 127n) {
      b[this.pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    b[this.pos++] = Number(v);
    return this;
  }

  uint32(value: number): this {
    return this.varint(value >>> 0);
  }

  /** int32 as protobuf writes it: negative values take ten bytes (sign-extended to 64 bits). */
  int32(value: number): this {
    return value >= 0 ? this.varint(value | 0) : this.varint64(BigInt(value | 0));
  }

  int64(value: number | string | bigint): this {
    if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) return this.varint(value);
    return this.varint64(BigInt(value));
  }

  float(value: number): this {
    this.ensure(4);
    f32[0] = value;
    this.block.set(f32Bytes, this.pos);
    this.pos += 4;
    return this;
  }

  bytes(value: Uint8Array): this {
    const len = value.byteLength;
    this.varint(len);
    if (len >= REFERENCE_MIN) {
      this.seal();
      this.parts.push(value);
      this.sealed += len;
    } else if (len > 0) {
      this.ensure(len);
      this.block.set(value, this.pos);
      this.pos += len;
    }
    return this;
  }

  string(value: string): this {
    const len = Buffer.byteLength(value, 'utf8');
    this.varint(len);
    if (len === 0) return this;
    this.ensure(len);
    const { written } = utf8.encodeInto(value, this.block.subarray(this.pos, this.pos + len));
    this.pos += written;
    return this;
  }

  /** Opens a nested message; its length prefix is written by the matching `ldelim`. */
  fork(): this {
    this.seal();
    this.parts.push(null);
    this.stack.push({ index: this.parts.length - 1, at: this.length });
    return this;
  }

  ldelim(): this {
    const open = this.stack.pop();
    if (!open) throw new Error('ChunkWriter.ldelim without fork');
    const prefix = varintBytes(this.length - open.at);
    this.parts[open.index] = prefix;
    this.sealed += prefix.byteLength;
    return this;
  }

  /** The message as parts, in order (large byte fields are the caller's own arrays). */
  chunks(): Uint8Array[] {
    if (this.stack.length) throw new Error('ChunkWriter: unclosed nested message');
    this.seal();
    return this.parts.filter((p): p is Uint8Array => p !== null && p.byteLength > 0);
  }

  /** The message as one buffer of exactly its size. */
  finish(): Uint8Array {
    const parts = this.chunks();
    const out = new Uint8Array(this.sealed);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}
