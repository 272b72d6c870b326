// Fuzzing the dataset readers through loadDataset: IDX folders (raw and gzip) cut from the
// bundled Fashion-MNIST sample, CSV files and folders, and PNG/JPEG class folders, each with one
// file mutated (blind byte mutations and format-aware ones: IDX header dims, PNG IHDR with a
// valid CRC, JPEG frame sizes, CSV cells). Each case must load consistently or fail with a
// DatasetError whose message names the file or folder — no other error, no hang, bounded memory.
//
// DISTILLERY_FUZZ_CASES=20000 npx vitest run test/fuzz/data-readers   (longer local run)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../app/engine/data/errors.js';
import { loadDataset, type LoadOptions } from '../../app/engine/data/load.js';
import { jpegBytes, pngBytes, SAMPLE_DIR } from '../fixtures/data/make.js';
import { byteMutations, failureReport, fuzzCases, fuzzSeed, INTERESTING, newStats, noteMessage, Rng, runCase, summary } from './fuzz-helpers.js';

const CASES = fuzzCases(1500);
const SEED = fuzzSeed(0xda7a);
const CASE_BUDGET_MS = 10_000; // catches hangs; not a speed limit (shared, loaded machines)
const RSS_GROWTH_LIMIT_MB = 1024;

const root = mkdtempSync(join(tmpdir(), 'distillery-fuzz-data-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Files = Map<string, Buffer>; // relative path → content

/** The first `n` records of an IDX file of the sample, with its count rewritten. */
function idxPrefix(file: string, n: number): Buffer {
  const all = gunzipSync(readFileSync(join(SAMPLE_DIR, file)));
  const rank = all[3]!;
  const header = Buffer.from(all.subarray(0, 4 + 4 * rank));
  let record = 1;
  for (let i = 1; i < rank; i++) record *= header.readUInt32BE(4 + 4 * i);
  header.writeUInt32BE(n, 4);
  return Buffer.concat([header, all.subarray(header.length, header.length + n * record)]);
}

const IDX_BASE: Files = new Map([
  ['train-images-idx3-ubyte', idxPrefix('train-images-idx3-ubyte.gz', 24)],
  ['train-labels-idx1-ubyte', idxPrefix('train-labels-idx1-ubyte.gz', 24)],
  ['t10k-images-idx3-ubyte', idxPrefix('t10k-images-idx3-ubyte.gz', 8)],
  ['t10k-labels-idx1-ubyte', idxPrefix('t10k-labels-idx1-ubyte.gz', 8)],
  ['classes.txt', readFileSync(join(SAMPLE_DIR, 'classes.txt'))],
]);

function csvText(rng: Rng, rows: number, named: boolean): string {
  const lines = ['f0,f1,label,f2'];
  for (let i = 0; i < rows; i++) {
    const label = named ? rng.pick(['cat', 'dog', '"bird, small"']) : String(rng.int(3));
    lines.push(`${(rng.next() * 10).toFixed(3)},${rng.int(100) - 50},${label},${rng.next().toExponential(2)}`);
  }
  return lines.join(rng.next() < 0.2 ? '\r\n' : '\n') + '\n';
}

const pixelRng = new Rng(7);
const noise = () => {
  const v = pixelRng.int(256);
  return (): [number, number, number] => [v, (v * 3) % 256, (v * 7) % 256];
};
const IMAGE_BASE: Files = new Map([
  ['a/1.png', pngBytes(8, 8, noise(), false)],
  ['a/2.png', pngBytes(8, 8, noise(), true)],
  ['b/1.jpg', jpegBytes(8, 8, noise(), 90)],
  ['b/2.png', pngBytes(8, 8, noise(), false)],
  ['c/1.jpeg', jpegBytes(8, 8, noise(), 50)],
  ['c/2.png', pngBytes(8, 8, noise(), true)],
]);

// ─── format-aware mutations ─────────────────────────────────────────────────────────────

const HUGE_U32 = [0, 1, 2, 3, 255, 256, 65535, 0x7fffffff, 0x80000000, 0xffffffff, 60000, 1 << 24];
/** Image sizes a lying header may claim: huge in both directions takes gigabytes if believed. */
const IMAGE_DIMS = [...HUGE_U32, 5000, 20000, 30000];

function idxHeader(rng: Rng, b: Buffer): { bytes: Buffer; what: string } {
  const out = Buffer.from(b);
  if (out.length < 8) return { bytes: out, what: 'idx header (too short)' };
  const r = rng.next();
  if (r < 0.15) {
    out[2] = rng.pick([0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff]);
    return { bytes: out, what: `idx dtype 0x${out[2]!.toString(16)}` };
  }
  if (r < 0.3) {
    out[3] = rng.pick([0, 1, 2, 3, 4, 255]);
    return { bytes: out, what: `idx rank ${out[3]}` };
  }
  const dims = out[3]!;
  const i = rng.int(Math.max(1, Math.min(dims, (out.length - 4) >> 2)));
  const v = rng.pick(HUGE_U32);
  out.writeUInt32BE(v, 4 + 4 * i);
  return { bytes: out, what: `idx dim ${i} = ${v}` };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Rewrites a field of the PNG header chunk and fixes its CRC, so the decoder believes it. */
function pngHeader(rng: Rng, b: Buffer): { bytes: Buffer; what: string } {
  const out = Buffer.from(b);
  if (out.length < 33 || out.toString('latin1', 12, 16) !== 'IHDR') return { bytes: out, what: 'png header (none)' };
  const field = rng.pick(['width', 'height', 'depth', 'color', 'interlace', 'both'] as const);
  if (field === 'width' || field === 'both') out.writeUInt32BE(rng.pick(IMAGE_DIMS), 16);
  if (field === 'height' || field === 'both') out.writeUInt32BE(rng.pick(IMAGE_DIMS), 20);
  if (field === 'depth') out[24] = rng.pick([0, 1, 2, 4, 8, 16, 255]);
  if (field === 'color') out[25] = rng.pick([0, 1, 2, 3, 4, 6, 7, 255]);
  if (field === 'interlace') out[28] = rng.pick([0, 1, 2]);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return { bytes: out, what: `png IHDR ${field} → ${out.readUInt32BE(16)}x${out.readUInt32BE(20)} d${out[24]} c${out[25]} i${out[28]}` };
}

/** Rewrites the JPEG frame size (SOFn) or component count. */
function jpegFrame(rng: Rng, b: Buffer): { bytes: Buffer; what: string } {
  const out = Buffer.from(b);
  let pos = 2;
  while (pos + 9 < out.length && out[pos] === 0xff) {
    const marker = out[pos + 1]!;
    if (marker >= 0xc0 && marker <= 0xc3) {
      const r = rng.next();
      if (r < 0.4) out.writeUInt16BE(rng.pick([0, 1, 0xffff, 0x7fff, 16384]), pos + 5);
      else if (r < 0.8) out.writeUInt16BE(rng.pick([0, 1, 0xffff, 0x7fff, 16384]), pos + 7);
      else out[pos + 9] = rng.pick([0, 1, 2, 3, 4, 255]);
      return { bytes: out, what: `jpeg SOF ${out.readUInt16BE(pos + 7)}x${out.readUInt16BE(pos + 5)} comps ${out[pos + 9]}` };
    }
    pos += 2 + out.readUInt16BE(pos + 2);
  }
  return { bytes: out, what: 'jpeg frame (none)' };
}

const CSV_CELLS = [
  '', ' ', 'NaN', 'nan', 'Infinity', '-Infinity', '1e400', '-1e400', '1e-400', '99999999999', '2147483648', '4294967296', '-2', '-1',
  '1.5', '0x10', '１', '"', '""', '"a,b"', '\u0000', '\uFEFF1', 'é', '\ud800', '1,2', '1e308', '-0', '+3', '.5', '5.', 'label',
  '100000000', '1000000',
];

function csvCells(rng: Rng, b: Buffer): { bytes: Buffer; what: string } {
  const lines = b.toString('utf8').split('\n');
  const li = rng.int(lines.length);
  const cells = lines[li]!.split(',');
  const ci = rng.int(cells.length);
  const r = rng.next();
  let what: string;
  if (r < 0.7) {
    cells[ci] = rng.pick(CSV_CELLS);
    what = `csv line ${li + 1} cell ${ci} = ${JSON.stringify(cells[ci])}`;
  } else if (r < 0.8) {
    cells.splice(ci, 0, '1');
    what = `csv line ${li + 1} extra cell`;
  } else if (r < 0.9) {
    cells.splice(ci, 1);
    what = `csv line ${li + 1} missing cell`;
  } else {
    cells[ci] = 'x'.repeat(1 + rng.int(200_000));
    what = `csv line ${li + 1} cell ${ci} of ${cells[ci]!.length} chars`;
  }
  lines[li] = cells.join(',');
  return { bytes: Buffer.from(lines.join('\n'), 'utf8'), what };
}

function blind(rng: Rng, b: Buffer): { bytes: Buffer; what: string } {
  const ops = Object.keys(byteMutations);
  const res = byteMutations[rng.pick(ops)]!(rng, b.length ? b : Buffer.from([rng.pick(INTERESTING)]));
  return { bytes: Buffer.from(res.bytes), what: res.what };
}

// ─── cases ────────────────────────────────────────────────────────────────────────────────

interface Case {
  files: Files;
  /** Path passed to loadDataset, relative to the case folder ('' = the folder). */
  target: string;
  what: string;
  options: LoadOptions;
}

function makeCase(rng: Rng): Case {
  const r = rng.next();
  const options: LoadOptions = {};
  if (rng.next() < 0.2) options.numClasses = rng.pick([1, 2, 3, 10]);
  if (rng.next() < 0.15) options.limit = 1 + rng.int(30);
  if (r < 0.45) {
    const gz = rng.next() < 0.35;
    const files: Files = new Map();
    for (const [name, content] of IDX_BASE) if (name !== 'classes.txt' || rng.next() < 0.5) files.set(name, content);
    const names = [...files.keys()];
    const victim = rng.pick(names);
    let mutated = files.get(victim)!;
    let what: string;
    const mr = rng.next();
    if (victim !== 'classes.txt' && mr < 0.45) ({ bytes: mutated, what } = idxHeader(rng, mutated));
    else ({ bytes: mutated, what } = blind(rng, mutated));
    files.set(victim, mutated);
    const out: Files = new Map();
    // gzip: mostly the mutated content compressed (reaches the IDX parser), sometimes the gzip bytes mutated.
    const gzBytesMutation = gz && rng.next() < 0.3;
    for (const [name, content] of files) {
      if (!gz || name === 'classes.txt') out.set(name, content);
      else if (gzBytesMutation && name === victim) out.set(`${name}.gz`, blind(rng, gzipSync(IDX_BASE.get(name)!)).bytes);
      else out.set(`${name}.gz`, gzipSync(content));
    }
    if (gzBytesMutation) what = 'gzip bytes mutated';
    const target = rng.next() < 0.15 ? [...out.keys()].find((n) => n.startsWith('train-images'))! : '';
    return { files: out, target, what: `idx${gz ? '.gz' : ''} ${victim}: ${what}`, options };
  }
  if (r < 0.7) {
    const folder = rng.next() < 0.4;
    const named = rng.next() < 0.3;
    const files: Files = new Map();
    if (folder) {
      files.set('train.csv', Buffer.from(csvText(rng, 20, named)));
      files.set('test.csv', Buffer.from(csvText(rng, 6, named)));
      if (!named && rng.next() < 0.3) files.set('classes.txt', Buffer.from('zero\none\ntwo\n'));
    } else files.set('data.csv', Buffer.from(csvText(rng, 20, named)));
    const victim = rng.pick([...files.keys()]);
    const m = rng.next() < 0.55 && victim !== 'classes.txt' ? csvCells(rng, files.get(victim)!) : blind(rng, files.get(victim)!);
    files.set(victim, m.bytes);
    return { files, target: folder ? '' : 'data.csv', what: `csv ${victim}: ${m.what}`, options };
  }
  const files: Files = new Map(IMAGE_BASE);
  const split = rng.next() < 0.2;
  const victim = rng.pick([...files.keys()]);
  const content = files.get(victim)!;
  const isPng = victim.endsWith('.png');
  const m = rng.next() < 0.4 ? (isPng ? pngHeader(rng, content) : jpegFrame(rng, content)) : blind(rng, content);
  files.set(victim, m.bytes);
  if (!split) return { files, target: '', what: `images ${victim}: ${m.what}`, options };
  const out: Files = new Map();
  for (const [name, c] of files) {
    out.set(`train/${name}`, c);
    if (name.endsWith('1.png') || name.endsWith('1.jpg') || name.endsWith('1.jpeg')) out.set(`test/${name}`, c);
  }
  return { files: out, target: '', what: `images (train/test) ${victim}: ${m.what}`, options };
}

function writeCase(dir: string, files: Files): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [name, content] of files) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
  }
}

/** Invariants of a dataset that loaded. */
function checkLoaded(ds: Awaited<ReturnType<typeof loadDataset>>, options: LoadOptions): void {
  const size = ds.sampleShape.reduce((a, b) => a * b, 1);
  if (!(size > 0)) throw new Error(`sample shape [${ds.sampleShape}] is empty`);
  for (const split of [ds.train, ds.test]) {
    if (!split) continue;
    if (split.count !== split.y.length || split.x.length !== split.count * size) {
      throw new Error(`split sizes disagree: count ${split.count}, y ${split.y.length}, x ${split.x.length}, sample ${size}`);
    }
    if (split.count === 0) throw new Error('an empty split was accepted');
    for (let i = 0; i < split.x.length; i++) if (!Number.isFinite(split.x[i]!)) throw new Error(`value ${split.x[i]} at ${i} is not finite`);
    for (const y of split.y) {
      if (y < -1) throw new Error(`label ${y} below -1`);
      if (ds.classes.length && y >= ds.classes.length) throw new Error(`label ${y} but only ${ds.classes.length} classes`);
      if (options.numClasses !== undefined && y >= options.numClasses) throw new Error(`label ${y} ≥ numClasses ${options.numClasses}`);
    }
    if (options.limit !== undefined && split.count > options.limit) throw new Error(`limit ${options.limit} but ${split.count} samples`);
  }
  if (ds.classes.length > 100_000) throw new Error(`${ds.classes.length} classes`);
}

describe('dataset readers fuzz', () => {
  it(`survives ${CASES} mutated IDX, CSV and image datasets (seed ${SEED})`, async () => {
    const rng = new Rng(SEED);
    const stats = newStats();
    for (let i = 0; i < CASES; i++) {
      const c = makeCase(rng);
      const dir = join(root, `case-${i % 4}`);
      writeCase(dir, c.files);
      const target = c.target ? join(dir, c.target) : dir;
      const opt = `${c.options.numClasses ? ` numClasses=${c.options.numClasses}` : ''}${c.options.limit ? ` limit=${c.options.limit}` : ''}`;
      await runCase(stats, i, c.what + opt, null, CASE_BUDGET_MS, async () => {
        try {
          const ds = await loadDataset(target, c.options);
          checkLoaded(ds, c.options);
          return 'accepted';
        } catch (err) {
          if (!(err instanceof DatasetError)) throw err;
          if (!err.message.includes(dir)) throw new Error(`DatasetError does not name the file or folder: ${err.message}`);
          noteMessage(stats, err.message.replaceAll(dir, 'DIR'));
          return 'rejected';
        }
      });
      if (stats.failures.length) {
        // Keep the failing dataset for replay (the case folders are reused).
        const keep = join(tmpdir(), 'distillery-fuzz-failures', `data-case-${i}`);
        if (stats.failures.at(-1)!.index === i) writeCase(keep, c.files), (stats.failures.at(-1)!.saved = keep);
      }
      if (stats.failures.length >= 20) break;
    }
    console.log(summary('data-readers fuzz', stats));
    if (stats.failures.length) console.log(failureReport(stats));
    expect(stats.failures.map((f) => `#${f.index} [${f.what}] ${f.problem.split('\n')[0]}`)).toEqual([]);
    expect(stats.rssPeakGrowthMb).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(stats.accepted).toBeGreaterThan(CASES * 0.03);
    expect(stats.rejected).toBeGreaterThan(CASES * 0.2);
  }, Math.max(120_000, CASES * 30 * 3));
});
