// Progress on stderr: a live bar on a terminal, plain lines otherwise (CI logs, pipes).
import cliProgress from 'cli-progress';

export interface Progress {
  stage(message: string): void;
  step(done: number, total: number, detail: string): void;
  info(message: string): void;
  stop(): void;
}

export function createProgress(quiet = false): Progress {
  if (quiet) return { stage: () => undefined, step: () => undefined, info: () => undefined, stop: () => undefined };
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let lastLine = 0;
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  return {
    stage(message) {
      stopBar();
      process.stderr.write(`» ${message}\n`);
    },
    step(done, total, detail) {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: '  {bar} {percentage}% | {value}/{total} | {detail}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0, { detail });
        }
        bar.setTotal(total);
        bar.update(done, { detail });
      } else if (Date.now() - lastLine > 5000 || done === total) {
        lastLine = Date.now();
        process.stderr.write(`  ${done}/${total} ${detail}\n`);
      }
    },
    info(message) {
      stopBar();
      process.stderr.write(`  ${message}\n`);
    },
    stop: stopBar,
  };
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}
