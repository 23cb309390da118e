/**
 * Reading what a backup holds, off the main thread: a consistent view of a site's LIVE items and links
 * (or of frozen generations a restoration replaced), cut into content-defined chunks of canonical NDJSON.
 */
import type { BuiltChunk, ChunkPolicy } from '../domain/chunking.js';
import type { BackedUpDefinition, RecordedItemSelection } from '../domain/manifest.js';

/** A generation a restoration replaced, as its safety backup reads it. */
export interface FrozenCollection {
  readonly collectionId: string;
  readonly displayName: string;
  /** Null: the collection did not exist before the restoration. */
  readonly gen: number | null;
  readonly version: number;
  /** The definition the restoration replaced (absent for restorations recorded before definitions). */
  readonly definition?: BackedUpDefinition;
  /** The restoration created the collection; undoing it deletes it. */
  readonly absentBefore?: boolean;
  /** An item restore: `gen` holds the selected items as they were; undoing it restores only those. */
  readonly itemSelection?: RecordedItemSelection;
}

export interface SnapshotCollection {
  readonly id: string;
  readonly displayName: string;
  readonly gen: number;
  /** The collection's change number at the snapshot. */
  readonly version: number;
  /** Incremental reads need a base at or above this change number (older tombstones were pruned). */
  readonly tombstoneFloor: number;
  /** The definition at the snapshot (read in the same transaction as the items). */
  readonly definition?: BackedUpDefinition;
  /** Safety backups: the collection did not exist before the restoration. */
  readonly absentBefore?: boolean;
  /** Safety backups of item restores: which items the restoration changed. */
  readonly itemSelection?: RecordedItemSelection;
}

/** A pull stream of chunks; `next` returns undefined at the end. */
export interface ChunkStream {
  next(): Promise<BuiltChunk | undefined>;
  /**
   * Hands a chunk's buffer back once the caller is done with it, for the stream to fill again (optional:
   * reusing buffers keeps a long backup's memory flat instead of leaving the allocator a trail of them).
   */
  recycle?(data: Uint8Array): void;
  close(): Promise<void>;
}

export interface ItemSnapshot {
  /** The instant whose content the snapshot holds. */
  readonly takenAt: number;
  readonly collections: readonly SnapshotCollection[];
  /** Every generation a link may point into, with its collection id (all LIVE collections of the site). */
  readonly linkTargets: ReadonlyMap<number, string>;
  /** How many items a generation holds (counted on demand: unchanged collections are never counted). */
  count(gen: number): Promise<number>;
  /** Items of a generation in id order; with `since`, only those written after that change number. */
  items(gen: number, since?: number): Promise<ChunkStream>;
  /** How many items changed and how many were deleted after `since`. */
  changeCounts(gen: number, since: number): Promise<{ upserts: number; deletes: number }>;
  /** Ids deleted from a generation after `since` (and not present now), as NDJSON strings. */
  deletions(gen: number, since: number): Promise<ChunkStream>;
  /**
   * Links from generation `fromGen` into any of `toGens`, as NDJSON arrays
   * `[fromCollection, fromId, field, toCollection, toId, pos]`, ordered by referring item.
   */
  links(fromGen: number, toGens: readonly number[]): Promise<ChunkStream>;
  close(): Promise<void>;
}

export interface SnapshotSource {
  /** Stops the reader threads kept for reuse. */
  close(): Promise<void>;
  /**
   * Opens a consistent view of the site's LIVE content now: all collections, or those named (ones that no
   * longer exist are left out).
   */
  openLive(
    siteId: string,
    collectionIds: readonly string[] | null,
    policy: ChunkPolicy,
    at: number,
  ): Promise<ItemSnapshot>;
  /**
   * Opens generations nobody writes any more (a restoration's replaced content). `linkTargets` says which
   * generations were visible, and as which collections, when they were frozen.
   */
  openFrozen(
    frozen: readonly FrozenCollection[],
    linkTargets: ReadonlyMap<number, string>,
    policy: ChunkPolicy,
    at: number,
  ): Promise<ItemSnapshot>;
}
