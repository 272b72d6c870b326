import type { ApiErrorCode } from './api.js';

/** Bad parameters for a contract method; the message names the field. */
export class ContractError extends Error {
  readonly code: ApiErrorCode = 'INVALID_PARAMS';
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}

/** An error a service raises on purpose, with a code every transport carries. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
