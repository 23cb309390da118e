import { SafekeepApiError, SafekeepConnectionError } from '../sdk/index.js';
import type { CliIo } from './cli-io.js';

/**
 * Prints an error a client command got from the API (or from not reaching it) the one way every command
 * prints it, and returns exit code 1; returns undefined for any other error, which the caller rethrows.
 */
export function reportClientError(error: unknown, io: CliIo): 1 | undefined {
  if (error instanceof SafekeepApiError) {
    io.err(`error: ${error.message} (${error.code}, HTTP ${error.status})`);
    for (const v of error.fieldViolations) {
      const line = `${v.field || 'request'}: ${v.description}`;
      // The server's message is usually the first violation already.
      if (line !== error.message) io.err(`  ${line}`);
    }
    const pending = error.data.backupId;
    if (error.code === 'BACKUP_ALREADY_IN_PROGRESS' && typeof pending === 'string')
      io.err(`  the backup in progress: ${pending} (follow it with: safekeep backup get ${pending})`);
    return 1;
  }
  if (error instanceof SafekeepConnectionError) {
    io.err(`error: ${error.message}`);
    io.err(
      '  is `safekeep serve` running there? (To create an admin key without a server: safekeep key create --admin --local)',
    );
    return 1;
  }
  return undefined;
}
