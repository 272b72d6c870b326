// Class names for datasets whose labels are plain integers: an optional classes.txt (one name
// per line, line i names class i-1) next to the data, else the numbers themselves.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './errors.js';

export const CLASS_NAMES_FILE = 'classes.txt';

/** Names from dir/classes.txt, or null when the file does not exist. */
export async function readClassNames(dir: string): Promise<string[] | null> {
  const file = join(dir, CLASS_NAMES_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DatasetError(`cannot read (${(e as Error).message})`, file);
  }
  const names = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  while (names.length > 0 && names[names.length - 1] === '') names.pop();
  const blank = names.indexOf('');
  if (blank >= 0) throw new DatasetError('class name is empty', `${file} line ${blank + 1}`);
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (seen.has(name)) throw new DatasetError(`class '${name}' is listed twice (also line ${seen.get(name)! + 1})`, `${file} line ${i + 1}`);
    seen.set(name, i);
  });
  if (names.length === 0) throw new DatasetError('lists no classes', file);
  return names;
}

/** '0', '1', ... up to the largest label seen; [] when nothing is labelled. */
export function numericClassNames(labels: Iterable<Int32Array>): string[] {
  let max = -1;
  for (const y of labels) for (const label of y) if (label > max) max = label;
  return Array.from({ length: max + 1 }, (_, i) => String(i));
}
