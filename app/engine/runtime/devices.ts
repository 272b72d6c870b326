// Which execution providers actually work in this process: each candidate runs a tiny model
// once and its output is checked. The answer is cached per process (a provider that failed
// once, e.g. WebGPU without an adapter, keeps failing in the same process anyway).
import * as ort from 'onnxruntime-node';
import {
  DEVICES,
  DEVICE_LABEL,
  createOn,
  explainFailure,
  staticUnavailability,
  webgpuIsSoftware,
  type Device,
  type SessionSettings,
} from './providers.js';

/**
 * ONNX's own backend test `node/test_add/model.onnx` (ir 7, opset 14): sum = Add(x, y), all
 * float32 [3, 4, 5]. Embedded so that probing works in a packaged app with no test data.
 */
export const PROBE_MODEL_BASE64 =
  'CAcSDGJhY2tlbmQtdGVzdDppChAKAXgKAXkSA3N1bSIDQWRkEgh0ZXN0X2FkZFoXCgF4EhIKEAgBEgwKAggDCgIIBAoCCAVaFwoBeRISChAIARIMCgIIAwoCCAQKAggFYhkKA3N1bRISChAIARIMCgIIAwoCCAQKAggFQgQKABAO';

export function probeModelBytes(): Uint8Array {
  return new Uint8Array(Buffer.from(PROBE_MODEL_BASE64, 'base64'));
}

export interface DeviceStatus {
  device: Device;
  available: boolean;
  /** Why it is unavailable, or a caveat when available (e.g. software WebGPU). */
  reason?: string;
  /** WebGPU reaching Vulkan through a CPU driver (lavapipe): correct but slow. */
  software?: boolean;
  /** Time to create the probe session and run it once, in ms (when tried). */
  probeMs?: number;
}

const PROBE_SETTINGS: SessionSettings = {
  threads: 1,
  graphOptimization: 'basic',
  disabledOptimizers: [],
  spinning: false,
  sessionConfig: {},
  // The Add must really run on the device, not quietly on the CPU.
  strictDevice: true,
  logSeverityLevel: 4,
};

/** Create the probe session on `device`, run it once and check the result. Throws on failure. */
export async function probeDevice(device: Device): Promise<void> {
  const session = await createOn(probeModelBytes(), device, { ...PROBE_SETTINGS, strictDevice: device !== 'cpu' });
  try {
    const n = 3 * 4 * 5;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = i * 0.5 - 7;
      y[i] = 3 - i * 0.25;
    }
    const out = await session.run({
      x: new ort.Tensor('float32', x, [3, 4, 5]),
      y: new ort.Tensor('float32', y, [3, 4, 5]),
    });
    const sum = out.sum?.data as Float32Array | undefined;
    if (!sum || sum.length !== n) throw new Error('probe model returned no output');
    for (let i = 0; i < n; i++) {
      if (Math.abs(sum[i]! - (x[i]! + y[i]!)) > 1e-6) {
        throw new Error(`probe model gave a wrong result on ${DEVICE_LABEL[device]} (element ${i})`);
      }
    }
  } finally {
    await session.release();
  }
}

async function detectOne(device: Device): Promise<DeviceStatus> {
  const why = staticUnavailability(device);
  if (why !== undefined) return { device, available: false, reason: why };
  const t0 = performance.now();
  try {
    await probeDevice(device);
    const status: DeviceStatus = { device, available: true, probeMs: performance.now() - t0 };
    if (device === 'webgpu' && webgpuIsSoftware()) {
      status.software = true;
      status.reason = 'WebGPU runs on a software Vulkan driver (lavapipe): correct but much slower than the CPU.';
    }
    return status;
  } catch (e) {
    return { device, available: false, reason: explainFailure(device, e), probeMs: performance.now() - t0 };
  }
}

let cached: Promise<DeviceStatus[]> | undefined;

/**
 * Every device Distillery knows, in the order cpu, webgpu, cuda, dml, coreml, with whether it
 * works here. Devices the ORT build reports are tried with a tiny model; the result is cached
 * for the life of the process (pass `refresh` to probe again; WebGPU failures are sticky in
 * ORT, so refreshing rarely changes them).
 */
export function detectDevices(refresh = false): Promise<DeviceStatus[]> {
  if (cached === undefined || refresh) {
    cached = (async () => {
      const out: DeviceStatus[] = [];
      // Sequentially: parallel GPU initialisation gains nothing and makes failures harder to read.
      for (const d of DEVICES) out.push(await detectOne(d));
      return out;
    })();
  }
  return cached;
}

/** The cached status of one device, if detectDevices() already ran (no probing). */
export async function cachedStatus(device: Device): Promise<DeviceStatus | undefined> {
  if (cached === undefined) return undefined;
  return (await cached).find((s) => s.device === device);
}
