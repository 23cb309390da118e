/**
 * The Backups API's objects as they travel on the wire (backups-api.md §3–§4): timestamps are ISO-8601
 * strings (null while unset) and 64-bit integers are decimal strings. Written out here, rather than
 * derived from the server's schemas, so that the SDK reads on its own; `test/sdk/wire-types.test.ts` keeps
 * the two in step.
 */

/** A backup's state (backups-api.md §5): PENDING → READY → DELETED, or PENDING → FAILED / CANCELED. */
export type BackupStatus = 'PENDING' | 'READY' | 'FAILED' | 'DELETED' | 'CANCELED';

/** `ON_DEMAND`: asked for by a caller. `AUTO`: taken by the system (on a schedule, or before a restore). */
export type BackupType = 'ON_DEMAND' | 'AUTO';

/** Why a backup exists (extension): a caller, the weekly schedule, or a restoration's safety backup. */
export type BackupTrigger = 'ON_DEMAND' | 'SCHEDULE' | 'PRE_RESTORE' | 'IMPORT' | 'COPY';

/** A restoration's state: PENDING, then COMPLETED or FAILED. */
export type RestorationStatus = 'PENDING' | 'COMPLETED' | 'FAILED';

/** How far a PENDING backup or restoration has come, in items. */
export interface Progress {
  /** Items processed so far. */
  readonly itemsDone: number;
  /** Items the job will process in all (0 until it knows). */
  readonly itemsTotal: number;
}

/** Why a backup or restoration FAILED: a code from the server's error registry and what went wrong. */
export interface JobError {
  /** A background-failure code, e.g. `STORAGE_FULL`, `TIMED_OUT`, `INTEGRITY_CHECKSUM_MISMATCH`. */
  readonly code: string;
  /** What went wrong, for people. */
  readonly message: string;
}

/** A collection inside a backup, as it was named when the snapshot was taken. */
export interface BackupCollection {
  /** The collection's id (e.g. `Books`). */
  readonly id: string;
  /** Its display name at snapshot time. */
  readonly displayName: string;
}

/** A backup (backups-api.md §3). */
export interface Backup {
  /** A GUID. */
  readonly id: string;
  /** Where it is in its life (backups-api.md §5). */
  readonly status: BackupStatus;
  /** `ON_DEMAND` or `AUTO` (Wix's two values; `trigger` says more). */
  readonly type: BackupType;
  /** When it was asked for (ISO-8601). */
  readonly requestedDate: string;
  /** When a worker began it; null until then. */
  readonly startedDate: string | null;
  /** When it reached READY, FAILED or CANCELED. */
  readonly finishedDate: string | null;
  /** When it became DELETED. */
  readonly deletedDate: string | null;
  /** Size of its compressed content in bytes, as a decimal string; null until READY. */
  readonly sizeInBytes: string | null;
  /** The collections inside it. */
  readonly collections: readonly BackupCollection[];
  /** Extension: why it exists. */
  readonly trigger: BackupTrigger;
  /** Extension: the one instant whose live content it holds; null until the snapshot is taken. */
  readonly snapshotDate: string | null;
  /** Extension: how many live items it holds, as a decimal string; null until READY. */
  readonly itemCount: string | null;
  /** Extension: how far it has come while PENDING; null otherwise (and before the worker reports). */
  readonly progress: Progress | null;
  /** Extension: why it FAILED; null otherwise. */
  readonly error: JobError | null;
  /** Extension: when a verification of it last ended; null if never. */
  readonly lastVerifiedDate?: string | null;
  /** Extension: what that verification found: PASSED, or FAILED with the damage (an `INTEGRITY_*` code). */
  readonly lastVerification?: {
    readonly result: 'PASSED' | 'FAILED';
    readonly error: JobError | null;
  } | null;
}

/** Extension: a verification of a backup (or, trigger SCRUB, of a site's backups due for their check). */
export interface Verification {
  readonly id: string;
  /** The backup verified; null for a scrub. */
  readonly backupId: string | null;
  readonly trigger: 'ON_DEMAND' | 'SCRUB';
  readonly trialRestore: boolean;
  /** PENDING, then PASSED, or FAILED (`error` says what was found, or why it could not run). */
  readonly status: 'PENDING' | 'PASSED' | 'FAILED';
  readonly requestedDate: string;
  readonly startedDate: string | null;
  readonly finishedDate: string | null;
  /** Chunks checked so far, of the distinct chunks to check, while PENDING. */
  readonly progress: Progress | null;
  readonly error: JobError | null;
  readonly backupsVerified: number;
  /** Distinct chunks read (a chunk several backups share is read once). */
  readonly chunksRead: number;
  /** Stored bytes read, as a decimal string. */
  readonly bytesRead: string;
}

/** Extension: what a site's READY backups take in the blob store. Byte counts are decimal strings. */
export interface BackupStorage {
  readonly logicalBytes: string;
  readonly storedBytes: string;
  readonly deduplicatedBytes: string;
  readonly backups: readonly {
    readonly backupId: string;
    readonly logicalBytes: string;
    readonly storedBytes: string;
    /** What deleting it would free. */
    readonly exclusiveBytes: string;
  }[];
  readonly unreadableBackupIds: readonly string[];
}

/** Extension: a site's backup health. */
export interface BackupHealth {
  readonly siteId: string;
  readonly state: 'OK' | 'OVERDUE';
  readonly changedDate: string | null;
  readonly lastGoodBackupDate: string | null;
  readonly overdueAfterDate: string;
}

/** One collection of a restoration, with its destination resolved in full. */
export interface RestorationCollection {
  /** The collection in the backup. */
  readonly dataCollectionId: string;
  /** Where its items go: the destination collection's id and display name. */
  readonly restoreDestination: {
    readonly dataCollectionId: string;
    readonly displayName: string;
  };
  /** Extension, item restores only (absent: the whole collection is replaced). */
  readonly restoreMode?: 'RESTORE_ITEMS' | 'ONLY_MISSING';
  /** Extension: the item ids an item restore names (absent: ONLY_MISSING of every item). */
  readonly itemIds?: readonly string[];
}

/**
 * Extension: what a restoration does to one destination's items. REPLACE_COLLECTION (the default) replaces
 * them all; RESTORE_ITEMS puts the listed ids back as the backup holds them (a listed id the backup lacks
 * is removed from live data); ONLY_MISSING brings back the backup's items that live data lacks (those
 * listed, or all of them) and touches nothing else. Item restores need an existing destination.
 */
export type RestoreMode = 'REPLACE_COLLECTION' | 'RESTORE_ITEMS' | 'ONLY_MISSING';

/**
 * One collection to restore in a partial restore. Without `restoreDestination` (or with an empty id) it is
 * restored into itself; an empty `displayName` means the name recorded in the backup.
 */
export interface RestorationCollectionInput {
  /** The collection in the backup. */
  readonly dataCollectionId: string;
  /** Where to restore it: another collection id (created when missing) and its display name. */
  readonly restoreDestination?: {
    readonly dataCollectionId?: string;
    readonly displayName?: string;
  };
  /** Extension: restore the whole collection (default) or only some of its items. */
  readonly restoreMode?: RestoreMode;
  /** Extension: the items to restore (1–1000 ids; required by RESTORE_ITEMS, optional for ONLY_MISSING). */
  readonly itemIds?: readonly string[];
}

/** A restoration (backups-api.md §3). */
export interface Restoration {
  /** A GUID. */
  readonly id: string;
  /** The backup it restores from, as that backup is now. */
  readonly backup: Backup;
  /** PENDING, then COMPLETED or FAILED. */
  readonly status: RestorationStatus;
  /** When it was asked for (ISO-8601). */
  readonly requestedDate: string;
  /** When a worker began it; null until then. */
  readonly startedDate: string | null;
  /** When it reached COMPLETED or FAILED. */
  readonly finishedDate: string | null;
  /** Every collection it restores, destinations resolved. */
  readonly restorationCollections: readonly RestorationCollection[];
  /** Extension: the PRE_RESTORE backup holding what this restoration replaced (restore it to undo). */
  readonly safetyBackupId: string | null;
  /** Extension: how far it has come while PENDING. */
  readonly progress: Progress | null;
  /** Extension: why it FAILED. */
  readonly error: JobError | null;
}

/** Where a page sits in a list. */
export interface PagingMetadata {
  /** Entries in this page. */
  readonly count: number;
  /** Entries skipped before this page. */
  readonly offset: number;
  /** Entries matching the filter in all. */
  readonly total: number;
}

/** A page of backups, newest `requestedDate` first. */
export interface BackupPage {
  /** The backups of this page. */
  readonly backups: readonly Backup[];
  /** Where the page sits. */
  readonly pagingMetadata: PagingMetadata;
}

/** A page of restorations, newest first. */
export interface RestorationPage {
  /** The restorations of this page. */
  readonly restorations: readonly Restoration[];
  /** Where the page sits. */
  readonly pagingMetadata: PagingMetadata;
}

/** One violated rule of a request the server refused as invalid (HTTP 400 `INVALID_ARGUMENT`). */
export interface FieldViolation {
  /** The field at fault, dotted (`paging.limit`, `restorationCollections[0].dataCollectionId`). */
  readonly field: string;
  /** What was wrong with it. */
  readonly description: string;
  /** The kind of rule, for example `MAX`, `FORMAT` or `REQUIRED_FIELD`. */
  readonly violatedRule: string;
}

/** An error response's body (backups-api.md §8). */
export interface ErrorResponseBody {
  /** What was wrong and what was expected. */
  readonly message: string;
  /** Either an application error (a registry code) or a validation error (field violations). */
  readonly details?: {
    readonly applicationError?: {
      readonly code: string;
      readonly description: string;
      readonly data?: Readonly<Record<string, unknown>>;
    };
    readonly validationError?: { readonly fieldViolations: readonly FieldViolation[] };
  };
}
