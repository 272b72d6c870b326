import { randomBytes } from 'node:crypto';

/**
 * Short ids that sort by creation time: `exp_` + 9 base-36 chars of milliseconds + 10 random
 * base-36 chars (48 bits). Sortable as plain strings, safe in file names and URLs.
 */
export function newId(prefix: 'exp' | 'prj', now: number = Date.now()): string {
  const time = Math.max(0, Math.floor(now)).toString(36).padStart(9, '0');
  const rand = randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, '0');
  return `${prefix}_${time}${rand}`;
}

/** Ids accepted from callers and bundles (a bit looser than what newId makes, for the future). */
export const EXPERIMENT_ID_RE = /^exp_[0-9a-z]{8,40}$/;
export const PROJECT_ID_RE = /^prj_[0-9a-z]{8,40}$/;
export const SHA256_RE = /^[0-9a-f]{64}$/;
