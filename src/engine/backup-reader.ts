/**
 * Reading a backed-up collection's items without restoring it: by id, or in id order from any id, with its
 * delta layers merged over its full layer exactly as a restore merges them (stage-collection.ts). Only the
 * chunks a read needs are fetched — a chunk's first and last id (format-2 manifests) say which one holds an
 * id — and every chunk is verified by the codec workers before use. Decoded chunks are kept in a cache
 * bounded in bytes, shared by every reader of the process.
 */
import type { ChunkRef, ManifestCollection } from '../domain/manifest.js';
import { compareCodePoints } from '../domain/query/order.js';
import type { BlobStore } from '../ports/blob-store.js';
import { fetchChunk } from './backup-verifier.js';
import { itemJson, type ItemChunk, type ItemRow } from './chunk-lines.js';
import { eachChunk } from './each-chunk.js';
import type { CodecPool } from './codec-pool.js';

/** The decoded chunks kept by default: 64 MiB of item text. */
export const DEFAULT_CHUNK_CACHE_BYTES = 64 * 1024 * 1024;

/** An item of a backup: where it lies in its (verified, decoded) chunk. */
export interface BackupEntry {
  readonly chunk: ItemChunk;
  readonly row: ItemRow;
}

export const entryId = (e: BackupEntry): string => e.row[0];
export const entryJson = (e: BackupEntry): string => itemJson(e.chunk, e.row);
/** The item's JSON as bytes: a view into its chunk, nothing copied. */
export const entryView = (e: BackupEntry): Uint8Array => e.chunk.bytes.subarray(e.row[3], e.row[4]);
/** The size of the item's JSON in bytes. */
export const entryBytes = (e: BackupEntry): number => e.row[4] - e.row[3];

/** A least-recently-used map of decoded chunks within a byte budget; loads of one key are shared. */
export class ChunkCache {
  private readonly entries = new Map<string, { value: unknown; size: number }>();
  private readonly loading = new Map<string, Promise<unknown>>();
  private bytes = 0;

  constructor(readonly budget: number = DEFAULT_CHUNK_CACHE_BYTES) {}

  /** Bytes held now (never more than the budget). */
  get size(): number {
    return this.bytes;
  }

  /** The value of `key`, loaded (once for concurrent callers) when absent; kept only if `keep`. */
  async get<T>(key: string, load: () => Promise<{ value: T; size: number }>, keep = true): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value as T;
    }
    const pending = this.loading.get(key);
    if (pending) return pending as Promise<T>;
    const loaded = load().then(({ value, size }) => {
      if (keep) this.put(key, value, size);
      return value;
    });
    this.loading.set(key, loaded);
    try {
      return await loaded;
    } finally {
      this.loading.delete(key);
    }
  }

  private put(key: string, value: unknown, size: number): void {
    if (size > this.budget) return;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + size <= this.budget) break;
      this.entries.delete(oldest);
      this.bytes -= entry.size;
    }
    this.entries.set(key, { value, size });
    this.bytes += size;
  }
}

/** Where a delta layer's surviving version of an item is. */
interface Survivor {
  readonly id: string;
  readonly chunk: ChunkRef;
}

function lowerBound<T>(list: readonly T[], key: (t: T) => string, id: string, strict: boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const d = compareCodePoints(key(list[mid] as T), id);
    if (d < 0 || (strict && d === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const rowId = (r: ItemRow) => r[0];

/** The row of `id` in a chunk (rows are in id order), or undefined. */
function rowOf(chunk: ItemChunk, id: string): ItemRow | undefined {
  const at = lowerBound(chunk.rows, rowId, id, false);
  const row = chunk.rows[at];
  return row && row[0] === id ? row : undefined;
}

/** What a scan skips, for comparing two backups that share chunks. */
export interface ScanOptions {
  /** Start strictly after this id. */
  readonly after?: string;
  /** Full-layer chunks not to read (their items are not yielded; delta items still are). */
  readonly skipChunk?: (ref: ChunkRef) => boolean;
  /** False for a pass over the whole collection: its chunks are not kept in the cache. */
  readonly keep?: boolean;
  readonly signal?: AbortSignal;
}

/** One backed-up collection: its full layer's chunks with the delta layers' changes over them. */
export class CollectionView {
  constructor(
    private readonly reader: BackupReader,
    private readonly siteId: string,
    readonly entry: ManifestCollection,
    /** Ids a delta layer changed: the chunk of the surviving version, or null when deleted. */
    readonly overrides: ReadonlyMap<string, ChunkRef | null>,
    /** The surviving delta versions, in id order. */
    private readonly survivors: readonly Survivor[],
  ) {}

  get itemCount(): number {
    return this.entry.itemCount;
  }

  /** The full layer's chunks. */
  get baseChunks(): readonly ChunkRef[] {
    return this.entry.layers[0]?.upserts.chunks ?? [];
  }

  /** Whether every full-layer chunk says which ids it holds. */
  get ranged(): boolean {
    return this.baseChunks.every((c) => c.firstId !== undefined && c.lastId !== undefined);
  }

  private open(ref: ChunkRef, keep = true): Promise<ItemChunk> {
    return this.reader.items(this.siteId, ref, keep);
  }

  /** The full-layer chunks that may hold `id`. */
  private chunksFor(id: string): readonly ChunkRef[] {
    const chunks = this.baseChunks;
    if (!this.ranged) return chunks;
    const at = lowerBound(chunks, (c) => c.lastId ?? '', id, false);
    const ref = chunks[at];
    return ref?.firstId !== undefined && compareCodePoints(ref.firstId, id) <= 0 ? [ref] : [];
  }

  /** One item as the backup holds it, or undefined. */
  async get(id: string): Promise<BackupEntry | undefined> {
    return (await this.getMany([id])).get(id);
  }

  /** The items among `ids` the backup holds, reading each needed chunk once. */
  async getMany(ids: readonly string[]): Promise<Map<string, BackupEntry>> {
    const byChunk = new Map<ChunkRef, string[]>();
    const want = (ref: ChunkRef, id: string) => {
      const list = byChunk.get(ref);
      if (list) list.push(id);
      else byChunk.set(ref, [id]);
    };
    for (const id of new Set(ids)) {
      const override = this.overrides.get(id);
      if (override === null) continue;
      if (override) want(override, id);
      else for (const ref of this.chunksFor(id)) want(ref, id);
    }
    const found = new Map<string, BackupEntry>();
    for (const [ref, wanted] of byChunk) {
      const chunk = await this.open(ref);
      for (const id of wanted) {
        const row = rowOf(chunk, id);
        if (row) found.set(id, { chunk, row });
      }
    }
    return found;
  }

  /**
   * Calls `use` for each of `ids` with the backup's version of the item (undefined where the backup does
   * not hold it), a chunk at a time with read-ahead, keeping no chunk once its ids are done: for looking up
   * many ids in bounded memory. An entry is valid only during its call.
   */
  async visit(
    ids: readonly string[],
    use: (id: string, entry: BackupEntry | undefined) => void,
    signal: AbortSignal = new AbortController().signal,
  ): Promise<void> {
    const byChunk = new Map<ChunkRef, string[]>();
    for (const id of new Set(ids)) {
      const override = this.overrides.get(id);
      const refs = override === null ? [] : override ? [override] : this.chunksFor(id);
      if (refs.length === 0) use(id, undefined);
      for (const ref of refs) {
        const list = byChunk.get(ref);
        if (list) list.push(id);
        else byChunk.set(ref, [id]);
      }
    }
    // Without key ranges (format 1) an id may be looked for in several chunks: told once, found or not.
    const pending = new Map<string, number>();
    for (const list of byChunk.values()) for (const id of list) pending.set(id, (pending.get(id) ?? 0) + 1);
    await eachChunk(
      [...byChunk.keys()],
      async (ref) => ({ ref, chunk: await this.reader.ownedItems(this.siteId, ref) }),
      ({ ref, chunk }) => {
        for (const id of byChunk.get(ref) ?? []) {
          const row = rowOf(chunk, id);
          const left = (pending.get(id) ?? 1) - 1;
          if (row) {
            use(id, { chunk, row });
            pending.delete(id);
          } else if (left === 0 && pending.has(id)) {
            use(id, undefined);
            pending.delete(id);
          } else if (pending.has(id)) pending.set(id, left);
        }
        // `use` kept nothing of it: its buffer goes back to the codec workers to decompress into again.
        this.reader.recycle(chunk);
        return Promise.resolve();
      },
      signal,
    );
  }

  /**
   * The collection's items in id order (code point order, as the engines order ids), a chunk's worth at a
   * time, from the start or strictly after `options.after`.
   */
  async *scan(options: ScanOptions = {}): AsyncGenerator<BackupEntry[]> {
    const { after, skipChunk, signal } = options;
    const keep = options.keep ?? true;
    const openBase = (i: number): Promise<ItemChunk> => {
      const ref = chunks[i] as ChunkRef;
      return keep ? this.open(ref) : this.reader.ownedItems(this.siteId, ref);
    };
    let ahead: { index: number; chunk: Promise<ItemChunk> } | undefined;
    const chunks = this.baseChunks;
    let s = after === undefined ? 0 : lowerBound(this.survivors, (v) => v.id, after, true);
    let c = 0;
    if (after !== undefined && this.ranged) c = lowerBound(chunks, (r) => r.lastId ?? '', after, true);
    const pending: Survivor[] = [];
    /** The delta versions up to `last` (all that are left without it), opened. */
    const survivorsUpTo = async (last: string | undefined): Promise<BackupEntry[]> => {
      pending.length = 0;
      while (s < this.survivors.length) {
        const v = this.survivors[s] as Survivor;
        if (last !== undefined && compareCodePoints(v.id, last) > 0) break;
        pending.push(v);
        s += 1;
      }
      const out: BackupEntry[] = [];
      for (const v of pending) {
        const chunk = await this.open(v.chunk);
        const row = rowOf(chunk, v.id);
        if (row) out.push({ chunk, row });
      }
      return out;
    };
    for (; c < chunks.length; c++) {
      signal?.throwIfAborted();
      const ref = chunks[c] as ChunkRef;
      if (skipChunk?.(ref) && ref.lastId !== undefined) {
        const deltas = await survivorsUpTo(ref.lastId);
        if (deltas.length > 0) yield deltas;
        continue;
      }
      const current = ahead?.index === c ? ahead.chunk : openBase(c);
      ahead = undefined;
      // Read ahead: the next chunk loads while this one is merged.
      const next = chunks[c + 1];
      if (next && !skipChunk?.(next)) {
        const reading = openBase(c + 1);
        reading.catch(() => undefined);
        if (!keep) ahead = { index: c + 1, chunk: reading };
      }
      const chunk = await current;
      const last = chunk.rows[chunk.rows.length - 1]?.[0];
      const deltas = await survivorsUpTo(c === chunks.length - 1 ? undefined : last);
      const out: BackupEntry[] = [];
      let d = 0;
      for (const row of chunk.rows) {
        if (after !== undefined && compareCodePoints(row[0], after) <= 0) continue;
        if (this.overrides.has(row[0])) continue;
        while (d < deltas.length && compareCodePoints(entryId(deltas[d] as BackupEntry), row[0]) < 0)
          out.push(deltas[d++] as BackupEntry);
        out.push({ chunk, row });
      }
      while (d < deltas.length) out.push(deltas[d++] as BackupEntry);
      if (out.length > 0) yield out;
      // A pass that keeps nothing owns its chunk: once the batch is consumed, the buffer is reused.
      if (!keep) this.reader.recycle(chunk);
    }
    const rest = await survivorsUpTo(undefined);
    if (rest.length > 0) yield rest;
  }
}

/** Reads backed-up collections: verified chunks through a shared bounded cache, merged views of layers. */
export class BackupReader {
  private readonly views = new Map<string, Promise<CollectionView>>();
  /** Chunks fetched from the blob store so far (not found in the cache): what a request really read. */
  fetched = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly codec: () => CodecPool,
    readonly cache: ChunkCache = new ChunkCache(),
    /** Merged views kept (their delta overrides): a few, by backup and collection. */
    private readonly maxViews = 16,
  ) {}

  /**
   * An item chunk, verified and decoded; kept in the cache unless `keep` is false (a pass over a whole
   * collection would only push out what pages reuse). @throws JobFailure INTEGRITY_*
   */
  items(siteId: string, ref: ChunkRef, keep = true): Promise<ItemChunk> {
    return this.cache.get(
      `${siteId}/${ref.hash}`,
      async () => {
        this.fetched += 1;
        const chunk = await this.codec().openItems(await fetchChunk(this.blobs, siteId, ref), ref);
        return { value: chunk, size: chunk.bytes.byteLength + chunk.rows.length * 96 };
      },
      keep,
    );
  }

  /**
   * An item chunk read for one pass, outside the cache: the caller owns it and hands it back with
   * {@link recycle} once nothing refers to it. @throws JobFailure INTEGRITY_*
   */
  async ownedItems(siteId: string, ref: ChunkRef): Promise<ItemChunk> {
    this.fetched += 1;
    return this.codec().openItems(await fetchChunk(this.blobs, siteId, ref), ref);
  }

  /** Gives an owned chunk's buffer back to the codec workers. */
  recycle(chunk: ItemChunk): void {
    this.codec().recycle(chunk.bytes);
  }

  /** A chunk of deleted ids, verified and decoded. @throws JobFailure INTEGRITY_* */
  ids(siteId: string, ref: ChunkRef): Promise<string[]> {
    return this.cache.get(`${siteId}/${ref.hash}`, async () => {
      this.fetched += 1;
      const ids = await this.codec().openIds(await fetchChunk(this.blobs, siteId, ref), ref);
      return { value: ids, size: ref.rawSize + ids.length * 64 };
    });
  }

  /**
   * A backed-up collection with its layers merged. `key` names the backup (views are kept per backup and
   * collection, as manifests never change).
   */
  view(siteId: string, key: string, entry: ManifestCollection): Promise<CollectionView> {
    const name = `${siteId}/${key}/${entry.id}`;
    const known = this.views.get(name);
    if (known) {
      this.views.delete(name);
      this.views.set(name, known);
      return known;
    }
    const building = this.merge(siteId, entry);
    building.catch(() => this.views.delete(name));
    this.views.set(name, building);
    for (const oldest of this.views.keys()) {
      if (this.views.size <= this.maxViews) break;
      this.views.delete(oldest);
    }
    return building;
  }

  /** Which delta version of each changed id wins (the last layer's; a later delete removes it). */
  private async merge(siteId: string, entry: ManifestCollection): Promise<CollectionView> {
    const overrides = new Map<string, ChunkRef | null>();
    for (const layer of entry.layers.slice(1)) {
      for (const ref of layer.deletes?.chunks ?? [])
        for (const id of await this.ids(siteId, ref)) overrides.set(id, null);
      for (const ref of layer.upserts.chunks)
        for (const row of (await this.items(siteId, ref)).rows) overrides.set(row[0], ref);
    }
    const survivors: Survivor[] = [];
    for (const [id, chunk] of overrides) if (chunk) survivors.push({ id, chunk });
    survivors.sort((a, b) => compareCodePoints(a.id, b.id));
    return new CollectionView(this, siteId, entry, overrides, survivors);
  }
}
