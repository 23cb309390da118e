import type { Kysely, Selectable } from 'kysely';
import {
  BACKUP_ENTITY_FQDN,
  BACKUP_EVENT,
  RESTORATION_EVENT,
  VERIFICATION_FAILED_EVENT,
  backupBody,
  restorationBody,
} from '../../../contracts/backups-api.js';
import { errors } from '../../../contracts/errors.js';
import type {
  BackupRecord,
  BackupStatus,
  BackupTrigger,
  BackupType,
  CollectionRef,
  RestorationCollection,
  RestorationRecord,
  RestorationStatus,
} from '../../../domain/backup.js';
import type { IdempotencyClaim } from '../../../ports/backup-store.js';
import { appendEvents, subscribersOf } from './outbox.js';
import type { BackupsTable, Database, RestorationsTable } from './schema.js';

export function toBackup(row: Selectable<BackupsTable>): BackupRecord {
  const progress =
    row.progress_total === null
      ? null
      : { itemsDone: Number(row.progress_done ?? 0), itemsTotal: Number(row.progress_total) };
  return {
    id: row.id,
    siteId: row.site_id,
    status: row.status as BackupStatus,
    type: row.type as BackupType,
    trigger: row.trigger as BackupTrigger,
    requestedAt: Number(row.requested_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
    snapshotAt: row.snapshot_at === null ? null : Number(row.snapshot_at),
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    itemCount: row.item_count === null ? null : Number(row.item_count),
    collections: JSON.parse(row.collections) as CollectionRef[],
    requestedCollections:
      row.requested_collections === null ? null : (JSON.parse(row.requested_collections) as string[]),
    progress,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    manifest:
      row.manifest_key === null || row.manifest_sha256 === null
        ? null
        : { key: row.manifest_key, sha256: row.manifest_sha256, size: Number(row.manifest_size ?? 0) },
    restorationId: row.restoration_id,
    scheduleSlot: row.schedule_slot === null ? null : Number(row.schedule_slot),
    verification: {
      lastVerifiedAt: row.last_verified_at === null ? null : Number(row.last_verified_at),
      result: row.verify_result === 'PASSED' || row.verify_result === 'FAILED' ? row.verify_result : null,
      error:
        row.verify_error_code === null
          ? null
          : { code: row.verify_error_code, message: row.verify_error_message ?? '' },
    },
  };
}

export function toRestoration(row: Selectable<RestorationsTable>): RestorationRecord {
  return {
    id: row.id,
    siteId: row.site_id,
    backupId: row.backup_id,
    status: row.status as RestorationStatus,
    requestedAt: Number(row.requested_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    collections: JSON.parse(row.collections) as RestorationCollection[],
    safetyBackupId: row.safety_backup_id,
    definitionMode: row.definition_mode === 'BACKUP' ? 'BACKUP' : 'MERGE',
    progress:
      row.progress_total === null
        ? null
        : { itemsDone: Number(row.progress_done ?? 0), itemsTotal: Number(row.progress_total) },
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
  };
}

export async function loadBackup(db: Kysely<Database>, id: string): Promise<BackupRecord | undefined> {
  const row = await db.selectFrom('backups').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toBackup(row);
}

export async function loadRestoration(
  db: Kysely<Database>,
  id: string,
): Promise<RestorationRecord | undefined> {
  const row = await db.selectFrom('restorations').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toRestoration(row);
}

/**
 * Writes a webhook event to the outbox, with one delivery per subscription that wants it, inside the
 * caller's transaction. `entity_sequence` increases per entity.
 */
async function writeEvent(
  db: Kysely<Database>,
  siteId: string,
  kind: { readonly eventType: string; readonly slug: string },
  entityId: string,
  body: Record<string, unknown>,
  at: number,
): Promise<void> {
  const event = { ...kind, entityFqdn: BACKUP_ENTITY_FQDN, entityId, body: JSON.stringify(body) };
  await appendEvents(db, siteId, [event], await subscribersOf(db, siteId), at);
}

/**
 * Emits the state-changed event of a backup as it is now (call after the change, in its transaction);
 * returns the backup as the event shows it.
 */
export async function emitBackupEvent(
  db: Kysely<Database>,
  id: string,
  at: number,
): Promise<BackupRecord | undefined> {
  const backup = await loadBackup(db, id);
  if (!backup) return undefined;
  await writeEvent(db, backup.siteId, BACKUP_EVENT, backup.id, { backup: backupBody(backup) }, at);
  return backup;
}

/** Emits `safekeep.backup_verification_failed` with the backup as it is now (after its result is recorded). */
export async function emitVerificationFailedEvent(
  db: Kysely<Database>,
  id: string,
  at: number,
): Promise<void> {
  const backup = await loadBackup(db, id);
  if (!backup) return;
  await writeEvent(
    db,
    backup.siteId,
    VERIFICATION_FAILED_EVENT,
    backup.id,
    { backup: backupBody(backup) },
    at,
  );
}

/** Emits the state-changed event of a restoration as it is now, with its backup as it is now. */
export async function emitRestorationEvent(db: Kysely<Database>, id: string, at: number): Promise<void> {
  const restoration = await loadRestoration(db, id);
  if (!restoration) return;
  const backup = await loadBackup(db, restoration.backupId);
  if (!backup) return;
  await writeEvent(
    db,
    restoration.siteId,
    RESTORATION_EVENT,
    restoration.id,
    { restoration: restorationBody(restoration, backup) },
    at,
  );
}

/**
 * Looks up an Idempotency-Key inside the caller's transaction: the entity id of an earlier call, undefined
 * for a fresh key (expired ones are forgotten).
 * @throws AppError INVALID_ARGUMENT when the key was used for another operation
 */
export async function priorResult(
  db: Kysely<Database>,
  siteId: string,
  claim: IdempotencyClaim,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('site_id', '=', siteId)
    .where('key', '=', claim.key)
    .executeTakeFirst();
  if (!row) return undefined;
  if (Number(row.created_at) < claim.notBefore) {
    await db
      .deleteFrom('idempotency_keys')
      .where('site_id', '=', siteId)
      .where('key', '=', claim.key)
      .execute();
    return undefined;
  }
  if (row.operation !== claim.operation) {
    throw errors.INVALID_ARGUMENT('This Idempotency-Key was already used for another operation.', [
      { field: 'Idempotency-Key', description: `was used for ${row.operation}`, violatedRule: 'OTHER' },
    ]);
  }
  return row.entity_id;
}

export async function rememberResult(
  db: Kysely<Database>,
  siteId: string,
  claim: IdempotencyClaim,
  entityId: string,
  at: number,
): Promise<void> {
  await db
    .insertInto('idempotency_keys')
    .values({
      site_id: siteId,
      key: claim.key,
      operation: claim.operation,
      entity_id: entityId,
      created_at: at,
    })
    .execute();
}
