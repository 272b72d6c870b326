// ONNX's backend test suite through our reader and writer: every model is decoded, re-encoded,
// opened by ONNX Runtime from OUR bytes and run on the suite's inputs; outputs must match the
// suite's expected outputs. When ORT fails or mismatches, the original bytes are tried too, so a
// failure is only blamed on our codec when the original file behaves better.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, decodeTensor, encodeModel } from '../../app/engine/onnx/codec.js';
import { DataType, type Model, type Tensor } from '../../app/engine/onnx/ir.js';
import { halfToFloat } from '../../app/engine/onnx/tensor.js';

const ROOT = '/usr/share/libonnx-testdata/data';
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator'] as const;
const RTOL = 1e-4;
const ATOL = 1e-4;

type Outcome =
  | { kind: 'passed' }
  | { kind: 'ort'; reason: string } // ORT cannot run it, the same way on the original bytes
  | { kind: 'harness'; reason: string } // inputs/outputs a JS caller cannot express (sequences, optionals, …)
  | { kind: 'failed'; reason: string };

const sessionOptions: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 4,
};

const ORT_TYPES: Partial<Record<number, ort.Tensor.Type>> = {
  [DataType.FLOAT]: 'float32', [DataType.DOUBLE]: 'float64', [DataType.FLOAT16]: 'float16',
  [DataType.INT8]: 'int8', [DataType.UINT8]: 'uint8', [DataType.INT16]: 'int16', [DataType.UINT16]: 'uint16',
  [DataType.INT32]: 'int32', [DataType.UINT32]: 'uint32', [DataType.INT64]: 'int64', [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool', [DataType.STRING]: 'string',
};

const utf8 = new TextDecoder();

function typedView(t: Tensor): ArrayLike<number | bigint> | string[] {
  if (t.data.kind === 'strings') return t.data.values.map((v) => utf8.decode(v));
  const b = new Uint8Array(t.data.bytes); // an aligned copy
  const buf = b.buffer;
  switch (t.dataType) {
    case DataType.FLOAT: return new Float32Array(buf);
    case DataType.DOUBLE: return new Float64Array(buf);
    case DataType.FLOAT16: return new Uint16Array(buf);
    case DataType.INT8: return new Int8Array(buf);
    case DataType.UINT8: case DataType.BOOL: return new Uint8Array(buf);
    case DataType.INT16: return new Int16Array(buf);
    case DataType.UINT16: return new Uint16Array(buf);
    case DataType.INT32: return new Int32Array(buf);
    case DataType.UINT32: return new Uint32Array(buf);
    case DataType.INT64: return new BigInt64Array(buf);
    case DataType.UINT64: return new BigUint64Array(buf);
    default: throw new Error(`data type ${t.dataType} cannot be fed from JS`);
  }
}

function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dataType];
  if (!type) throw new HarnessError(`input '${t.name}' has data type ${t.dataType}, which onnxruntime-node cannot take`);
  return new ort.Tensor(type, typedView(t) as never, t.dims);
}

class HarnessError extends Error {}

function sameValues(expected: Tensor, actual: ort.Tensor): string | null {
  const want = typedView(expected);
  const got = actual.data as ArrayLike<number | bigint | string>;
  if (ORT_TYPES[expected.dataType] !== actual.type) return `type ${actual.type}, expected ${ORT_TYPES[expected.dataType] ?? expected.dataType}`;
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return `shape [${actual.dims}], expected [${expected.dims}]`;
  }
  if (got.length !== want.length) return `${got.length} values, expected ${want.length}`;
  const isFloat = expected.dataType === DataType.FLOAT || expected.dataType === DataType.DOUBLE || expected.dataType === DataType.FLOAT16;
  for (let i = 0; i < want.length; i++) {
    let w = want[i]!;
    let g = got[i]!;
    if (expected.dataType === DataType.FLOAT16) {
      w = halfToFloat(w as number);
      g = halfToFloat(g as number);
    }
    if (isFloat) {
      const a = g as number, b = w as number;
      if (Number.isNaN(a) && Number.isNaN(b)) continue;
      if (a === b) continue; // equal infinities
      const tol = expected.dataType === DataType.FLOAT16 ? 1e-2 : ATOL + RTOL * Math.abs(b);
      if (!(Math.abs(a - b) <= tol)) return `element ${i} is ${a}, expected ${b}`;
    } else if (g !== w) {
      return `element ${i} is ${String(g)}, expected ${String(w)}`;
    }
  }
  return null;
}

interface Case {
  inputs: Tensor[];
  outputs: Tensor[];
}

function readCases(dir: string): Case[] {
  const cases: Case[] = [];
  for (const d of readdirSync(dir).filter((n) => n.startsWith('test_data_set_')).sort()) {
    const files = readdirSync(join(dir, d));
    const read = (prefix: string) => files
      .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
      .map((f) => readFileSync(join(dir, d, f)));
    cases.push({ inputs: read('input_').map((b) => decodeTensor(b)), outputs: read('output_').map((b) => decodeTensor(b)) });
  }
  return cases;
}

/** Runs one model from `bytes`; returns null on success or a description of what went wrong. */
async function runBytes(bytes: Uint8Array, model: Model, cases: () => Case[]): Promise<string | null> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (err) {
    return `session: ${normalize(err)}`;
  }
  try {
    const inits = new Set(model.graph.initializers.map((t) => t.name));
    const graphInputs = model.graph.inputs.filter((v) => !inits.has(v.name));
    for (const v of [...graphInputs, ...model.graph.outputs]) {
      if (v.type && v.type.kind !== 'tensor') throw new HarnessError(`'${v.name}' is a ${v.type.kind}, which onnxruntime-node cannot pass`);
    }
    for (const c of cases()) {
      const feeds: Record<string, ort.Tensor> = {};
      c.inputs.forEach((t, i) => {
        const name = graphInputs[i]?.name ?? t.name;
        feeds[name] = toOrt(t);
      });
      let result: ort.InferenceSession.ReturnType;
      try {
        result = await session.run(feeds);
      } catch (err) {
        return `run: ${normalize(err)}`;
      }
      for (let i = 0; i < c.outputs.length; i++) {
        const name = model.graph.outputs[i]?.name ?? '';
        const got = result[name];
        if (!got) return `output '${name}' missing`;
        const diff = sameValues(c.outputs[i]!, got);
        if (diff) return `output '${name}': ${diff}`;
      }
    }
    return null;
  } finally {
    await session.release();
  }
}

function normalize(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // Drop source locations so the same failure on two byte strings compares equal.
  return (msg.split('\n')[0] ?? '').replace(/\/onnxruntime_src\/\S+:\d+ /g, '').slice(0, 300);
}

async function conform(dir: string): Promise<Outcome> {
  const original = readFileSync(join(dir, 'model.onnx'));
  let model: Model;
  let ours: Uint8Array;
  try {
    model = decodeModel(original);
    ours = encodeModel(model);
  } catch (err) {
    return { kind: 'failed', reason: `codec: ${(err as Error).message}` };
  }
  let loaded: Case[] | undefined;
  const cases = () => (loaded ??= readCases(dir));
  let mine: string | null;
  try {
    mine = await runBytes(ours, model, cases);
  } catch (err) {
    if (err instanceof HarnessError) return { kind: 'harness', reason: err.message };
    throw err;
  }
  if (mine === null) return { kind: 'passed' };
  let theirs: string | null;
  try {
    theirs = await runBytes(original, model, cases);
  } catch (err) {
    if (err instanceof HarnessError) return { kind: 'failed', reason: `ours: ${mine}; original: ${err.message}` };
    throw err;
  }
  if (theirs === mine) return { kind: 'ort', reason: mine };
  return { kind: 'failed', reason: `ours: ${mine}; original: ${theirs ?? 'passes'}` };
}

describe('ONNX backend test suite through our codec', () => {
  it('runs every model written by our writer the same as the original', async () => {
    expect(existsSync(ROOT)).toBe(true);
    const started = performance.now();
    const results: Record<string, Record<Outcome['kind'], number>> = {};
    const failures: string[] = [];
    const ortReasons = new Map<string, number>();
    const harnessReasons: string[] = [];
    for (const suite of SUITES) {
      const counts = (results[suite] = { passed: 0, ort: 0, harness: 0, failed: 0 });
      for (const test of readdirSync(join(ROOT, suite)).sort()) {
        const dir = join(ROOT, suite, test);
        if (!existsSync(join(dir, 'model.onnx'))) continue;
        const outcome = await conform(dir);
        counts[outcome.kind]++;
        if (outcome.kind === 'failed') failures.push(`${suite}/${test}: ${outcome.reason}`);
        if (outcome.kind === 'ort') {
          const key = outcome.reason.replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 110);
          ortReasons.set(key, (ortReasons.get(key) ?? 0) + 1);
        }
        if (outcome.kind === 'harness') harnessReasons.push(`${suite}/${test}`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    writeReport(results, ortReasons, harnessReasons, seconds);
    expect(failures).toEqual([]);
    const total = Object.values(results).reduce((s, c) => s + c.passed + c.ort + c.harness + c.failed, 0);
    expect(total).toBeGreaterThan(1000);
    // Most of the suite must actually run; a broken harness would show up as mass "ORT cannot run".
    expect(Object.values(results).reduce((s, c) => s + c.passed, 0)).toBeGreaterThan(0.75 * total);
  }, 300_000);
});

function writeReport(
  results: Record<string, Record<Outcome['kind'], number>>,
  ortReasons: Map<string, number>,
  harness: string[],
  seconds: number,
): void {
  const sum = (k: Outcome['kind']) => Object.values(results).reduce((s, c) => s + c[k], 0);
  const rows = Object.entries(results).map(([suite, c]) => `| ${suite} | ${c.passed + c.ort + c.harness + c.failed} | ${c.passed} | ${c.ort} | ${c.harness} | ${c.failed} |`);
  const top = [...ortReasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  const text = `# ONNX conformance

Generated by \`npx vitest run test/integration/onnx-conformance.test.ts\` (ONNX Runtime ${ort.env.versions.common}, CPU,
one session at a time, one thread; ${seconds.toFixed(0)} s). Source: ONNX's backend test suite from Debian's
\`libonnx-testdata\` (\`/usr/share/libonnx-testdata/data/\`).

Each model is decoded by our reader, re-encoded by our writer, and ONNX Runtime opens **our bytes** and
runs every \`test_data_set_*\` (float tolerance rtol ${RTOL}, atol ${ATOL}; float16 1e-2; integers, bools and
strings exact; NaN equals NaN). When that fails, the **original file** is tried the same way:

- **passed** — our bytes run and every output matches.
- **ORT cannot run** — our bytes fail, and the original file fails in exactly the same way (operator or type
  not implemented by ONNX Runtime's CPU provider, opset too old or new, or ORT's result differs from the
  expected output on the original too). Not a codec problem.
- **not feedable from Node** — the model takes or returns sequences, optionals or types onnxruntime-node has
  no JS form for; the session still opened from our bytes.
- **failed** — our bytes behave differently from the original (the test requires zero).

| suite | models | passed | ORT cannot run | not feedable from Node | failed |
|---|---:|---:|---:|---:|---:|
${rows.join('\n')}
| **total** | ${sum('passed') + sum('ort') + sum('harness') + sum('failed')} | ${sum('passed')} | ${sum('ort')} | ${sum('harness')} | ${sum('failed')} |

The node/ suite holds ONNX's operator tests; pytorch-converted/ and pytorch-operator/ are models exported by
PyTorch (old IR and opset versions).

Most common reasons ONNX Runtime cannot run a model (same on the original file):

${top.map(([r, n]) => `- ${n} × \`${r.replace(/`/g, "'")}\``).join('\n')}

Not feedable from Node: ${harness.length} model(s)${harness.length ? ` (e.g. ${harness.slice(0, 5).join(', ')})` : ''}.
`;
  // The committed report is refreshed on request only, so a test run leaves the tree clean.
  const target = process.env.DISTILLERY_WRITE_DOCS ? new URL('../../docs/CONFORMANCE.md', import.meta.url) : new URL('../../test-results/CONFORMANCE.md', import.meta.url);
  mkdirSync(new URL('.', target), { recursive: true });
  writeFileSync(target, text);
}
