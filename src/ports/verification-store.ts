/**
 * The verification and backup-health side of the storage port: verification jobs (claimed under a lease,
 * as backups and restorations are), each backup's last verification result, the scrub's schedule, and each
 * site's backup health. Every state change that has a webhook event writes it in the same transaction.
 */
import type { BackupRecord, JobError } from '../domain/backup.js';
import type { BackupHealthState, VerificationRecord } from '../domain/verification.js';
import type { JobClaimRequest, LeaseRenewal } from './lease-request.js';

export interface NewVerification {
  readonly id: string;
  readonly siteId: string;
  readonly backupId: string;
  readonly trialRestore: boolean;
  readonly requestedAt: number;
}

/** The outcome of verifying one backup, recorded on the backup. */
export interface BackupVerificationResult {
  readonly backupId: string;
  readonly error: JobError | null;
  /** When the scrub checks this backup next. */
  readonly nextDueAt: number;
}

export interface VerificationTotals {
  readonly backupsVerified: number;
  readonly chunksRead: number;
  readonly bytesRead: number;
}

export interface VerificationStore {
  /**
   * Inserts a PENDING verification of a READY backup; when one of that backup is already PENDING, returns it
   * instead (created: false).
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_VERIFIABLE
   */
  requestVerification(
    request: NewVerification,
  ): Promise<{ verification: VerificationRecord; created: boolean }>;
  getVerification(siteId: string, id: string): Promise<VerificationRecord | undefined>;
  /** The newest verification of each of these backups that is PENDING, by backup id. */
  pendingFor(siteId: string, backupIds: readonly string[]): Promise<Map<string, VerificationRecord>>;
  /** Claims the oldest PENDING verification whose lease is free (never one of a site under GC). */
  claimVerification(request: JobClaimRequest): Promise<VerificationRecord | undefined>;
  renewVerification(renewal: LeaseRenewal): Promise<boolean>;
  /**
   * What a claimed verification checks: its backup while READY; for a scrub, the site's READY backups due
   * at `now` (at most `limit`, the longest overdue first).
   */
  backupsToVerify(verification: VerificationRecord, now: number, limit: number): Promise<BackupRecord[]>;
  /**
   * Records a backup's verification result (while the worker holds the lease), and for a failure emits
   * `safekeep.backup_verification_failed` in the same transaction. False when the lease was lost.
   */
  recordResult(
    verificationId: string,
    workerId: string,
    result: BackupVerificationResult,
    at: number,
  ): Promise<boolean>;
  /** PENDING → PASSED, or FAILED with the first damage found, with the totals read. */
  finishVerification(
    id: string,
    workerId: string,
    error: JobError | null,
    totals: VerificationTotals,
    at: number,
  ): Promise<boolean>;
  /**
   * Gives READY backups that have no scrub due time yet one (`dueOf`), then inserts a PENDING scrub for
   * every site (at most `limit`) that has a READY backup due at `now` and no scrub pending. Returns how many
   * scrubs were queued; any number of processes may call it at once (one pending scrub per site).
   */
  scheduleScrubs(
    now: number,
    dueOf: (backupId: string, readyAt: number) => number,
    newId: () => string,
    limit: number,
  ): Promise<number>;
}

/** A site as the backup-health watch reads it. */
export interface HealthRow {
  readonly siteId: string;
  readonly createdAt: number;
  readonly intervalDays: number | null;
  readonly state: BackupHealthState;
  readonly changedAt: number | null;
  /** When the newest full ON_DEMAND or SCHEDULE backup of the site became READY. */
  readonly lastGoodBackupAt: number | null;
}

export interface HealthStore {
  /** Sites by id after `afterId` (at most `limit`), with what their health depends on. */
  sites(afterId: string, limit: number): Promise<HealthRow[]>;
  /** One site's, or undefined when there is no such site. */
  site(siteId: string): Promise<HealthRow | undefined>;
  /**
   * Compare-and-set of a site's health from `from` to `to`, writing the event (`eventBody`) in the same
   * transaction. False when the site was not in `from` (another watcher changed it first).
   */
  transition(
    siteId: string,
    from: BackupHealthState,
    to: BackupHealthState,
    at: number,
    eventBody: Record<string, unknown>,
  ): Promise<boolean>;
  /** How many sites are OVERDUE now. */
  countOverdue(): Promise<number>;
}
