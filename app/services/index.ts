// createServices: the contract (Api) implemented on the store, the engine and the job queue.
// Every transport (Electron IPC, HTTP server, CLI, tests) wraps the same object.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type {
  Api,
  ApiMethod,
  ApiParams,
  Artifact,
  DeviceInfo,
  DistillConfig,
  Experiment,
  JobKind,
  SampleList,
  Settings,
  StartedJob,
} from '../contract/api.js';
import { isMutating } from '../contract/channels.js';
import { ApiError, ContractError } from '../contract/errors.js';
import type { ApiEvent, ApiEventName, ApiEvents } from '../contract/events.js';
import { validateCall } from '../contract/schemas.js';
import { JobManager } from '../jobs/job-manager.js';
import { jobKindModule } from '../jobs/kinds/index.js';
import { exportBundle, historyPath, importBundle, openDatabase, StoreError, type Store } from '../store/index.js';
import { compare } from './compare.js';
import { checkOutputPath, checkPath } from './paths.js';
import { ProbeRunner, type ProbeRunnerOptions } from './probes.js';
import { loadSettings, saveSettings } from './settings.js';

export interface ServicesOptions {
  dataDir: string;
  /** Default `<dataDir>/history.sqlite`. */
  dbPath?: string;
  /** Refuse every mutating method; open the history read-only. */
  readOnly?: boolean;
  /** Folder with sample-data/ and sample-teacher/ (default: the project's resources/). */
  resourcesDir?: string;
  /** Mark runs left 'running' by a crash as interrupted (default true; false for a browsing CLI). */
  recover?: boolean;
  /** Jobs at once; default from settings (1). */
  concurrency?: number;
  /** After cancel, kill a job's process that has not stopped within this many ms (default 5000). */
  killAfterMs?: number;
  /** Finished jobs listed by listJobs (default 100; the history keeps every experiment). */
  keepFinishedJobs?: number;
  appVersion?: string;
  /** Probes that open ONNX Runtime (inspectModel, detectDevices) run in a child: its limits. */
  probes?: ProbeRunnerOptions;
}

export type Unsubscribe = () => void;

export interface Services {
  api: Api;
  /** Calls a method by name after validating its params (what transports use). */
  call<M extends ApiMethod>(method: M, params: unknown): Promise<Awaited<ReturnType<Api[M]>>>;
  /** `subscribers` counts live subscriptions (leak checks in tests and diagnostics). */
  events: { subscribe(fn: (event: ApiEvent) => void): Unsubscribe; readonly subscribers: number };
  /** Internal: the job queue (tests, diagnostics). Not part of the contract. */
  jobs: JobManager;
  store: Store;
  readonly readOnly: boolean;
  /** Cancels running jobs, waits for their processes, closes the history. */
  close(): Promise<void>;
}

const PROJECT_ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Maps store errors to contract error codes; everything else passes through. */
export function toApiError(err: unknown): Error {
  if (err instanceof ApiError || err instanceof ContractError) return err;
  if (err instanceof StoreError) {
    const code = err.code === 'NOT_FOUND' ? 'NOT_FOUND' : err.code === 'INVALID_INPUT' ? 'INVALID_PARAMS' : err.code === 'INVALID_STATE' || err.code === 'ALREADY_EXISTS' ? 'INVALID_STATE' : 'FAILED';
    return new ApiError(code, err.message);
  }
  if (err instanceof Error) return new ApiError('FAILED', err.message.split('\n')[0] ?? 'failed');
  return new ApiError('FAILED', String(err));
}

export function createServices(options: ServicesOptions): Services {
  const dataDir = resolve(options.dataDir);
  const dbPath = resolve(options.dbPath ?? historyPath(dataDir));
  const readOnly = options.readOnly === true;
  const resourcesDir = resolve(options.resourcesDir ?? join(PROJECT_ROOT, 'resources'));
  const store = openDatabase(dbPath, { readonly: readOnly });
  if (!readOnly && options.recover !== false) store.experiments.markInterrupted();
  let settings = loadSettings(dataDir);

  const listeners = new Set<(e: ApiEvent) => void>();
  const emit = <K extends ApiEventName>(name: K, payload: ApiEvents[K]): void => {
    const event = { name, payload } as ApiEvent;
    for (const fn of [...listeners]) {
      try {
        fn(event);
      } catch {
        /* a listener's failure is its own */
      }
    }
  };
  const jobs = new JobManager({ store, emit, concurrency: options.concurrency ?? settings.concurrency, killAfterMs: options.killAfterMs, keepFinished: options.keepFinishedJobs });
  const probes = new ProbeRunner(options.probes);
  // Device probing is slow (GPU start-up) and its answer rarely changes: kept until a refresh.
  let devices: Promise<DeviceInfo[]> | undefined;

  const modelsDir = (id: string) => join(dataDir, 'models', id);
  const checkpointOf = (id: string) => join(dataDir, 'checkpoints', `${id}.ckpt`);
  const cacheDir = join(dataDir, 'cache', 'teacher-logits');

  const artifactPath = (sha: string): string => {
    try {
      return store.artifacts.path(sha);
    } catch {
      return '';
    }
  };

  const isResumable = (e: Experiment): boolean =>
    e.kind === 'distill' && (e.status === 'interrupted' || e.status === 'failed' || e.status === 'cancelled') && typeof (e.config as Record<string, unknown> | null)?.checkpointPath === 'string' && existsSync(checkpointOf(e.id));

  async function startJob(kind: JobKind, config: unknown, extra: { tags?: string[]; parentId?: string }): Promise<StartedJob> {
    const mod = jobKindModule<unknown>(kind);
    // Create first (for the id), then fill in the config with the id-based paths.
    const created = store.experiments.create({ kind, name: `${kind} (preparing)`, config: {}, parentId: extra.parentId ?? null, tags: extra.tags ?? [] });
    try {
      const prepared = mod.prepare(config, {
        experimentId: created.id,
        dataDir,
        outDir: modelsDir(created.id),
        checkpointPath: checkpointOf(created.id),
        cacheDir,
        device: settings.device,
        threads: settings.threads,
      });
      await mkdir(modelsDir(created.id), { recursive: true });
      store.experiments.update(created.id, { name: prepared.name.slice(0, 200), config: { ...prepared.config, jobParams: prepared.params } });
      const info = jobs.enqueue(kind, created.id, prepared.params);
      emit('experiments:changed', { ids: [created.id], reason: 'created', status: 'queued' });
      return { jobId: info.jobId, experimentId: created.id };
    } catch (err) {
      store.experiments.delete(created.id);
      throw err;
    }
  }

  const api: Api = {
    async listExperiments(q) {
      return store.experiments.list(q);
    },
    async getExperiment({ id }) {
      const experiment = store.experiments.get(id);
      const artifacts: Artifact[] = store.artifacts.listForExperiment(id).map((a) => ({ ...a, path: artifactPath(a.sha256) }));
      return {
        experiment,
        metrics: store.metrics.series(id),
        notes: store.notes.list(id),
        benchmarks: store.benchmarks.listForExperiment(id),
        artifacts,
        job: jobs.activeFor(id) ?? null,
        resumable: !readOnly && isResumable(experiment),
      };
    },
    async compareExperiments({ ids, baseline, all }) {
      const unique = [...new Set(ids)];
      if (unique.length < 2) throw new ApiError('INVALID_PARAMS', 'compareExperiments: choose at least two different experiments.');
      const found = store.experiments.getMany(unique);
      for (const id of unique) if (!found.some((e) => e.id === id)) throw new ApiError('NOT_FOUND', `No experiment with id "${id}" in this history.`);
      if (baseline !== undefined && !unique.includes(baseline)) throw new ApiError('INVALID_PARAMS', `compareExperiments: 'baseline' must be one of 'ids'.`);
      const base = baseline ?? found.find((e) => e.pinned)?.id ?? unique[0]!;
      const benches = new Map(found.map((e) => [e.id, store.benchmarks.listForExperiment(e.id)]));
      return compare(found, benches, base, all === true);
    },
    async renameExperiment({ id, name }) {
      const e = store.experiments.update(id, { name });
      emit('experiments:changed', { ids: [id], reason: 'updated' });
      return e;
    },
    async setPinned({ id, pinned }) {
      const e = store.experiments.update(id, { pinned });
      emit('experiments:changed', { ids: [id], reason: 'updated' });
      return e;
    },
    async addNote({ id, body, author }) {
      const note = store.notes.add(id, { author: author?.trim() || 'me', body });
      emit('experiments:changed', { ids: [id], reason: 'updated' });
      return note;
    },
    async deleteNote({ noteId }) {
      return { deleted: store.notes.delete(noteId) };
    },
    async addTag({ id, tag }) {
      store.tags.add(id, tag);
      emit('experiments:changed', { ids: [id], reason: 'updated' });
      return { tags: store.tags.list(id) };
    },
    async removeTag({ id, tag }) {
      store.experiments.get(id);
      store.tags.remove(id, tag);
      emit('experiments:changed', { ids: [id], reason: 'updated' });
      return { tags: store.tags.list(id) };
    },
    async listTags() {
      return store.tags.all();
    },
    async deleteExperiment({ id }) {
      const active = jobs.activeFor(id);
      if (active) throw new ApiError('INVALID_STATE', `Experiment ${id} has a ${active.status} job; cancel it first.`);
      const deleted = store.experiments.delete(id);
      if (deleted) emit('experiments:changed', { ids: [id], reason: 'deleted' });
      return { deleted };
    },

    async inspectModel({ path }) {
      await checkPath(path, 'file', 'inspectModel: path');
      return probes.run('inspectModel', { path });
    },
    async inspectDataset(p) {
      await checkPath(p.path, 'any', 'inspectDataset: path');
      const { inspectDataset } = await import('./datasets.js');
      return inspectDataset(p);
    },
    async listSamples() {
      return listSamples(resourcesDir);
    },

    async startDistill(config) {
      await checkDistillPaths(config);
      return startJob('distill', config, { tags: config.tags });
    },
    async startQuantize(config) {
      await checkPath(config.model, 'file', 'startQuantize: model');
      if (config.calib) await checkPath(config.calib, 'any', 'startQuantize: calib');
      if (config.eval) await checkPath(config.eval, 'any', 'startQuantize: eval');
      if (config.method === 'static' && !config.calib) throw new ApiError('INVALID_PARAMS', "startQuantize: 'calib' is required for static quantization.");
      if (config.parentId) store.experiments.get(config.parentId);
      return startJob('quantize', config, { tags: config.tags, parentId: config.parentId });
    },
    async startBenchmark(config) {
      for (const [i, m] of config.models.entries()) await checkPath(m, 'file', `startBenchmark: models.${i}`);
      if (config.data) await checkPath(config.data, 'any', 'startBenchmark: data');
      if (config.ensembles && !config.data) throw new ApiError('INVALID_PARAMS', "startBenchmark: 'ensembles' needs 'data': ensembles are scored on labelled samples. Add a dataset, or leave 'ensembles' out.");
      if (config.parentId) store.experiments.get(config.parentId);
      return startJob('bench', config, { tags: config.tags, parentId: config.parentId });
    },
    async resumeJob({ experimentId }) {
      const e = store.experiments.get(experimentId);
      const active = jobs.activeFor(experimentId);
      if (active) throw new ApiError('INVALID_STATE', `Experiment ${experimentId} is already ${active.status}.`);
      if (e.status === 'succeeded' || e.status === 'running' || e.status === 'queued') {
        throw new ApiError('INVALID_STATE', `Experiment ${experimentId} is ${e.status}; only interrupted, failed or cancelled runs can be resumed.`);
      }
      const mod = jobKindModule<unknown>(e.kind as JobKind);
      const params = (e.config as Record<string, unknown> | null)?.jobParams as Record<string, unknown> | undefined;
      if (!mod?.resumeParams || !params) throw new ApiError('INVALID_STATE', `Experiment ${experimentId} (${e.kind}) cannot be resumed.`);
      const ckpt = checkpointOf(experimentId);
      if (!existsSync(ckpt)) throw new ApiError('INVALID_STATE', `Experiment ${experimentId} has no checkpoint to resume from (${ckpt}).`);
      if (e.status !== 'interrupted') store.experiments.setStatus(experimentId, 'queued', { error: null });
      const info = jobs.enqueue(e.kind as JobKind, experimentId, mod.resumeParams(params, ckpt));
      emit('experiments:changed', { ids: [experimentId], reason: 'status', status: 'queued' });
      return { jobId: info.jobId, experimentId };
    },
    async cancelJob({ jobId }) {
      if (!jobs.get(jobId)) throw new ApiError('NOT_FOUND', `No job with id "${jobId}".`);
      return { cancelled: jobs.cancel(jobId) };
    },
    async listJobs() {
      return jobs.list();
    },

    async getSettings() {
      return { ...settings };
    },
    async updateSettings(patch) {
      const next: Settings = { ...settings };
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
      saveSettings(dataDir, next);
      settings = next;
      jobs.setConcurrency(settings.concurrency);
      return { ...settings };
    },
    async detectDevices({ refresh }) {
      if (devices === undefined || refresh === true) {
        const probing = probes.run('detectDevices', {});
        devices = probing;
        // A failed probe is not kept: the next call tries again.
        probing.catch(() => {
          if (devices === probing) devices = undefined;
        });
      }
      return (await devices).map((d) => ({ ...d }));
    },

    async exportBundle({ ids, path, overwrite }) {
      await checkOutputPath(path, 'exportBundle: path');
      return exportBundle(store, ids, path, { overwrite: overwrite === true });
    },
    async importBundle({ path }) {
      await checkPath(path, 'file', 'importBundle: path');
      const report = await importBundle(store, path);
      if (report.imported.length) emit('experiments:changed', { ids: report.imported, reason: 'imported' });
      return report;
    },
    async appInfo() {
      return {
        name: 'Distillery',
        version: options.appVersion ?? readVersion(),
        dataDir,
        dbPath,
        readOnly,
        schemaVersion: store.schemaVersion,
        platform: process.platform,
        node: process.versions.node,
      };
    },
  };

  async function checkDistillPaths(c: DistillConfig): Promise<void> {
    for (const [i, t] of c.teachers.entries()) await checkPath(t, 'file', `startDistill: teachers.${i}`);
    await checkPath(c.data, 'any', 'startDistill: data');
    if (c.unlabeled) await checkPath(c.unlabeled, 'any', 'startDistill: unlabeled');
    if (c.student && !/^(mlp|cnn):/i.test(c.student)) await checkPath(c.student, 'file', 'startDistill: student');
  }

  // Every call: params validated, read-only enforced, errors mapped to contract codes.
  const guarded = {} as Api;
  for (const name of Object.keys(api) as ApiMethod[]) {
    (guarded as unknown as Record<string, unknown>)[name] = async (params: unknown) => {
      if (readOnly && isMutating(name)) throw new ApiError('READ_ONLY', `This history is open read-only; ${name} is not allowed.`);
      const valid = validateCall(name, params);
      try {
        return await (api[name] as (p: ApiParams<typeof name>) => Promise<unknown>)(valid);
      } catch (err) {
        throw toApiError(err);
      }
    };
  }

  let closed: Promise<void> | null = null;
  return {
    api: guarded,
    call: (method, params) => {
      const fn = (guarded as unknown as Record<string, ((p: unknown) => Promise<never>) | undefined>)[method];
      if (typeof fn !== 'function' || !Object.hasOwn(guarded, method)) return Promise.reject(new ApiError('UNKNOWN_METHOD', `Unknown method ${JSON.stringify(method)}.`));
      return fn(params);
    },
    events: {
      subscribe(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      get subscribers() {
        return listeners.size;
      },
    },
    jobs,
    store,
    readOnly,
    close() {
      closed ??= (async () => {
        probes.close();
        await jobs.close();
        listeners.clear();
        store.close();
      })();
      return closed;
    },
  };
}

function describeFolder(dir: string): string {
  for (const f of ['README.md', 'README.txt']) {
    try {
      const text = readFileSync(join(dir, f), 'utf8');
      const line = text.split('\n').map((l) => l.replace(/^#+\s*/, '').trim()).find((l) => l.length > 0);
      if (line) return line.slice(0, 300);
    } catch {
      /* next */
    }
  }
  return '';
}

/** Bundled samples: resources/sample-data/<name>/ and resources/sample-teacher/*.onnx (or resources/*.onnx). */
export function listSamples(resourcesDir: string): SampleList {
  const out: SampleList = { teachers: [], datasets: [] };
  const dataDir = join(resourcesDir, 'sample-data');
  if (existsSync(dataDir)) {
    for (const name of readdirSync(dataDir).sort()) {
      const p = join(dataDir, name);
      if (statSync(p).isDirectory()) out.datasets.push({ name, path: p, description: describeFolder(p) });
    }
  }
  for (const dir of [join(resourcesDir, 'sample-teacher'), join(resourcesDir, 'sample-models'), resourcesDir]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.onnx')) continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isFile()) out.teachers.push({ name: name.replace(/\.onnx$/, ''), path: p, sizeBytes: st.size, description: describeFolder(dir) });
    }
  }
  return out;
}

export { ExperimentRecorder } from './recorder.js';
