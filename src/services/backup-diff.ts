/**
 * Comparing a backup with live data or with another backup of the same site, per collection (admin
 * extension, docs/ARCHITECTURE.md "Browsing and comparing backups"). Directions: from the backup to the
 * other side — ADDED items are in the other side only, REMOVED in the backup only, CHANGED in both with a
 * different stored JSON text (system fields included).
 *
 * What is read: against live data, when the collection is still at the generation the backup read it at and
 * its tombstones reach back to the backup's change number, only what changed since (the same change numbers
 * and tombstones an incremental backup reads) and the backup chunks holding those ids; otherwise (after a
 * truncate or a restore of the collection) both sides in full, merged in id order a chunk at a time. Two
 * backups are merged in id order too, but full-layer chunks they share (same hash) and whose ids no delta
 * layer of either touches are skipped unread.
 */
import { errors, invalidArgument } from '../contracts/errors.js';
import type { ChunkRef } from '../domain/manifest.js';
import { defaultChunkPolicy } from '../domain/chunking.js';
import { compareCodePoints } from '../domain/query/order.js';
import { createHash } from 'node:crypto';
import { entryId, entryView, type BackupEntry, type CollectionView } from '../engine/backup-reader.js';
import type { Clock } from '../ports/clock.js';
import type { ChunkStream, ItemSnapshot, SnapshotCollection } from '../ports/snapshot-source.js';
import type { CollectionRecord, Storage } from '../ports/storage.js';

export type ChangeKind = 'ADDED' | 'REMOVED' | 'CHANGED';

/** Fields added, removed or given another type, by key, from the backup's definition to the other side's. */
export interface DefinitionChanges {
  readonly fieldsAdded: string[];
  readonly fieldsRemoved: string[];
  readonly fieldsRetyped: { key: string; from: string; to: string }[];
}

/** One collection of a comparison. */
export interface CollectionDiff {
  readonly dataCollectionId: string;
  /** Where the collection is: in both, only in the backup, or only on the other side. */
  readonly presence: 'BOTH' | 'BACKUP_ONLY' | 'OTHER_ONLY';
  readonly itemsAdded: number;
  readonly itemsRemoved: number;
  readonly itemsChanged: number;
  /** Null when a side's definition is unknown (a backup written before definitions were kept). */
  readonly definitionChanges: DefinitionChanges | null;
  /** How the items were compared: only what changed since the backup, or both sides in full. */
  readonly method: 'CHANGES_SINCE' | 'FULL';
}

/** An item as one side holds it: its id and its stored JSON, as bytes (a view, valid until the next batch). */
export interface SideItem {
  readonly id: string;
  readonly bytes: Uint8Array;
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** Whether two items' stored JSON is the same, byte for byte. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && asBuffer(a).equals(asBuffer(b));
}

function fingerprint(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('base64');
}

const ID_PREFIX = Buffer.from('{"_id":"');

/** The `_id` of an NDJSON item line: read from its first bytes when written as safekeep writes it. */
function idOfLine(line: Buffer): string {
  if (line.subarray(0, ID_PREFIX.length).equals(ID_PREFIX)) {
    const end = line.indexOf(0x22, ID_PREFIX.length);
    const slash = line.indexOf(0x5c, ID_PREFIX.length);
    if (end > ID_PREFIX.length && (slash === -1 || slash > end))
      return line.toString('utf8', ID_PREFIX.length, end);
  }
  const data = JSON.parse(line.toString('utf8')) as { _id?: unknown };
  if (typeof data._id !== 'string') throw new Error('an item line has no _id');
  return data._id;
}

/** A side of a comparison: its items in id order, a batch at a time. */
export type ItemStream = AsyncGenerator<SideItem[]>;

/** Above this many changes since the backup, the comparison reads both sides in full (bounded memory). */
export const MAX_CHANGES_SINCE = 100_000;

export function definitionChanges(
  from: readonly Record<string, unknown>[] | undefined,
  to: readonly Record<string, unknown>[] | undefined,
): DefinitionChanges | null {
  if (!from || !to) return null;
  const typeOf = (f: Record<string, unknown>) => String(f.type);
  const before = new Map(from.map((f) => [String(f.key), typeOf(f)]));
  const after = new Map(to.map((f) => [String(f.key), typeOf(f)]));
  return {
    fieldsAdded: [...after.keys()].filter((k) => !before.has(k)).sort(),
    fieldsRemoved: [...before.keys()].filter((k) => !after.has(k)).sort(),
    fieldsRetyped: [...before]
      .filter(([k, t]) => after.has(k) && after.get(k) !== t)
      .map(([key, from]) => ({ key, from, to: after.get(key) ?? '' }))
      .sort((a, b) => compareCodePoints(a.key, b.key)),
  };
}

/** The side of a collection that is not there: nothing. */
export function noItems(): ItemStream {
  return (async function* () {
    // Nothing to yield; the loop only makes this a generator that ends at once.
    for (const batch of [] as SideItem[][]) yield await Promise.resolve(batch);
  })();
}

/** A backed-up collection as a side, from the start or after an id. */
export async function* backupSide(
  view: CollectionView,
  options: { after?: string; skipChunk?: (ref: ChunkRef) => boolean; signal?: AbortSignal } = {},
): ItemStream {
  // A comparison reads each chunk once: it keeps none in the cache the pages of browsing use.
  for await (const batch of view.scan({ ...options, keep: false }))
    yield batch.map((e: BackupEntry) => ({ id: entryId(e), bytes: entryView(e) }));
}

/**
 * The items of a live snapshot stream (NDJSON chunks), in the order the stream gives them. A chunk's buffer
 * goes back to the stream once the next one is asked for (its items are views into it).
 */
export async function* snapshotSide(stream: ChunkStream, after?: string): ItemStream {
  let previous: Uint8Array | undefined;
  try {
    for (let chunk = await stream.next(); chunk; chunk = await stream.next()) {
      if (previous) stream.recycle?.(previous);
      previous = chunk.data;
      const data = asBuffer(chunk.data);
      const batch: SideItem[] = [];
      for (let start = 0; start < data.length;) {
        let end = data.indexOf(0x0a, start);
        if (end === -1) end = data.length;
        if (end > start) {
          const line = data.subarray(start, end);
          const id = idOfLine(line);
          if (after === undefined || compareCodePoints(id, after) > 0) batch.push({ id, bytes: line });
        }
        start = end + 1;
      }
      if (batch.length > 0) yield batch;
    }
  } finally {
    await stream.close();
  }
}

/** Pulls single items from a batched stream. */
class Puller {
  private batch: SideItem[] = [];
  private at = 0;
  private done = false;

  constructor(private readonly stream: ItemStream) {}

  async peek(): Promise<SideItem | undefined> {
    while (this.at >= this.batch.length && !this.done) {
      const next = await this.stream.next();
      if (next.done) this.done = true;
      else {
        this.batch = next.value;
        this.at = 0;
      }
    }
    return this.batch[this.at];
  }

  take(): void {
    this.at += 1;
  }

  async close(): Promise<void> {
    await this.stream.return(undefined);
  }
}

/**
 * Merges two sides in id order, telling each difference in id order; `onChange` returns false to stop.
 * Both streams are closed at the end.
 */
export async function mergeSides(
  backup: ItemStream,
  other: ItemStream,
  onChange: (id: string, kind: ChangeKind) => boolean | void,
): Promise<void> {
  const a = new Puller(backup);
  const b = new Puller(other);
  try {
    for (;;) {
      const x = await a.peek();
      const y = await b.peek();
      if (!x && !y) return;
      const d = !x ? 1 : !y ? -1 : compareCodePoints(x.id, y.id);
      let go: boolean | void = true;
      if (d < 0 && x) {
        go = onChange(x.id, 'REMOVED');
        a.take();
      } else if (d > 0 && y) {
        go = onChange(y.id, 'ADDED');
        b.take();
      } else if (x && y) {
        if (!sameBytes(x.bytes, y.bytes)) go = onChange(x.id, 'CHANGED');
        a.take();
        b.take();
      }
      if (go === false) return;
    }
  } finally {
    await Promise.allSettled([a.close(), b.close()]);
  }
}

/**
 * Full-layer chunks two backups share and no delta layer of either touches: their items are the same on
 * both sides, so a comparison skips them unread.
 */
export function sharedUntouched(a: CollectionView, b: CollectionView): (ref: ChunkRef) => boolean {
  if (!a.ranged || !b.ranged) return () => false;
  const inB = new Set(b.baseChunks.map((c) => c.hash));
  const shared = new Set(a.baseChunks.filter((c) => inB.has(c.hash)).map((c) => c.hash));
  const touched = [...new Set([...a.overrides.keys(), ...b.overrides.keys()])].sort(compareCodePoints);
  return (ref) => {
    if (!shared.has(ref.hash) || ref.firstId === undefined || ref.lastId === undefined) return false;
    let lo = 0;
    let hi = touched.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareCodePoints(touched[mid] as string, ref.firstId) < 0) lo = mid + 1;
      else hi = mid;
    }
    const next = touched[lo];
    return next === undefined || compareCodePoints(next, ref.lastId) > 0;
  };
}

/** What a comparison against live data knows of the live collection. */
export interface LiveCollection {
  readonly record: CollectionRecord;
  readonly snapshot: SnapshotCollection;
}

/** Live data as the other side of comparisons: one consistent snapshot of the site's collections. */
export class LiveSide {
  private constructor(
    private readonly snapshot: ItemSnapshot,
    readonly collections: ReadonlyMap<string, LiveCollection>,
  ) {}

  static async open(
    storage: Pick<Storage, 'snapshots' | 'collections'>,
    siteId: string,
    collectionIds: readonly string[] | null,
    clock: Clock,
  ): Promise<LiveSide> {
    const snapshot = await storage.snapshots.openLive(siteId, collectionIds, defaultChunkPolicy, clock());
    try {
      const collections = new Map<string, LiveCollection>();
      for (const c of snapshot.collections) {
        const record = await storage.collections.get(siteId, c.id);
        if (record) collections.set(c.id, { record, snapshot: c });
      }
      return new LiveSide(snapshot, collections);
    } catch (error) {
      await snapshot.close();
      throw error;
    }
  }

  close(): Promise<void> {
    return this.snapshot.close();
  }

  count(c: LiveCollection): Promise<number> {
    return this.snapshot.count(c.snapshot.gen);
  }

  async items(c: LiveCollection, after?: string): Promise<ItemStream> {
    return snapshotSide(await this.snapshot.items(c.snapshot.gen), after);
  }

  /**
   * The changes since the backup, from the change numbers and tombstones of the generation the backup read,
   * or undefined when they cannot say (another generation now, tombstones pruned, or too many changes).
   */
  async changesSince(
    c: LiveCollection,
    at: { gen: number; version: number } | undefined,
    view: CollectionView,
  ): Promise<{ id: string; kind: ChangeKind }[] | undefined> {
    const { gen, tombstoneFloor } = c.snapshot;
    if (!at || at.gen !== gen || gen === 0 || at.version < tombstoneFloor) return undefined;
    const counts = await this.snapshot.changeCounts(gen, at.version);
    if (counts.upserts + counts.deletes > MAX_CHANGES_SINCE) return undefined;
    // What changed, remembered by id and a fingerprint of the live bytes (bounded by MAX_CHANGES_SINCE),
    // then looked up in the backup a chunk at a time.
    const written = new Map<string, string>();
    for await (const batch of snapshotSide(await this.snapshot.items(gen, at.version)))
      for (const item of batch) written.set(item.id, fingerprint(item.bytes));
    const removed = new Set<string>();
    const deletions = await this.snapshot.deletions(gen, at.version);
    try {
      const decoder = new TextDecoder();
      for (let chunk = await deletions.next(); chunk; chunk = await deletions.next()) {
        for (const line of decoder.decode(chunk.data).split('\n'))
          if (line.length > 0) removed.add(JSON.parse(line) as string);
        deletions.recycle?.(chunk.data);
      }
    } finally {
      await deletions.close();
    }
    const changes: { id: string; kind: ChangeKind }[] = [];
    await view.visit([...written.keys(), ...removed], (id, entry) => {
      const now = written.get(id);
      if (now !== undefined) {
        if (!entry) changes.push({ id, kind: 'ADDED' });
        else if (fingerprint(entryView(entry)) !== now) changes.push({ id, kind: 'CHANGED' });
      } else if (entry) changes.push({ id, kind: 'REMOVED' });
    });
    return changes.sort((x, y) => compareCodePoints(x.id, y.id));
  }
}

/** Where a page of a comparison's item list starts: after the id the previous page ended with. */
export function decodeDiffCursor(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string' && parsed.after.length > 0) return parsed.after;
  } catch {
    // refused below
  }
  throw invalidArgument('cursor', 'is not a cursor of this comparison', 'FORMAT');
}

export function encodeDiffCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

/** The dotted paths where two items' data differ (a value of another type or an array differs whole). */
export function differingPaths(a: unknown, b: unknown, prefix = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b) && !('$date' in a && '$date' in b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(compareCodePoints);
    return keys.flatMap((k) => differingPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/** @throws AppError WDE0073 when neither side holds the item. */
export function itemNotFound(id: string): never {
  throw errors.WDE0073(id);
}
