import type { Expression, Kysely, SqlBool } from 'kysely';
import type { JobError } from '../../../../domain/backup.js';
import type { Database } from '../schema.js';
import { jobHeldBy } from './held-by.js';
import { jobView, type JobTable } from './lease-columns.js';
import { releaseLease } from './release-lease.js';

/** A PENDING job to record as FAILED. */
export interface FailJobRequest {
  readonly table: JobTable;
  readonly id: string;
  readonly error: JobError;
  readonly at: number;
  /** Only while this worker holds the lease; null: whoever holds it (an API call or a give-up). */
  readonly workerId: string | null;
  /** A further condition the job must meet (a restoration past its switch cannot fail any more). */
  readonly unless?: Expression<SqlBool>;
}

/**
 * PENDING → FAILED with the error, lease released; fenced by the lease when a worker id is given.
 * Runs in the caller's transaction (which writes the job's event). False when no row changed.
 */
export async function failJob(db: Kysely<Database>, failure: FailJobRequest): Promise<boolean> {
  let query = jobView(db)
    .updateTable(failure.table)
    .set({
      status: 'FAILED',
      finished_at: failure.at,
      error_code: failure.error.code,
      error_message: failure.error.message,
      ...releaseLease,
    })
    .where('id', '=', failure.id)
    .where('status', '=', 'PENDING');
  if (failure.workerId !== null) query = query.where(jobHeldBy(failure.workerId));
  if (failure.unless) query = query.where(failure.unless);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
