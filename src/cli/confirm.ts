import { createInterface } from 'node:readline/promises';
import { UsageError } from './cli-io.js';

/** Asks a yes/no question; `undefined` where no person can answer (standard input is not a terminal). */
export type Confirm = ((question: string) => Promise<boolean>) | undefined;

/** Asks on the process's terminal; no one to ask when standard input is not one. */
export function terminalConfirm(): Confirm {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
    } finally {
      rl.close();
    }
  };
}

/**
 * Goes ahead with a command that replaces or deletes data only when the person said so: `--yes`, or "y" at
 * the terminal's prompt. Without a terminal and without `--yes` the command is refused (a script must say
 * `--yes`), so nothing destructive ever runs on a default.
 * @returns false when the person answered no
 * @throws UsageError when no one can be asked and `--yes` was not given
 */
export async function confirmed(yes: boolean, confirm: Confirm, question: string): Promise<boolean> {
  if (yes) return true;
  if (!confirm) {
    throw new UsageError(`${question}\nrefused: standard input is not a terminal; pass --yes to go ahead`);
  }
  return confirm(question);
}
