import { sql, type Kysely, type SqlBool } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import {
  assertCancelable,
  beyondRetention,
  TRANSFER_TRIGGERS,
  typeOfTrigger,
  type BackupRecord,
  type BackupStatus,
  type BackupTrigger,
  type BackupType,
  type JobError,
} from '../../../domain/backup.js';
import type {
  BackupBase,
  BackupStore,
  CollectionState,
  IdempotencyClaim,
  NewBackup,
  Retention,
} from '../../../ports/backup-store.js';
import type { ManifestRef, CollectionRef } from '../../../domain/backup.js';
import { emitBackupEvent, loadBackup, priorResult, rememberResult, toBackup } from './backup-rows.js';
import type { JobClaimRequest, LeaseRenewal } from '../../../ports/lease-request.js';
import { claimJob } from './job-lease/claim-job.js';
import { failJob } from './job-lease/fail-job.js';
import { jobHeldBy } from './job-lease/held-by.js';
import { releaseLease } from './job-lease/release-lease.js';
import { gcHoldsSite, sitesClosedToJobs } from './site-lock.js';
import { renewJobLease } from './job-lease/renew-lease.js';
import type { Database } from './schema.js';
import type { SqlCapabilities } from './sql-capabilities.js';

const notFound = (id: string) => errors.BACKUP_NOT_FOUND(id);

/** Inserts a backup row (no event, no checks): shared by creation, the scheduler and the switch. */
export async function insertBackup(db: Kysely<Database>, backup: NewBackup): Promise<void> {
  await db
    .insertInto('backups')
    .values({
      id: backup.id,
      site_id: backup.siteId,
      status: 'PENDING',
      type: typeOfTrigger(backup.trigger),
      trigger: backup.trigger,
      requested_at: backup.requestedAt,
      started_at: null,
      finished_at: null,
      deleted_at: null,
      snapshot_at: null,
      size_bytes: null,
      item_count: null,
      collections: JSON.stringify(backup.collections),
      requested_collections:
        backup.requestedCollections === null ? null : JSON.stringify(backup.requestedCollections),
      progress_done: null,
      progress_total: null,
      error_code: null,
      error_message: null,
      manifest_key: null,
      manifest_sha256: null,
      manifest_size: null,
      restoration_id: backup.restorationId ?? null,
      schedule_slot: backup.scheduleSlot ?? null,
      lease_owner: null,
      lease_expires_at: null,
    })
    .execute();
}

/** Moves a backup to DELETED (with its event) inside the caller's transaction. */
async function markDeleted(db: Kysely<Database>, id: string, at: number): Promise<void> {
  await db
    .updateTable('backups')
    .set({ status: 'DELETED', deleted_at: at, ...releaseLease })
    .where('id', '=', id)
    .where('status', '!=', 'DELETED')
    .execute();
  await emitBackupEvent(db, id, at);
}

export class SqlBackupStore implements BackupStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly capabilities: SqlCapabilities,
  ) {}

  async createBackup(
    backup: NewBackup,
    idempotency?: IdempotencyClaim,
  ): Promise<{ backup: BackupRecord; created: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      if (idempotency) {
        const prior = await priorResult(trx, backup.siteId, idempotency);
        const existing = prior === undefined ? undefined : await loadBackup(trx, prior);
        if (existing) return { backup: existing, created: false };
      }
      if (backup.trigger === 'ON_DEMAND') {
        const pending = await trx
          .selectFrom('backups')
          .select('id')
          .where('site_id', '=', backup.siteId)
          .where('status', '=', 'PENDING')
          .where('trigger', '=', 'ON_DEMAND')
          .executeTakeFirst();
        if (pending) {
          throw errors.BACKUP_ALREADY_IN_PROGRESS(pending.id);
        }
      }
      await insertBackup(trx, backup);
      if (idempotency) await rememberResult(trx, backup.siteId, idempotency, backup.id, backup.requestedAt);
      const created = await emitBackupEvent(trx, backup.id, backup.requestedAt);
      if (!created) throw new Error('backup vanished');
      return { backup: created, created: true };
    });
  }

  async getBackup(siteId: string, id: string): Promise<BackupRecord | undefined> {
    const row = await this.db
      .selectFrom('backups')
      .selectAll()
      .where('id', '=', id)
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return row && toBackup(row);
  }

  async listBackups(
    siteId: string,
    query: {
      statuses?: readonly BackupStatus[];
      types?: readonly BackupType[];
      limit: number;
      offset: number;
    },
  ): Promise<{ backups: BackupRecord[]; total: number }> {
    let base = this.db.selectFrom('backups').where('site_id', '=', siteId);
    if (query.statuses && query.statuses.length > 0) base = base.where('status', 'in', query.statuses);
    if (query.types && query.types.length > 0) base = base.where('type', 'in', query.types);
    const rows = await base
      .selectAll()
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit)
      .offset(query.offset)
      .execute();
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return { backups: rows.map(toBackup), total: Number(n) };
  }

  async cancelBackup(siteId: string, id: string, at: number): Promise<BackupRecord> {
    return this.db.transaction().execute(async (trx) => {
      const backup = await loadBackup(trx, id);
      if (!backup || backup.siteId !== siteId) throw notFound(id);
      assertCancelable(backup);
      await trx
        .updateTable('backups')
        .set({ status: 'CANCELED', finished_at: at, ...releaseLease })
        .where('id', '=', id)
        .where('status', '=', 'PENDING')
        .execute();
      await emitBackupEvent(trx, id, at);
      return (await loadBackup(trx, id)) ?? backup;
    });
  }

  async deleteBackup(siteId: string, id: string, at: number): Promise<BackupRecord> {
    return this.db.transaction().execute(async (trx) => {
      const backup = await loadBackup(trx, id);
      if (!backup || backup.siteId !== siteId) throw notFound(id);
      if (backup.status === 'DELETED') return backup;
      const reader = await trx
        .selectFrom('restorations')
        .select('id')
        .where('backup_id', '=', id)
        .where('status', '=', 'PENDING')
        .executeTakeFirst();
      if (reader) {
        throw errors.BACKUP_IN_USE(id, reader.id);
      }
      await markDeleted(trx, id, at);
      return (await loadBackup(trx, id)) ?? backup;
    });
  }

  async collectionGenerations(
    siteId: string,
    backupId: string,
  ): Promise<Map<string, { gen: number; version: number }>> {
    const rows = await this.db
      .selectFrom('backup_collections as bc')
      .innerJoin('backups as b', 'b.id', 'bc.backup_id')
      .select(['bc.collection_id', 'bc.gen', 'bc.version'])
      .where('b.site_id', '=', siteId)
      .where('b.id', '=', backupId)
      .execute();
    return new Map(rows.map((r) => [r.collection_id, { gen: Number(r.gen), version: Number(r.version) }]));
  }

  async latestBases(
    siteId: string,
    wanted: readonly { collectionId: string; gen: number }[],
  ): Promise<Map<string, BackupBase>> {
    const bases = new Map<string, BackupBase>();
    for (const { collectionId, gen } of wanted) {
      const row = await this.db
        .selectFrom('backup_collections as bc')
        .innerJoin('backups as b', 'b.id', 'bc.backup_id')
        .select(['b.id', 'b.manifest_key', 'b.manifest_sha256', 'b.manifest_size', 'bc.gen', 'bc.version'])
        .where('b.site_id', '=', siteId)
        .where('b.status', '=', 'READY')
        .where('bc.collection_id', '=', collectionId)
        .where('bc.gen', '=', gen)
        .orderBy('bc.version', 'desc')
        .orderBy('b.snapshot_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (row?.manifest_key && row.manifest_sha256) {
        bases.set(collectionId, {
          backupId: row.id,
          manifest: {
            key: row.manifest_key,
            sha256: row.manifest_sha256,
            size: Number(row.manifest_size ?? 0),
          },
          gen: Number(row.gen),
          version: Number(row.version),
        });
      }
    }
    return bases;
  }

  async claimBackup(request: JobClaimRequest): Promise<BackupRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await claimJob(trx, {
        table: 'backups',
        kind: 'backup',
        request,
        capabilities: this.capabilities,
        // Safety backups are written by their restoration, never claimed on their own.
        eligible: sql<SqlBool>`${sql.ref('trigger')} != ${'PRE_RESTORE'}`,
        giveUp: async (trx, candidate, error) => {
          await failJob(trx, { table: 'backups', id: candidate.id, error, at: request.now, workerId: null });
          await emitBackupEvent(trx, candidate.id, request.now);
        },
      });
      return claimed && toBackup(claimed);
    });
  }

  async renewBackup(renewal: LeaseRenewal): Promise<boolean> {
    return renewJobLease(this.db, 'backups', renewal);
  }

  async recordSnapshot(
    id: string,
    workerId: string,
    snapshot: { snapshotAt: number; collections: readonly CollectionRef[]; itemsTotal: number },
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('backups')
      .set({
        snapshot_at: snapshot.snapshotAt,
        collections: JSON.stringify(snapshot.collections),
        progress_done: 0,
        progress_total: snapshot.itemsTotal,
      })
      .where('id', '=', id)
      .where(jobHeldBy(workerId))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async completeBackup(
    id: string,
    workerId: string,
    result: {
      manifest: ManifestRef;
      sizeBytes: number;
      itemCount: number;
      collectionStates: readonly CollectionState[];
    },
    at: number,
    retention: Retention,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const done = await trx
        .updateTable('backups')
        .set({
          status: 'READY',
          finished_at: at,
          size_bytes: result.sizeBytes,
          item_count: result.itemCount,
          manifest_key: result.manifest.key,
          manifest_sha256: result.manifest.sha256,
          manifest_size: result.manifest.size,
          progress_done: result.itemCount,
          ...releaseLease,
        })
        .where('id', '=', id)
        .where(jobHeldBy(workerId))
        .returning(['site_id', 'trigger'])
        .executeTakeFirst();
      if (!done) return false;
      if (result.collectionStates.length > 0) {
        await trx
          .insertInto('backup_collections')
          .values(
            result.collectionStates.map((s) => ({
              backup_id: id,
              collection_id: s.collectionId,
              gen: s.gen,
              version: s.version,
            })),
          )
          .execute();
      }
      await emitBackupEvent(trx, id, at);
      const trigger = done.trigger as BackupTrigger;
      // Imports and copies are kept until deleted.
      if (TRANSFER_TRIGGERS.includes(trigger)) return true;
      const keep =
        trigger === 'ON_DEMAND'
          ? retention.onDemand
          : trigger === 'SCHEDULE'
            ? retention.schedule
            : retention.preRestore;
      const ready = await trx
        .selectFrom('backups')
        .select(['id', 'requested_at as requestedAt'])
        .where('site_id', '=', done.site_id)
        .where('trigger', '=', trigger)
        .where('status', '=', 'READY')
        .orderBy('requested_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      const inUse = new Set(
        (
          await trx
            .selectFrom('restorations')
            .select('backup_id')
            .where('site_id', '=', done.site_id)
            .where('status', '=', 'PENDING')
            .execute()
        ).map((r) => r.backup_id),
      );
      // A backup a pending restoration reads is kept until that ends (the next retention pass takes it).
      for (const old of beyondRetention(ready, keep)) {
        if (inUse.has(old.id)) continue;
        await markDeleted(trx, old.id, at);
        await retention.afterDelete?.();
      }
      return true;
    });
  }

  async beginTransfer(backup: NewBackup, workerId: string, at: number, leaseMs: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // As a claim does: with row locks, the site's row orders this against GC taking its lease.
      const held = this.capabilities.rowLocks
        ? await gcHoldsSite(trx, backup.siteId, at)
        : (await sitesClosedToJobs(trx, at).where('site_id', '=', backup.siteId).executeTakeFirst()) !==
          undefined;
      if (held) return false;
      await insertBackup(trx, backup);
      await trx
        .updateTable('backups')
        .set({ started_at: at, lease_owner: workerId, lease_expires_at: at + leaseMs, attempts: 1 })
        .where('id', '=', backup.id)
        .execute();
      return true;
    });
  }

  async abandonTransfer(id: string, workerId: string): Promise<void> {
    await this.db.deleteFrom('backups').where('id', '=', id).where(jobHeldBy(workerId)).execute();
  }

  async failBackup(id: string, workerId: string | null, error: JobError, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await failJob(trx, { table: 'backups', id, error, at, workerId }))) return false;
      await emitBackupEvent(trx, id, at);
      return true;
    });
  }
}
