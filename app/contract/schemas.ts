// valibot schemas for every method's params. Strict: unknown keys are refused, strings are
// bounded, paths must be absolute and free of NUL. validateCall() throws a ContractError whose
// message names the field. Shared by the Electron main process, the HTTP server and the services.
import * as v from 'valibot';
import { DEVICE_PREFERENCES, EXPERIMENT_KINDS, EXPERIMENT_STATUSES, QUANTIZE_METHODS, type ApiMethod, type ApiParams } from './api.js';
import { API_METHODS } from './channels.js';
import { ContractError } from './errors.js';

const MAX_PATH = 4096;

const str = (max: number, what = 'text') =>
  v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check((s) => !s.includes('\u0000'), `${what} must not contain NUL characters`),
  );

/** POSIX (/x), Windows drive (C:\x or C:/x) or UNC (\\server\share). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

export const absolutePath = v.pipe(
  str(MAX_PATH, 'a path'),
  v.check(isAbsolutePath, 'must be an absolute path'),
);

const int = (min: number, max: number) =>
  v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(min, `must be at least ${min}`), v.maxValue(max, `must be at most ${max}`));
const num = (min: number, max: number, exclusiveMin = false) =>
  v.pipe(
    v.number('must be a number'),
    v.finite('must be a finite number'),
    v.check((n) => (exclusiveMin ? n > min : n >= min), exclusiveMin ? `must be greater than ${min}` : `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
const bool = v.boolean('must be true or false');
const picklist = <T extends readonly [string, ...string[]]>(options: T) => v.picklist(options, `must be one of ${options.join(', ')}`);

export const experimentId = v.pipe(v.string('must be a string'), v.regex(/^exp_[0-9a-z]{8,40}$/, 'is not an experiment id (exp_…)'));
const tag = v.pipe(
  str(64),
  v.regex(/^[^\s,][^,\u0000-\u001f\u007f]{0,63}$/, 'must be 1-64 characters without commas or control characters'),
);
const jobId = v.pipe(v.string('must be a string'), v.regex(/^job_[0-9a-z]{4,40}$/, 'is not a job id (job_…)'));
const template = v.pipe(str(200), v.regex(/^(mlp|cnn):[0-9,/]+$/i, 'is not a student template (mlp:64 or cnn:8,16/32)'));
const name = v.pipe(str(200), v.check((s) => !/[\r\n]/.test(s), 'must be a single line'));
const tags = v.pipe(v.array(tag, 'must be a list'), v.maxLength(32, 'has too many entries (at most 32)'));

const none = v.strictObject({});
const device = picklist(DEVICE_PREFERENCES);

const sort = v.union(
  [
    picklist(['createdAt', 'name', 'status', 'kind', 'finishedAt'] as const),
    v.strictObject({ metric: v.pipe(str(100), v.regex(/^[A-Za-z0-9_.]+$/, 'must be a metric name (letters, digits, _ and .)')) }),
  ],
  'must be createdAt, name, status, kind, finishedAt or {metric}',
);

export const schemas = {
  listExperiments: v.strictObject({
    search: v.optional(v.pipe(v.string('must be a string'), v.maxLength(200, 'must be at most 200 characters'))),
    kinds: v.optional(v.pipe(v.array(picklist(EXPERIMENT_KINDS), 'must be a list'), v.maxLength(10, 'has too many entries'))),
    statuses: v.optional(v.pipe(v.array(picklist(EXPERIMENT_STATUSES), 'must be a list'), v.maxLength(10, 'has too many entries'))),
    tags: v.optional(tags),
    parentId: v.optional(experimentId),
    pinned: v.optional(bool),
    sort: v.optional(sort),
    order: v.optional(picklist(['asc', 'desc'] as const)),
    limit: v.optional(int(1, 1000)),
    offset: v.optional(int(0, 1_000_000_000)),
  }),
  getExperiment: v.strictObject({ id: experimentId }),
  compareExperiments: v.strictObject({
    ids: v.pipe(v.array(experimentId, 'must be a list'), v.minLength(2, 'needs at least 2 experiments'), v.maxLength(20, 'takes at most 20 experiments')),
    baseline: v.optional(experimentId),
    all: v.optional(bool),
  }),
  renameExperiment: v.strictObject({ id: experimentId, name }),
  setPinned: v.strictObject({ id: experimentId, pinned: bool }),
  addNote: v.strictObject({
    id: experimentId,
    body: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(20_000, 'must be at most 20000 characters')),
    author: v.optional(v.pipe(v.string('must be a string'), v.maxLength(100, 'must be at most 100 characters'))),
  }),
  deleteNote: v.strictObject({ noteId: int(1, Number.MAX_SAFE_INTEGER) }),
  addTag: v.strictObject({ id: experimentId, tag }),
  removeTag: v.strictObject({ id: experimentId, tag }),
  listTags: none,
  deleteExperiment: v.strictObject({ id: experimentId }),
  inspectModel: v.strictObject({ path: absolutePath }),
  inspectDataset: v.strictObject({
    path: absolutePath,
    labelColumn: v.optional(str(200)),
    limit: v.optional(int(1, 100_000)),
    samples: v.optional(int(0, 32)),
  }),
  listSamples: none,
  startDistill: v.strictObject({
    name: v.optional(name),
    teachers: v.pipe(v.array(absolutePath, 'must be a list of model paths'), v.minLength(1, 'needs at least one teacher'), v.maxLength(8, 'takes at most 8 teachers')),
    data: absolutePath,
    student: v.optional(v.union([template, absolutePath], 'must be a template (mlp:64, cnn:8,16/32) or an absolute path to a .onnx file')),
    unlabeled: v.optional(absolutePath),
    labelsPerClass: v.optional(int(1, 1_000_000)),
    normalize: v.optional(v.strictObject({ mean: num(-1e6, 1e6), std: num(0, 1e6, true) })),
    labelColumn: v.optional(str(200)),
    seed: v.optional(int(0, 2 ** 32 - 1)),
    epochs: v.optional(int(1, 1000)),
    batchSize: v.optional(int(1, 65_536)),
    lr: v.optional(num(0, 10, true)),
    temperature: v.optional(num(0, 100, true)),
    alpha: v.optional(num(0, 1)),
    patience: v.optional(int(1, 1000)),
    augment: v.optional(picklist(['none', 'shift', 'shift-flip'] as const)),
    augmentViews: v.optional(int(2, 32)),
    limit: v.optional(int(1, 10_000_000)),
    device: v.optional(device),
    threads: v.optional(int(1, 256)),
    workers: v.optional(v.union([int(1, 8), v.literal('auto')])),
    tags: v.optional(tags),
  }),
  startQuantize: v.strictObject({
    name: v.optional(name),
    model: absolutePath,
    method: picklist(QUANTIZE_METHODS),
    calib: v.optional(absolutePath),
    eval: v.optional(absolutePath),
    calibrationMethod: v.optional(picklist(['minmax', 'percentile', 'entropy'] as const)),
    perChannel: v.optional(bool),
    limit: v.optional(int(1, 10_000_000)),
    maxAccuracyDrop: v.optional(num(0, 100)),
    objective: v.optional(picklist(['size', 'latency'] as const)),
    blockSize: v.optional(v.picklist([16, 32, 64, 128, 256] as const, 'must be one of 16, 32, 64, 128, 256')),
    symmetric: v.optional(bool),
    keepConvFloat: v.optional(bool),
    device: v.optional(device),
    threads: v.optional(int(1, 256)),
    parentId: v.optional(experimentId),
    tags: v.optional(tags),
  }),
  startBenchmark: v.strictObject({
    name: v.optional(name),
    models: v.pipe(v.array(absolutePath, 'must be a list of model paths'), v.minLength(1, 'needs at least one model'), v.maxLength(16, 'takes at most 16 models')),
    data: v.optional(absolutePath),
    batchSizes: v.optional(v.pipe(v.array(int(1, 4096), 'must be a list'), v.minLength(1, 'must not be empty'), v.maxLength(8, 'takes at most 8 sizes'))),
    runs: v.optional(int(1, 100_000)),
    limit: v.optional(int(1, 10_000_000)),
    ensembles: v.optional(bool),
    device: v.optional(device),
    threads: v.optional(int(1, 256)),
    parentId: v.optional(experimentId),
    tags: v.optional(tags),
  }),
  resumeJob: v.strictObject({ experimentId }),
  cancelJob: v.strictObject({ jobId }),
  listJobs: none,
  getSettings: none,
  updateSettings: v.strictObject({
    device: v.optional(device),
    threads: v.optional(v.nullable(int(1, 256))),
    theme: v.optional(picklist(['system', 'light', 'dark'] as const)),
    concurrency: v.optional(int(1, 2)),
  }),
  detectDevices: v.strictObject({ refresh: v.optional(bool) }),
  exportBundle: v.strictObject({
    ids: v.pipe(v.array(experimentId, 'must be a list'), v.minLength(1, 'needs at least one experiment'), v.maxLength(10_000, 'has too many entries')),
    path: absolutePath,
    overwrite: v.optional(bool),
  }),
  importBundle: v.strictObject({ path: absolutePath }),
  appInfo: none,
} satisfies Record<ApiMethod, v.GenericSchema>;

// Every method has a schema (compile-time).
type MissingSchema = Exclude<(typeof API_METHODS)[number], keyof typeof schemas>;
const everySchema: MissingSchema extends never ? true : MissingSchema = true;
void everySchema;

function describeIssue(method: string, issue: v.BaseIssue<unknown>): { message: string; field: string | null } {
  const path = (issue.path ?? []).map((p) => String((p as { key: unknown }).key));
  const field = path.length ? path.join('.') : null;
  const where = field ? `'${field}'` : 'params';
  // strictObject reports an unknown key with expected 'never' and the key as the last path item.
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    return { message: `${method}: unknown field ${where}`, field };
  }
  if (issue.kind === 'schema' && issue.input === undefined && issue.received === 'undefined') {
    return { message: `${method}: ${where} is required`, field };
  }
  if (issue.type === 'strict_object' || issue.type === 'object') {
    return { message: `${method}: ${where} must be an object`, field };
  }
  return { message: `${method}: ${where} ${issue.message}`, field };
}

/**
 * Checks a call's params against the method's schema. Returns the validated params; throws
 * ContractError (code INVALID_PARAMS) naming the first bad field. `undefined` params mean {}.
 */
export function validateCall<M extends ApiMethod>(method: M, params: unknown): ApiParams<M> {
  if (!(API_METHODS as readonly string[]).includes(method)) throw new ContractError(`Unknown method ${JSON.stringify(method)}.`);
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
    throw new ContractError(`${method}: params must be an object`);
  }
  const schema = schemas[method] as v.GenericSchema;
  const result = v.safeParse(schema, params === undefined ? {} : params, { abortEarly: true });
  if (!result.success) {
    const { message, field } = describeIssue(method, result.issues[0]);
    throw new ContractError(message, field);
  }
  return result.output as ApiParams<M>;
}
