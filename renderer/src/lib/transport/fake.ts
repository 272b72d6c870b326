// In-process fake of the whole Api: seeded history, simulated jobs on timers. Used by unit tests
// and by `VITE_TARGET=fake` builds (UI work without the services). No DOM, no Node.
import type {
  Api,
  ApiMethod,
  BenchmarkResult,
  CompareResult,
  CompareRow,
  DeviceInfo,
  EnsembleScore,
  Experiment,
  ExperimentDetail,
  ExperimentKind,
  JobInfo,
  JobKind,
  Json,
  ListExperimentsParams,
  MetricSeries,
  ModelInspection,
  Note,
  Settings,
  StartedJob,
} from '../../../../app/contract/api.js';
import type { ApiEventName, ApiEvents } from '../../../../app/contract/events.js';
import { Emitter, TransportError, type Transport } from './types.js';

export interface FakeOptions {
  /** Milliseconds per simulated job step (default 150). */
  stepMs?: number;
  /** Seeded experiments (default 6). */
  seed?: number;
  /** Fail inspectModel for paths containing this text. */
  brokenPath?: string;
}

const SAMPLE_TEACHER = '/samples/fashion-cnn.onnx';
const SAMPLE_DATA = '/samples/fashion-mnist-small';
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export function createFakeApi(options: FakeOptions = {}): { api: Api; transport: Transport; emitter: Emitter; state: FakeState } {
  const state = new FakeState(options);
  const transport: Transport = {
    kind: 'fake',
    invoke: ((method: ApiMethod, params: unknown) => state.call(method, params)) as Transport['invoke'],
    on<E extends ApiEventName>(event: E, fn: (payload: ApiEvents[E]) => void) {
      return state.emitter.on(event, fn as (p: unknown) => void);
    },
    onLink(fn) {
      fn('open');
      return () => {};
    },
    close() {
      state.stopAll();
    },
  };
  const api = {} as Record<string, unknown>;
  return {
    api: new Proxy(api, { get: (_t, method: string) => (params: unknown) => state.call(method as ApiMethod, params) }) as unknown as Api,
    transport,
    emitter: state.emitter,
    state,
  };
}

let counter = 0;
const id = (prefix: string) => `${prefix}_${(Date.now() + counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

export class FakeState {
  readonly emitter = new Emitter();
  readonly experiments = new Map<string, Experiment>();
  readonly metrics = new Map<string, MetricSeries[]>();
  readonly notes = new Map<string, Note[]>();
  readonly benchmarks = new Map<string, BenchmarkResult[]>();
  readonly jobs = new Map<string, JobInfo>();
  private readonly timers = new Set<ReturnType<typeof setInterval>>();
  private noteId = 1;
  settings: Settings = { device: 'auto', threads: null, theme: 'system', concurrency: 1 };
  readonly stepMs: number;

  constructor(private readonly options: FakeOptions) {
    this.stepMs = options.stepMs ?? 150;
    const n = options.seed ?? 6;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const kind: ExperimentKind = (['distill', 'quantize', 'bench'] as const)[i % 3]!;
      const acc = 0.8 + ((i * 37) % 10) / 100;
      this.add({
        kind,
        name: `${kind === 'distill' ? 'Student cnn:8,16/32' : kind === 'quantize' ? 'int8 dynamic' : 'Benchmark'} #${i + 1}`,
        status: i === 1 ? 'failed' : 'succeeded',
        createdAt: now - (n - i) * 3_600_000,
        config: kind === 'distill' ? { teachers: [SAMPLE_TEACHER], data: SAMPLE_DATA, student: 'cnn:8,16/32', epochs: 2 + (i % 3), lr: 0.002, temperature: 4, alpha: 0.7 } : { model: '/tmp/student.onnx', method: 'dynamic' },
        summary:
          kind === 'quantize'
            ? { method: 'dynamic', sizeBytes: { before: 400_000, after: 110_000 }, accuracy: { before: acc, after: acc - 0.004 }, latencyMs: { before: 0.9, after: 0.6 }, agreement: 0.98, layers: [{ name: 'fc1', op: 'Gemm', precision: 'int8' }, { name: 'conv1', op: 'Conv', precision: 'fp32' }] }
            : { device: 'cpu', student: { path: '/tmp/student.onnx', parameters: 26_000 + i * 1000, sizeBytes: 104_000 + i * 4000 }, teacher: { testAccuracy: 0.9 }, metrics: { testAccuracy: acc, agreement: 0.93, samplesPerSecond: 4000 } },
        error: i === 1 ? 'The teacher expects 3 colour channels but the data has 1.' : null,
        tags: i % 2 === 0 ? ['baseline'] : [],
      });
    }
  }

  add(p: Partial<Experiment> & { kind: ExperimentKind; name: string }): Experiment {
    const e: Experiment = {
      id: p.id ?? id('exp'),
      projectId: null,
      kind: p.kind,
      name: p.name,
      status: p.status ?? 'succeeded',
      config: p.config ?? {},
      summary: p.summary ?? null,
      error: p.error ?? null,
      parentId: p.parentId ?? null,
      teacherModelId: null,
      studentModelId: null,
      datasetId: null,
      createdAt: p.createdAt ?? Date.now(),
      startedAt: p.startedAt ?? p.createdAt ?? Date.now(),
      finishedAt: p.status === 'running' || p.status === 'queued' ? null : (p.finishedAt ?? (p.createdAt ?? Date.now()) + 60_000),
      pinned: p.pinned ?? false,
      tags: p.tags ?? [],
    };
    this.experiments.set(e.id, e);
    if (e.kind === 'distill' && e.status === 'succeeded') {
      const epochs = 4;
      this.metrics.set(e.id, [
        series('loss', Array.from({ length: epochs }, (_, k) => 1.6 / (k + 1))),
        series('valAccuracy', Array.from({ length: epochs }, (_, k) => 0.6 + k * 0.07)),
      ]);
    }
    return e;
  }

  stopAll(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
  }

  private get(idv: string): Experiment {
    const e = this.experiments.get(idv);
    if (!e) throw new TransportError('NOT_FOUND', `No experiment ${idv}.`);
    return e;
  }

  async call(method: ApiMethod, params: unknown): Promise<unknown> {
    await Promise.resolve();
    const p = (params ?? {}) as Record<string, unknown>;
    const impl = (this.handlers as Record<string, (p: Record<string, unknown>) => unknown>)[method];
    if (!impl) throw new TransportError('UNKNOWN_METHOD', `Unknown method ${method}.`);
    return structuredClone(await impl(p));
  }

  private changed(ids: string[], reason: ApiEvents['experiments:changed']['reason']): void {
    this.emitter.emit('experiments:changed', { ids, reason });
  }

  private startJob(kind: JobKind, config: Record<string, unknown>, name: string): StartedJob {
    const exp = this.add({ kind, name, status: 'running', config, tags: (config.tags as string[]) ?? [], parentId: (config.parentId as string) ?? null });
    const jobId = id('job');
    const totalEpochs = kind === 'distill' ? Number(config.epochs ?? 3) : 1;
    const stepsPerEpoch = 5;
    const totalSteps = totalEpochs * stepsPerEpoch;
    const job: JobInfo = { jobId, experimentId: exp.id, kind, status: 'running', createdAt: Date.now(), startedAt: Date.now(), finishedAt: null, progress: null, error: null, log: [`Started ${kind} on cpu`], warnings: [], device: typeof config.device === 'string' ? config.device : 'auto' };
    this.jobs.set(jobId, job);
    this.metrics.set(exp.id, [series('loss', []), series('valAccuracy', [])]);
    this.changed([exp.id], 'created');
    let step = 0;
    const timer = setInterval(() => {
      if (job.status !== 'running') return;
      step++;
      const epoch = Math.ceil(step / stepsPerEpoch);
      const loss = 2 / (1 + step * 0.3);
      job.device = 'cpu';
      job.progress = { device: job.device, jobId, experimentId: exp.id, stage: kind === 'distill' ? 'training' : kind === 'quantize' ? 'calibrating' : 'measuring', step, totalSteps, epoch: kind === 'distill' ? epoch : null, loss, samplesPerSecond: 3000 + step * 10, etaSeconds: ((totalSteps - step) * this.stepMs) / 1000 };
      this.emitter.emit('job:progress', job.progress);
      if (kind === 'distill' && step % stepsPerEpoch === 0) {
        const acc = 0.6 + epoch * 0.06;
        const ms = this.metrics.get(exp.id)!;
        push(ms[0]!, epoch, loss);
        push(ms[1]!, epoch, acc);
        const msg = `epoch ${epoch}: loss ${loss.toFixed(3)}, validation accuracy ${(acc * 100).toFixed(1)}%`;
        job.log.push(msg);
        this.emitter.emit('job:epoch', { jobId, experimentId: exp.id, epoch, loss, valAccuracy: acc, agreement: acc + 0.05, seconds: 1 });
        this.emitter.emit('job:log', { jobId, experimentId: exp.id, level: 'info', message: msg });
      }
      if (step >= totalSteps) {
        clearInterval(timer);
        this.timers.delete(timer);
        job.status = 'succeeded';
        job.finishedAt = Date.now();
        exp.status = 'succeeded';
        exp.finishedAt = Date.now();
        exp.summary = this.summaryFor(kind, config, exp.id);
        this.emitter.emit('job:finished', { jobId, experimentId: exp.id, kind, status: 'succeeded' });
        this.changed([exp.id], 'status');
      }
    }, this.stepMs);
    this.timers.add(timer);
    return { jobId, experimentId: exp.id };
  }

  private summaryFor(kind: JobKind, config: Record<string, unknown>, expId: string): unknown {
    if (kind === 'distill') return { device: 'cpu', student: { path: `/tmp/${expId}/student.onnx`, parameters: 26_000, sizeBytes: 104_000 }, teacher: { testAccuracy: 0.9, sizeBytes: 1_600_000, parameters: 400_000 }, metrics: { testAccuracy: 0.86, agreement: 0.91, samplesPerSecond: 4200 } };
    if (kind === 'quantize') return { method: config.method, output: `/tmp/${expId}/quantized.onnx`, sizeBytes: { before: 104_000, after: 30_000 }, accuracy: { before: 0.86, after: 0.855 }, agreement: 0.99, latencyMs: { before: 0.5, after: 0.35 }, layers: [{ name: 'conv1', op: 'Conv', precision: 'int8' }, { name: 'fc1', op: 'Gemm', precision: 'int8' }, { name: 'fc2', op: 'Gemm', precision: 'fp32' }] };
    const models = (config.models as string[]) ?? [];
    const results: BenchmarkResult[] = models.map((m, i) => ({ id: i + 1, experimentId: expId, modelId: null, label: m, device: 'cpu', threads: 2, batchSize: 1, latencyMs: { p50: 0.3 + i * 0.4, p95: 0.4 + i * 0.5, p99: 0.5 + i * 0.6 }, throughput: { '1': 3000 / (i + 1) }, peakMemoryBytes: 50e6, sizeBytes: 100_000 * (i + 1) * (i + 1), accuracy: 0.84 + i * 0.03, agreement: 0.95, environment: { cpu: 'fake' }, createdAt: Date.now() }));
    this.benchmarks.set(expId, results);
    // Ensembles of the best 2 and 3: the pair 2 points above the best model (12 items won, 2
    // lost), the triple 0.2 points above the pair; as the engine, on at most `limit` items.
    const ranked = [...results].sort((a, b) => b.accuracy! - a.accuracy!);
    const samples = Math.min(Number(config.limit ?? 2000), 2000);
    const ensembles: EnsembleScore[] = config.ensembles
      ? [2, 3].filter((k) => ranked.length >= k).map((k) => ({
          members: ranked.slice(0, k).map((r) => r.label),
          accuracy: ranked[0]!.accuracy! + (k === 2 ? 0.02 : 0.022),
          samples,
          gains: k === 2 ? 12 : 14,
          losses: 2,
          latencyMs: ranked.slice(0, k).reduce((t, r) => t + r.latencyMs.p50, 0),
          sizeBytes: ranked.slice(0, k).reduce((t, r) => t + r.sizeBytes!, 0),
        }))
      : [];
    return { results: results.map((r) => ({ model: r.label, sizeBytes: r.sizeBytes, latencyMs: r.latencyMs, accuracy: r.accuracy })), ensembles };
  }

  private readonly handlers: { [M in ApiMethod]: (p: Record<string, unknown>) => unknown } = {
    listExperiments: (p) => {
      const q = p as ListExperimentsParams;
      let rows = [...this.experiments.values()];
      if (q.search) {
        const s = q.search.toLowerCase();
        rows = rows.filter((e) => e.name.toLowerCase().includes(s) || e.id.includes(s));
      }
      if (q.kinds?.length) rows = rows.filter((e) => q.kinds!.includes(e.kind));
      if (q.statuses?.length) rows = rows.filter((e) => q.statuses!.includes(e.status));
      if (q.tags?.length) rows = rows.filter((e) => q.tags!.every((t) => e.tags.includes(t)));
      if (q.parentId) rows = rows.filter((e) => e.parentId === q.parentId);
      if (q.pinned !== undefined) rows = rows.filter((e) => e.pinned === q.pinned);
      const key = typeof q.sort === 'string' ? q.sort : 'createdAt';
      const dir = q.order === 'asc' ? 1 : -1;
      rows.sort((a, b) => {
        const x = a[key as keyof Experiment] as string | number | null;
        const y = b[key as keyof Experiment] as string | number | null;
        return (x === y ? 0 : (x ?? '') < (y ?? '') ? -1 : 1) * dir;
      });
      const offset = q.offset ?? 0;
      return { rows: rows.slice(offset, offset + (q.limit ?? 50)), total: rows.length };
    },
    getExperiment: (p) => {
      const e = this.get(p.id as string);
      const job = [...this.jobs.values()].find((j) => j.experimentId === e.id && (j.status === 'running' || j.status === 'queued')) ?? null;
      const detail: ExperimentDetail = {
        experiment: e,
        metrics: this.metrics.get(e.id) ?? [],
        notes: this.notes.get(e.id) ?? [],
        benchmarks: this.benchmarks.get(e.id) ?? [],
        artifacts:
          e.status === 'succeeded' && e.kind !== 'bench'
            ? [{ sha256: 'ab'.repeat(32), sizeBytes: 104_000, mediaType: 'application/onnx', createdAt: e.finishedAt ?? 0, role: e.kind === 'quantize' ? 'quantized.onnx' : 'student.onnx', path: `/tmp/${e.id}/${e.kind === 'quantize' ? 'quantized' : 'student'}.onnx` }]
            : [],
        job,
        resumable: e.status === 'interrupted',
      };
      return detail;
    },
    compareExperiments: (p) => {
      const ids = p.ids as string[];
      const exps = ids.map((i) => this.get(i));
      const baseline = (p.baseline as string) ?? exps.find((e) => e.pinned)?.id ?? ids[0]!;
      const ordered = [exps.find((e) => e.id === baseline)!, ...exps.filter((e) => e.id !== baseline)];
      const flat = ordered.map((e) => ({ ...flatten('config', e.config), ...flatten('metrics', (e.summary as { metrics?: unknown } | null)?.metrics ?? e.summary) }));
      const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
      const rows: CompareRow[] = keys.map((key) => {
        const values = flat.map((f) => (f[key] ?? null) as Json);
        const b = values[0];
        return {
          section: key.startsWith('config') ? 'config' : 'metrics',
          key,
          values,
          deltas: values.map((v) => (typeof v === 'number' && typeof b === 'number' ? v - b : null)),
          differs: values.some((v) => JSON.stringify(v) !== JSON.stringify(b)),
        };
      });
      const result: CompareResult = {
        baseline,
        columns: ordered.map((e) => ({ id: e.id, name: e.name, kind: e.kind, status: e.status, pinned: e.pinned })),
        rows: p.all ? rows : rows.filter((r) => r.differs),
      };
      return result;
    },
    renameExperiment: (p) => {
      const e = this.get(p.id as string);
      e.name = p.name as string;
      this.changed([e.id], 'updated');
      return e;
    },
    setPinned: (p) => {
      const e = this.get(p.id as string);
      e.pinned = p.pinned as boolean;
      this.changed([e.id], 'updated');
      return e;
    },
    addNote: (p) => {
      const e = this.get(p.id as string);
      const note: Note = { id: this.noteId++, experimentId: e.id, author: (p.author as string) ?? '', body: p.body as string, createdAt: Date.now() };
      this.notes.set(e.id, [...(this.notes.get(e.id) ?? []), note]);
      return note;
    },
    deleteNote: (p) => {
      for (const [k, list] of this.notes) {
        const next = list.filter((n) => n.id !== p.noteId);
        if (next.length !== list.length) {
          this.notes.set(k, next);
          return { deleted: true };
        }
      }
      return { deleted: false };
    },
    addTag: (p) => {
      const e = this.get(p.id as string);
      if (!e.tags.includes(p.tag as string)) e.tags = [...e.tags, p.tag as string].sort();
      this.changed([e.id], 'updated');
      return { tags: e.tags };
    },
    removeTag: (p) => {
      const e = this.get(p.id as string);
      e.tags = e.tags.filter((t) => t !== p.tag);
      this.changed([e.id], 'updated');
      return { tags: e.tags };
    },
    listTags: () => {
      const counts = new Map<string, number>();
      for (const e of this.experiments.values()) for (const t of e.tags) counts.set(t, (counts.get(t) ?? 0) + 1);
      return [...counts].map(([tag, count]) => ({ tag, count }));
    },
    deleteExperiment: (p) => ({ deleted: this.experiments.delete(p.id as string) }),
    inspectModel: (p) => {
      const path = p.path as string;
      if (this.options.brokenPath && path.includes(this.options.brokenPath)) throw new TransportError('FAILED', `${path} is not an ONNX model: the file is truncated.`);
      if (!path.endsWith('.onnx')) throw new TransportError('NOT_FOUND', `No model file at ${path}.`);
      const big = path.includes('large');
      const m: ModelInspection = {
        path,
        irVersion: 8,
        opsetImports: { '': 17 },
        producer: { name: 'distillery', version: '0.1.0' },
        inputs: [{ name: 'input', type: 'float32', shape: ['batch', 1, 28, 28] }],
        outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 10] }],
        parameters: big ? 1_200_000 : 420_000,
        sizeBytes: big ? 4_800_000 : 1_680_000,
        ops: { Conv: 2, Relu: 3, MaxPool: 2, Flatten: 1, Gemm: 2 },
        flops: 12_000_000,
        unsupportedOps: [],
        metadata: {},
        nodes: 10,
        initializers: 8,
        externalData: false,
        runError: null,
        graph: {
          truncated: false,
          nodes: [
            { name: 'conv1', opType: 'Conv', inputs: ['input', 'conv1.weight', 'conv1.bias'], outputs: ['c1'] },
            { name: 'relu1', opType: 'Relu', inputs: ['c1'], outputs: ['r1'] },
            { name: 'pool1', opType: 'MaxPool', inputs: ['r1'], outputs: ['p1'] },
            { name: 'conv2', opType: 'Conv', inputs: ['p1', 'conv2.weight', 'conv2.bias'], outputs: ['c2'] },
            { name: 'relu2', opType: 'Relu', inputs: ['c2'], outputs: ['r2'] },
            { name: 'pool2', opType: 'MaxPool', inputs: ['r2'], outputs: ['p2'] },
            { name: 'flatten', opType: 'Flatten', inputs: ['p2'], outputs: ['f'] },
            { name: 'fc1', opType: 'Gemm', inputs: ['f', 'fc1.weight', 'fc1.bias'], outputs: ['g1'] },
            { name: 'relu3', opType: 'Relu', inputs: ['g1'], outputs: ['r3'] },
            { name: 'fc2', opType: 'Gemm', inputs: ['r3', 'fc2.weight', 'fc2.bias'], outputs: ['logits'] },
          ],
        },
      };
      return m;
    },
    inspectDataset: (p) => ({
      path: p.path as string,
      kind: 'idx',
      classes: CLASSES,
      sampleShape: [1, 28, 28],
      train: { count: 10000, balance: CLASSES.map((_, i) => 950 + ((i * 13) % 100)), unlabeled: 0 },
      test: { count: 2000, balance: CLASSES.map(() => 200), unlabeled: 0 },
      limited: false,
      fingerprint: 'f'.repeat(16),
      samples: CLASSES.slice(0, 8).map((c, i) => ({ index: i, label: i, className: c, image: null })),
    }),
    listSamples: () => ({
      teachers: [{ name: 'Fashion CNN', path: SAMPLE_TEACHER, sizeBytes: 1_680_000, description: 'A small convolutional network that recognises 10 kinds of clothing (Fashion-MNIST).' }],
      datasets: [{ name: 'Fashion-MNIST (small)', path: SAMPLE_DATA, description: '10,000 training and 2,000 test images of clothing, 28×28 grey.' }],
    }),
    startDistill: (p) => this.startJob('distill', p, (p.name as string) ?? `Distill ${String(p.student ?? 'student')}`),
    startQuantize: (p) => this.startJob('quantize', p, (p.name as string) ?? `Quantize ${String(p.method)}`),
    startBenchmark: (p) => this.startJob('bench', p, (p.name as string) ?? 'Benchmark'),
    resumeJob: (p) => {
      const e = this.get(p.experimentId as string);
      return this.startJob(e.kind as JobKind, e.config as Record<string, unknown>, e.name);
    },
    cancelJob: (p) => {
      const job = this.jobs.get(p.jobId as string);
      if (!job || job.status !== 'running') return { cancelled: false };
      job.status = 'cancelled';
      job.finishedAt = Date.now();
      const e = this.get(job.experimentId);
      e.status = 'cancelled';
      e.finishedAt = Date.now();
      this.emitter.emit('job:finished', { jobId: job.jobId, experimentId: e.id, kind: job.kind, status: 'cancelled' });
      this.changed([e.id], 'status');
      return { cancelled: true };
    },
    listJobs: () => [...this.jobs.values()],
    getSettings: () => this.settings,
    updateSettings: (p) => (this.settings = { ...this.settings, ...(p as Partial<Settings>) }),
    detectDevices: () => [{ device: 'cpu', available: true, probeMs: 3 }, { device: 'webgpu', available: false, reason: 'No GPU adapter was found.' }, { device: 'cuda', available: false, reason: 'The CUDA build of ONNX Runtime is not installed.' }] satisfies DeviceInfo[],
    exportBundle: (p) => ({ file: p.path as string, experiments: p.ids as string[], artifacts: 0, bytes: 4096 }),
    importBundle: () => ({ imported: [], skipped: [], artifacts: 0, warnings: [] }),
    appInfo: () => ({ name: 'Distillery', version: '0.1.0', dataDir: '/fake', dbPath: '/fake/history.sqlite', readOnly: false, schemaVersion: 1, platform: 'fake', node: '20' }),
  };
}

function series(name: string, values: number[]): MetricSeries {
  return { name, steps: values.map((_, i) => i + 1), epochs: values.map((_, i) => i + 1), values, recordedAt: values.map(() => Date.now()) };
}
function push(s: MetricSeries, epoch: number, value: number): void {
  s.steps.push(s.steps.length + 1);
  s.epochs.push(epoch);
  s.values.push(value);
  s.recordedAt.push(Date.now());
}
function flatten(prefix: string, value: unknown, out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(`${prefix}.${k}`, v, out);
  } else out[prefix] = value;
  return out;
}
