// Fuzzing the ONNX reader: seeded mutations of real models (ONNX's own backend-test models and
// the bundled sample teacher) plus pure random bytes. Each case must either decode — and then
// re-encode, re-decode, validate, inspect and shape-infer without an unexpected error — or be
// rejected with an OnnxFormatError (decodeModel) / ModelFileError (loadModel) carrying a
// message. No other error type, no case over the time budget, bounded memory.
//
// DISTILLERY_FUZZ_CASES=50000 npx vitest run test/fuzz/onnx-reader   (longer local run)
// DISTILLERY_FUZZ_SEED=N replays another sequence; failing inputs are saved under
// $TMPDIR/distillery-fuzz-failures/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, OnnxFormatError } from '../../app/engine/onnx/codec.js';
import { inspectModel } from '../../app/engine/onnx/inspect.js';
import { decodeModelFile, loadModel, ModelFileError } from '../../app/engine/onnx/io.js';
import type { Model } from '../../app/engine/onnx/ir.js';
import { inferShapes } from '../../app/engine/onnx/shape-inference.js';
import { validateModel } from '../../app/engine/onnx/validate.js';
import {
  byteMutations,
  cloneTree,
  failureReport,
  fuzzCases,
  fuzzSeed,
  newStats,
  noteMessage,
  parsePb,
  Rng,
  runCase,
  serializePb,
  summary,
  treeMutations,
  type PbField,
} from './fuzz-helpers.js';

const TESTDATA = '/usr/share/libonnx-testdata/data';
const TEACHER = 'resources/sample-teacher/fashion-cnn.onnx';
const CASES = fuzzCases(6000);
const SEED = fuzzSeed(0x0dd1);
const CASE_BUDGET_MS = 10_000; // catches hangs; not a speed limit (shared, loaded machines)
const RSS_GROWTH_LIMIT_MB = 1024;

function findModels(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (name === 'model.onnx') out.push(p);
    else if (!name.includes('.') && statSync(p).isDirectory()) findModels(p, out);
  }
  return out;
}

/** A spread of the test-suite models (every kind of op, attribute, subgraph, tensor type). */
function corpus(rng: Rng): { name: string; bytes: Uint8Array }[] {
  const all = findModels(TESTDATA).sort();
  const picked: string[] = [];
  // Always include the ones with subgraphs, sparse tensors, strings and functions.
  const wanted = /(_if|_loop|scan|sequence|optional|sparse|string|cast|constant|function|_expanded|quantize|conv|lstm|gru|layer_norm)/;
  for (const p of all) if (wanted.test(p) && rng.next() < 0.35) picked.push(p);
  for (const p of all) if (!picked.includes(p) && rng.next() < 0.08) picked.push(p);
  const models = picked.map((p) => ({ name: p.slice(TESTDATA.length + 1), bytes: new Uint8Array(readFileSync(p)) }));
  models.push({ name: 'fashion-cnn.onnx', bytes: new Uint8Array(readFileSync(TEACHER)) });
  return models;
}

/** What a rejected case must look like. */
function expectFormatError(err: unknown, types: (typeof OnnxFormatError | typeof ModelFileError)[]): string {
  if (!types.some((T) => err instanceof T)) throw err;
  const message = (err as Error).message;
  if (typeof message !== 'string' || message.trim().length < 8) throw new Error(`rejected with an empty message: ${String(err)}`);
  return message;
}

/** Everything a decoded (accepted) model goes through in the app. */
function exercise(model: Model, size: number): void {
  const bytes = encodeModel(model);
  // The IR is faithful: what we write reads back, and writing it again gives the same bytes.
  const again = decodeModel(bytes);
  const bytes2 = encodeModel(again);
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(bytes2)) !== 0) throw new Error('encode(decode(encode(model))) differs from encode(model)');
  const issues = validateModel(model);
  if (!Array.isArray(issues)) throw new Error('validateModel did not return a list');
  for (const i of issues) if (typeof i.message !== 'string' || !i.message) throw new Error('validation issue without a message');
  const summaryOut = inspectModel(model, { sizeBytes: size });
  JSON.stringify(summaryOut); // the CLI prints it as JSON: no bigint, no cycles
  try {
    inferShapes(model);
  } catch (err) {
    // inspectFile swallows shape-inference failures (FLOPs then come from declared shapes);
    // what matters here is that it ends quickly and without a huge allocation (checked by runCase).
    if (!(err instanceof Error)) throw err;
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'distillery-fuzz-onnx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ONNX reader fuzz', () => {
  it(`survives ${CASES} mutated and random inputs (seed ${SEED})`, async () => {
    const rng = new Rng(SEED);
    const models = corpus(rng);
    expect(models.length).toBeGreaterThan(50);
    const trees = new Map<string, PbField[] | null>();
    const stats = newStats();
    const byteOps = Object.keys(byteMutations);
    const treeOps = Object.keys(treeMutations);

    for (let i = 0; i < CASES; i++) {
      // Choose the input.
      let bytes: Uint8Array;
      const steps: string[] = [];
      const r = rng.next();
      if (r < 0.06) {
        bytes = rng.bytes(rng.int(4096));
        steps.push(`random ${bytes.length} bytes`);
      } else {
        const base = r < 0.1 ? models[models.length - 1]! : rng.pick(models);
        steps.push(base.name);
        bytes = base.bytes;
        const n = 1 + (rng.next() < 0.7 ? 0 : rng.int(3));
        for (let k = 0; k < n; k++) {
          if (rng.next() < 0.5) {
            let tree = trees.get(base.name);
            if (tree === undefined) {
              tree = parsePb(base.bytes);
              trees.set(base.name, tree);
            }
            const current = k === 0 ? tree : parsePb(bytes);
            if (current) {
              const copy = cloneTree(current);
              const op = rng.pick(treeOps);
              const what = treeMutations[op]!(rng, copy);
              if (what) {
                bytes = serializePb(copy);
                steps.push(what);
                continue;
              }
            }
          }
          const op = rng.pick(byteOps);
          const res = byteMutations[op]!(rng, bytes);
          bytes = res.bytes;
          steps.push(res.what);
        }
      }
      const what = steps.join(' + ');
      const viaFile = i % 10 === 0;

      await runCase(stats, i, what, bytes, CASE_BUDGET_MS, async () => {
        let model: Model;
        try {
          if (viaFile) {
            mkdirSync(tmp, { recursive: true }); // long runs outlive tmp cleaners
            const file = join(tmp, `case-${i % 7}.onnx`);
            writeFileSync(file, bytes);
            model = await loadModel(file);
          } else if (i % 10 === 5) {
            model = await decodeModelFile(join(tmp, 'in-memory.onnx'), bytes);
          } else {
            model = decodeModel(bytes);
          }
        } catch (err) {
          noteMessage(stats, expectFormatError(err, viaFile || i % 10 === 5 ? [ModelFileError] : [OnnxFormatError]));
          return 'rejected';
        }
        exercise(model, bytes.byteLength);
        return 'accepted';
      });
      if (stats.failures.length >= 20) break;
    }

    console.log(summary('onnx-reader fuzz', stats));
    if (stats.failures.length) console.log(failureReport(stats));
    expect(stats.failures.map((f) => `#${f.index} [${f.what}] ${f.problem.split('\n')[0]}`)).toEqual([]);
    expect(stats.rssPeakGrowthMb).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    // Both outcomes must actually occur, or the mutations are too weak / too strong to mean anything.
    expect(stats.accepted).toBeGreaterThan(CASES * 0.05);
    expect(stats.rejected).toBeGreaterThan(CASES * 0.3);
  }, Math.max(120_000, CASES * 5 * 3));
});
