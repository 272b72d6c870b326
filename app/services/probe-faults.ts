// Test-only fault for the probe process (ONNX Runtime opening a model or probing the devices):
// a native crash or hang cannot be provoked on purpose with a real file or driver. Inert unless
// the variable is set; read in the probe process only.
//
//   DISTILLERY_FAULT_PROBE=crash   the probe process kills itself with SIGSEGV, as a crash in
//                                  native code would
//   DISTILLERY_FAULT_PROBE=hang    the probe process blocks for good without using the CPU, as a
//                                  deadlock in native code would (only SIGKILL ends it)

const VAR = 'DISTILLERY_FAULT_PROBE';

/** Called by the probe process before it touches ONNX Runtime. Bad values are refused loudly. */
export function injectProbeFault(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env[VAR];
  if (raw === undefined || raw === '') return;
  if (raw === 'crash') {
    process.kill(process.pid, 'SIGSEGV');
    block(10_000); // the signal ends the process; nothing after this line may run meanwhile
  } else if (raw === 'hang') {
    block();
  } else {
    throw new Error(`${VAR} must be crash or hang (got '${raw}'); unset it to run normally`);
  }
}

/** Blocks this thread: no timers, no IPC, no JavaScript signal handlers run meanwhile. */
function block(ms?: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
