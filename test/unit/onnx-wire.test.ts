// The part-list writer must produce exactly the bytes protobufjs's Writer produces.
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { ChunkWriter } from '../../app/engine/onnx/wire.js';

type AnyWriter = { uint32(v: number): unknown; int32(v: number): unknown; int64(v: number | string): unknown; float(v: number): unknown; string(v: string): unknown; bytes(v: Uint8Array): unknown; fork(): unknown; ldelim(): unknown };

function script(w: AnyWriter, big: Uint8Array): void {
  for (const v of [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 32 - 1]) w.uint32(v);
  for (const v of [0, -1, -(2 ** 31), 2 ** 31 - 1, 42]) w.int32(v);
  for (const v of [0, 1, 2 ** 53 - 1, '-1', '9223372036854775807', '-9223372036854775808', '1000000000000']) w.int64(v);
  for (const v of [0, -0, 1.5, -2.25, Infinity, 3.4e38]) w.float(v);
  for (const v of ['', 'abc', 'héllo wörld ✓ 𝄞', 'x'.repeat(70_000)]) w.string(v);
  w.fork();
  w.bytes(new Uint8Array([1, 2, 3]));
  w.fork();
  w.bytes(big); // referenced, not copied
  w.string('inner');
  w.ldelim();
  w.fork();
  w.ldelim(); // empty nested message
  w.ldelim();
  w.bytes(new Uint8Array(0));
}

describe('ChunkWriter', () => {
  it('writes the same bytes as protobufjs for varints, floats, strings, bytes and nesting', () => {
    const big = Uint8Array.from({ length: 300_000 }, (_, i) => i & 0xff);
    const ours = new ChunkWriter();
    script(ours as unknown as AnyWriter, big);
    const theirs = protobuf.Writer.create();
    script(theirs as unknown as AnyWriter, big);
    const a = ours.finish();
    const b = theirs.finish();
    expect(a.byteLength).toBe(b.byteLength);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(ours.chunks().reduce((n, c) => n + c.byteLength, 0)).toBe(a.byteLength);
    expect(ours.chunks()).toContain(big);
  });

  it('refuses unbalanced nesting', () => {
    const w = new ChunkWriter();
    expect(() => w.ldelim()).toThrow(/without fork/);
    w.fork();
    expect(() => w.finish()).toThrow(/unclosed/);
  });
});
