import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The `safekeep` command of this checkout. */
export const safekeepBin = join(process.cwd(), 'bin', 'safekeep.js');

/** A `safekeep` subprocess (serve, worker) whose stdout and stderr the test reads as one text. */
export interface Running {
  output(): string;
  /** Waits until the output (from character `from` on) matches; throws if the process exits first. */
  waitFor(pattern: RegExp, from?: number): Promise<RegExpExecArray>;
  signal(name: NodeJS.Signals): void;
  /** Sends `signal` (SIGTERM by default) unless it exited, and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startSafekeep(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [safekeepBin, ...args], { env });
  let text = '';
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      resolve(code);
    }),
  );
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  return {
    output: () => text,
    async waitFor(pattern, from = 0) {
      for (;;) {
        const match = pattern.exec(text.slice(from));
        if (match) return match;
        if (exited !== undefined) throw new Error(`exited (${exited}) before ${pattern}:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    signal: (name) => child.kill(name),
    async stop(signal = 'SIGTERM') {
      if (exited === undefined) child.kill(signal);
      return exit;
    },
  };
}
