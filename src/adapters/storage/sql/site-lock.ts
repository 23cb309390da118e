import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** The purposes of the site leases under which no job of the site is claimed. */
export const JOB_EXCLUSIVE_SITE_LEASES: readonly string[] = ['gc'];

/**
 * The sites a claim passes over at `now`: those under one of the {@link JOB_EXCLUSIVE_SITE_LEASES}. With
 * row locks, a claim checks again with {@link gcHoldsSite} once it holds the site's row.
 */
export function sitesClosedToJobs(db: Kysely<Database> | Transaction<Database>, now: number) {
  return db
    .selectFrom('site_leases')
    .select('site_id')
    .where('purpose', 'in', JOB_EXCLUSIVE_SITE_LEASES)
    .where('expires_at', '>', now);
}

/**
 * Jobs and garbage collection exclude each other per site: GC takes a site lease only while no job of the
 * site is PENDING, and a claim skips sites under a GC lease. Each side checks, then writes; on SQLite one
 * writer at a time makes that safe, but under PostgreSQL's READ COMMITTED a job could be created and claimed
 * between GC's check and its lease write, and GC would then delete chunks the job had just stored. With row
 * locks, both sides therefore serialise on the site's row: GC takes it FOR UPDATE before checking, a claim
 * takes it FOR SHARE and then re-checks the GC lease.
 */
export async function lockSiteForGc(trx: Transaction<Database>, siteId: string): Promise<void> {
  await trx.selectFrom('sites').select('id').where('id', '=', siteId).forUpdate().execute();
}

/** For a claim (see {@link lockSiteForGc}): true when GC holds the site now, so the job must wait. */
export async function gcHoldsSite(
  trx: Transaction<Database> | Kysely<Database>,
  siteId: string,
  now: number,
): Promise<boolean> {
  await trx.selectFrom('sites').select('id').where('id', '=', siteId).forShare().execute();
  const lease = await trx
    .selectFrom('site_leases')
    .select('site_id')
    .where('site_id', '=', siteId)
    .where('purpose', 'in', JOB_EXCLUSIVE_SITE_LEASES)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return lease !== undefined;
}
