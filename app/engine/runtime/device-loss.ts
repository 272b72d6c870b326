// A GPU that fails in the middle of a run (adapter lost, driver reset, device removed): such an
// error is told apart from ordinary ones (a shape mismatch must not send work to the CPU), the
// device is remembered as lost for the rest of the process (new sessions on it go to the CPU),
// and the caller gets a DeviceLostError it can act on.
import type * as ort from 'onnxruntime-node';
import { injectRunFault } from './fault-injection.js';
import type { Device } from './providers.js';

// ORT's wording when a device dies mid-run: Dawn's device-lost callback and wait failures
// (WebGPU), sticky CUDA errors, DXGI device-removed codes (DirectML).
const DEVICE_FAILURE =
  /device (?:is |was |has been )?lost|DEVICE_LOST|Failed to wait for the operation|CUDA failure|CUDA error|cudaError|unspecified launch failure|illegal (?:memory access|address)|DXGI_ERROR_DEVICE_(?:REMOVED|HUNG|RESET)|887A000[567]|device instance has been suspended/i;

/** True when an error from session.run means the device itself failed (not the model or the input). */
export function isDeviceFailure(err: unknown): boolean {
  return DEVICE_FAILURE.test(err instanceof Error ? err.message : String(err));
}

/** ORT's reason without its "Non-zero status code … Status Message:" preamble and source location, on one line. */
export function runFailureReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const status = msg.split('Status Message: ').pop() ?? msg;
  const line = (status.split('\n')[0] ?? status).split(/ was false\.\s*/).pop() ?? status;
  return line.trim().slice(0, 300);
}

export class DeviceLostError extends Error {
  constructor(
    readonly device: Device,
    readonly reason: string,
  ) {
    super(`The GPU (${device}) stopped responding (${reason}).`);
    this.name = 'DeviceLostError';
  }
}

const lost = new Map<Device, string>();

/** Why `device` must not be used again in this process, if it failed mid-run earlier. */
export function lostDeviceReason(device: Device): string | undefined {
  return lost.get(device);
}

/**
 * Wraps `session.run` so that an injected fault fires (tests), and a device failure on a
 * non-CPU session marks the device lost and throws DeviceLostError. Other errors pass unchanged.
 */
export function guardRuns(session: ort.InferenceSession, device: Device): ort.InferenceSession {
  const run = session.run.bind(session) as (...args: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
  const guarded = async (...args: unknown[]): Promise<ort.InferenceSession.ReturnType> => {
    try {
      injectRunFault(device);
      return await run(...args);
    } catch (err) {
      if (device === 'cpu' || !isDeviceFailure(err)) throw err;
      const reason = runFailureReason(err);
      lost.set(device, reason);
      throw new DeviceLostError(device, reason);
    }
  };
  (session as unknown as { run: typeof guarded }).run = guarded;
  return session;
}
