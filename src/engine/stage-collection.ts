import type { ManifestCollection, ChunkRef } from '../domain/manifest.js';
import type { SecondaryIndex } from '../ports/backup-store.js';
import type { IdSelection } from './backup-items.js';
import { fetchChunk } from './backup-verifier.js';
import { itemJson, type ItemChunk, type ItemRow } from './chunk-lines.js';
import { eachChunk } from './each-chunk.js';
import { hit, type EngineDeps } from './engine-deps.js';

/**
 * Which secondary indexes to build before loading, from the first chunk (items come in id order). An index
 * whose column rises along with the ids (time-ordered ids, as this server generates) costs nothing to keep
 * up while loading and saves the sort, and the stall, of building it at the end; one in random order is
 * cheaper to build at the end in one sort.
 */
function indexesToKeepWhileLoading(rows: readonly ItemRow[]): SecondaryIndex[] {
  const rising = (column: 1 | 2) => {
    let up = 0;
    for (let k = 1; k < rows.length; k++)
      if ((rows[k]?.[column] ?? 0) >= (rows[k - 1]?.[column] ?? 0)) up += 1;
    return rows.length < 2 || up / (rows.length - 1) >= 0.9;
  };
  // Every staged row has change number 0: its index only ever appends.
  const which: SecondaryIndex[] = ['seq'];
  if (rising(1)) which.push('created');
  if (rising(2)) which.push('updated');
  return which;
}

/**
 * Fills a staged generation with a backed-up collection: the full layer's items, minus those a later delta
 * layer removed or replaced, then each delta's surviving items. Every chunk is verified before its rows are
 * written; nothing here is visible to readers until the switch. With `only` (an item restore), just the
 * items with those ids, read from the chunks whose key ranges can hold them.
 */
export async function stageCollection(
  deps: EngineDeps,
  siteId: string,
  entry: ManifestCollection,
  gen: number,
  signal: AbortSignal,
  onItems: (n: number) => void,
  only?: IdSelection,
): Promise<void> {
  const chunksOf = (refs: readonly ChunkRef[]) => (only ? only.chunksOf(refs) : refs);
  const wanted = (id: string) => !only || only.has(id);
  const openItems = async (ref: ChunkRef): Promise<ItemChunk> =>
    deps.codec.openItems(await fetchChunk(deps.blobs, siteId, ref), ref);
  const openIds = async (ref: ChunkRef) => deps.codec.openIds(await fetchChunk(deps.blobs, siteId, ref), ref);
  // id → the delta layer whose version of the item wins (-1: deleted).
  const winner = new Map<string, number>();
  for (let i = 1; i < entry.layers.length; i++) {
    const layer = entry.layers[i];
    if (!layer) continue;
    await eachChunk(
      chunksOf(layer.deletes?.chunks ?? []),
      openIds,
      (ids) => {
        ids.forEach((id) => winner.set(id, -1));
        return Promise.resolve();
      },
      signal,
    );
    await eachChunk(
      chunksOf(layer.upserts.chunks),
      openItems,
      (chunk) => {
        chunk.rows.forEach((r) => winner.set(r[0], i));
        deps.codec.recycle(chunk.bytes);
        return Promise.resolve();
      },
      signal,
    );
  }
  let indexesChosen = false;
  for (let i = 0; i < entry.layers.length; i++) {
    const layer = entry.layers[i];
    if (!layer) continue;
    await eachChunk(
      chunksOf(layer.upserts.chunks),
      openItems,
      async (chunk) => {
        if (!indexesChosen) {
          indexesChosen = true;
          await deps.staging.buildIndexes(gen, indexesToKeepWhileLoading(chunk.rows));
        }
        const kept = chunk.rows.filter(
          (r) => wanted(r[0]) && (i === 0 ? !winner.has(r[0]) : winner.get(r[0]) === i),
        );
        await deps.staging.appendItems(
          gen,
          kept.map((row) => ({
            id: row[0],
            createdAt: row[1],
            updatedAt: row[2],
            json: itemJson(chunk, row),
          })),
        );
        deps.codec.recycle(chunk.bytes);
        onItems(kept.length);
        await hit(deps, 'restore:chunk-staged');
      },
      signal,
    );
  }
}
