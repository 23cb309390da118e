import type { Kysely, Selectable } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import type { JobError } from '../../../domain/backup.js';
import type { Environment } from '../../../domain/environment.js';
import type {
  ItemJobAdvance,
  ItemJobKind,
  ItemJobRecord,
  ItemJobStatus,
  ItemJobStore,
  NewItemJob,
} from '../../../ports/item-job-store.js';
import type { JobClaimRequest, LeaseRenewal } from '../../../ports/lease-request.js';
import { claimJob } from './job-lease/claim-job.js';
import { failJob } from './job-lease/fail-job.js';
import { jobHeldBy } from './job-lease/held-by.js';
import { releaseLease } from './job-lease/release-lease.js';
import { renewJobLease } from './job-lease/renew-lease.js';
import type { Database, ItemJobsTable } from './schema.js';
import type { SqlCapabilities } from './sql-capabilities.js';

/** A job of a site whose pending jobs are this many at most is refused with this (seconds). */
const RETRY_AFTER_SECONDS = 5;

/** How long a finished job's status stays readable (Wix keeps job records 30 days). */
export const ITEM_JOB_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

function toItemJob(row: Selectable<ItemJobsTable>): ItemJobRecord {
  return {
    id: row.id,
    siteId: row.site_id,
    collectionId: row.collection_id,
    environment: row.environment as Environment,
    kind: row.kind as ItemJobKind,
    filter: JSON.parse(row.filter) as unknown,
    modifications: row.modifications === null ? null : (JSON.parse(row.modifications) as unknown[]),
    ownerKeyId: row.owner_key,
    requestedAt: Number(row.requested_at),
    status: row.status as ItemJobStatus,
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    done: Number(row.progress_done ?? 0),
    lastId: row.last_id,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
  };
}

/**
 * Records a batch of a job by filter in the batch's own item transaction, fenced by the lease: the counts
 * grow and `last_id` moves on together with the items the batch changed, or not at all. False when the
 * worker no longer holds the lease (the caller rolls the batch back).
 */
export async function advanceItemJob(trx: Kysely<Database>, advance: ItemJobAdvance): Promise<boolean> {
  const result = await trx
    .updateTable('item_jobs')
    .set((eb) => ({
      progress_done: eb('progress_done', '+', advance.done),
      last_id: advance.lastId,
    }))
    .where('id', '=', advance.jobId)
    .where(jobHeldBy(advance.workerId))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export class SqlItemJobStore implements ItemJobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly capabilities: SqlCapabilities,
  ) {}

  async create(job: NewItemJob, maxPending: number): Promise<ItemJobRecord> {
    return this.db.transaction().execute(async (trx) => {
      const { n } = await trx
        .selectFrom('item_jobs')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('site_id', '=', job.siteId)
        .where('status', '=', 'PENDING')
        .executeTakeFirstOrThrow();
      if (Number(n) >= maxPending)
        throw errors.RATE_LIMITED('SITE_BULK_REQUESTS', maxPending, RETRY_AFTER_SECONDS);
      // The site's jobs finished more than 30 days ago go (their status then reads as not found).
      await trx
        .deleteFrom('item_jobs')
        .where('site_id', '=', job.siteId)
        .where('status', 'in', ['COMPLETED', 'FAILED'])
        .where('finished_at', '<', job.requestedAt - ITEM_JOB_RETENTION_MS)
        .execute();
      const row = await trx
        .insertInto('item_jobs')
        .values({
          id: job.id,
          site_id: job.siteId,
          environment: job.environment,
          collection_id: job.collectionId,
          kind: job.kind,
          filter: JSON.stringify(job.filter ?? {}),
          modifications: job.modifications === null ? null : JSON.stringify(job.modifications),
          owner_key: job.ownerKeyId,
          status: 'PENDING',
          requested_at: job.requestedAt,
          started_at: null,
          finished_at: null,
          progress_done: 0,
          progress_total: null,
          last_id: null,
          error_code: null,
          error_message: null,
          lease_owner: null,
          lease_expires_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toItemJob(row);
    });
  }

  async get(siteId: string, id: string): Promise<ItemJobRecord | undefined> {
    const row = await this.db
      .selectFrom('item_jobs')
      .selectAll()
      .where('id', '=', id)
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return row && toItemJob(row);
  }

  async claim(request: JobClaimRequest): Promise<ItemJobRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await claimJob(trx, {
        table: 'item_jobs',
        kind: 'job by filter',
        request,
        capabilities: this.capabilities,
        giveUp: async (trx, candidate, error) => {
          await failJob(trx, {
            table: 'item_jobs',
            id: candidate.id,
            error,
            at: request.now,
            workerId: null,
          });
        },
      });
      return claimed && toItemJob(claimed);
    });
  }

  renew(renewal: LeaseRenewal): Promise<boolean> {
    // The counts are written by each batch (advanceItemJob), not from the heartbeat's progress.
    const { progress: _progress, ...lease } = renewal;
    return renewJobLease(this.db, 'item_jobs', lease);
  }

  async complete(id: string, workerId: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('item_jobs')
      .set({ status: 'COMPLETED', finished_at: at, ...releaseLease })
      .where('id', '=', id)
      .where(jobHeldBy(workerId))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  fail(id: string, workerId: string, error: JobError, at: number): Promise<boolean> {
    return failJob(this.db, { table: 'item_jobs', id, error, at, workerId });
  }
}
