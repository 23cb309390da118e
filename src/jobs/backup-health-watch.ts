import { siteHealthBody, siteHealthOf, type BackupHealthState } from '../domain/verification.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { HealthStore } from '../ports/verification-store.js';
import { sleep } from './sleep.js';

export interface HealthWatchOptions {
  readonly clock: Clock;
  readonly defaultIntervalDays: number;
  readonly graceMs: number;
  readonly logger: Logger;
  /** Sites read per query. */
  readonly batch?: number;
}

/**
 * The backup-health watch (README, "Backup health"): a pass reads every site with the newest backup that
 * counts for it, and moves each site whose state should change from OK to OVERDUE or back, by
 * compare-and-set on its row with the webhook event in the same transaction. However many processes
 * watch, each change is recorded, and announced, once.
 */
export class BackupHealthWatch {
  constructor(
    private readonly store: HealthStore,
    private readonly options: HealthWatchOptions,
  ) {}

  /** One pass over every site; returns the changes this pass recorded. */
  async tick(): Promise<{ overdue: number; recovered: number }> {
    const now = this.options.clock();
    const changes = { overdue: 0, recovered: 0 };
    let after = '';
    for (;;) {
      const rows = await this.store.sites(after, this.options.batch ?? 500);
      if (rows.length === 0) break;
      for (const row of rows) {
        const health = siteHealthOf(row, this.options.defaultIntervalDays, this.options.graceMs);
        const should: BackupHealthState = now > health.overdueAfter ? 'OVERDUE' : 'OK';
        if (should === row.state) continue;
        const body = { site: siteHealthBody({ ...health, state: should, changedAt: now }) };
        if (await this.store.transition(row.siteId, row.state, should, now, body)) {
          if (should === 'OVERDUE') changes.overdue += 1;
          else changes.recovered += 1;
        }
      }
      after = rows[rows.length - 1]?.siteId ?? after;
    }
    return changes;
  }

  async run(signal: AbortSignal, tickMs: number): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.options.logger.error({ err: error }, 'backup health watch failed; will retry');
      }
      await sleep(tickMs, signal);
    }
  }
}
