import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Progress } from '../domain/backup.js';
import { runBackup } from '../engine/backup-job.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import type { JobLease } from '../engine/job-lease.js';
import { runRestoration } from '../engine/restoration-job.js';
import type { Logger } from '../ports/logger.js';
import { sleep } from './sleep.js';

/** A job is given up after this many claims (each crash or lost lease costs one). */
export const MAX_ATTEMPTS = 3;

export interface JobWorkerOptions {
  readonly pollMs: number;
  readonly logger: Logger;
  /** How often the lease is renewed and progress recorded. */
  readonly heartbeatMs?: number;
}

/**
 * The worker loop: claims one PENDING backup or restoration at a time with a lease, renews the lease
 * (recording progress) while the job runs, and aborts the job when the lease is lost or the job was
 * canceled or deleted meanwhile. A job whose worker died is claimed again once its lease expires.
 */
export class JobWorker {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private wake: (() => void) | undefined;
  private idle = true;

  constructor(
    private readonly deps: EngineDeps,
    private readonly options: JobWorkerOptions,
  ) {}

  /** Makes the loop look for work now (new work was just created). */
  nudge(): void {
    this.wake?.();
  }

  /** True while no job runs (for tests and shutdown). */
  get isIdle(): boolean {
    return this.idle;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let worked = false;
      try {
        worked = await this.runOne(signal);
      } catch (error) {
        this.options.logger.error({ err: error }, 'job loop failed; will retry');
      }
      if (!worked) {
        await Promise.race([
          sleep(this.options.pollMs, signal),
          new Promise<void>((resolve) => {
            this.wake = resolve;
          }),
        ]);
        this.wake = undefined;
      }
    }
  }

  /** Claims and runs one job; false when there was none. */
  async runOne(signal: AbortSignal): Promise<boolean> {
    const { deps } = this;
    const claim = {
      workerId: this.workerId,
      now: deps.clock(),
      leaseMs: deps.leaseMs,
      maxAttempts: MAX_ATTEMPTS,
    };
    // Each heartbeat renews from the time it runs.
    const renewal = (id: string, progress: Progress | undefined) => ({
      id,
      workerId: this.workerId,
      now: deps.clock(),
      leaseMs: deps.leaseMs,
      ...(progress && { progress }),
    });
    const backup = await deps.backups.claimBackup(claim);
    if (backup) {
      await this.withLease(
        signal,
        (lease) => runBackup(deps, backup, lease),
        (p) => deps.backups.renewBackup(renewal(backup.id, p)),
      );
      return true;
    }
    const restoration = await deps.restorations.claimRestoration(claim);
    if (restoration) {
      await this.withLease(
        signal,
        (lease) => runRestoration(deps, restoration.restoration, restoration.job, lease),
        (p) => deps.restorations.renewRestoration(renewal(restoration.restoration.id, p)),
      );
      return true;
    }
    return false;
  }

  private async withLease(
    signal: AbortSignal,
    work: (lease: JobLease) => Promise<void>,
    renew: (progress: Progress | undefined) => Promise<boolean>,
  ): Promise<void> {
    this.idle = false;
    const abort = new AbortController();
    const stop = () => abort.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    let progress: Progress | undefined;
    let reported: Progress | undefined;
    const heartbeatMs = this.options.heartbeatMs ?? Math.min(1000, this.deps.leaseMs / 3);
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      const sending = progress === reported ? undefined : progress;
      renew(sending)
        .then((held) => {
          reported = sending ?? reported;
          if (!held) abort.abort(new Error('lease lost, or the job was canceled or deleted'));
        })
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'renewing a job lease failed'))
        .finally(() => {
          renewing = false;
        });
    }, heartbeatMs);
    try {
      await work({
        workerId: this.workerId,
        signal: abort.signal,
        progress: (p) => {
          progress = p;
        },
      });
    } finally {
      clearInterval(timer);
      signal.removeEventListener('abort', stop);
      this.idle = true;
    }
  }
}
