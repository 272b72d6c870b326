// The one place that creates ONNX Runtime sessions: device choice and fallback, device
// detection, environment info, run and tensor helpers, devices lost mid-run.
export { createSession, plannedDevice, type CreateSessionOptions, type CreatedSession } from './session.js';
export { detectDevices, probeDevice, probeModelBytes, PROBE_MODEL_BASE64, type DeviceStatus } from './devices.js';
export { runtimeInfo, parseCpuinfo, type RuntimeInfo, type CpuFlags } from './info.js';
export { DeviceLostError, isDeviceFailure, runFailureReason } from './device-loss.js';
export { run, toOrtTensor, int64Tensor, toFloat32, type Feeds, type Outputs, type TensorData } from './tensors.js';
export {
  AUTO_ORDER,
  DEVICES,
  DEVICE_LABEL,
  explainFailure,
  webgpuIsSoftware,
  type Device,
  type DeviceRequest,
  type GraphOptimization,
} from './providers.js';
