/**
 * What a restoration would take out of live data (the restore review, an extension of backups-api.md §6, README "Restoring only some items"): the items live
 * now that the backup lacks (they leave live data; the safety backup keeps them) and the items that changed
 * since the backup. One pass in id order over the backup's resolved items and the live ones, so memory stays
 * bounded by the delta layers, never by the collection.
 */
import { createHash } from 'node:crypto';
import type { ChunkRef, ManifestCollection } from '../domain/manifest.js';
import type { BlobStore } from '../ports/blob-store.js';
import { compareIds, type IdSelection } from './backup-items.js';
import { fetchChunk } from './backup-verifier.js';
import { itemJson } from './chunk-lines.js';
import type { CodecPool } from './codec-pool.js';
import { eachChunk } from './each-chunk.js';

/** A count and the first few ids, in id order. */
export interface IdSample {
  readonly count: number;
  readonly firstIds: readonly string[];
}

export interface ItemLosses {
  /** Live items the backup does not hold: a restore removes them from live data. */
  readonly notInBackup: IdSample;
  /** Items on both sides whose content differs: a restore puts back the backup's version. */
  readonly changed: IdSample;
}

/** How many ids a sample shows. */
export const SAMPLE_IDS = 10;

const surrogate = /[\uD800-\uDFFF]/;

/** `compareIds`, with the cheap comparison where UTF-16 order is the bytewise order (no surrogates). */
function order(a: string, b: string): number {
  if (surrogate.test(a) || surrogate.test(b)) return compareIds(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

const digest = (json: string) => createHash('sha1').update(json).digest('base64');

class Sampler {
  count = 0;
  readonly firstIds: string[] = [];
  add(id: string): void {
    this.count += 1;
    if (this.firstIds.length < SAMPLE_IDS) this.firstIds.push(id);
  }
  get sample(): IdSample {
    return { count: this.count, firstIds: this.firstIds };
  }
}

/** The backup's side of the comparison: one item at a time in id order, with its JSON or its digest. */
type BackupItem = { id: string; json?: string; digest?: string };

/**
 * Compares a backed-up collection with live items (in id order, bytewise, as the item tables sort them).
 * With `only`, just those ids on both sides (an item restore): `live` must then yield only those.
 */
export async function itemLosses(
  deps: { blobs: BlobStore; codec: CodecPool },
  siteId: string,
  entry: ManifestCollection,
  live: AsyncIterable<{ id: string; json: string }>,
  signal: AbortSignal,
  only?: IdSelection,
): Promise<ItemLosses> {
  const chunksOf = (refs: readonly ChunkRef[]) => (only ? only.chunksOf(refs) : refs);
  const wanted = (id: string) => !only || only.has(id);
  const openItems = async (ref: ChunkRef) =>
    deps.codec.openItems(await fetchChunk(deps.blobs, siteId, ref), ref);
  const openIds = async (ref: ChunkRef) => deps.codec.openIds(await fetchChunk(deps.blobs, siteId, ref), ref);
  // Ids the delta layers decide: the digest of the winning version, or null when deleted.
  const decided = new Map<string, string | null>();
  for (const layer of entry.layers.slice(1)) {
    await eachChunk(
      chunksOf(layer.deletes?.chunks ?? []),
      openIds,
      (ids) => {
        for (const id of ids) if (wanted(id)) decided.set(id, null);
        return Promise.resolve();
      },
      signal,
    );
    await eachChunk(
      chunksOf(layer.upserts.chunks),
      openItems,
      (chunk) => {
        for (const row of chunk.rows) if (wanted(row[0])) decided.set(row[0], digest(itemJson(chunk, row)));
        deps.codec.recycle(chunk.bytes);
        return Promise.resolve();
      },
      signal,
    );
  }
  const fromDeltas: BackupItem[] = [...decided]
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([id, d]) => ({ id, digest: d }))
    .sort((a, b) => order(a.id, b.id));

  const notInBackup = new Sampler();
  const changed = new Sampler();
  const liveItems = live[Symbol.asyncIterator]();
  let current = await liveItems.next();
  /** Advances live data up to `item` (counting the live items the backup lacks), then compares. */
  const compare = async (item: BackupItem) => {
    while (!current.done && order(current.value.id, item.id) < 0) {
      notInBackup.add(current.value.id);
      current = await liveItems.next();
    }
    if (current.done || current.value.id !== item.id) return;
    const same =
      item.json !== undefined ? item.json === current.value.json : item.digest === digest(current.value.json);
    if (!same) changed.add(item.id);
    current = await liveItems.next();
  };
  let d = 0;
  const full = entry.layers[0];
  if (full) {
    await eachChunk(
      chunksOf(full.upserts.chunks),
      openItems,
      async (chunk) => {
        for (const row of chunk.rows) {
          const id = row[0];
          if (!wanted(id) || decided.has(id)) continue;
          // Delta versions come in id order too: merge them in.
          while (d < fromDeltas.length && order((fromDeltas[d] as BackupItem).id, id) < 0)
            await compare(fromDeltas[d++] as BackupItem);
          await compare({ id, json: itemJson(chunk, row) });
        }
        deps.codec.recycle(chunk.bytes);
      },
      signal,
    );
  }
  while (d < fromDeltas.length) await compare(fromDeltas[d++] as BackupItem);
  for (; !current.done; current = await liveItems.next()) notInBackup.add(current.value.id);
  return { notInBackup: notInBackup.sample, changed: changed.sample };
}
