// Checks for paths that come from a client: absolute, no NUL, exists, the right kind of entry.
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { ApiError } from '../contract/errors.js';

type Kind = 'file' | 'dir' | 'any';

export async function checkPath(p: string, kind: Kind, what: string): Promise<string> {
  if (typeof p !== 'string' || p.length === 0) throw new ApiError('INVALID_PARAMS', `${what}: a path is required.`);
  if (p.includes('\u0000')) throw new ApiError('INVALID_PARAMS', `${what}: the path contains a NUL character.`);
  if (!isAbsolute(p)) throw new ApiError('INVALID_PARAMS', `${what}: ${p} is not an absolute path.`);
  let st;
  try {
    st = await stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ApiError('NOT_FOUND', `${what}: ${p} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`}.`);
  }
  if (kind === 'file' && !st.isFile()) throw new ApiError('INVALID_PARAMS', `${what}: ${p} is not a regular file.`);
  if (kind === 'dir' && !st.isDirectory()) throw new ApiError('INVALID_PARAMS', `${what}: ${p} is not a folder.`);
  if (kind === 'any' && !st.isFile() && !st.isDirectory()) throw new ApiError('INVALID_PARAMS', `${what}: ${p} is not a file or folder.`);
  return p;
}

/** A file to be written: absolute, its folder exists. */
export async function checkOutputPath(p: string, what: string): Promise<string> {
  if (p.includes('\u0000') || !isAbsolute(p)) throw new ApiError('INVALID_PARAMS', `${what}: ${p} is not an absolute path.`);
  await checkPath(dirname(p), 'dir', `${what} (folder)`);
  return p;
}
