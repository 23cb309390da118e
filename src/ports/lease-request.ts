/**
 * The requests a worker makes of a job store: a job (a backup, a restoration, a webhook delivery) is run
 * under a lease that its worker renews; every write the worker makes is fenced by that lease, so that a
 * worker that lost its lease (it stalled past the expiry and another worker claimed the job) changes nothing.
 */
import type { Progress } from '../domain/backup.js';

/** Who asks for a lease, when, and for how long. */
export interface LeaseRequest {
  /** The lease owner: fenced writes must name it. */
  readonly workerId: string;
  readonly now: number;
  /** The lease lasts until `now + leaseMs` unless renewed. */
  readonly leaseMs: number;
}

/** A claim of the oldest claimable job. */
export interface JobClaimRequest extends LeaseRequest {
  /** A job already claimed this many times (each crash or lost lease costs one) is given up instead. */
  readonly maxAttempts: number;
}

/** A renewal of the lease on job `id`, with the progress to record. */
export interface LeaseRenewal extends LeaseRequest {
  readonly id: string;
  readonly progress?: Progress;
}
