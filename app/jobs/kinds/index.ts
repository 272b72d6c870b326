// The job kinds. Adding one = one module in this folder + one line here + a contract method.
import type { JobKind } from '../../contract/api.js';
import { benchJob } from './bench.js';
import { distillJob } from './distill.js';
import { quantizeJob } from './quantize.js';
import type { JobKindModule } from './types.js';

export const JOB_KIND_MODULES: Record<JobKind, JobKindModule<never>> = {
  distill: distillJob as JobKindModule<never>,
  quantize: quantizeJob as JobKindModule<never>,
  bench: benchJob as JobKindModule<never>,
};

export function jobKindModule<C>(kind: JobKind): JobKindModule<C> {
  return JOB_KIND_MODULES[kind] as unknown as JobKindModule<C>;
}

export type { JobKindModule, JobContext, PrepareContext, Prepared } from './types.js';
