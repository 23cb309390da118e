import type { Kysely } from 'kysely';
import type { LeaseRenewal } from '../../../../ports/lease-request.js';
import type { Database } from '../schema.js';
import { jobHeldBy } from './held-by.js';
import { jobView, type JobTable } from './lease-columns.js';

/**
 * Extends the lease on a job the worker still holds to `now + leaseMs`, recording its progress if given.
 * False when the lease was lost or the job is no longer PENDING (canceled, deleted): the worker stops.
 */
export async function renewJobLease(
  db: Kysely<Database>,
  table: JobTable,
  renewal: LeaseRenewal,
): Promise<boolean> {
  const { progress } = renewal;
  const result = await jobView(db)
    .updateTable(table)
    .set({
      lease_expires_at: renewal.now + renewal.leaseMs,
      ...(progress && { progress_done: progress.itemsDone, progress_total: progress.itemsTotal }),
    })
    .where('id', '=', renewal.id)
    .where(jobHeldBy(renewal.workerId))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
