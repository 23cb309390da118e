import type { JobError } from '../../../../domain/backup.js';

/** How a give-up names the kind of job. */
export type JobKindName = 'backup' | 'restoration' | 'job by filter' | 'verification';

/**
 * The error a job is given up with once it was claimed `maxAttempts` times without finishing: each claim
 * after the first means the worker before stopped or crashed (or lost its lease), and a job that keeps
 * taking workers down must not do so forever.
 */
export function interruptedError(kind: JobKindName, attempts: number): JobError {
  return {
    code: 'JOB_INTERRUPTED',
    message: `The ${kind} was interrupted ${attempts} times (a worker stopped or crashed) and was given up.`,
  };
}

/** A claimable job the claim found, before it takes the lease (or gives the job up). */
export interface JobCandidate {
  readonly id: string;
  readonly siteId: string;
  /** How many times the job was claimed already. */
  readonly attempts: number;
}
