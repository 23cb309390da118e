/**
 * Backup verification and backup health as the domain sees them: records and the pure rules around them
 * (when a backup is next due for its periodic check, and whether a site's backups are overdue). No I/O here.
 */
import type { JobError, Progress } from './backup.js';

export type VerificationStatus = 'PENDING' | 'PASSED' | 'FAILED';
/** ON_DEMAND: one backup, asked for through the API. SCRUB: the site's backups due for their periodic check. */
export type VerificationTrigger = 'ON_DEMAND' | 'SCRUB';

export interface VerificationRecord {
  readonly id: string;
  readonly siteId: string;
  /** The backup verified; null for a scrub (it verifies every backup of the site that was due). */
  readonly backupId: string | null;
  readonly trigger: VerificationTrigger;
  /** Also restore the backup into scratch item sets that are thrown away, and count what arrived. */
  readonly trialRestore: boolean;
  readonly status: VerificationStatus;
  readonly requestedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** The first damage found (INTEGRITY_*), or why the job could not run. */
  readonly error: JobError | null;
  readonly progress: Progress | null;
  readonly backupsVerified: number;
  /** Distinct chunks read: a chunk several verified backups share is read once. */
  readonly chunksRead: number;
  /** Stored (compressed) bytes read: chunks and manifests. */
  readonly bytesRead: number;
}

/** What a backup shows of its last verification. */
export interface BackupVerificationState {
  readonly lastVerifiedAt: number | null;
  readonly result: 'PASSED' | 'FAILED' | null;
  readonly error: JobError | null;
}

export const DAY_MS = 24 * 60 * 60 * 1000;
export const HOUR_MS = 60 * 60 * 1000;

/**
 * When a READY backup is first due for the scrub: at a point of the period after it became READY that its
 * id decides (uniformly spread, and the same whoever computes it), so that backups made together are not all
 * checked together. Within `periodMs` of `readyAt`, so that the first check comes in time.
 */
export function firstScrubDue(backupId: string, readyAt: number, periodMs: number): number {
  let h = 2166136261;
  for (let i = 0; i < backupId.length; i++) {
    h ^= backupId.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return readyAt + Math.floor((h / 2 ** 32) * periodMs);
}

/**
 * When a backup verified at `verifiedAt` is due again: one period later, less the slack the scrub needs to
 * get to it (a tick, a queue), so that no backup goes unchecked longer than the period.
 */
export function nextScrubDue(verifiedAt: number, periodMs: number): number {
  return verifiedAt + periodMs - Math.min(periodMs / 10, DAY_MS);
}

export type BackupHealthState = 'OK' | 'OVERDUE';

/** A site's backup health (README, "Backup health"). */
export interface SiteHealth {
  readonly siteId: string;
  readonly state: BackupHealthState;
  /** When the state last changed; null while it never did. */
  readonly changedAt: number | null;
  /** The newest READY backup that counts (full, on demand or scheduled): when it became READY. */
  readonly lastGoodBackupAt: number | null;
  /** The site's automatic backup interval. */
  readonly intervalMs: number;
  /** After this instant without a newer good backup, the site is OVERDUE. */
  readonly overdueAfter: number;
}

/**
 * Whether a site's backups are overdue at `now`: none of the backups that count became READY within its
 * interval plus the grace period. A site that never had one counts from its creation.
 */
export function overdueAfter(
  lastGoodBackupAt: number | null,
  createdAt: number,
  intervalMs: number,
  graceMs: number,
): number {
  return (lastGoodBackupAt ?? createdAt) + intervalMs + graceMs;
}

/** A site's health as its row and the deployment's settings give it (the state is the recorded one). */
export function siteHealthOf(
  row: {
    readonly siteId: string;
    readonly createdAt: number;
    readonly intervalDays: number | null;
    readonly state: BackupHealthState;
    readonly changedAt: number | null;
    readonly lastGoodBackupAt: number | null;
  },
  defaultIntervalDays: number,
  graceMs: number,
): SiteHealth {
  const intervalMs = (row.intervalDays ?? defaultIntervalDays) * DAY_MS;
  return {
    siteId: row.siteId,
    state: row.state,
    changedAt: row.changedAt,
    lastGoodBackupAt: row.lastGoodBackupAt,
    intervalMs,
    overdueAfter: overdueAfter(row.lastGoodBackupAt, row.createdAt, intervalMs, graceMs),
  };
}

/** A site's health on the wire (health detail, dashboard, webhook events). */
export function siteHealthBody(health: SiteHealth): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    siteId: health.siteId,
    state: health.state,
    changedDate: iso(health.changedAt),
    lastGoodBackupDate: iso(health.lastGoodBackupAt),
    overdueAfterDate: iso(health.overdueAfter),
  };
}
