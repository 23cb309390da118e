import { sql, type Expression, type Selectable, type SqlBool, type Transaction } from 'kysely';
import type { JobError } from '../../../../domain/backup.js';
import type { JobClaimRequest } from '../../../../ports/lease-request.js';
import type { Database } from '../schema.js';
import { gcHoldsSite, sitesClosedToJobs } from '../site-lock.js';
import type { SqlCapabilities } from '../sql-capabilities.js';
import { interruptedError, type JobCandidate } from './give-up-job.js';
import { jobView, type JobTable } from './lease-columns.js';
import { leaseIsFree } from './lease-is-free.js';
import { takeLease } from './take-lease.js';

/** What a job store asks of {@link claimJob}. */
export interface JobClaim<T extends JobTable> {
  readonly table: T;
  /** The job kind, as the give-up message names it. */
  readonly kind: 'backup' | 'restoration' | 'verification';
  readonly request: JobClaimRequest;
  readonly capabilities: SqlCapabilities;
  /** Only jobs that also meet this are claimed (safety backups are written by their restoration). */
  readonly eligible?: Expression<SqlBool>;
  /**
   * Ends a job claimed `maxAttempts` times already, with `error` (JOB_INTERRUPTED), the job kind's way; in
   * the claim's transaction.
   */
  giveUp(trx: Transaction<Database>, candidate: JobCandidate, error: JobError): Promise<void>;
}

/**
 * Claims the oldest PENDING job (by request time, then id) whose lease is free and whose site no exclusive
 * site lease holds (garbage collection), in the caller's transaction: takes its lease, counts the attempt and
 * records its start. Jobs claimed `maxAttempts` times already are given up on the way.
 *
 * With row locks, the candidate is locked and rows other claimers hold are skipped, so concurrent claimers
 * get different jobs; the site's GC lease is then checked again under the site row's lock (site-lock.ts).
 * Without them (one writer at a time), the claim is a compare-and-set on the job still being PENDING.
 *
 * @returns the claimed row, or undefined when there is no job to claim now
 */
export async function claimJob<T extends JobTable>(
  trx: Transaction<Database>,
  claim: JobClaim<T>,
): Promise<Selectable<Database[T]> | undefined> {
  const { request, capabilities } = claim;
  const { now } = request;
  const jobs = jobView(trx);
  const table: JobTable = claim.table;
  for (;;) {
    let candidates = jobs
      .selectFrom(table)
      .select(['id', 'attempts', 'site_id'])
      .where('status', '=', 'PENDING')
      .where(leaseIsFree(now))
      .where('site_id', 'not in', sitesClosedToJobs(trx, now))
      .orderBy('requested_at')
      .orderBy('id')
      .limit(1);
    if (claim.eligible) candidates = candidates.where(claim.eligible);
    if (capabilities.rowLocks) candidates = candidates.forUpdate().skipLocked();
    const found = await candidates.executeTakeFirst();
    if (!found) return undefined;
    const candidate: JobCandidate = { id: found.id, siteId: found.site_id, attempts: Number(found.attempts) };
    if (capabilities.rowLocks && (await gcHoldsSite(trx, candidate.siteId, now))) return undefined;
    if (candidate.attempts >= request.maxAttempts) {
      await claim.giveUp(trx, candidate, interruptedError(claim.kind, candidate.attempts));
      continue;
    }
    const claimed = await jobs
      .updateTable(table)
      .set((eb) => ({
        ...takeLease(request),
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', sql<number>`${now}`),
      }))
      .where('id', '=', candidate.id)
      .where('status', '=', 'PENDING')
      .returningAll()
      .executeTakeFirst();
    // The view types only the shared columns; the row holds all of the table's.
    return claimed as Selectable<Database[T]> | undefined;
  }
}
