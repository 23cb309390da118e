import type { Progress } from '../domain/backup.js';
import { SimulatedCrash } from './failpoints.js';

/** What a running job holds: its lease owner, its abort signal, and a way to report progress. */
export interface JobLease {
  readonly workerId: string;
  readonly signal: AbortSignal;
  progress(progress: Progress): void;
}

/**
 * True when the error only says the job was stopped from outside (lease lost, canceled, deleted) or a
 * simulated crash: then nothing is recorded and the lease lapses, as after a real crash.
 */
export function stopped(lease: JobLease, error: unknown): boolean {
  return (
    lease.signal.aborted ||
    error instanceof SimulatedCrash ||
    (error as Error | undefined)?.name === 'AbortError'
  );
}
