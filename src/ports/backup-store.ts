/**
 * The backup side of the storage port: the backup and restoration records (which are also the jobs), the
 * staging area a restoration fills, the schedule, and the site leases that keep garbage collection apart
 * from running jobs. Every state change writes its webhook event in the same transaction (the outbox).
 */
import type {
  BackupRecord,
  BackupTrigger,
  CollectionRef,
  JobError,
  ManifestRef,
  RestorationCollection,
  RestorationRecord,
  RestorationStatus,
  BackupStatus,
  BackupType,
  DefinitionMode,
  ItemSelection,
} from '../domain/backup.js';
import type { BackedUpDefinition, RecordedItemSelection } from '../domain/manifest.js';
import type { JobClaimRequest, LeaseRenewal } from './lease-request.js';

export interface NewBackup {
  readonly id: string;
  readonly siteId: string;
  readonly trigger: BackupTrigger;
  readonly requestedAt: number;
  readonly requestedCollections: readonly string[] | null;
  readonly collections: readonly CollectionRef[];
  readonly restorationId?: string | null;
  readonly scheduleSlot?: number | null;
}

/** An Idempotency-Key: the same key from the same site within the window returns the first result. */
export interface IdempotencyClaim {
  readonly key: string;
  readonly operation: string;
  /** Keys older than this are ignored (and may be reused). */
  readonly notBefore: number;
}

/** What a finished backup recorded per collection: the base for the next, incremental one. */
export interface CollectionState {
  readonly collectionId: string;
  readonly gen: number;
  readonly version: number;
}

/** The newest READY backup holding a collection, as an incremental backup's base. */
export interface BackupBase {
  readonly backupId: string;
  readonly manifest: ManifestRef;
  readonly gen: number;
  readonly version: number;
}

/** How many READY backups of each kind a site keeps. */
export interface Retention {
  readonly onDemand: number;
  readonly schedule: number;
  readonly preRestore: number;
  /** Fault tests only: called inside the completing transaction after each backup retention deletes. */
  readonly afterDelete?: () => Promise<void>;
}

export interface BackupStore {
  /**
   * Inserts a PENDING backup and its creation event.
   * @returns the backup, and whether it was created (false: an earlier call with the same idempotency key).
   * @throws AppError BACKUP_ALREADY_IN_PROGRESS (with `data.backupId`) for a second pending on-demand backup
   */
  createBackup(
    backup: NewBackup,
    idempotency?: IdempotencyClaim,
  ): Promise<{ backup: BackupRecord; created: boolean }>;
  getBackup(siteId: string, id: string): Promise<BackupRecord | undefined>;
  /** Newest `requestedAt` first, ties by id. */
  listBackups(
    siteId: string,
    query: {
      statuses?: readonly BackupStatus[];
      types?: readonly BackupType[];
      limit: number;
      offset: number;
    },
  ): Promise<{ backups: BackupRecord[]; total: number }>;
  /** PENDING → CANCELED. @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_CANCELABLE */
  cancelBackup(siteId: string, id: string, at: number): Promise<BackupRecord>;
  /** Any status → DELETED (idempotent). @throws AppError BACKUP_NOT_FOUND, BACKUP_IN_USE */
  deleteBackup(siteId: string, id: string, at: number): Promise<BackupRecord>;
  /**
   * The generation and change number each collection of a backup was read at, as the catalog keeps them
   * (renumbered with the generations, where a manifest keeps the ids it was written with).
   */
  collectionGenerations(
    siteId: string,
    backupId: string,
  ): Promise<Map<string, { gen: number; version: number }>>;
  /**
   * For each collection, the newest READY backup of the site that holds it at generation `gen` (a backup of
   * another generation cannot be a base: the item set was replaced since).
   */
  latestBases(
    siteId: string,
    wanted: readonly { collectionId: string; gen: number }[],
  ): Promise<Map<string, BackupBase>>;

  /**
   * Claims the oldest PENDING backup whose lease is free (never one of a site being garbage-collected).
   * A backup claimed `maxAttempts` times already is failed with JOB_INTERRUPTED instead.
   */
  claimBackup(request: JobClaimRequest): Promise<BackupRecord | undefined>;
  /** Extends the lease and records progress. False when the lease was lost or the backup is no longer PENDING. */
  renewBackup(renewal: LeaseRenewal): Promise<boolean>;
  /** Records what the snapshot holds, once taken. */
  recordSnapshot(
    id: string,
    workerId: string,
    snapshot: { snapshotAt: number; collections: readonly CollectionRef[]; itemsTotal: number },
  ): Promise<boolean>;
  /** PENDING → READY, applying retention in the same transaction. False when the lease was lost. */
  completeBackup(
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
  ): Promise<boolean>;
  /** PENDING → FAILED. With a worker id, only while it holds the lease. */
  failBackup(id: string, workerId: string | null, error: JobError, at: number): Promise<boolean>;
  /**
   * Inserts a PENDING backup that the caller writes itself (an import or a copy, TRANSFER_TRIGGERS), already
   * leased to `workerId` and with no event: nobody hears of it unless it completes. While it is PENDING,
   * garbage collection leaves the site alone. False, inserting nothing, while garbage collection (or the
   * layout migration) holds the site: chunks written now could be deleted under it.
   */
  beginTransfer(backup: NewBackup, workerId: string, at: number, leaseMs: number): Promise<boolean>;
  /** Removes a transfer that did not complete, as if it had never been (its chunks are garbage). */
  abandonTransfer(id: string, workerId: string): Promise<void>;
}

export interface NewRestoration {
  readonly id: string;
  readonly siteId: string;
  readonly backupId: string;
  readonly requestedAt: number;
  readonly collections: readonly RestorationCollection[];
  /** Default MERGE. */
  readonly definitionMode?: DefinitionMode;
}

/** A restoration's internal job state, saved as it advances so that another worker can resume it. */
export interface RestorationJobState {
  /** QUEUED: nothing done. STAGING: new generations being filled. SWITCHED: live data replaced. */
  readonly phase: 'QUEUED' | 'STAGING' | 'SWITCHED';
  /**
   * Destination collection id → the generation now live (SWITCHED). Empty before the switch: a generation
   * being filled is recorded by its own row (BUILDING, owned by the restoration), not here.
   */
  readonly staged: Readonly<Record<string, number>>;
  /** Destination collection id → the generation it replaced (null: the collection did not exist). */
  readonly replaced: Readonly<Record<string, number | null>>;
  /** Collection id → LIVE generation of every collection of the site at the switch. */
  readonly liveAtSwitch: Readonly<Record<string, number>>;
  /** Display names of the destinations before the switch (for the safety backup). */
  readonly replacedNames: Readonly<Record<string, string>>;
  /** Change numbers of the destinations just before the switch (lets the safety backup be incremental). */
  readonly replacedVersions: Readonly<Record<string, number>>;
  /**
   * Definitions of the existing destinations before the switch, for the safety backup to hold (absent in
   * states saved before definitions were restored).
   */
  readonly replacedDefinitions?: Readonly<Record<string, BackedUpDefinition>>;
  /** Collections the switch deleted (undoing a restoration that had created them). */
  readonly removed?: readonly string[];
  /**
   * Destinations restored item by item: how, and the ids the switch changed. Their `replaced` generation
   * is a frozen copy of just those items as they were (what the safety backup holds), their `staged` one
   * their live generation, written in place.
   */
  readonly itemSelections?: Readonly<Record<string, RecordedItemSelection>>;
}

export interface RestorationStore {
  /**
   * Inserts a PENDING restoration (and its event), refusing when the backup is not READY or another
   * restoration of the site is PENDING; all checked in one transaction.
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_READY, RESTORATION_IN_PROGRESS
   */
  createRestoration(
    restoration: NewRestoration,
    idempotency?: IdempotencyClaim,
  ): Promise<{ restoration: RestorationRecord; created: boolean }>;
  getRestoration(siteId: string, id: string): Promise<RestorationRecord | undefined>;
  listRestorations(
    siteId: string,
    query: { statuses?: readonly RestorationStatus[]; limit: number; offset: number },
  ): Promise<{ restorations: RestorationRecord[]; total: number }>;

  /**
   * Claims the oldest PENDING restoration whose lease is free (never one of a site being garbage-collected),
   * with the state to resume from; its safety backup, if the switch created one, is leased along with it.
   * A restoration claimed `maxAttempts` times already is given up with JOB_INTERRUPTED instead (COMPLETED
   * with that error after its switch, FAILED before).
   */
  claimRestoration(
    request: JobClaimRequest,
  ): Promise<{ restoration: RestorationRecord; job: RestorationJobState } | undefined>;
  /** Extends the lease (and its safety backup's) and records progress. False when the lease was lost. */
  renewRestoration(renewal: LeaseRenewal): Promise<boolean>;
  saveRestorationJob(id: string, workerId: string, job: RestorationJobState): Promise<boolean>;
  /**
   * PENDING → FAILED before the switch: the staged generations are discarded; live data was never touched.
   */
  failRestoration(id: string, workerId: string | null, error: JobError, at: number): Promise<boolean>;
  /** PENDING → COMPLETED after the switch and the safety backup; the replaced generations may go. */
  completeRestoration(id: string, workerId: string, at: number, error?: JobError): Promise<boolean>;
}

/** The secondary indexes of an item set. */
export type SecondaryIndex = 'created' | 'updated' | 'seq';

export interface StagedItem {
  readonly id: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly json: string;
}

export interface StagedLink {
  readonly fromGen: number;
  readonly fromId: string;
  readonly field: string;
  readonly toGen: number;
  readonly toId: string;
  readonly pos: number;
}

/** One destination of a switch. */
export interface SwitchDestination {
  readonly collectionId: string;
  readonly displayName: string;
  /** The generation to point at (0 when `remove`). */
  readonly stagedGen: number;
  /** The backup's definition of the source (reference targets not yet mapped); absent in older backups. */
  readonly definition?: BackedUpDefinition;
  /** What the destination's reference fields that point at a recorded target point at afterwards. */
  readonly referenceTargets: Readonly<Record<string, string>>;
  readonly mode: DefinitionMode;
  /** Undo of a restoration that created this collection: the switch deletes it instead. */
  readonly remove?: boolean;
  /**
   * The TEXT fields the staged generation's full-text index holds (`buildTextIndex`); the switch indexes it
   * again, in its transaction, if the destination's resulting definition declares others (a definition
   * changed since staging).
   */
  readonly textFields?: readonly string[];
  /**
   * An item restore (README "Restoring only some items"): `stagedGen` holds the backup's versions of the selected items (all of the
   * collection's for ONLY_MISSING without ids), and the switch writes the chosen ones into the
   * destination's live generation in place, leaving its definition and every other item as they are.
   */
  readonly items?: ItemSelection;
}

/** The switch: every destination of a restoration changes to its staged generation in one transaction. */
export interface SwitchPlan {
  readonly restorationId: string;
  readonly workerId: string;
  readonly siteId: string;
  readonly at: number;
  /** Lease length for the safety backup, which the restoration's worker holds from the switch on. */
  readonly leaseMs: number;
  readonly destinations: readonly SwitchDestination[];
  /** The PRE_RESTORE backup to create in the same transaction (PENDING; the restoration writes it). */
  readonly safetyBackup: NewBackup;
  /** Called inside the transaction once every definition is applied (fault tests stop here). */
  readonly afterDefinitions?: () => Promise<void>;
  /** Called inside the transaction after each collection the switch deletes (fault tests stop here). */
  readonly afterRemove?: () => Promise<void>;
}

export interface StagingStore {
  /** A new, invisible generation for a restoration to fill; its date indexes come at `finishGeneration`. */
  createGeneration(
    siteId: string,
    collectionId: string,
    restorationId: string,
    at: number,
    /** Items the backup holds for it: a large set may be laid out apart (a table or partition of its own). */
    expectedItems?: number,
  ): Promise<number>;
  /**
   * Appends items in small committed batches. Items must come in id order; the adapter keeps each of its
   * transactions short so that live writes are not held up.
   */
  appendItems(gen: number, items: readonly StagedItem[]): Promise<void>;
  /**
   * Builds the generation's secondary indexes (those not built yet; all when `which` is omitted). Built on a
   * filled table they cost one sort; built first they cost nothing more while rows arrive in their order.
   */
  buildIndexes(gen: number, which?: readonly SecondaryIndex[]): Promise<void>;
  /**
   * Counts a filled staged generation's items and records the count, which the site's item usage (maxItems)
   * adds up once the generation is switched in. Run when staging is done; running it again is harmless.
   */
  recordItemCount(gen: number): Promise<void>;
  /**
   * Builds a filled staged generation's full-text index: the TEXT fields its destination will declare once
   * the switch applies `definition` in `mode` to the destination's current definition. Returns those fields.
   */
  buildTextIndex(
    gen: number,
    siteId: string,
    collectionId: string,
    definition: BackedUpDefinition | undefined,
    mode: DefinitionMode,
  ): Promise<readonly string[]>;
  appendLinks(links: readonly StagedLink[]): Promise<void>;
  /** Collection id → current LIVE generation, for every collection of the site. */
  liveGenerations(siteId: string): Promise<Map<string, number>>;
  /** Which of `ids` exist in generation `gen`. */
  existingIds(gen: number, ids: readonly string[]): Promise<Set<string>>;
  /**
   * The atomic switch: points every destination at its staged generation (creating missing collections),
   * freezes the replaced generations for the safety backup, creates the safety backup record, and records
   * the job state as SWITCHED, all in one short transaction, fenced by the restoration's lease.
   * @returns the state to resume from, or undefined when the lease was lost
   */
  switchLive(plan: SwitchPlan): Promise<RestorationJobState | undefined>;
  /** Retires whatever an earlier attempt of this restoration staged (before a fresh start). */
  discard(restorationId: string): Promise<void>;
}

export interface ScheduleStore {
  /** Sites whose next automatic backup is due at `now`, oldest due first. Sites never scheduled get a due time. */
  dueSites(
    now: number,
    limit: number,
  ): Promise<{ siteId: string; createdAt: number; nextDueAt: number; intervalDays: number | null }[]>;
  /**
   * Takes a slot exactly once: moves the site's next due time from `expectedNextDueAt` to `nextDueAt` and
   * inserts the scheduled backup, in one transaction. False when another scheduler took it first.
   */
  takeSlot(siteId: string, expectedNextDueAt: number, nextDueAt: number, backup: NewBackup): Promise<boolean>;
  /** Sets a site's next due time (site created, or its interval changed). */
  setNextDue(siteId: string, nextDueAt: number): Promise<void>;
}

export interface MaintenanceStore {
  /**
   * Takes a site's garbage-collection lease, only while no backup or restoration of the site is PENDING;
   * while it is held, no job of the site is claimed. False when not possible now.
   */
  acquireGcLease(siteId: string, owner: string, now: number, leaseMs: number): Promise<boolean>;
  releaseGcLease(siteId: string, owner: string): Promise<void>;
  /** Manifests of the site's backups that are not DELETED (READY ones; others have none). */
  liveManifests(siteId: string): Promise<{ backupId: string; manifest: ManifestRef }[]>;
  /** Backups whose manifests may be removed (DELETED, FAILED, CANCELED) and that still have one recorded. */
  deadManifests(siteId: string): Promise<{ backupId: string; key: string }[]>;
  forgetManifest(backupId: string): Promise<void>;
  /** Site ids that have backups at all. */
  sitesWithBackups(): Promise<string[]>;
  /** Drops tombstones no incremental backup can need: below the change number of the newest READY base. */
  pruneTombstones(): Promise<number>;
  /** Leftovers of a crash: BUILDING generations whose restoration is no longer PENDING are retired. */
  retireOrphanGenerations(): Promise<number>;
}
