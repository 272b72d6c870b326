import { writeFailureReason } from '../engine/write-errors.js';

/**
 * Errors raised by the store. Each carries a `code` so services and the CLI can tell
 * "the user gave us something wrong" from a bug without parsing messages.
 */
export type StoreErrorCode =
  | 'SCHEMA_TOO_NEW'
  | 'SCHEMA_TOO_OLD'
  | 'NOT_A_HISTORY'
  | 'MIGRATION_FAILED'
  | 'NOT_FOUND'
  | 'INVALID_INPUT'
  | 'INVALID_STATE'
  | 'INVALID_BUNDLE'
  | 'ARTIFACT_CORRUPT'
  | 'NO_ARTIFACTS_DIR'
  | 'ALREADY_EXISTS'
  /** The disk is full or the folder cannot be written (read-only file system, permissions). */
  | 'CANNOT_WRITE';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** The database was written by a newer Distillery; we must not touch it. */
export class SchemaTooNewError extends StoreError {
  constructor(
    readonly found: number,
    readonly known: number,
    what: 'history' | 'bundle' = 'history',
  ) {
    super(
      'SCHEMA_TOO_NEW',
      what === 'history'
        ? `This history was written by a newer Distillery (schema ${found}, this version knows ${known}). ` +
            'Update Distillery or choose another database.'
        : `This bundle was written by a newer Distillery (schema ${found}, this version knows ${known}). ` +
            'Update Distillery to import it.',
    );
    this.name = 'SchemaTooNewError';
  }
}

export function notFound(what: string, id: string | number): StoreError {
  return new StoreError('NOT_FOUND', `No ${what} with id ${JSON.stringify(id)} in this history.`);
}

export function invalid(message: string): StoreError {
  return new StoreError('INVALID_INPUT', message);
}

/** A file-system write failure the user can fix (disk full, read-only), as a plain StoreError naming `what`; else the error itself. */
export function writeFailure(what: string, err: unknown): unknown {
  const reason = writeFailureReason(err);
  return reason ? new StoreError('CANNOT_WRITE', `${what}: ${reason.why}`, { cause: err }) : err;
}
