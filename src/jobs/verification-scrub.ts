import { firstScrubDue } from '../domain/verification.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { VerificationStore } from '../ports/verification-store.js';
import { sleep } from './sleep.js';

export interface ScrubOptions {
  readonly clock: Clock;
  readonly everyMs: number;
  readonly newId: () => string;
  readonly logger: Logger;
  readonly onWork?: () => void;
  /** Sites queued per pass at most. */
  readonly batch?: number;
}

/**
 * The scrub's scheduler: every READY backup gets a due time spread over the period after it became READY
 * (then one period after each verification), and each site with a backup due gets one SCRUB verification,
 * which the job worker runs: it verifies all the site's due backups, reading a chunk they share once.
 */
export class VerificationScrub {
  constructor(
    private readonly store: VerificationStore,
    private readonly options: ScrubOptions,
  ) {}

  /** One pass; returns how many scrubs it queued. */
  async tick(): Promise<number> {
    const { everyMs } = this.options;
    const queued = await this.store.scheduleScrubs(
      this.options.clock(),
      (backupId, readyAt) => firstScrubDue(backupId, readyAt, everyMs),
      this.options.newId,
      this.options.batch ?? 500,
    );
    if (queued > 0) this.options.onWork?.();
    return queued;
  }

  async run(signal: AbortSignal, tickMs: number): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.options.logger.error({ err: error }, 'verification scrub failed; will retry');
      }
      await sleep(tickMs, signal);
    }
  }
}
