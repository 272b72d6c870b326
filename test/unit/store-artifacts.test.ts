import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Store } from '../../app/store/index.js';
import { tempHistory } from './store-helpers.js';

let h: ReturnType<typeof tempHistory>;
let store: Store;
beforeEach(() => {
  h = tempHistory();
  store = h.open();
});
afterEach(() => h.cleanup());

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const tmpFiles = () => (existsSync(join(h.dir, 'artifacts', '.tmp')) ? readdirSync(join(h.dir, 'artifacts', '.tmp')) : []);

describe('artifacts', () => {
  it('stores bytes content-addressed under artifacts/ab/cdef…', async () => {
    const bytes = new TextEncoder().encode('# Report\nall good\n');
    const id = await store.artifacts.put(bytes, 'text/markdown');
    expect(id).toBe(sha(bytes));
    const path = store.artifacts.path(id);
    expect(path).toBe(join(h.dir, 'artifacts', id.slice(0, 2), id.slice(2)));
    expect(readFileSync(path)).toEqual(Buffer.from(bytes));
    expect(store.artifacts.get(id)).toMatchObject({ sha256: id, sizeBytes: bytes.length, mediaType: 'text/markdown' });
    expect(tmpFiles()).toEqual([]);
  });

  it('stores a file by path (streamed) and deduplicates identical content', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const src = join(h.dir, 'model.onnx');
    writeFileSync(src, big);
    const a = await store.artifacts.put(src, 'application/onnx');
    const before = statSync(store.artifacts.path(a));
    const b = await store.artifacts.put(big);
    const [c, d] = await Promise.all([store.artifacts.put(src), store.artifacts.put(src)]);
    expect(new Set([a, b, c, d])).toEqual(new Set([sha(big)]));
    const after = statSync(store.artifacts.path(a));
    expect(after.ino).toBe(before.ino); // bytes already present: not rewritten
    expect(readFileSync(store.artifacts.path(a)).equals(big)).toBe(true);
    expect(store.db.prepare('SELECT count(*) FROM artifacts').pluck().get()).toBe(1);
    expect(store.artifacts.get(a)?.mediaType).toBe('application/onnx'); // first put wins
    expect(readdirSync(join(h.dir, 'artifacts', a.slice(0, 2)))).toEqual([a.slice(2)]);
    expect(tmpFiles()).toEqual([]);
  });

  it('replaces a damaged copy and leaves nothing behind when the source is missing', async () => {
    const bytes = Buffer.from('checkpoint bytes');
    const id = await store.artifacts.put(bytes);
    writeFileSync(store.artifacts.path(id), 'trunc'); // damaged on disk
    await store.artifacts.put(bytes);
    expect(readFileSync(store.artifacts.path(id))).toEqual(bytes);

    await expect(store.artifacts.put(join(h.dir, 'nope.onnx'))).rejects.toThrow(/Cannot store artifact/);
    expect(tmpFiles()).toEqual([]);
    expect(store.db.prepare('SELECT count(*) FROM artifacts').pluck().get()).toBe(1);
  });

  it('attaches artifacts to experiments under roles', async () => {
    const e = store.experiments.create({ kind: 'distill', name: 'x' });
    const onnx = await store.artifacts.put(Buffer.from('onnx'), 'application/onnx');
    const md = await store.artifacts.put(Buffer.from('md'), 'text/markdown');
    store.artifacts.attach(e.id, onnx, 'student.onnx');
    store.artifacts.attach(e.id, md, 'report.md');
    store.artifacts.attach(e.id, md, 'report.md'); // idempotent
    expect(store.artifacts.listForExperiment(e.id).map((a) => [a.role, a.sha256])).toEqual([
      ['report.md', md],
      ['student.onnx', onnx],
    ]);
    expect(store.artifacts.detach(e.id, 'report.md')).toBe(1);
    expect(store.artifacts.listForExperiment(e.id)).toHaveLength(1);
    expect(() => store.artifacts.attach(e.id, 'f'.repeat(64), 'x')).toThrow(/No artifact/);
    expect(() => store.artifacts.attach(e.id, onnx, '../escape')).toThrow(/Not a valid artifact role/);
    expect(() => store.artifacts.path('../../etc/passwd')).toThrow(/Not a sha256/);
    await expect(store.artifacts.put(Buffer.from('x'), 'not a type')).rejects.toThrow(/Not a media type/);
  });

  it('an in-memory history has no artifacts folder unless given one', async () => {
    const mem = openDatabase(':memory:');
    try {
      await expect(mem.artifacts.put(Buffer.from('x'))).rejects.toThrow(/no artifacts folder/);
    } finally {
      mem.close();
    }
    const withDir = openDatabase(':memory:', { artifactsDir: join(h.dir, 'mem-artifacts') });
    try {
      const id = await withDir.artifacts.put(Buffer.from('x'));
      expect(existsSync(join(h.dir, 'mem-artifacts', id.slice(0, 2), id.slice(2)))).toBe(true);
    } finally {
      withDir.close();
    }
  });
});
