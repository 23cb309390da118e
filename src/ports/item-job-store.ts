/**
 * Jobs by filter (Wix's asyncRemoveByFilter and asyncPatchByFilter): a row per job, run by the job worker
 * under a lease like backups and restorations (docs/ARCHITECTURE.md, "Jobs by filter").
 */
import type { JobError } from '../domain/backup.js';
import type { Environment } from '../domain/environment.js';
import type { JobClaimRequest, LeaseRenewal } from './lease-request.js';

export type ItemJobKind = 'REMOVE' | 'PATCH';

/** PENDING until a worker finishes it (queued, or running under a lease), then COMPLETED or FAILED. */
export type ItemJobStatus = 'PENDING' | 'COMPLETED' | 'FAILED';

export interface NewItemJob {
  readonly id: string;
  readonly siteId: string;
  readonly collectionId: string;
  readonly environment: Environment;
  readonly kind: ItemJobKind;
  /** The filter as the request sent it (checked before the job is created). */
  readonly filter: unknown;
  /** PATCH: the field modifications as the request sent them (checked before the job is created). */
  readonly modifications: readonly unknown[] | null;
  /** The API key that asked for the job: the owner of a patched item that has none. */
  readonly ownerKeyId: string;
  readonly requestedAt: number;
}

export interface ItemJobRecord extends NewItemJob {
  readonly status: ItemJobStatus;
  /** When a worker first claimed it. */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Items removed or patched so far (Wix's successCount). */
  readonly done: number;
  /** The id of the last item a committed batch handled; the next batch starts after it. */
  readonly lastId: string | null;
  readonly error: JobError | null;
}

/** What one batch did, recorded in the batch's own item transaction (see ItemWriteTx.advanceItemJob). */
export interface ItemJobAdvance {
  readonly jobId: string;
  readonly workerId: string;
  /** Items changed by the batch. */
  readonly done: number;
  /** The id of the batch's last item. */
  readonly lastId: string;
}

export interface ItemJobStore {
  /**
   * Creates a PENDING job, unless the site already has `maxPending` PENDING jobs by filter.
   * @throws AppError RATE_LIMITED (`SITE_BULK_REQUESTS`) over that limit
   */
  create(job: NewItemJob, maxPending: number): Promise<ItemJobRecord>;
  /** The site's job `id`; undefined when there is none (another site's job included). */
  get(siteId: string, id: string): Promise<ItemJobRecord | undefined>;
  /** Claims the oldest PENDING job whose lease is free (a job claimed too often is given up on the way). */
  claim(request: JobClaimRequest): Promise<ItemJobRecord | undefined>;
  /** Extends the lease; false when it was lost (the worker stops). */
  renew(renewal: LeaseRenewal): Promise<boolean>;
  /** PENDING → COMPLETED, fenced by the lease. */
  complete(id: string, workerId: string, at: number): Promise<boolean>;
  /** PENDING → FAILED with the error, fenced by the lease. */
  fail(id: string, workerId: string, error: JobError, at: number): Promise<boolean>;
}
