import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Progress } from '../domain/backup.js';
import { runBackup } from '../engine/backup-job.js';
import { runItemJob } from '../engine/item-job.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { runVerification, type VerificationDeps } from '../engine/verification-job.js';
import type { JobLease } from '../engine/job-lease.js';
import { runRestoration } from '../engine/restoration-job.js';
import type { LeaseRenewal } from '../ports/lease-request.js';
import type { Logger } from '../ports/logger.js';

/** A job is given up after this many claims (each crash or lost lease costs one). */
export const MAX_ATTEMPTS = 3;

export interface JobWorkerOptions {
  readonly pollMs: number;
  readonly logger: Logger;
  /** How often the lease is renewed and progress recorded. */
  readonly heartbeatMs?: number;
  /**
   * Jobs `run` keeps going at once (default 1), of which at most one is a restoration. Small backups spend
   * most of their time waiting on the database and the blob store, so several at once keep one process busy.
   */
  readonly concurrency?: number;
  /** Told when a job stops running here: its kind, the status it is left in, and how long it ran (s). */
  readonly onJobEnd?: (kind: JobKind, status: string, seconds: number) => void;
  /** Told when a verification ends here: the distinct chunks and the stored bytes it read. */
  readonly onVerified?: (chunks: number, bytes: number) => void;
}

export type JobKind = 'backup' | 'restoration' | 'item-job' | 'verification';

/** A job running in this worker, and its latest progress (for the metrics). */
export interface RunningJobView {
  readonly kind: JobKind;
  readonly progress: Progress | undefined;
}

/** A claimed job, ready to run under its lease. */
type ClaimedJob = { readonly kind: JobKind; run(signal: AbortSignal): Promise<void> };

/**
 * The worker loop: claims PENDING backups and restorations with a lease, up to `concurrency` at once, renews
 * each lease (recording progress) while its job runs, and aborts a job when its lease is lost or the job was
 * canceled or deleted meanwhile. A job whose worker died is claimed again once its lease expires. While jobs
 * are waiting the loop claims the next one as soon as a slot frees; it sleeps only when none was found.
 */
export class JobWorker {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private wake: (() => void) | undefined;
  /** Set by nudge: a claim that started before the nudge may have missed the new work. */
  private nudged = false;
  private readonly active = new Set<{ kind: JobKind; progress: Progress | undefined }>();

  constructor(
    private readonly deps: VerificationDeps,
    private readonly options: JobWorkerOptions,
  ) {}

  /** Makes the loop look for work now (new work was just created). */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** True while no job runs (for tests and shutdown). */
  get isIdle(): boolean {
    return this.active.size === 0;
  }

  /** The jobs running now with their progress. */
  runningJobs(): readonly RunningJobView[] {
    return [...this.active];
  }

  async run(signal: AbortSignal): Promise<void> {
    const slots = Math.max(1, this.options.concurrency ?? 1);
    const jobs = new Set<Promise<void>>();
    let restoring = false;
    const stop = () => this.wake?.();
    signal.addEventListener('abort', stop, { once: true });
    try {
      while (!signal.aborted) {
        this.nudged = false;
        let failed = false;
        while (jobs.size < slots && !signal.aborted) {
          let job: ClaimedJob | undefined;
          try {
            job = await this.claim(!restoring);
          } catch (error) {
            this.options.logger.error({ err: error }, 'job loop failed; will retry');
            failed = true;
            break;
          }
          if (!job) break;
          if (job.kind === 'restoration') restoring = true;
          const kind = job.kind;
          const tracked: Promise<void> = job
            .run(signal)
            .catch((error: unknown) => this.options.logger.error({ err: error }, 'a job failed unexpectedly'))
            .finally(() => {
              jobs.delete(tracked);
              if (kind === 'restoration') restoring = false;
              // A freed slot (or the restoration slot) is worth a claim at once.
              this.nudge();
            });
          jobs.add(tracked);
        }
        if (signal.aborted) break;
        // New work (a nudge, or a job that ended) since the claims began: claim again at once. Otherwise
        // wait for one, or for the poll while a slot is free (after a claim that found nothing, or failed).
        if (this.nudged && !failed && jobs.size < slots) continue;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (jobs.size < slots) timer = setTimeout(resolve, this.options.pollMs);
        });
        clearTimeout(timer);
        this.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
    await Promise.allSettled(jobs);
  }

  /** Claims and runs one job; false when there was none. */
  async runOne(signal: AbortSignal): Promise<boolean> {
    const job = await this.claim(true);
    if (!job) return false;
    await job.run(signal);
    return true;
  }

  /**
   * Claims the oldest PENDING backup, else (when `restorations`) the oldest PENDING restoration, else the
   * oldest PENDING job by filter, then the oldest PENDING verification (it only reads: it goes after work that
   * writes).
   */
  private async claim(restorations: boolean): Promise<ClaimedJob | undefined> {
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
      return {
        kind: 'backup',
        run: (signal) =>
          this.withLease(
            'backup',
            signal,
            (lease) => runBackup(deps, backup, lease),
            (p) => deps.backups.renewBackup(renewal(backup.id, p)),
            async () => (await deps.backups.getBackup(backup.siteId, backup.id))?.status,
          ),
      };
    }
    const restoration = restorations ? await deps.restorations.claimRestoration(claim) : undefined;
    if (!restoration) {
      const itemJob = await this.claimItemJob(claim, renewal);
      if (itemJob) return itemJob;
      const verification = await deps.verifications.claimVerification(claim);
      if (!verification) return undefined;
      return {
        kind: 'verification',
        run: (signal) =>
          this.withLease(
            'verification',
            signal,
            async (lease) => {
              const counts = await runVerification(deps, verification, lease);
              if (counts) this.options.onVerified?.(counts.chunksRead, counts.bytesRead);
            },
            (p) => deps.verifications.renewVerification(renewal(verification.id, p)),
            async () =>
              (await deps.verifications.getVerification(verification.siteId, verification.id))?.status,
          ),
      };
    }
    return {
      kind: 'restoration',
      run: (signal) =>
        this.withLease(
          'restoration',
          signal,
          (lease) => runRestoration(deps, restoration.restoration, restoration.job, lease),
          (p) => deps.restorations.renewRestoration(renewal(restoration.restoration.id, p)),
          async () =>
            (
              await deps.restorations.getRestoration(
                restoration.restoration.siteId,
                restoration.restoration.id,
              )
            )?.status,
        ),
    };
  }

  private async claimItemJob(
    claim: Parameters<EngineDeps['itemJobs']['claim']>[0],
    renewal: (id: string, progress: Progress | undefined) => LeaseRenewal,
  ): Promise<ClaimedJob | undefined> {
    const { deps } = this;
    const job = await deps.itemJobs.claim(claim);
    if (!job) return undefined;
    return {
      kind: 'item-job',
      run: (signal) =>
        this.withLease(
          'item-job',
          signal,
          (lease) => runItemJob(deps, job, lease),
          (p) => deps.itemJobs.renew(renewal(job.id, p)),
          async () => (await deps.itemJobs.get(job.siteId, job.id))?.status,
        ),
    };
  }

  private async withLease(
    kind: JobKind,
    signal: AbortSignal,
    work: (lease: JobLease) => Promise<void>,
    renew: (progress: Progress | undefined) => Promise<boolean>,
    statusNow: () => Promise<string | undefined>,
  ): Promise<void> {
    const started = performance.now();
    const view: { kind: JobKind; progress: Progress | undefined } = { kind, progress: undefined };
    this.active.add(view);
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
          view.progress = p;
        },
      });
    } finally {
      clearInterval(timer);
      signal.removeEventListener('abort', stop);
      this.active.delete(view);
    }
    const { onJobEnd } = this.options;
    if (onJobEnd) {
      // One read per job, only when someone counts: the runners record the outcome but do not return it.
      const status = await statusNow().catch(() => undefined);
      onJobEnd(kind, status ?? 'UNKNOWN', (performance.now() - started) / 1000);
    }
  }
}
