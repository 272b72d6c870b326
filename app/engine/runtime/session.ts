// createSession: the one entry point that opens ONNX Runtime sessions, with device choice
// ('auto' = fastest that works) and a fallback to the CPU that is reported, never thrown.
import os from 'node:os';
import type * as ort from 'onnxruntime-node';
import { cachedStatus, detectDevices } from './devices.js';
import { guardRuns, lostDeviceReason } from './device-loss.js';
import { checkFaultSettings } from './fault-injection.js';
import {
  AUTO_ORDER,
  DEVICE_LABEL,
  createOn,
  explainFailure,
  sessionConfigEntries,
  staticUnavailability,
  type Device,
  type DeviceRequest,
  type GraphOptimization,
  type SessionSettings,
} from './providers.js';

export interface CreateSessionOptions {
  /** Default 'auto'. */
  device?: DeviceRequest;
  /** Intra-op threads; default os.availableParallelism(). */
  threads?: number;
  /** Default 'all'. */
  graphOptimization?: GraphOptimization;
  /** ORT optimizer names to disable (optimization.disable_specified_optimizers). */
  disabledOptimizers?: string[];
  /** Default false: idle threads sleep instead of spinning (two spinning sessions slow each other). */
  spinning?: boolean;
  /** Extra session config entries; they win over the ones derived from the options above. */
  sessionConfig?: Record<string, string>;
  /**
   * Fail session creation on the device when a node has no kernel there
   * (session.disable_cpu_ep_fallback=1). Without it, unsupported nodes of a GPU session quietly
   * run on the CPU (under WebGPU e.g. QuantizeLinear, LogSoftmax, MatMulInteger, Loop). Default false.
   */
  strictDevice?: boolean;
  /** When the device cannot start, retry on the CPU (default true). False: throw instead. */
  allowCpuFallback?: boolean;
  /** ORT log severity for the session; default 3 (errors). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The device the session really runs on. */
  device: Device;
  /** What was asked for. */
  requested: DeviceRequest;
  /**
   * Set when the session runs on another device than a concrete request asked for, or when
   * 'auto' had to drop a device that it had chosen: one plain sentence ending in
   * "running on the CPU." (or the device used).
   */
  fallbackReason?: string;
  /** For 'auto': faster devices that were not used, and why. */
  skipped: Array<{ device: Device; reason: string }>;
  threads: number;
  graphOptimization: GraphOptimization;
  /** The session config entries that were applied. */
  sessionConfig: Record<string, string>;
}

function settingsFrom(o: CreateSessionOptions): SessionSettings {
  const threads = o.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`threads must be a positive integer (got ${String(o.threads)})`);
  }
  return {
    threads,
    graphOptimization: o.graphOptimization ?? 'all',
    disabledOptimizers: o.disabledOptimizers ?? [],
    spinning: o.spinning ?? false,
    sessionConfig: o.sessionConfig ?? {},
    strictDevice: o.strictDevice ?? false,
    logSeverityLevel: o.logSeverityLevel ?? 3,
  };
}

function running(device: Device): string {
  return device === 'cpu' ? 'running on the CPU.' : `running on ${DEVICE_LABEL[device]}.`;
}

/** Why a device failed mid-run earlier in this process (it is not tried again). */
function lostEarlier(device: Device): string | undefined {
  return lostDeviceReason(device) === undefined ? undefined : `${DEVICE_LABEL[device]} stopped responding earlier in this process.`;
}

/** Why a concrete device will not work, known without trying (build, platform, earlier probe or failure). */
async function knownUnavailable(device: Device): Promise<string | undefined> {
  const why = staticUnavailability(device) ?? lostEarlier(device);
  if (why !== undefined) return why;
  const status = await cachedStatus(device);
  if (status !== undefined && !status.available) return status.reason;
  return undefined;
}

/**
 * The device createSession() picks for `requested` before any model-specific failure: for
 * 'auto' the first working device in AUTO_ORDER (probing as createSession does; the probe is
 * cached for the process), for a named device that device unless it is known not to work here
 * (then the CPU). Lets a job say where it runs before its first session exists.
 */
export async function plannedDevice(requested: DeviceRequest = 'auto'): Promise<Device> {
  if (requested === 'cpu') return 'cpu';
  if (requested === 'auto') {
    const statuses = await detectDevices();
    for (const d of AUTO_ORDER) {
      if (d === 'cpu') return 'cpu';
      const st = statuses.find((s) => s.device === d);
      if (st?.available && !st.software && !lostEarlier(d)) return d;
    }
    return 'cpu';
  }
  return (await knownUnavailable(requested)) === undefined ? requested : 'cpu';
}

/**
 * Open `model` (bytes or a path) on the requested device. A device that cannot start
 * (no adapter, CUDA not installed, an unsupported operator in strict mode) is reported in
 * `fallbackReason` and the session is created on the CPU instead. Only a model the CPU cannot
 * open either (invalid file, unknown operator) throws — with the CPU's error.
 * A run of the session that fails because the device died throws DeviceLostError, and later
 * sessions asked for that device open on the CPU (device-loss.ts).
 */
export async function createSession(
  model: Uint8Array | string,
  options: CreateSessionOptions = {},
): Promise<CreatedSession> {
  const requested = options.device ?? 'auto';
  const settings = settingsFrom(options);
  const allowFallback = options.allowCpuFallback ?? true;
  checkFaultSettings();
  const base = {
    requested,
    threads: settings.threads,
    graphOptimization: settings.graphOptimization,
  };
  const done = (session: ort.InferenceSession, device: Device, skipped: CreatedSession['skipped'], fallbackReason?: string): CreatedSession => {
    const r: CreatedSession = { ...base, session: guardRuns(session, device), device, skipped, sessionConfig: sessionConfigEntries(settings, device) };
    if (fallbackReason !== undefined) r.fallbackReason = fallbackReason;
    return r;
  };

  const skipped: Array<{ device: Device; reason: string }> = [];
  let candidates: Device[];
  if (requested === 'auto') {
    const statuses = await detectDevices();
    candidates = [];
    for (const d of AUTO_ORDER) {
      const st = statuses.find((s) => s.device === d);
      if (d === 'cpu') candidates.push(d);
      else if (lostEarlier(d)) skipped.push({ device: d, reason: lostEarlier(d)! });
      else if (!st?.available) skipped.push({ device: d, reason: st?.reason ?? `${DEVICE_LABEL[d]} is not available.` });
      else if (st.software) skipped.push({ device: d, reason: st.reason ?? 'software renderer' });
      else candidates.push(d);
    }
  } else {
    if (!(AUTO_ORDER as readonly string[]).includes(requested)) {
      throw new Error(`unknown device '${String(requested)}' (expected auto, cpu, webgpu, cuda, dml or coreml)`);
    }
    const why = requested === 'cpu' ? undefined : await knownUnavailable(requested);
    if (why !== undefined) {
      if (!allowFallback) throw new Error(why);
      const session = await createOn(model, 'cpu', settings);
      return done(session, 'cpu', skipped, `${why.replace(/\.$/, '')}; ${running('cpu')}`);
    }
    candidates = requested === 'cpu' ? ['cpu'] : [requested, 'cpu'];
  }

  let firstFailure: string | undefined;
  for (const device of candidates) {
    try {
      // A failed attempt that is followed by a retry should not print ORT's red error lines.
      const quiet = device !== 'cpu' && options.logSeverityLevel === undefined;
      const session = await createOn(model, device, quiet ? { ...settings, logSeverityLevel: 4 } : settings);
      return done(session, device, skipped, firstFailure === undefined ? undefined : `${firstFailure.replace(/\.$/, '')}; ${running(device)}`);
    } catch (e) {
      if (device === 'cpu') throw e;
      const why = explainFailure(device, e);
      if (requested !== 'auto' && !allowFallback) throw new Error(why, { cause: e });
      firstFailure ??= why;
      if (requested === 'auto') skipped.push({ device, reason: why });
    }
  }
  // Unreachable: the CPU is always the last candidate and either returns or throws.
  throw new Error('no execution provider could open the model');
}

export type { Device, DeviceRequest, GraphOptimization };
