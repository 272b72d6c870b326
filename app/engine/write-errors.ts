// Write failures the user can fix (disk full, read-only folder, permissions), in plain words.
// Shared by the model writer and the history's artifact store.
const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full (ENOSPC); free some space and try again',
  EDQUOT: 'the disk quota is exceeded (EDQUOT); free some space and try again',
  EROFS: 'the folder is on a read-only file system (EROFS)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'permission denied (EPERM)',
  SQLITE_FULL: 'the disk is full (SQLITE_FULL); free some space and try again',
  SQLITE_READONLY: 'the database cannot be written (SQLITE_READONLY)',
};

/** The plain reason for a failed write, or undefined when the error is not one of these. */
export function writeFailureReason(err: unknown): { code: string; why: string } | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const why = code ? REASONS[code] : undefined;
  return code && why ? { code, why } : undefined;
}
