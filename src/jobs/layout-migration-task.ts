import { noFailpoints, type Failpoints } from '../engine/failpoints.js';
import type { Clock } from '../ports/clock.js';
import type { LayoutMigrationStore } from '../ports/storage.js';
import type { Logger } from '../ports/logger.js';
import { sleep } from './sleep.js';

export interface LayoutMigrationOptions {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly clock: Clock;
  /** This process, as the owner of the site leases it takes. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Rows copied per transaction. */
  readonly batchRows: number;
  /** Pause before looking again when every site left is busy (a job pending) or another process's. */
  readonly idleMs?: number;
  readonly failpoint?: Failpoints;
}

/** What one site's migration came to ('done': another process had moved it already). */
export type SiteOutcome = 'migrated' | 'busy' | 'lost' | 'done';

/**
 * Moves one site to the shared layout if its lease can be taken now: plan, copy batch after batch, switch.
 * Returns 'busy' when the lease was not available (a job pending, or another process on it), 'lost' when
 * the lease was taken over midway (the other process finishes).
 */
export async function migrateSite(
  store: LayoutMigrationStore,
  siteId: string,
  options: Omit<LayoutMigrationOptions, 'idleMs'>,
): Promise<SiteOutcome> {
  const { clock, owner, leaseMs, logger } = options;
  const failpoint = options.failpoint ?? noFailpoints;
  if (!(await store.acquire(siteId, owner, clock(), leaseMs))) return 'busy';
  const started = performance.now();
  const plan = await store.plan(siteId, clock());
  if (plan.generations === 0) {
    // Another process switched it since this one listed it: only the lease just taken goes.
    await store.switchSite(siteId, owner);
    return 'done';
  }
  logger.info({ siteId, generations: plan.generations, items: plan.items }, 'layout migration: site started');
  let rows = 0;
  for (;;) {
    if (options.signal.aborted) {
      await store.release(siteId, owner);
      return 'lost';
    }
    const batch = await store.copyBatch(siteId, owner, clock(), leaseMs, options.batchRows);
    rows += batch.rows;
    if (batch.state === 'lost') return 'lost';
    if (batch.state === 'copied') break;
    await failpoint('layout:batch-copied');
  }
  if (!(await store.switchSite(siteId, owner))) return 'lost';
  await failpoint('layout:switched');
  logger.info(
    { siteId, rows, ms: Math.round(performance.now() - started) },
    'layout migration: site switched to the shared layout',
  );
  return 'migrated';
}

/**
 * The layout migration loop of a process that runs jobs: takes the sites still in the legacy layout one at
 * a time (several processes share them through the site leases), logs each and the count left, and returns
 * once none is left (and no restoration begun by the old release is still filling legacy generations). A
 * site with a pending backup or restoration is skipped and tried again after the jobs.
 */
export async function runLayoutMigration(
  store: LayoutMigrationStore,
  options: LayoutMigrationOptions,
): Promise<void> {
  const { signal, logger } = options;
  const idleMs = options.idleMs ?? 5000;
  let announced = false;
  while (!signal.aborted) {
    let worked = false;
    try {
      const sites = await store.sitesToMigrate(100);
      if (sites.length === 0) {
        if (!(await store.hasLegacyInFlight())) {
          if (announced) logger.info({}, 'layout migration: every site is in the shared layout');
          return;
        }
        // A restoration begun by the old release is still staging legacy generations: wait for it.
        await sleep(idleMs, signal);
        continue;
      }
      if (!announced) {
        logger.info({ sitesLeft: await store.countSitesToMigrate() }, 'layout migration: starting');
        announced = true;
      }
      for (const siteId of sites) {
        if (signal.aborted) return;
        const outcome = await migrateSite(store, siteId, options);
        if (outcome === 'migrated') {
          worked = true;
          logger.info({ sitesLeft: await store.countSitesToMigrate() }, 'layout migration: progress');
        }
      }
    } catch (error) {
      logger.error({ err: error }, 'layout migration failed; will retry');
    }
    if (!worked) await sleep(idleMs, signal);
  }
}
