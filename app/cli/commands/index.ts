import type { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerExperiments } from './experiments.js';
import { registerInspect } from './inspect.js';
import { registerDistill } from './distill.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerQuantize } from './quantize.js';

/** A sub-command adds itself to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerDemo, registerInspect, registerDistill, registerQuantize, registerBench, registerServe, registerExperiments];
