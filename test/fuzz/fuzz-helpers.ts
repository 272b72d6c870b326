// Shared pieces of the fuzz tests: a seeded PRNG, byte-level mutations, a small protobuf tree
// (parse → mutate → re-serialize with correct or deliberately wrong lengths), and a harness
// that times every case, watches RSS, and saves any failing input for replay.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How many cases a fuzz file runs: DISTILLERY_FUZZ_CASES overrides the CI default. */
export function fuzzCases(ciDefault: number): number {
  const env = Number(process.env.DISTILLERY_FUZZ_CASES);
  return Number.isInteger(env) && env > 0 ? env : ciDefault;
}

/** DISTILLERY_FUZZ_SEED replays a run; the default is fixed so CI is deterministic. */
export function fuzzSeed(fallback: number): number {
  const env = Number(process.env.DISTILLERY_FUZZ_SEED);
  return Number.isInteger(env) ? env >>> 0 : fallback;
}

/** mulberry32: small, fast, good enough for choosing mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** Mostly small, sometimes large lengths. */
  size(max: number): number {
    const r = this.next();
    return Math.min(max, r < 0.6 ? 1 + this.int(8) : r < 0.9 ? 1 + this.int(256) : 1 + this.int(Math.max(1, max)));
  }
}

export const INTERESTING = [0x00, 0xff, 0x7f, 0x80] as const;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Byte-level mutations (structure-blind). Each returns a new array and a short description. */
export const byteMutations: Record<string, (rng: Rng, b: Uint8Array) => { bytes: Uint8Array; what: string }> = {
  bitflip(rng, b) {
    const out = b.slice();
    const n = 1 + rng.int(8);
    for (let i = 0; i < n && out.length; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
    return { bytes: out, what: `flip ${n} bits` };
  },
  interesting(rng, b) {
    const out = b.slice();
    const n = 1 + rng.int(4);
    const at: number[] = [];
    for (let i = 0; i < n && out.length; i++) {
      const p = rng.int(out.length);
      const len = 1 + rng.int(4);
      const v = rng.pick(INTERESTING);
      out.fill(v, p, Math.min(out.length, p + len));
      at.push(p);
    }
    return { bytes: out, what: `interesting bytes at ${at.join(',')}` };
  },
  truncate(rng, b) {
    const cut = rng.int(b.length);
    return { bytes: b.slice(0, cut), what: `truncate at ${cut}` };
  },
  insert(rng, b) {
    const p = rng.int(b.length + 1);
    const chunk = rng.next() < 0.5 || b.length === 0 ? rng.bytes(rng.size(4096)) : b.slice(rng.int(b.length)).slice(0, rng.size(4096));
    return { bytes: concat(b.subarray(0, p), chunk, b.subarray(p)), what: `insert ${chunk.length} bytes at ${p}` };
  },
  delete(rng, b) {
    const p = rng.int(b.length);
    const n = rng.size(b.length - p);
    return { bytes: concat(b.subarray(0, p), b.subarray(p + n)), what: `delete ${n} bytes at ${p}` };
  },
  splice(rng, b) {
    // Copy a chunk of the file over another place (keeps plausible structure fragments).
    const out = b.slice();
    const from = rng.int(b.length);
    const n = rng.size(b.length - from);
    const to = rng.int(b.length);
    out.set(b.subarray(from, from + Math.min(n, b.length - to)), to);
    return { bytes: out, what: `copy ${n} bytes ${from}→${to}` };
  },
};

// ─── A tiny protobuf tree ─────────────────────────────────────────────────────────────────

export interface PbField {
  field: number;
  wire: number;
  /** Varint value (wire 0), fixed bytes (wire 1/5), or a LEN payload. */
  varint?: bigint;
  raw?: Uint8Array;
  /** Set when a LEN payload parsed cleanly as a message. */
  children?: PbField[];
  /** Serialize this field's length prefix as this value instead of the real one. */
  lieLength?: bigint;
}

function readVarint(b: Uint8Array, pos: number): [bigint, number] | null {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) return null;
    const x = b[pos++]!;
    v |= BigInt(x & 127) << shift;
    if (x < 128) return [v, pos];
    shift += 7n;
  }
  return null;
}

/** Parses a message; null when the bytes are not a clean message. */
export function parsePb(b: Uint8Array, depth = 0): PbField[] | null {
  const out: PbField[] = [];
  let pos = 0;
  while (pos < b.length) {
    const t = readVarint(b, pos);
    if (!t) return null;
    pos = t[1];
    const field = Number(t[0] >> 3n);
    const wire = Number(t[0] & 7n);
    if (field === 0 || field > 1000) return null;
    if (wire === 0) {
      const v = readVarint(b, pos);
      if (!v) return null;
      out.push({ field, wire, varint: v[0] });
      pos = v[1];
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > b.length) return null;
      out.push({ field, wire, raw: b.slice(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const l = readVarint(b, pos);
      if (!l) return null;
      pos = l[1];
      const len = Number(l[0]);
      if (pos + len > b.length) return null;
      const payload = b.subarray(pos, pos + len);
      pos += len;
      const f: PbField = { field, wire, raw: payload };
      if (depth < 40 && len > 0) {
        const kids = parsePb(payload, depth + 1);
        if (kids) f.children = kids;
      }
      out.push(f);
    } else return null;
  }
  return out;
}

function varintBytes(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  while (x > 127n) {
    out.push(Number(x & 127n) | 128);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

export function serializePb(fields: PbField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    parts.push(Uint8Array.from(varintBytes((BigInt(f.field) << 3n) | BigInt(f.wire))));
    if (f.wire === 0) parts.push(Uint8Array.from(varintBytes(f.varint ?? 0n)));
    else if (f.wire === 2) {
      const payload = f.children ? serializePb(f.children) : (f.raw ?? new Uint8Array(0));
      parts.push(Uint8Array.from(varintBytes(f.lieLength ?? BigInt(payload.byteLength))));
      parts.push(payload);
    } else parts.push(f.raw ?? new Uint8Array(f.wire === 1 ? 8 : 4));
  }
  return concat(...parts);
}

/** A deep copy of the structure (payload bytes are shared: mutations never write into them). */
export function cloneTree(fields: PbField[]): PbField[] {
  return fields.map((f) => ({ ...f, children: f.children ? cloneTree(f.children) : undefined }));
}

/** Every field of the tree with the list that holds it (for in-place mutation). */
export function allFields(fields: PbField[]): { f: PbField; list: PbField[] }[] {
  const out: { f: PbField; list: PbField[] }[] = [];
  const walk = (list: PbField[]) => {
    for (const f of list) {
      out.push({ f, list });
      if (f.children) walk(f.children);
    }
  };
  walk(fields);
  return out;
}

const HUGE_LENGTHS = [0x7fffffffn, 0xffffffffn, 0xfffffffffn, (1n << 63n) - 1n, (1n << 64n) - 1n, 1n << 31n, 1n << 40n];
const HUGE_VARINTS = [
  0n, 1n, 127n, 128n, 255n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 53n, (1n << 63n) - 1n, (1n << 64n) - 1n, -1n, -(1n << 63n), 1n << 32n, 999n, 24n,
];

/** Structure-aware mutations of a parsed protobuf; null when the tree offers nothing to mutate. */
export const treeMutations: Record<string, (rng: Rng, tree: PbField[]) => string | null> = {
  duplicateField(rng, tree) {
    const lens = allFields(tree).filter((x) => x.f.wire === 2);
    if (!lens.length) return null;
    const { f, list } = rng.pick(lens);
    const copies = rng.next() < 0.8 ? 1 : 1 + rng.int(200);
    const at = list.indexOf(f);
    list.splice(at + 1, 0, ...cloneTree(Array.from({ length: copies }, () => f)));
    return `duplicate field ${f.field} ×${copies}`;
  },
  dropField(rng, tree) {
    const all = allFields(tree);
    if (!all.length) return null;
    const { f, list } = rng.pick(all);
    list.splice(list.indexOf(f), 1);
    return `drop field ${f.field}`;
  },
  hugeLength(rng, tree) {
    const lens = allFields(tree).filter((x) => x.f.wire === 2);
    if (!lens.length) return null;
    const { f } = rng.pick(lens);
    f.lieLength = rng.next() < 0.7 ? rng.pick(HUGE_LENGTHS) : BigInt(rng.int(1 << 20));
    return `field ${f.field} length prefix → ${f.lieLength}`;
  },
  varintValue(rng, tree) {
    const ints = allFields(tree).filter((x) => x.f.wire === 0);
    if (!ints.length) return null;
    const { f } = rng.pick(ints);
    f.varint = rng.pick(HUGE_VARINTS);
    return `varint field ${f.field} → ${f.varint}`;
  },
  changeWireType(rng, tree) {
    const all = allFields(tree);
    if (!all.length) return null;
    const { f } = rng.pick(all);
    const wire = rng.pick([0, 1, 2, 5]);
    const old = f.wire;
    f.wire = wire;
    if (wire === 0) f.varint = rng.pick(HUGE_VARINTS);
    if (wire === 2 && !f.raw && !f.children) f.raw = rng.bytes(rng.int(16));
    if ((wire === 1 || wire === 5) && (!f.raw || f.raw.length !== (wire === 1 ? 8 : 4))) f.raw = rng.bytes(wire === 1 ? 8 : 4);
    if (wire !== 2) delete f.children;
    return `field ${f.field} wire ${old} → ${wire}`;
  },
  deepNest(rng, tree) {
    // Wrap a message field inside itself many times (a nesting bomb).
    // Small messages only: every level re-copies the payload when serialized.
    const msgs = allFields(tree).filter((x) => x.f.children && (x.f.raw?.byteLength ?? 0) < 2048);
    if (!msgs.length) return null;
    const { f } = rng.pick(msgs);
    const levels = 10 + rng.int(2000);
    let inner: PbField[] = f.children!;
    for (let i = 0; i < levels; i++) inner = [{ field: f.field, wire: 2, children: inner }];
    f.children = inner;
    return `nest field ${f.field} ${levels} levels`;
  },
  moveField(rng, tree) {
    // Put a field into another message (wrong place, plausible content).
    const all = allFields(tree);
    const msgs = all.filter((x) => x.f.children);
    if (!all.length || !msgs.length) return null;
    const { f } = rng.pick(all);
    const target = rng.pick(msgs).f;
    // A deep copy: the field may be an ancestor of the target (a shared list would be a cycle).
    target.children!.push({ ...cloneTree([f])[0]!, field: rng.next() < 0.5 ? f.field : 1 + rng.int(25) });
    return `copy field ${f.field} into field ${target.field}`;
  },
};

// ─── Harness ──────────────────────────────────────────────────────────────────────────────

export interface CaseFailure {
  index: number;
  what: string;
  problem: string;
  saved?: string;
}

export interface RunStats {
  cases: number;
  accepted: number;
  rejected: number;
  ms: number;
  slowestMs: number;
  slowestWhat: string;
  rssStartMb: number;
  rssPeakGrowthMb: number;
  largestCaseGrowthMb: number;
  failures: CaseFailure[];
  /** Messages of rejections, counted by their first words (for the report). */
  messages: Map<string, number>;
}

export function newStats(): RunStats {
  const rss = process.memoryUsage.rss();
  return {
    cases: 0, accepted: 0, rejected: 0, ms: 0, slowestMs: 0, slowestWhat: '', rssStartMb: rss / 2 ** 20,
    rssPeakGrowthMb: 0, largestCaseGrowthMb: 0, failures: [], messages: new Map(),
  };
}

const saveDir = join(tmpdir(), 'distillery-fuzz-failures');

/** Keeps a failing input on disk so the case can be replayed outside the fuzz loop. */
export function saveInput(name: string, bytes: Uint8Array): string {
  mkdirSync(saveDir, { recursive: true });
  const file = join(saveDir, name);
  writeFileSync(file, bytes);
  return file;
}

/** A message pattern: digits, quoted names and byte offsets folded so similar errors group. */
export function messageKey(message: string): string {
  return message
    .replace(/'[^']*'/g, "'…'")
    .replace(/\[[^\]]*\]/g, '[…]')
    .replace(/\(([^)]*)\)/g, (m) => (m.length > 40 ? '(…)' : m))
    .replace(/\/[^\s:]+/g, 'FILE')
    .replace(/-?\d+(\.\d+)?/g, 'N')
    .slice(0, 140);
}

/** Runs one case with timing and memory accounting. `body` returns 'accepted' or 'rejected'. */
export async function runCase(
  stats: RunStats,
  index: number,
  what: string,
  input: Uint8Array | null,
  budgetMs: number,
  body: () => Promise<'accepted' | 'rejected'> | 'accepted' | 'rejected',
): Promise<void> {
  // A case that kills the process (out of memory, native crash) leaves no report: with
  // DISTILLERY_FUZZ_TRACE=1 the input of the running case is on disk before it starts.
  if (process.env.DISTILLERY_FUZZ_TRACE) {
    if (input) saveInput(`current-${process.pid}.bin`, input);
    else mkdirSync(saveDir, { recursive: true });
    writeFileSync(join(saveDir, `current-${process.pid}.txt`), `#${index} ${what}\n`);
  }
  const rssBefore = process.memoryUsage.rss();
  const t0 = performance.now();
  let outcome: 'accepted' | 'rejected' | null = null;
  try {
    outcome = await body();
  } catch (err) {
    const problem = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n')}` : String(err);
    stats.failures.push({ index, what, problem, saved: input ? saveInput(`case-${index}.bin`, input) : undefined });
  }
  const ms = performance.now() - t0;
  const rss = process.memoryUsage.rss();
  stats.cases++;
  if (outcome === 'accepted') stats.accepted++;
  if (outcome === 'rejected') stats.rejected++;
  stats.ms += ms;
  if (ms > stats.slowestMs) {
    stats.slowestMs = ms;
    stats.slowestWhat = `#${index} ${what}`;
  }
  stats.largestCaseGrowthMb = Math.max(stats.largestCaseGrowthMb, (rss - rssBefore) / 2 ** 20);
  stats.rssPeakGrowthMb = Math.max(stats.rssPeakGrowthMb, rss / 2 ** 20 - stats.rssStartMb);
  if (ms > budgetMs) {
    stats.failures.push({ index, what, problem: `took ${ms.toFixed(0)} ms (budget ${budgetMs} ms)`, saved: input ? saveInput(`slow-${index}.bin`, input) : undefined });
  }
}

export function noteMessage(stats: RunStats, message: string): void {
  const key = messageKey(message);
  stats.messages.set(key, (stats.messages.get(key) ?? 0) + 1);
}

export function summary(name: string, stats: RunStats): string {
  const top = [...stats.messages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return [
    `${name}: ${stats.cases} cases (${stats.accepted} accepted, ${stats.rejected} rejected) in ${(stats.ms / 1000).toFixed(1)} s;`,
    `  slowest ${stats.slowestMs.toFixed(1)} ms (${stats.slowestWhat}); RSS start ${stats.rssStartMb.toFixed(0)} MB,`,
    `  peak growth ${stats.rssPeakGrowthMb.toFixed(0)} MB, largest single-case growth ${stats.largestCaseGrowthMb.toFixed(0)} MB`,
    ...top.map(([k, n]) => `  ${String(n).padStart(5)}  ${k}`),
  ].join('\n');
}

export function failureReport(stats: RunStats): string {
  return stats.failures
    .slice(0, 10)
    .map((f) => `#${f.index} [${f.what}] ${f.problem}${f.saved ? `\n   input saved: ${f.saved}` : ''}`)
    .join('\n');
}
