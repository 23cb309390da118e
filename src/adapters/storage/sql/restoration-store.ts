import { sql, type Kysely } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import {
  assertRestorable,
  type JobError,
  type Progress,
  type RestorationRecord,
  type RestorationStatus,
} from '../../../domain/backup.js';
import type {
  IdempotencyClaim,
  NewRestoration,
  RestorationJobState,
  RestorationStore,
} from '../../../ports/backup-store.js';
import {
  emitBackupEvent,
  emitRestorationEvent,
  loadBackup,
  loadRestoration,
  priorResult,
  rememberResult,
  toRestoration,
} from './backup-rows.js';
import type { JobClaimOptions } from './backup-store.js';
import type { Database } from './schema.js';
import { gcHoldsSite } from './site-lock.js';

export const initialJobState: RestorationJobState = {
  phase: 'QUEUED',
  staged: {},
  replaced: {},
  liveAtSwitch: {},
  replacedNames: {},
  replacedVersions: {},
};

/** Retires the generations a restoration was filling (it failed before its switch). */
export async function discardStaging(db: Kysely<Database>, restorationId: string): Promise<void> {
  await db
    .updateTable('generations')
    .set({ state: 'RETIRED', owner_restoration: null })
    .where('owner_restoration', '=', restorationId)
    .where('state', '=', 'BUILDING')
    .execute();
}

/** Ends a restoration whose switch happened: COMPLETED, replaced generations released. */
async function finishSwitched(
  db: Kysely<Database>,
  id: string,
  job: RestorationJobState,
  at: number,
  error: JobError | undefined,
): Promise<void> {
  await db
    .updateTable('restorations')
    .set({
      status: 'COMPLETED',
      finished_at: at,
      error_code: error?.code ?? null,
      error_message: error?.message ?? null,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('id', '=', id)
    .execute();
  const replaced = Object.values(job.replaced).filter((g): g is number => g !== null);
  if (replaced.length > 0) {
    await db
      .updateTable('generations')
      .set({ state: 'RETIRED' })
      .where('id', 'in', replaced)
      .where('state', '=', 'RETIRING')
      .execute();
  }
  await emitRestorationEvent(db, id, at);
}

export class SqlRestorationStore implements RestorationStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: JobClaimOptions,
  ) {}

  async createRestoration(
    restoration: NewRestoration,
    idempotency?: IdempotencyClaim,
  ): Promise<{ restoration: RestorationRecord; created: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      if (idempotency) {
        const prior = await priorResult(trx, restoration.siteId, idempotency);
        const existing = prior === undefined ? undefined : await loadRestoration(trx, prior);
        if (existing) return { restoration: existing, created: false };
      }
      const backup = await loadBackup(trx, restoration.backupId);
      if (!backup || backup.siteId !== restoration.siteId) {
        throw errors.BACKUP_NOT_FOUND(restoration.backupId);
      }
      assertRestorable(backup);
      const pending = await trx
        .selectFrom('restorations')
        .select('id')
        .where('site_id', '=', restoration.siteId)
        .where('status', '=', 'PENDING')
        .executeTakeFirst();
      if (pending) {
        throw errors.RESTORATION_IN_PROGRESS(pending.id);
      }
      await trx
        .insertInto('restorations')
        .values({
          id: restoration.id,
          site_id: restoration.siteId,
          backup_id: restoration.backupId,
          status: 'PENDING',
          requested_at: restoration.requestedAt,
          started_at: null,
          finished_at: null,
          collections: JSON.stringify(restoration.collections),
          safety_backup_id: null,
          progress_done: null,
          progress_total: null,
          error_code: null,
          error_message: null,
          phase: initialJobState.phase,
          state: JSON.stringify(initialJobState),
          definition_mode: restoration.definitionMode ?? 'MERGE',
          lease_owner: null,
          lease_expires_at: null,
        })
        .execute();
      if (idempotency)
        await rememberResult(trx, restoration.siteId, idempotency, restoration.id, restoration.requestedAt);
      await emitRestorationEvent(trx, restoration.id, restoration.requestedAt);
      const created = await loadRestoration(trx, restoration.id);
      if (!created) throw new Error('restoration vanished');
      return { restoration: created, created: true };
    });
  }

  async getRestoration(siteId: string, id: string): Promise<RestorationRecord | undefined> {
    const row = await this.db
      .selectFrom('restorations')
      .selectAll()
      .where('id', '=', id)
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return row && toRestoration(row);
  }

  async listRestorations(
    siteId: string,
    query: { statuses?: readonly RestorationStatus[]; limit: number; offset: number },
  ): Promise<{ restorations: RestorationRecord[]; total: number }> {
    let base = this.db.selectFrom('restorations').where('site_id', '=', siteId);
    if (query.statuses && query.statuses.length > 0) base = base.where('status', 'in', query.statuses);
    const rows = await base
      .selectAll()
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit)
      .offset(query.offset)
      .execute();
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return { restorations: rows.map(toRestoration), total: Number(n) };
  }

  async claimRestoration(
    workerId: string,
    now: number,
    leaseMs: number,
    maxAttempts: number,
  ): Promise<{ restoration: RestorationRecord; job: RestorationJobState } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      for (;;) {
        let candidates = trx
          .selectFrom('restorations')
          .select(['id', 'attempts', 'state', 'safety_backup_id', 'site_id'])
          .where('status', '=', 'PENDING')
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
          .where('site_id', 'not in', (eb) =>
            eb
              .selectFrom('site_leases')
              .select('site_id')
              .where('purpose', '=', 'gc')
              .where('expires_at', '>', now),
          )
          .orderBy('requested_at')
          .orderBy('id')
          .limit(1);
        if (this.options.supportsSkipLocked) candidates = candidates.forUpdate().skipLocked();
        const candidate = await candidates.executeTakeFirst();
        if (!candidate) return undefined;
        if (this.options.supportsSkipLocked && (await gcHoldsSite(trx, candidate.site_id, now)))
          return undefined;
        const job = JSON.parse(candidate.state) as RestorationJobState;
        if (Number(candidate.attempts) >= maxAttempts) {
          const error: JobError = {
            code: 'JOB_INTERRUPTED',
            message: `The restoration was interrupted ${candidate.attempts} times (a worker stopped or crashed) and was given up.`,
          };
          if (job.phase === 'SWITCHED') {
            // Live data was already replaced: the restoration is done, only its safety backup is lost.
            if (candidate.safety_backup_id) {
              await trx
                .updateTable('backups')
                .set({
                  status: 'FAILED',
                  finished_at: now,
                  error_code: error.code,
                  error_message: error.message,
                  lease_owner: null,
                })
                .where('id', '=', candidate.safety_backup_id)
                .where('status', '=', 'PENDING')
                .execute();
              await emitBackupEvent(trx, candidate.safety_backup_id, now);
            }
            await finishSwitched(trx, candidate.id, job, now, {
              code: error.code,
              message: `Live data was restored, but the safety backup was not written: ${error.message}`,
            });
          } else {
            await trx
              .updateTable('restorations')
              .set({
                status: 'FAILED',
                finished_at: now,
                error_code: error.code,
                error_message: error.message,
                lease_owner: null,
                lease_expires_at: null,
              })
              .where('id', '=', candidate.id)
              .execute();
            await discardStaging(trx, candidate.id);
            await emitRestorationEvent(trx, candidate.id, now);
          }
          continue;
        }
        const claimed = await trx
          .updateTable('restorations')
          .set((eb) => ({
            lease_owner: workerId,
            lease_expires_at: now + leaseMs,
            attempts: eb('attempts', '+', 1),
            started_at: eb.fn.coalesce('started_at', sql<number>`${now}`),
          }))
          .where('id', '=', candidate.id)
          .where('status', '=', 'PENDING')
          .returningAll()
          .executeTakeFirst();
        if (!claimed) return undefined;
        if (claimed.safety_backup_id) {
          // The safety backup is written by whoever runs the restoration.
          await trx
            .updateTable('backups')
            .set({ lease_owner: workerId, lease_expires_at: now + leaseMs })
            .where('id', '=', claimed.safety_backup_id)
            .where('status', '=', 'PENDING')
            .execute();
        }
        return { restoration: toRestoration(claimed), job };
      }
    });
  }

  async renewRestoration(
    id: string,
    workerId: string,
    now: number,
    leaseMs: number,
    progress?: Progress,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('restorations')
        .set({
          lease_expires_at: now + leaseMs,
          ...(progress && { progress_done: progress.itemsDone, progress_total: progress.itemsTotal }),
        })
        .where('id', '=', id)
        .where('lease_owner', '=', workerId)
        .where('status', '=', 'PENDING')
        .returning('safety_backup_id')
        .executeTakeFirst();
      if (!result) return false;
      if (result.safety_backup_id) {
        await trx
          .updateTable('backups')
          .set({ lease_expires_at: now + leaseMs })
          .where('id', '=', result.safety_backup_id)
          .where('lease_owner', '=', workerId)
          .execute();
      }
      return true;
    });
  }

  async saveRestorationJob(id: string, workerId: string, job: RestorationJobState): Promise<boolean> {
    const result = await this.db
      .updateTable('restorations')
      .set({ phase: job.phase, state: JSON.stringify(job) })
      .where('id', '=', id)
      .where('lease_owner', '=', workerId)
      .where('status', '=', 'PENDING')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async failRestoration(id: string, workerId: string | null, error: JobError, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      let query = trx
        .updateTable('restorations')
        .set({
          status: 'FAILED',
          finished_at: at,
          error_code: error.code,
          error_message: error.message,
          lease_owner: null,
          lease_expires_at: null,
        })
        .where('id', '=', id)
        .where('status', '=', 'PENDING')
        .where('phase', '!=', 'SWITCHED');
      if (workerId !== null) query = query.where('lease_owner', '=', workerId);
      const result = await query.executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await discardStaging(trx, id);
      await emitRestorationEvent(trx, id, at);
      return true;
    });
  }

  async completeRestoration(id: string, workerId: string, at: number, error?: JobError): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('restorations')
        .select(['state'])
        .where('id', '=', id)
        .where('lease_owner', '=', workerId)
        .where('status', '=', 'PENDING')
        .where('phase', '=', 'SWITCHED')
        .executeTakeFirst();
      if (!row) return false;
      await finishSwitched(trx, id, JSON.parse(row.state) as RestorationJobState, at, error);
      return true;
    });
  }
}
