/**
 * Backups and restorations as the domain sees them (backups-api.md §3, §5, §6): records, state machines
 * and the pure rules around them. No I/O here.
 */
import { errors, invalidArgument } from '../contracts/errors.js';
import { checkCollectionId } from './collection-id.js';
import type { BackupVerificationState } from './verification.js';
import { checkItemId } from './item-codec.js';

export type BackupStatus = 'PENDING' | 'READY' | 'FAILED' | 'DELETED' | 'CANCELED';
export type BackupType = 'ON_DEMAND' | 'AUTO';
/**
 * Why a backup exists. IMPORT (an uploaded archive) and COPY (an administrator's copy of another site's
 * backup) are on-demand backups that no retention rule deletes and that do not count toward the on-demand
 * limit; they are written by the request that creates them, never by the job worker.
 */
export type BackupTrigger = 'ON_DEMAND' | 'SCHEDULE' | 'PRE_RESTORE' | 'IMPORT' | 'COPY';

/** Triggers written in one go by a request (an import, a copy), never claimed as jobs. */
export const TRANSFER_TRIGGERS: readonly BackupTrigger[] = ['IMPORT', 'COPY'];
export type RestorationStatus = 'PENDING' | 'COMPLETED' | 'FAILED';

export interface Progress {
  readonly itemsDone: number;
  readonly itemsTotal: number;
}

export interface JobError {
  readonly code: string;
  readonly message: string;
}

export interface CollectionRef {
  readonly id: string;
  readonly displayName: string;
}

/** Where a manifest lives and what it must hash to. */
export interface ManifestRef {
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
}

export interface BackupRecord {
  readonly id: string;
  readonly siteId: string;
  readonly status: BackupStatus;
  readonly type: BackupType;
  readonly trigger: BackupTrigger;
  readonly requestedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly deletedAt: number | null;
  readonly snapshotAt: number | null;
  readonly sizeBytes: number | null;
  readonly itemCount: number | null;
  /** As named at snapshot time once the snapshot is taken; before that, what was requested. */
  readonly collections: readonly CollectionRef[];
  /** The collection ids asked for, or null for all. */
  readonly requestedCollections: readonly string[] | null;
  readonly progress: Progress | null;
  readonly error: JobError | null;
  readonly manifest: ManifestRef | null;
  /** For PRE_RESTORE backups: the restoration whose replaced content this is. */
  readonly restorationId: string | null;
  /** For scheduled backups: the slot (ms) this backup is for; at most one backup per site and slot. */
  readonly scheduleSlot: number | null;
  /** Its last verification (absent where a record is built without it). */
  readonly verification?: BackupVerificationState;
}

/**
 * An item restore of one destination (an extension of backups-api.md §6, README "Restoring only some items"): RESTORE_ITEMS puts the listed ids back as the
 * backup holds them (removing from live data those the backup lacks); ONLY_MISSING brings back the backup's
 * items live data lacks (`itemIds` null: all of them) and touches nothing else.
 */
export type ItemRestoreMode = 'RESTORE_ITEMS' | 'ONLY_MISSING';

export interface ItemSelection {
  readonly mode: ItemRestoreMode;
  /** The ids asked for; null (ONLY_MISSING only) for every item the backup holds. */
  readonly itemIds: readonly string[] | null;
}

export interface RestorationCollection {
  readonly dataCollectionId: string;
  readonly restoreDestination: { readonly dataCollectionId: string; readonly displayName: string };
  /** Absent: the whole collection is replaced (REPLACE_COLLECTION). */
  readonly items?: ItemSelection;
}

/**
 * Reads an entry's `restoreMode` and `itemIds` (README "Restoring only some items") into an item selection, or undefined for a
 * whole-collection restore.
 * @throws AppError INVALID_ARGUMENT
 */
export function itemSelectionOf(
  entry: { restoreMode?: unknown; itemIds?: unknown },
  at: string,
): ItemSelection | undefined {
  const mode = entry.restoreMode ?? 'REPLACE_COLLECTION';
  if (mode !== 'REPLACE_COLLECTION' && mode !== 'RESTORE_ITEMS' && mode !== 'ONLY_MISSING')
    throw invalidArgument(`${at}.restoreMode`, 'must be REPLACE_COLLECTION, RESTORE_ITEMS or ONLY_MISSING');
  const raw = entry.itemIds;
  if (raw !== undefined && (!Array.isArray(raw) || raw.length === 0 || raw.length > 1000))
    throw invalidArgument(`${at}.itemIds`, 'must list 1 to 1000 item ids', 'MAX_SIZE');
  const ids = raw?.map((id: unknown, i) => checkItemId(id, `${at}.itemIds[${i}]`));
  if (mode === 'REPLACE_COLLECTION') {
    if (ids) throw invalidArgument(`${at}.itemIds`, 'needs restoreMode RESTORE_ITEMS or ONLY_MISSING');
    return undefined;
  }
  if (mode === 'RESTORE_ITEMS' && !ids)
    throw invalidArgument(
      `${at}.itemIds`,
      'RESTORE_ITEMS needs the ids of the items to restore',
      'REQUIRED_FIELD',
    );
  return { mode, itemIds: ids ? [...new Set(ids)] : null };
}

/**
 * What a restoration does to an existing destination's definition (backups-api.md §6.2): MERGE keeps it and
 * adds the backup's fields it lacks (a conflicting field refuses the restoration); BACKUP replaces it whole.
 */
export type DefinitionMode = 'MERGE' | 'BACKUP';

export interface RestorationRecord {
  readonly id: string;
  readonly siteId: string;
  readonly backupId: string;
  readonly status: RestorationStatus;
  readonly requestedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly collections: readonly RestorationCollection[];
  readonly safetyBackupId: string | null;
  readonly definitionMode: DefinitionMode;
  readonly progress: Progress | null;
  readonly error: JobError | null;
}

/** On-demand backups kept READY per site; the oldest goes when a new one becomes READY. */
export const ON_DEMAND_LIMIT = 3;
/** PRE_RESTORE (safety) backups kept READY per site. */
export const PRE_RESTORE_RETENTION = 3;

export function typeOfTrigger(trigger: BackupTrigger): BackupType {
  return trigger === 'ON_DEMAND' || TRANSFER_TRIGGERS.includes(trigger) ? 'ON_DEMAND' : 'AUTO';
}

/** A PENDING backup may be canceled; anything else gets 428 BACKUP_NOT_CANCELABLE. */
export function assertCancelable(backup: BackupRecord): void {
  if (backup.status !== 'PENDING') {
    throw errors.BACKUP_NOT_CANCELABLE(backup);
  }
}

/** Only a READY backup can be restored; every other status gets 428 BACKUP_NOT_READY. */
export function assertRestorable(backup: BackupRecord): void {
  if (backup.status !== 'READY') {
    throw errors.BACKUP_NOT_READY(backup);
  }
}

/**
 * The READY backups a retention rule deletes: all but the newest `keep`, ordered by request time then id.
 * `readyNewestFirst` must hold only READY backups of one kind, newest first.
 */
export function beyondRetention<T extends { requestedAt: number; id: string }>(
  readyNewestFirst: readonly T[],
  keep: number,
): T[] {
  return readyNewestFirst.slice(keep);
}

/** What naming a restoration's destinations needs: the site's collections now, and the request's time. */
export interface DestinationContext {
  /** Collection id → display name, for every collection of the site. */
  readonly existingNames: ReadonlyMap<string, string>;
  readonly at: number;
}

/**
 * The display name of a destination created under a new id when none was asked for (§6.1): one that
 * tells the copy apart from its source, with the day of the restoration.
 */
export function copyDisplayName(sourceName: string, at: number): string {
  return `${sourceName} (restored ${new Date(at).toISOString().slice(0, 10)})`;
}

/**
 * Resolves a restore request into its full list of collections (§6.1): a full restore is every backup
 * collection to itself; a partial one must name only backup collections, and no two entries may share a
 * destination. An empty destination display name is resolved by §6.1's rule (see `context`).
 * @throws AppError INVALID_ARGUMENT, COLLECTION_NOT_IN_BACKUP, DUPLICATE_DESTINATION
 */
export function planRestoration(
  backupCollections: readonly CollectionRef[],
  requested:
    | readonly {
        dataCollectionId?: unknown;
        restoreDestination?: { dataCollectionId?: unknown; displayName?: unknown } | null;
        restoreMode?: unknown;
        itemIds?: unknown;
      }[]
    | undefined,
  context: DestinationContext = { existingNames: new Map(), at: 0 },
): RestorationCollection[] {
  // §6.1: an existing destination keeps its name, one created under its source's id takes the backup's,
  // one created under a new id a name that tells the copy apart.
  const nameOf = (source: CollectionRef, destId: string) =>
    context.existingNames.get(destId) ??
    (destId === source.id ? source.displayName : copyDisplayName(source.displayName, context.at));
  if (requested === undefined) {
    return backupCollections.map((c) => ({
      dataCollectionId: c.id,
      restoreDestination: { dataCollectionId: c.id, displayName: nameOf(c, c.id) },
    }));
  }
  if (requested.length === 0)
    throw invalidArgument('restorationCollections', 'name at least one collection', 'MIN_SIZE');
  if (requested.length > 1000)
    throw invalidArgument('restorationCollections', 'at most 1000 collections', 'MAX_SIZE');
  const byId = new Map(backupCollections.map((c) => [c.id, c]));
  const destinations = new Set<string>();
  const sources = new Set<string>();
  return requested.map((entry, i) => {
    const at = `restorationCollections[${i}]`;
    const sourceId = checkCollectionId(entry.dataCollectionId, `${at}.dataCollectionId`);
    const source = byId.get(sourceId);
    if (!source) {
      throw errors.COLLECTION_NOT_IN_BACKUP(sourceId);
    }
    if (sources.has(sourceId))
      throw invalidArgument(`${at}.dataCollectionId`, `collection ${sourceId} is named twice`);
    sources.add(sourceId);
    const destination = entry.restoreDestination ?? {};
    const destId =
      destination.dataCollectionId === undefined ||
      destination.dataCollectionId === null ||
      destination.dataCollectionId === ''
        ? sourceId
        : checkCollectionId(destination.dataCollectionId, `${at}.restoreDestination.dataCollectionId`);
    if (destinations.has(destId)) {
      throw errors.DUPLICATE_DESTINATION(destId);
    }
    destinations.add(destId);
    const name = destination.displayName;
    if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 200)) {
      throw invalidArgument(
        `${at}.restoreDestination.displayName`,
        'must be a string of at most 200 characters',
      );
    }
    const items = itemSelectionOf(entry, at);
    return {
      dataCollectionId: sourceId,
      restoreDestination: {
        dataCollectionId: destId,
        displayName: typeof name === 'string' && name.length > 0 ? name : nameOf(source, destId),
      },
      ...(items && { items }),
    };
  });
}

/** One multi-reference link as a backup holds it. */
export interface BackupLink {
  readonly fromCollection: string;
  readonly fromId: string;
  readonly field: string;
  readonly toCollection: string;
  readonly toId: string;
  readonly pos: number;
}

/**
 * Maps a backed-up link onto the restoration's destinations (§6.5), or returns undefined when the link is
 * not restored. A link is restored when at least one end is a restored source. A collection restored under
 * another id (a copy) keeps only the links in which it refers: others' links into a copy are dropped, and a
 * restored collection's links into a collection copied elsewhere keep pointing at the original — unless
 * both ends were copied, in which case the copies link to each other. Whether the target item exists after
 * the switch is checked by the caller.
 */
export function mapLink(link: BackupLink, plan: readonly RestorationCollection[]): BackupLink | undefined {
  const destinationOf = (id: string) =>
    plan.find((p) => p.dataCollectionId === id)?.restoreDestination.dataCollectionId;
  const fromDest = destinationOf(link.fromCollection);
  const toDest = destinationOf(link.toCollection);
  if (fromDest === undefined && toDest === undefined) return undefined;
  const fromCopied = fromDest !== undefined && fromDest !== link.fromCollection;
  const toCopied = toDest !== undefined && toDest !== link.toCollection;
  if (fromDest === undefined && toCopied) return undefined;
  const toCollection =
    toDest === undefined ? link.toCollection : toCopied && !fromCopied ? link.toCollection : toDest;
  return { ...link, fromCollection: fromDest ?? link.fromCollection, toCollection };
}

/**
 * The automatic-backup slot a tick at `now` should take, if any (§5): slots fall every `intervalMs` after the
 * site was created, the first one interval after creation. However many slots were missed while the server
 * was down, only the latest is taken (exactly one catch-up), and the next due time keeps the original phase.
 */
export function dueSlot(
  createdAt: number,
  intervalMs: number,
  nextDueAt: number,
  now: number,
): { slot: number; nextDueAt: number } | undefined {
  if (now < nextDueAt) return undefined;
  const elapsedSlots = Math.floor((now - createdAt) / intervalMs);
  const slot = createdAt + Math.max(1, elapsedSlots) * intervalMs;
  return { slot, nextDueAt: slot + intervalMs };
}

/** The first due time at or after `from` in the site's phase (used when the interval changes). */
export function nextDueInPhase(createdAt: number, intervalMs: number, from: number): number {
  const k = Math.max(1, Math.ceil((from - createdAt) / intervalMs));
  return createdAt + k * intervalMs;
}
