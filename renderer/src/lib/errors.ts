// Errors in plain words, with what to do next. Never a stack trace.

export interface PlainError {
  title: string;
  message: string;
  next: string;
}

const NEXT: Record<string, { title: string; next: string }> = {
  INVALID_PARAMS: { title: 'Something in the form is not right', next: 'Check the highlighted value and try again.' },
  NOT_FOUND: { title: 'Not found', next: 'Check the path or pick the item again; it may have been moved or deleted.' },
  READ_ONLY: { title: 'This history is read-only', next: 'Ask the person who shared it for a copy you can change, or open your own history.' },
  INVALID_STATE: { title: 'Not possible right now', next: 'Wait for the current work to finish, then try again.' },
  UNKNOWN_METHOD: { title: 'This version of Distillery cannot do that', next: 'Update Distillery on the machine that runs the server.' },
  UNAUTHORIZED: { title: 'Not signed in', next: 'Open the address printed by “distillery serve”; it carries the access token.' },
  FORBIDDEN: { title: 'Not allowed', next: 'Open Distillery from the address it printed.' },
  TOO_LARGE: { title: 'Too large', next: 'Pick fewer items or a smaller file.' },
  NETWORK: { title: 'Cannot reach Distillery', next: 'Check that the Distillery window or server is still running, then retry.' },
  FAILED: { title: 'That did not work', next: 'Read the reason above; if it mentions a file, check that file and retry.' },
};

/** Strips stack frames, "Error:" prefixes and method prefixes ("startDistill: 'data' …"). */
export function cleanMessage(raw: string): string {
  const firstLines = raw
    .split('\n')
    .filter((l) => !/^\s+at\s/.test(l))
    .join(' ')
    .trim();
  let m = firstLines.replace(/^(?:[A-Z]\w*Error|Error):\s*/, '');
  m = m.replace(/^[a-z][A-Za-z]+: '([^']+)'/, (_all, field: string) => `The ${humanField(field)}`);
  m = m.replace(/^[a-z][A-Za-z]+: params /, 'The request ');
  if (!m) return 'Something went wrong.';
  m = m[0]!.toUpperCase() + m.slice(1);
  return /[.!?…]$/.test(m) ? m : `${m}.`;
}

function humanField(field: string): string {
  const words: Record<string, string> = {
    data: 'dataset path',
    path: 'path',
    teachers: 'teacher list',
    'teachers.0': 'teacher path',
    model: 'model path',
    epochs: 'number of epochs',
    lr: 'learning rate',
    batchSize: 'batch size',
    alpha: 'alpha',
    temperature: 'temperature',
    tag: 'tag',
    body: 'note',
  };
  return words[field] ?? `'${field}'`;
}

export function explainError(err: unknown): PlainError {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'FAILED';
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : 'Something went wrong.';
  const info = NEXT[code] ?? NEXT.FAILED!;
  let next = info.next;
  if (/absolute path/i.test(raw)) next = 'Type the full path, starting with / (or a drive letter such as C:\\ on Windows).';
  else if (/ENOENT|no such file|does not exist|not found/i.test(raw)) next = 'Check the path: the file or folder is not there.';
  return { title: info.title, message: cleanMessage(raw), next };
}
