import type { Kysely, Transaction } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import { SHARED_GEN_BASE } from './item-relation.js';
import type { Database } from './schema.js';

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
 * Site leases a job claim must wait for: garbage collection (it may delete chunks a job is writing) and the
 * layout migration (it copies the site's items and switches its collections to the copies).
 */
export const JOB_EXCLUSIVE_SITE_LEASES = ['gc', 'layout'] as const;

/** How long a client is told to wait before retrying a write refused while its site is migrated. */
export const LAYOUT_RETRY_AFTER_SECONDS = 5;

/**
 * Jobs and garbage collection exclude each other per site: GC takes a site lease only while no job of the
 * site is PENDING, and a claim skips sites under a GC lease. Each side checks, then writes; on SQLite one
 * writer at a time makes that safe, but under PostgreSQL's READ COMMITTED a job could be created and claimed
 * between GC's check and its lease write, and GC would then delete chunks the job had just stored. With row
 * locks, both sides therefore serialise on the site's row: GC takes it FOR UPDATE before checking, a claim
 * takes it FOR SHARE and then re-checks the GC lease. The layout migration takes its lease the same way.
 */
export async function lockSiteForGc(trx: Transaction<Database>, siteId: string): Promise<void> {
  await trx.selectFrom('sites').select('id').where('id', '=', siteId).forUpdate().execute();
}

/**
 * For a claim (see {@link lockSiteForGc}): true when GC or the layout migration holds the site now
 * ({@link JOB_EXCLUSIVE_SITE_LEASES}), so the job must wait.
 */
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

/**
 * The write fence of the layout migration, inside a write's transaction: refuses (503 SITE_MIGRATING) a write
 * that touches a legacy generation (id below SHARED_GEN_BASE) of a site whose migration is under way, from
 * the moment its `layout` lease row is written until the switch deletes it — an expired lease included,
 * since a crashed migration resumes from copies a write would make stale. Writes to other generations cost
 * nothing here. With row locks (PostgreSQL) the write holds the site row FOR SHARE, so that it either
 * commits before the migration's lease (taken under FOR UPDATE, see {@link lockSiteForGc}) or sees it.
 * @throws AppError SITE_MIGRATING
 */
export async function fenceLegacyWrite(
  trx: Kysely<Database>,
  siteId: string,
  gens: readonly number[],
  options: { rowLocks: boolean },
): Promise<void> {
  if (!gens.some((gen) => gen < SHARED_GEN_BASE)) return;
  if (options.rowLocks) {
    await trx.selectFrom('sites').select('id').where('id', '=', siteId).forShare().execute();
  }
  const lease = await trx
    .selectFrom('site_leases')
    .select('site_id')
    .where('site_id', '=', siteId)
    .where('purpose', '=', 'layout')
    .executeTakeFirst();
  if (lease) {
    throw errors.SITE_MIGRATING(LAYOUT_RETRY_AFTER_SECONDS);
  }
}

/** A site lease that keeps a site's jobs away (see {@link JOB_EXCLUSIVE_SITE_LEASES}). */
export interface SiteLeaseRequest {
  readonly siteId: string;
  readonly purpose: (typeof JOB_EXCLUSIVE_SITE_LEASES)[number];
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  /** Row locks exist (PostgreSQL): the lease is taken under the site row's lock ({@link lockSiteForGc}). */
  readonly rowLocks: boolean;
}

/**
 * Takes (or renews) a site lease, only while no backup, restoration or verification of the site is PENDING (one may be
 * running: GC could delete the chunks it writes, the layout migration copy items its snapshot reads) and no
 * other owner holds an unexpired lease of that purpose. False when either stands in the way.
 */
export async function takeSiteLease(db: Kysely<Database>, request: SiteLeaseRequest): Promise<boolean> {
  const { siteId, purpose, owner, now, leaseMs } = request;
  return db.transaction().execute(async (trx) => {
    if (request.rowLocks) await lockSiteForGc(trx, siteId);
    const busy = await trx
      .selectFrom('backups')
      .select('id')
      .where('site_id', '=', siteId)
      .where('status', '=', 'PENDING')
      .unionAll(
        trx
          .selectFrom('restorations')
          .select('id')
          .where('site_id', '=', siteId)
          .where('status', '=', 'PENDING'),
      )
      // A verification reads the site's chunks: GC must not delete one under it (a false alarm).
      .unionAll(
        trx
          .selectFrom('verifications')
          .select('id')
          .where('site_id', '=', siteId)
          .where('status', '=', 'PENDING'),
      )
      .limit(1)
      .executeTakeFirst();
    if (busy) return false;
    const held = await trx
      .selectFrom('site_leases')
      .select(['owner', 'expires_at'])
      .where('site_id', '=', siteId)
      .where('purpose', '=', purpose)
      .executeTakeFirst();
    if (held && held.owner !== owner && Number(held.expires_at) > now) return false;
    await trx
      .insertInto('site_leases')
      .values({ site_id: siteId, purpose, owner, expires_at: now + leaseMs })
      .onConflict((oc) =>
        oc.columns(['site_id', 'purpose']).doUpdateSet({ owner, expires_at: now + leaseMs }),
      )
      .execute();
    return true;
  });
}
