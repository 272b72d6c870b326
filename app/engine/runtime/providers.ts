// Low-level execution-provider handling: names, session options, one creation attempt, and
// plain-words explanations of why a provider could not start. Only this folder creates
// ONNX Runtime sessions.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/** A concrete execution provider Distillery knows how to use. */
export type Device = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
/** What callers may ask for: a concrete device, or 'auto' (fastest that works here). */
export type DeviceRequest = 'auto' | Device;

export const DEVICES: readonly Device[] = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'];
/** Preference order for 'auto', fastest first; CPU always last. */
export const AUTO_ORDER: readonly Device[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

export const DEVICE_LABEL: Record<Device, string> = {
  cpu: 'CPU',
  webgpu: 'WebGPU',
  cuda: 'CUDA',
  dml: 'DirectML',
  coreml: 'CoreML',
};

export type GraphOptimization = 'all' | 'basic' | 'disabled' | 'extended';

export interface SessionSettings {
  /** Intra-op threads. Default: os.availableParallelism(). */
  threads: number;
  graphOptimization: GraphOptimization;
  /** ORT optimizer names, e.g. 'QDQPropagationTransformer'. */
  disabledOptimizers: string[];
  /** Let idle intra-op threads spin. Default off: spinning sessions slow each other down. */
  spinning: boolean;
  /** Raw session config entries (keys of onnxruntime_session_options_config_keys.h). */
  sessionConfig: Record<string, string>;
  /** Set session.disable_cpu_ep_fallback=1: creation fails if a node cannot run on the device. */
  strictDevice: boolean;
  /** ORT log severity for this session (0 verbose … 4 fatal). */
  logSeverityLevel: 0 | 1 | 2 | 3 | 4;
}

let logLevelSet = false;
/** Default ORT's process-wide logger to errors only (warnings are noise for users). */
function quietOrtLogs(): void {
  if (logLevelSet) return;
  logLevelSet = true;
  if (ort.env.logLevel === undefined) ort.env.logLevel = 'error';
}

/** Backends the onnxruntime-node build reports (cpu and webgpu in the npm build; cuda listed as not bundled). */
export function supportedBackends(): Array<{ name: string; bundled: boolean }> {
  const list = ort.listSupportedBackends() as Array<{ name: string; bundled: boolean }>;
  return list.map((b) => ({ name: b.name, bundled: b.bundled }));
}

/** The folder that holds libonnxruntime and its provider libraries, if it can be found. */
export function ortBinaryDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('onnxruntime-node/package.json');
    const dir = path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a device cannot be tried at all in this build/platform, without creating a session
 * (undefined when it is worth trying).
 */
export function staticUnavailability(device: Device): string | undefined {
  if (device === 'cpu') return undefined;
  const names = new Set(supportedBackends().map((b) => b.name));
  if (device === 'dml' && process.platform !== 'win32') {
    return 'DirectML is only available on Windows.';
  }
  if (device === 'coreml' && process.platform !== 'darwin') {
    return 'CoreML is only available on macOS.';
  }
  if (!names.has(device)) {
    return `${DEVICE_LABEL[device]} is not part of this ONNX Runtime build.`;
  }
  if (device === 'cuda') {
    const dir = ortBinaryDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (dir !== undefined && !existsSync(path.join(dir, lib))) {
      return 'CUDA is not installed for ONNX Runtime (the optional CUDA download of onnxruntime-node is missing).';
    }
  }
  return undefined;
}

/** The config entries a session gets from the settings (spinning, optimizers, strictness, extras). */
export function sessionConfigEntries(s: SessionSettings, device: Device): Record<string, string> {
  const cfg: Record<string, string> = {
    'session.intra_op.allow_spinning': s.spinning ? '1' : '0',
    'session.inter_op.allow_spinning': s.spinning ? '1' : '0',
  };
  if (s.disabledOptimizers.length > 0) {
    cfg['optimization.disable_specified_optimizers'] = s.disabledOptimizers.join(',');
  }
  // Meaningless on the CPU itself, where ORT would refuse every node with it.
  if (s.strictDevice && device !== 'cpu') cfg['session.disable_cpu_ep_fallback'] = '1';
  return { ...cfg, ...s.sessionConfig };
}

export function ortSessionOptions(device: Device, s: SessionSettings): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [device],
    intraOpNumThreads: s.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: s.graphOptimization,
    logSeverityLevel: s.logSeverityLevel,
    // The Node binding flattens `extra` into session config entries; dotted keys are kept as is.
    extra: sessionConfigEntries(s, device),
  };
}

/** One attempt to create a session on one device; throws ORT's error unchanged. */
export async function createOn(
  model: Uint8Array | string,
  device: Device,
  s: SessionSettings,
): Promise<ort.InferenceSession> {
  quietOrtLogs();
  const opts = ortSessionOptions(device, s);
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, opts)
    : ort.InferenceSession.create(model, opts);
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // ORT messages start with a source location; keep the part after the last "] " or "false. ".
  const line = msg.split('\n')[0] ?? msg;
  const tail = line.split(/\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*|was false\.\s*/).pop() ?? line;
  return tail.trim().slice(0, 300);
}

/** A plain-words sentence saying why `device` could not start (without the "running on …" part). */
export function explainFailure(device: Device, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/fallback to CPU EP has been explicitly disabled|disable_cpu_ep_fallback/i.test(msg)) {
    return `Some operators of this model have no ${DEVICE_LABEL[device]} kernel and strict device mode forbids running them on the CPU.`;
  }
  if (device === 'webgpu') {
    if (/No supported adapters|Failed to get a WebGPU adapter|adapter/i.test(msg)) {
      return 'WebGPU is not available on this machine (no GPU adapter found).';
    }
    if (/NOT_IMPLEMENTED|Could not find an implementation/i.test(msg)) {
      return `Some operators of this model cannot run on WebGPU (${firstLine(e)}).`;
    }
    return `WebGPU could not start (${firstLine(e)}).`;
  }
  if (device === 'cuda') {
    if (/Failed to load shared library|libcudart|libcublas|libcudnn|cannot open shared object/i.test(msg)) {
      return 'CUDA is not available on this machine (the CUDA libraries or the CUDA build of ONNX Runtime are not installed).';
    }
    if (/no CUDA-capable device|CUDA failure|cudaGetDeviceCount/i.test(msg)) {
      return 'CUDA is installed but no usable NVIDIA GPU was found.';
    }
  }
  if (/backend not found/i.test(msg)) {
    return `${DEVICE_LABEL[device]} is not part of this ONNX Runtime build.`;
  }
  return `${DEVICE_LABEL[device]} could not start (${firstLine(e)}).`;
}

/** True when WebGPU would reach Vulkan through Mesa's lavapipe (a CPU rasterizer). */
export function webgpuIsSoftware(env: NodeJS.ProcessEnv = process.env): boolean {
  const icd = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES;
  if (!icd) return false;
  const files = icd.split(path.delimiter).filter((f) => f.length > 0);
  return files.length > 0 && files.every((f) => /lvp|lavapipe|swiftshader/i.test(path.basename(f)));
}
