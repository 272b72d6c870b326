// Test-only fault: an execution provider that dies in the middle of a run, which cannot be
// provoked on purpose (no way to unplug a GPU from a test). Inert unless the variable is set.
//
//   DISTILLERY_FAULT_EP_LOST_AFTER=N   the N-th session.run (counted per process) on a targeted
//                                      device throws, and so does every later run on a targeted
//                                      device: a lost device stays lost.
//   DISTILLERY_FAULT_EP_DEVICE=gpu|cpu|all   which sessions count: every device but the CPU
//                                      (default), the CPU only, or all of them.
//
// The error reads like ONNX Runtime's own for that device (WebGPU device lost, CUDA failure,
// DXGI device removed; an allocation failure on the CPU), tagged with the variable's name.
import type { Device } from './providers.js';

const AFTER = 'DISTILLERY_FAULT_EP_LOST_AFTER';
const TARGET = 'DISTILLERY_FAULT_EP_DEVICE';

let runs = 0;

interface FaultPlan {
  after: number;
  targets: (device: Device) => boolean;
}

/** The armed fault, or undefined when the variable is not set. Bad values are refused loudly. */
function plan(env: NodeJS.ProcessEnv = process.env): FaultPlan | undefined {
  const raw = env[AFTER];
  if (raw === undefined || raw === '') return undefined;
  const after = Number(raw);
  if (!Number.isInteger(after) || after < 1) throw new Error(`${AFTER} must be a whole number of runs >= 1 (got '${raw}'); unset it to run normally`);
  const target = env[TARGET] ?? 'gpu';
  if (target !== 'gpu' && target !== 'cpu' && target !== 'all') throw new Error(`${TARGET} must be gpu, cpu or all (got '${target}')`);
  return { after, targets: (d) => target === 'all' || (target === 'cpu') === (d === 'cpu') };
}

/** Checks the variables (so a typo fails at session creation, not at the N-th run). */
export function checkFaultSettings(): void {
  plan();
}

const STATUS = "Non-zero status code returned while running MatMul node. Name:'fault_injected' Status Message: ";
const ERRORS: Record<Device, string> = {
  webgpu: 'WebGPU device lost (1): the adapter was removed',
  cuda: 'CUDA failure 999: unknown error ; GPU=0 ; expr=cudaStreamSynchronize(stream);',
  dml: '887A0005 The GPU device instance has been suspended. Use GetDeviceRemovedReason to determine the appropriate action.',
  coreml: 'CoreML device lost: the compute device stopped responding',
  cpu: 'Failed to allocate memory for requested buffer of size 1048576',
};

/** Called before each run of a session on `device`: throws the injected fault when it is due. */
export function injectRunFault(device: Device): void {
  const p = plan();
  if (!p || !p.targets(device)) return;
  runs++;
  if (runs >= p.after) throw new Error(`${STATUS}${ERRORS[device]} [fault injected by ${AFTER}=${p.after}]`);
}
