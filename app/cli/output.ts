// `--json` prints exactly one JSON document on stdout; everything else goes to stderr.
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
}

export function info(message: string): void {
  process.stderr.write(`${message}\n`);
}
