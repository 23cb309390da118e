/**
 * The Backups API on the wire (backups-api.md §3–§4): request schemas the server validates with, and the
 * rendering of backups and restorations (used by responses and by webhook events alike).
 */
import Type, { type Static } from 'typebox';
import type { BackupRecord, RestorationRecord } from '../domain/backup.js';
import type { VerificationRecord } from '../domain/verification.js';
import { RequestInteger } from './request-integer.js';

const statuses = ['PENDING', 'READY', 'FAILED', 'DELETED', 'CANCELED'] as const;
const types = ['ON_DEMAND', 'AUTO'] as const;
const restorationStatuses = ['PENDING', 'COMPLETED', 'FAILED'] as const;

const Paging = Type.Object(
  {
    limit: Type.Optional(RequestInteger({ minimum: 0, maximum: 1000 })),
    offset: Type.Optional(RequestInteger({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** `POST /v2/backups`: `{}`, or (extension) the collections to back up. */
export const CreateBackupRequest = Type.Object(
  {
    backup: Type.Optional(
      Type.Object(
        {
          collections: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  id: Type.String({ minLength: 1, maxLength: 256 }),
                  displayName: Type.Optional(Type.Unknown()),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 1000 },
            ),
          ),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CreateBackupRequest = Static<typeof CreateBackupRequest>;

export const ListBackupsQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(Type.Enum(statuses), { maxItems: 10 })),
    type: Type.Optional(Type.Array(Type.Enum(types), { maxItems: 10 })),
    paging: Type.Optional(Paging),
  },
  { additionalProperties: false },
);
export type ListBackupsQuery = Static<typeof ListBackupsQuery>;

export const ListRestorationsQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(Type.Enum(restorationStatuses), { maxItems: 10 })),
    paging: Type.Optional(Paging),
  },
  { additionalProperties: false },
);
export type ListRestorationsQuery = Static<typeof ListRestorationsQuery>;

/** The SDK repeats path parameters in the query or body; the copy is accepted and ignored. */
export const BackupIdQuery = Type.Object(
  { backupId: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export const RestorationIdQuery = Type.Object(
  { restorationId: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

/**
 * Extension (backups-api.md §6.2): what happens to an existing destination's definition. MERGE (default)
 * keeps it and adds the backup's fields it lacks; BACKUP takes the backup's definition whole.
 */
export const DefinitionModeSchema = Type.Union([Type.Literal('MERGE'), Type.Literal('BACKUP')]);

export const RestoreBackupRequest = Type.Object(
  { backupId: Type.Optional(Type.String()), definitionMode: Type.Optional(DefinitionModeSchema) },
  { additionalProperties: false },
);
export type RestoreBackupRequest = Static<typeof RestoreBackupRequest>;

/**
 * Extension of backups-api.md §6 (README "Restoring only some items"): what a restoration does to one destination's items. REPLACE_COLLECTION
 * (default) replaces them all; RESTORE_ITEMS puts back the listed ids as the backup holds them (a listed id
 * the backup lacks is removed from live data); ONLY_MISSING brings back the backup's items that live data
 * lacks (all of them, or those listed) and touches nothing else.
 */
export const RestoreModeSchema = Type.Union([
  Type.Literal('REPLACE_COLLECTION'),
  Type.Literal('RESTORE_ITEMS'),
  Type.Literal('ONLY_MISSING'),
]);

/** At most this many item ids per collection of a restore request. */
export const MAX_RESTORE_ITEM_IDS = 1000;

const RestorationCollectionSchema = Type.Object(
  {
    dataCollectionId: Type.String({ minLength: 1, maxLength: 256 }),
    restoreMode: Type.Optional(RestoreModeSchema),
    itemIds: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
        minItems: 1,
        maxItems: MAX_RESTORE_ITEM_IDS,
      }),
    ),
    restoreDestination: Type.Optional(
      Type.Union([
        Type.Object(
          {
            dataCollectionId: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
            displayName: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ]),
    ),
  },
  { additionalProperties: false },
);

export const PartialRestoreRequest = Type.Object(
  {
    backupId: Type.Optional(Type.String()),
    restorationCollections: Type.Array(RestorationCollectionSchema, { minItems: 1, maxItems: 1000 }),
    definitionMode: Type.Optional(DefinitionModeSchema),
  },
  { additionalProperties: false },
);
export type PartialRestoreRequest = Static<typeof PartialRestoreRequest>;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A Backup as the API shows it (§3). */
export function backupBody(backup: BackupRecord): Record<string, unknown> {
  return {
    id: backup.id,
    status: backup.status,
    type: backup.type,
    requestedDate: iso(backup.requestedAt),
    startedDate: iso(backup.startedAt),
    finishedDate: iso(backup.finishedAt),
    deletedDate: iso(backup.deletedAt),
    sizeInBytes: backup.sizeBytes === null ? null : String(backup.sizeBytes),
    collections: backup.collections.map((c) => ({ id: c.id, displayName: c.displayName })),
    trigger: backup.trigger,
    snapshotDate: iso(backup.snapshotAt),
    itemCount: backup.itemCount === null ? null : String(backup.itemCount),
    progress: backup.status === 'PENDING' && backup.progress ? { ...backup.progress } : null,
    error: backup.error ? { ...backup.error } : null,
    // Extension: the last verification (docs/ARCHITECTURE.md, "Verification").
    lastVerifiedDate: iso(backup.verification?.lastVerifiedAt ?? null),
    lastVerification: backup.verification?.result
      ? {
          result: backup.verification.result,
          error: backup.verification.error ? { ...backup.verification.error } : null,
        }
      : null,
  };
}

/** A verification as the API shows it (extension). */
export function verificationBody(v: VerificationRecord): Record<string, unknown> {
  return {
    id: v.id,
    backupId: v.backupId,
    trigger: v.trigger,
    trialRestore: v.trialRestore,
    status: v.status,
    requestedDate: iso(v.requestedAt),
    startedDate: iso(v.startedAt),
    finishedDate: iso(v.finishedAt),
    progress: v.status === 'PENDING' && v.progress ? { ...v.progress } : null,
    error: v.error ? { ...v.error } : null,
    backupsVerified: v.backupsVerified,
    chunksRead: v.chunksRead,
    bytesRead: String(v.bytesRead),
  };
}

/** `POST …/backups/{id}/verify` (extension). */
export const VerifyBackupRequest = Type.Object(
  { backupId: Type.Optional(Type.String()), trialRestore: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type VerifyBackupRequest = Static<typeof VerifyBackupRequest>;

/** A Restoration as the API shows it (§3), with its backup as it is now. */
export function restorationBody(
  restoration: RestorationRecord,
  backup: BackupRecord,
): Record<string, unknown> {
  return {
    id: restoration.id,
    backup: backupBody(backup),
    status: restoration.status,
    requestedDate: iso(restoration.requestedAt),
    startedDate: iso(restoration.startedAt),
    finishedDate: iso(restoration.finishedAt),
    restorationCollections: restoration.collections.map((c) => ({
      dataCollectionId: c.dataCollectionId,
      restoreDestination: { ...c.restoreDestination },
      // Shown only for item restores, so that whole-collection restorations read exactly as Wix's.
      ...(c.items && { restoreMode: c.items.mode }),
      ...(c.items?.itemIds && { itemIds: [...c.items.itemIds] }),
    })),
    safetyBackupId: restoration.safetyBackupId,
    progress: restoration.status === 'PENDING' && restoration.progress ? { ...restoration.progress } : null,
    error: restoration.error ? { ...restoration.error } : null,
  };
}

export const BACKUP_EVENT = {
  eventType: 'wix.data.v2.backup_backup_state_changed',
  slug: 'backup_state_changed',
} as const;
export const RESTORATION_EVENT = {
  eventType: 'wix.data.v2.backup_restoration_state_changed',
  slug: 'restoration_state_changed',
} as const;
export const BACKUP_ENTITY_FQDN = 'wix.data.v2.backup';
/** A verification found a backup damaged (extension); the body holds the backup as it is now. */
export const VERIFICATION_FAILED_EVENT = {
  eventType: 'safekeep.backup_verification_failed',
  slug: 'backup_verification_failed',
} as const;
/** A site's backup health changed (extension); entity: the site. */
export const SITE_OVERDUE_EVENT = {
  eventType: 'safekeep.site_backup_overdue',
  slug: 'site_backup_overdue',
} as const;
export const SITE_RECOVERED_EVENT = {
  eventType: 'safekeep.site_backup_recovered',
  slug: 'site_backup_recovered',
} as const;
export const SITE_ENTITY_FQDN = 'safekeep.site';
export const eventTypes = [
  BACKUP_EVENT.eventType,
  RESTORATION_EVENT.eventType,
  VERIFICATION_FAILED_EVENT.eventType,
  SITE_OVERDUE_EVENT.eventType,
  SITE_RECOVERED_EVENT.eventType,
] as const;
