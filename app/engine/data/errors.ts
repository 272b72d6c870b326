// One error type for every bad-input case in the dataset layer, so callers (CLI, services)
// can tell "your data is wrong" apart from bugs and show the message as-is.
import { escapeControl } from '../safe-text.js';

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  /** Where the problem is: a file, optionally with a line or sample index. */
  readonly where: string | undefined;

  constructor(message: string, where?: string) {
    // Messages quote cells and names from the file: no control characters get through.
    super(escapeControl(where ? `${where}: ${message}` : message));
    this.where = where;
  }
}
