import { sql, type Kysely, type Selectable } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import type { BackupRecord, JobError } from '../../../domain/backup.js';
import type {
  VerificationRecord,
  VerificationStatus,
  VerificationTrigger,
} from '../../../domain/verification.js';
import type { JobClaimRequest, LeaseRenewal } from '../../../ports/lease-request.js';
import type {
  BackupVerificationResult,
  NewVerification,
  VerificationStore,
  VerificationTotals,
} from '../../../ports/verification-store.js';
import { emitVerificationFailedEvent, toBackup } from './backup-rows.js';
import { claimJob } from './job-lease/claim-job.js';
import { failJob } from './job-lease/fail-job.js';
import { jobHeldBy } from './job-lease/held-by.js';
import { releaseLease } from './job-lease/release-lease.js';
import { renewJobLease } from './job-lease/renew-lease.js';
import type { Database, VerificationsTable } from './schema.js';
import type { SqlCapabilities } from './sql-capabilities.js';

export function toVerification(row: Selectable<VerificationsTable>): VerificationRecord {
  return {
    id: row.id,
    siteId: row.site_id,
    backupId: row.backup_id,
    trigger: row.trigger as VerificationTrigger,
    trialRestore: Number(row.trial_restore) === 1,
    status: row.status as VerificationStatus,
    requestedAt: Number(row.requested_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    progress:
      row.progress_total === null
        ? null
        : { itemsDone: Number(row.progress_done ?? 0), itemsTotal: Number(row.progress_total) },
    backupsVerified: Number(row.backups_verified),
    chunksRead: Number(row.chunks_read),
    bytesRead: Number(row.bytes_read),
  };
}

export class SqlVerificationStore implements VerificationStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly capabilities: SqlCapabilities,
  ) {}

  async requestVerification(
    request: NewVerification,
  ): Promise<{ verification: VerificationRecord; created: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      const backup = await trx
        .selectFrom('backups')
        .select(['id', 'status'])
        .where('id', '=', request.backupId)
        .where('site_id', '=', request.siteId)
        .executeTakeFirst();
      if (!backup) throw errors.BACKUP_NOT_FOUND(request.backupId);
      if (backup.status !== 'READY') throw errors.BACKUP_NOT_VERIFIABLE(backup);
      const pending = await trx
        .selectFrom('verifications')
        .selectAll()
        .where('site_id', '=', request.siteId)
        .where('backup_id', '=', request.backupId)
        .where('status', '=', 'PENDING')
        .executeTakeFirst();
      if (pending) return { verification: toVerification(pending), created: false };
      const row = await trx
        .insertInto('verifications')
        .values({
          id: request.id,
          site_id: request.siteId,
          backup_id: request.backupId,
          trigger: 'ON_DEMAND',
          trial_restore: request.trialRestore ? 1 : 0,
          status: 'PENDING',
          requested_at: request.requestedAt,
          started_at: null,
          finished_at: null,
          error_code: null,
          error_message: null,
          progress_done: null,
          progress_total: null,
          lease_owner: null,
          lease_expires_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { verification: toVerification(row), created: true };
    });
  }

  async getVerification(siteId: string, id: string): Promise<VerificationRecord | undefined> {
    const row = await this.db
      .selectFrom('verifications')
      .selectAll()
      .where('id', '=', id)
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return row && toVerification(row);
  }

  async pendingFor(siteId: string, backupIds: readonly string[]): Promise<Map<string, VerificationRecord>> {
    if (backupIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('verifications')
      .selectAll()
      .where('site_id', '=', siteId)
      .where('backup_id', 'in', [...backupIds])
      .where('status', '=', 'PENDING')
      .orderBy('requested_at')
      .execute();
    return new Map(rows.map((r) => [r.backup_id ?? '', toVerification(r)]));
  }

  async claimVerification(request: JobClaimRequest): Promise<VerificationRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await claimJob(trx, {
        table: 'verifications',
        kind: 'verification',
        request,
        capabilities: this.capabilities,
        giveUp: async (trx, candidate, error) => {
          await failJob(trx, {
            table: 'verifications',
            id: candidate.id,
            error,
            at: request.now,
            workerId: null,
          });
        },
      });
      return claimed && toVerification(claimed);
    });
  }

  async renewVerification(renewal: LeaseRenewal): Promise<boolean> {
    return renewJobLease(this.db, 'verifications', renewal);
  }

  async backupsToVerify(
    verification: VerificationRecord,
    now: number,
    limit: number,
  ): Promise<BackupRecord[]> {
    let query = this.db
      .selectFrom('backups')
      .selectAll()
      .where('site_id', '=', verification.siteId)
      .where('status', '=', 'READY');
    if (verification.backupId !== null) query = query.where('id', '=', verification.backupId);
    else
      query = query
        .where('verify_due_at', 'is not', null)
        .where('verify_due_at', '<=', now)
        .orderBy('verify_due_at')
        .orderBy('id')
        .limit(limit);
    return (await query.execute()).map(toBackup);
  }

  async recordResult(
    verificationId: string,
    workerId: string,
    result: BackupVerificationResult,
    at: number,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const held = await trx
        .selectFrom('verifications')
        .select('id')
        .where('id', '=', verificationId)
        .where(jobHeldBy(workerId))
        .executeTakeFirst();
      if (!held) return false;
      const updated = await trx
        .updateTable('backups')
        .set({
          last_verified_at: at,
          verify_result: result.error ? 'FAILED' : 'PASSED',
          verify_error_code: result.error?.code ?? null,
          verify_error_message: result.error?.message ?? null,
          verify_due_at: result.nextDueAt,
        })
        .where('id', '=', result.backupId)
        .where('status', '=', 'READY')
        .executeTakeFirst();
      if (result.error && Number(updated.numUpdatedRows) > 0)
        await emitVerificationFailedEvent(trx, result.backupId, at);
      return true;
    });
  }

  async finishVerification(
    id: string,
    workerId: string,
    error: JobError | null,
    totals: VerificationTotals,
    at: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('verifications')
      .set({
        status: error ? 'FAILED' : 'PASSED',
        finished_at: at,
        error_code: error?.code ?? null,
        error_message: error?.message ?? null,
        backups_verified: totals.backupsVerified,
        chunks_read: totals.chunksRead,
        bytes_read: totals.bytesRead,
        ...releaseLease,
      })
      .where('id', '=', id)
      .where(jobHeldBy(workerId))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async scheduleScrubs(
    now: number,
    dueOf: (backupId: string, readyAt: number) => number,
    newId: () => string,
    limit: number,
  ): Promise<number> {
    // READY backups the scrub has not seen yet get their first due time (spread over the period).
    for (;;) {
      const fresh = await this.db
        .selectFrom('backups')
        .select(['id', 'finished_at', 'requested_at'])
        .where('status', '=', 'READY')
        .where('verify_due_at', 'is', null)
        .limit(500)
        .execute();
      for (const b of fresh)
        await this.db
          .updateTable('backups')
          .set({ verify_due_at: dueOf(b.id, Number(b.finished_at ?? b.requested_at)) })
          .where('id', '=', b.id)
          .where('verify_due_at', 'is', null)
          .execute();
      if (fresh.length < 500) break;
    }
    const sites = await this.db
      .selectFrom('backups')
      .select('site_id')
      .distinct()
      .where('status', '=', 'READY')
      .where('verify_due_at', '<=', now)
      .where(
        sql<boolean>`NOT EXISTS (SELECT 1 FROM verifications v WHERE v.site_id = backups.site_id
          AND v.status = 'PENDING' AND v.trigger = 'SCRUB')`,
      )
      .limit(limit)
      .execute();
    let queued = 0;
    for (const { site_id } of sites) {
      const inserted = await this.db
        .insertInto('verifications')
        .values({
          id: newId(),
          site_id,
          backup_id: null,
          trigger: 'SCRUB',
          trial_restore: 0,
          status: 'PENDING',
          requested_at: now,
          started_at: null,
          finished_at: null,
          error_code: null,
          error_message: null,
          progress_done: null,
          progress_total: null,
          lease_owner: null,
          lease_expires_at: null,
        })
        // Another scheduler queued this site's scrub first (verifications_one_scrub).
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) queued += 1;
    }
    return queued;
  }
}
