import { sql, type Kysely, type SqlBool } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import {
  assertRestorable,
  type JobError,
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
import type { JobClaimRequest, LeaseRenewal } from '../../../ports/lease-request.js';
import { claimJob } from './job-lease/claim-job.js';
import { failJob } from './job-lease/fail-job.js';
import { heldBy, jobHeldBy } from './job-lease/held-by.js';
import { releaseLease } from './job-lease/release-lease.js';
import { renewJobLease } from './job-lease/renew-lease.js';
import { takeLease } from './job-lease/take-lease.js';
import type { Database } from './schema.js';
import type { SqlCapabilities } from './sql-capabilities.js';

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
      ...releaseLease,
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

/** A restoration past its switch: it can only complete. */
const notSwitched = sql<SqlBool>`${sql.ref('phase')} != ${'SWITCHED'}`;

/**
 * Gives up a restoration claimed too many times (see claimJob). Before its switch it fails and what it
 * staged is discarded; after it, live data was already replaced, so it completes, and only its safety
 * backup is lost.
 */
async function giveUpRestoration(
  trx: Kysely<Database>,
  id: string,
  error: JobError,
  now: number,
): Promise<void> {
  const row = await trx
    .selectFrom('restorations')
    .select(['state', 'safety_backup_id'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const job = JSON.parse(row.state) as RestorationJobState;
  if (job.phase === 'SWITCHED') {
    if (row.safety_backup_id) {
      await failJob(trx, { table: 'backups', id: row.safety_backup_id, error, at: now, workerId: null });
      await emitBackupEvent(trx, row.safety_backup_id, now);
    }
    await finishSwitched(trx, id, job, now, {
      code: error.code,
      message: `Live data was restored, but the safety backup was not written: ${error.message}`,
    });
  } else {
    await failJob(trx, { table: 'restorations', id, error, at: now, workerId: null });
    await discardStaging(trx, id);
    await emitRestorationEvent(trx, id, now);
  }
}

export class SqlRestorationStore implements RestorationStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly capabilities: SqlCapabilities,
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
    request: JobClaimRequest,
  ): Promise<{ restoration: RestorationRecord; job: RestorationJobState } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await claimJob(trx, {
        table: 'restorations',
        kind: 'restoration',
        request,
        capabilities: this.capabilities,
        giveUp: (trx, candidate, error) => giveUpRestoration(trx, candidate.id, error, request.now),
      });
      if (!claimed) return undefined;
      if (claimed.safety_backup_id) {
        // The safety backup is written by whoever runs the restoration.
        await trx
          .updateTable('backups')
          .set(takeLease(request))
          .where('id', '=', claimed.safety_backup_id)
          .where('status', '=', 'PENDING')
          .execute();
      }
      return { restoration: toRestoration(claimed), job: JSON.parse(claimed.state) as RestorationJobState };
    });
  }

  async renewRestoration(renewal: LeaseRenewal): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await renewJobLease(trx, 'restorations', renewal))) return false;
      // The safety backup's lease, which the restoration's worker holds from the switch on, goes along.
      await trx
        .updateTable('backups')
        .set({ lease_expires_at: renewal.now + renewal.leaseMs })
        .where('id', '=', (eb) =>
          eb.selectFrom('restorations').select('safety_backup_id').where('id', '=', renewal.id),
        )
        .where(heldBy(renewal.workerId))
        .execute();
      return true;
    });
  }

  async saveRestorationJob(id: string, workerId: string, job: RestorationJobState): Promise<boolean> {
    const result = await this.db
      .updateTable('restorations')
      .set({ phase: job.phase, state: JSON.stringify(job) })
      .where('id', '=', id)
      .where(jobHeldBy(workerId))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async failRestoration(id: string, workerId: string | null, error: JobError, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const failed = await failJob(trx, {
        table: 'restorations',
        id,
        error,
        at,
        workerId,
        // Past the switch, live data was replaced: the restoration can only complete.
        unless: notSwitched,
      });
      if (!failed) return false;
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
        .where(jobHeldBy(workerId))
        .where('phase', '=', 'SWITCHED')
        .executeTakeFirst();
      if (!row) return false;
      await finishSwitched(trx, id, JSON.parse(row.state) as RestorationJobState, at, error);
      return true;
    });
  }
}
