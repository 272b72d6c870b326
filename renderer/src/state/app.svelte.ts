// Shared app state, provided to every component through Svelte context. It owns the transport
// subscription: jobs in progress, settings/theme, toasts, the chosen teacher, and the wizard's
// "then quantize" chain (kept in localStorage so it survives reloads).
import { createContext } from 'svelte';
import type { Api, AppInfo, DeviceInfo, JobInfo, QuantizeConfig, Settings } from '../../../app/contract/api.js';
import { explainError } from '../lib/errors.js';
import { runMenuCommand, type MenuTarget } from '../lib/menu.js';
import { apiOf, type LinkState, type NativeHelpers, type Transport } from '../lib/transport/types.js';
import { Router } from './router.svelte.js';

export interface Toast {
  id: number;
  kind: 'info' | 'good' | 'bad';
  text: string;
  href?: string;
  linkText?: string;
}

export interface Chain {
  quantize: Omit<QuantizeConfig, 'model'>;
  /** Experiment id of the quantization once started. */
  child?: string;
}

const CHAIN_PREFIX = 'distillery.chain.';
const THEME_KEY = 'distillery.theme';
const TEACHERS_KEY = 'distillery.teachers';

export class AppState {
  readonly api: Api;
  /** Native file dialogs and dropped-file paths (Electron only; null in the browser). */
  readonly native: NativeHelpers | null;
  readonly router = new Router();
  jobs = $state<Record<string, JobInfo>>({});
  settings = $state<Settings | null>(null);
  devices = $state<DeviceInfo[]>([]);
  info = $state<AppInfo | null>(null);
  link = $state<LinkState>('connecting');
  /** Bumped whenever experiments change: lists re-fetch when it moves. */
  version = $state(0);
  toasts = $state<Toast[]>([]);
  /** The chosen teacher(s): one model, or the members of an ensemble (averaged soft targets). */
  teachers = $state<string[]>([]);
  /** The first (most accurate) teacher: the one the compression wizard checks the data against. */
  teacher = $derived(this.teachers[0] ?? null);
  readOnly = $derived(this.info?.readOnly ?? false);
  runningJobs = $derived(Object.values(this.jobs).filter((j) => j.status === 'running' || j.status === 'queued'));

  private toastId = 1;
  private readonly chaining = new Set<string>();
  private readonly offs: (() => void)[] = [];
  private media: MediaQueryList | null = null;

  constructor(readonly transport: Transport) {
    this.api = apiOf(transport);
    this.native = transport.native ?? null;
    this.teachers = parseTeachers(safeGet(sessionStorage, TEACHERS_KEY));
    this.applyTheme((safeGet(localStorage, THEME_KEY) as Settings['theme'] | null) ?? 'system');
    this.media = window.matchMedia?.('(prefers-color-scheme: dark)') ?? null;
    this.media?.addEventListener('change', () => this.applyTheme(this.settings?.theme ?? 'system'));

    this.offs.push(
      transport.on('job:progress', (p) => {
        const job = this.jobs[p.jobId];
        if (job) {
          job.progress = p;
          if (p.device) job.device = p.device;
        } else void this.refreshJobs();
      }),
      transport.on('job:log', (l) => {
        const job = this.jobs[l.jobId];
        if (!job) return;
        job.log = [...job.log.slice(-49), l.message];
        if (l.level === 'warn' && job.warnings.length < 10) job.warnings = [...job.warnings, l.message];
      }),
      transport.on('job:finished', (f) => {
        const job = this.jobs[f.jobId];
        if (job) {
          job.status = f.status;
          job.error = f.error ?? null;
          job.finishedAt = Date.now();
        }
        this.version++;
        const what = f.kind === 'distill' ? 'Distillation' : f.kind === 'quantize' ? 'Quantization' : 'Benchmark';
        if (f.status === 'succeeded') {
          this.toast('good', `${what} finished.`, `#/results/${f.experimentId}`, 'See results');
          void this.continueChain(f.experimentId);
        } else if (f.status === 'failed') this.toast('bad', `${what} failed: ${explainError(f.error ?? 'unknown reason').message}`, `#/run/${f.experimentId}`, 'Details');
        else this.toast('info', `${what} cancelled.`);
      }),
      transport.on('experiments:changed', () => {
        this.version++;
      }),
      transport.on('menu:command', (c) => void runMenuCommand(c, this.menuTarget)),
      transport.onLink((state) => {
        const wasLost = this.link !== 'open';
        this.link = state;
        // After a reconnect, events may have been missed: fetch the truth again.
        if (state === 'open' && wasLost) {
          this.version++;
          void this.refreshJobs();
        }
      }),
    );
  }

  /** What the native menu's commands act on. */
  private get menuTarget(): MenuTarget {
    return {
      native: this.native,
      api: this.api,
      go: (r) => this.router.go(r),
      toast: (kind, text, href, linkText) => this.toast(kind, text, href, linkText),
      changed: () => void this.version++,
    };
  }

  async load(): Promise<void> {
    const [settings, info] = await Promise.all([this.api.getSettings({}), this.api.appInfo({}).catch(() => null)]);
    this.settings = settings;
    this.info = info;
    this.applyTheme(settings.theme);
    await this.refreshJobs();
    void this.api.detectDevices({}).then((d) => (this.devices = d), () => {});
  }

  async refreshJobs(): Promise<void> {
    try {
      const list = await this.api.listJobs({});
      const next: Record<string, JobInfo> = {};
      for (const j of list) next[j.jobId] = j;
      this.jobs = next;
    } catch {
      /* the next event or reload will try again */
    }
  }

  jobFor(experimentId: string): JobInfo | null {
    const all = Object.values(this.jobs).filter((j) => j.experimentId === experimentId);
    return all.sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
  }

  trackJob(job: JobInfo): void {
    this.jobs[job.jobId] = job;
  }

  async updateSettings(patch: Partial<Settings>): Promise<void> {
    this.settings = await this.api.updateSettings(patch);
    this.applyTheme(this.settings.theme);
  }

  applyTheme(theme: Settings['theme']): void {
    safeSet(localStorage, THEME_KEY, theme);
    const dark = theme === 'dark' || (theme === 'system' && !!window.matchMedia?.('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }

  chooseTeachers(paths: string[]): void {
    this.teachers = [...paths];
    safeSet(sessionStorage, TEACHERS_KEY, JSON.stringify(paths));
  }

  toast(kind: Toast['kind'], text: string, href?: string, linkText?: string): void {
    const t: Toast = { id: this.toastId++, kind, text };
    if (href) t.href = href;
    if (linkText) t.linkText = linkText;
    this.toasts = [...this.toasts.slice(-3), t];
    setTimeout(() => this.dismiss(t.id), kind === 'bad' ? 12_000 : 6_000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  // --- "distil, then quantize" chain ---------------------------------------------------------

  setChain(experimentId: string, chain: Chain): void {
    safeSet(localStorage, CHAIN_PREFIX + experimentId, JSON.stringify(chain));
  }

  chainOf(experimentId: string): Chain | null {
    const raw = safeGet(localStorage, CHAIN_PREFIX + experimentId);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as Chain;
    } catch {
      return null;
    }
  }

  /** If a finished distillation has a planned quantization, start it (once). Returns the child id. */
  async continueChain(experimentId: string): Promise<string | null> {
    const chain = this.chainOf(experimentId);
    if (!chain) return null;
    if (chain.child) return chain.child;
    if (this.chaining.has(experimentId)) return null;
    this.chaining.add(experimentId);
    try {
      const detail = await this.api.getExperiment({ id: experimentId });
      if (detail.experiment.status !== 'succeeded') return null;
      const existing = await this.api.listExperiments({ parentId: experimentId, kinds: ['quantize'], limit: 1 });
      if (existing.rows[0]) {
        this.setChain(experimentId, { ...chain, child: existing.rows[0].id });
        return existing.rows[0].id;
      }
      const student =
        detail.artifacts.find((a) => a.role.startsWith('student'))?.path ??
        (detail.experiment.summary as { student?: { path?: string } } | null)?.student?.path;
      if (!student) {
        this.toast('bad', 'The distillation did not leave a student model to quantize.');
        return null;
      }
      const started = await this.api.startQuantize({ name: `${detail.experiment.name} · quantized (${chain.quantize.method})`.slice(0, 200), ...chain.quantize, model: student } as QuantizeConfig);
      this.setChain(experimentId, { ...chain, child: started.experimentId });
      this.toast('info', 'Now quantizing the student…', `#/run/${started.experimentId}`, 'Follow');
      void this.refreshJobs();
      return started.experimentId;
    } catch (err) {
      this.toast('bad', `Could not start the quantization: ${explainError(err).message}`);
      return null;
    } finally {
      this.chaining.delete(experimentId);
    }
  }

  /** Resolves with the final status of an experiment's job (events, with polling as a safety net). */
  waitFor(experimentId: string, pollMs = 2000): Promise<string> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (status: string) => {
        if (done) return;
        done = true;
        off();
        clearInterval(timer);
        resolve(status);
      };
      const off = this.transport.on('job:finished', (f) => {
        if (f.experimentId === experimentId) finish(f.status);
      });
      const timer = setInterval(() => {
        this.api.getExperiment({ id: experimentId }).then(
          (d) => {
            const st = d.experiment.status;
            if (st !== 'running' && st !== 'queued') finish(st);
          },
          () => {},
        );
      }, pollMs);
    });
  }

  destroy(): void {
    for (const off of this.offs) off();
    this.transport.close();
  }
}

/** The stored teacher list; [] when absent or malformed (session storage is user-editable). */
function parseTeachers(raw: string | null): string[] {
  try {
    const v: unknown = JSON.parse(raw ?? '[]');
    return Array.isArray(v) && v.every((p) => typeof p === 'string' && p.length > 0) ? (v as string[]) : [];
  } catch {
    return [];
  }
}

function safeGet(storage: Storage, key: string): string | null {
  try {
    return storage.getItem(key);
  } catch {
    return null;
  }
}
function safeSet(storage: Storage, key: string, value: string): void {
  try {
    storage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

export const [getApp, setApp] = createContext<AppState>();
