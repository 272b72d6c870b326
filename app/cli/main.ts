#!/usr/bin/env node
// The `distillery` command. Each sub-command lives in commands/<name>.ts and registers itself.
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { UserError } from './errors.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('distillery')
    .description('Make ONNX models smaller and faster: distillation, quantization, benchmarks.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`distillery: ${describeError(err)}\n`);
    if (process.env.DISTILLERY_DEBUG && err instanceof Error && !(err instanceof UserError)) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isEntry) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
