import { migration0010 } from './0010_init.js';
import type { Migration } from './types.js';

export type { Migration } from './types.js';

/** Every schema step, oldest first. Add new ones at the end (0020_..., 0030_...); never edit old ones. */
export const MIGRATIONS: readonly Migration[] = [migration0010];
