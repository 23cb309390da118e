import { dueSlot, nextDueInPhase } from '../domain/backup.js';
import type { ScheduleStore } from '../ports/backup-store.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import type { Logger } from '../ports/logger.js';
import { sleep } from './sleep.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface SchedulerOptions {
  readonly clock: Clock;
  readonly defaultIntervalDays: number;
  readonly newId: () => string;
  readonly logger: Logger;
  readonly onWork?: () => void;
  /** Sites handled per tick. */
  readonly batch?: number;
}

/**
 * Automatic backups (backups-api.md §5): every site gets a SCHEDULE backup every interval, in the phase of
 * its creation. A tick takes each due slot exactly once (a compare-and-set on the site's next due time,
 * plus a unique slot per site), so any number of schedulers in any number of processes never double-book;
 * after downtime a site gets exactly one catch-up backup.
 */
export class Scheduler {
  constructor(
    private readonly store: Pick<Storage, 'collections'> & { schedule: ScheduleStore },
    private readonly options: SchedulerOptions,
  ) {}

  /** One pass over the due sites; returns how many backups it created. */
  async tick(): Promise<number> {
    const now = this.options.clock();
    let created = 0;
    for (;;) {
      const due = await this.store.schedule.dueSites(now, this.options.batch ?? 500);
      if (due.length === 0) break;
      let progressed = false;
      for (const site of due) {
        const intervalMs = (site.intervalDays ?? this.options.defaultIntervalDays) * DAY_MS;
        if (Number.isNaN(site.nextDueAt)) {
          // Never scheduled: the first backup is due one interval after the site was created.
          await this.store.schedule.setNextDue(
            site.siteId,
            nextDueInPhase(site.createdAt, intervalMs, site.createdAt),
          );
          progressed = true;
          continue;
        }
        const slot = dueSlot(site.createdAt, intervalMs, site.nextDueAt, now);
        if (!slot) continue;
        const collections = await this.store.collections.names(site.siteId);
        const taken = await this.store.schedule.takeSlot(site.siteId, site.nextDueAt, slot.nextDueAt, {
          id: this.options.newId(),
          siteId: site.siteId,
          trigger: 'SCHEDULE',
          requestedAt: now,
          requestedCollections: null,
          collections,
          scheduleSlot: slot.slot,
        });
        progressed = true;
        if (taken) created += 1;
      }
      if (!progressed) break;
    }
    if (created > 0) this.options.onWork?.();
    return created;
  }

  async run(signal: AbortSignal, tickMs: number): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.options.logger.error({ err: error }, 'scheduler tick failed; will retry');
      }
      await sleep(tickMs, signal);
    }
  }
}
