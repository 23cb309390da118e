import { mapLink, type RestorationRecord } from '../domain/backup.js';
import type { ChunkRef, Manifest } from '../domain/manifest.js';
import type { StagedLink } from '../ports/backup-store.js';
import { fetchChunk } from './backup-verifier.js';
import { eachChunk } from './each-chunk.js';
import type { EngineDeps } from './engine-deps.js';

/**
 * Stages the backed-up links the restoration brings back (§6.5), between items that will exist. A
 * destination restored item by item (`itemDestinations`) keeps its other items: an end there exists if
 * the staged items or the live ones hold it (the switch keeps only the links of the items it restores, and
 * checks their ends again once it has written them).
 */
export async function stageLinks(
  deps: EngineDeps,
  restoration: RestorationRecord,
  manifest: Manifest,
  staged: Readonly<Record<string, number>>,
  signal: AbortSignal,
  itemDestinations: ReadonlySet<string> = new Set(),
): Promise<void> {
  const live = await deps.staging.liveGenerations(restoration.siteId);
  const genOf = (collectionId: string) => staged[collectionId] ?? live.get(collectionId);
  /** Staged generation of an item destination → its live generation. */
  const liveBehind = new Map<number, number>();
  for (const id of itemDestinations) {
    const [stagedGen, liveGen] = [staged[id], live.get(id)];
    if (stagedGen !== undefined && liveGen !== undefined) liveBehind.set(stagedGen, liveGen);
  }
  const lists = [...manifest.collections.map((c) => c.links), manifest.incomingLinks];
  const open = async (ref: ChunkRef) =>
    deps.codec.openLinks(await fetchChunk(deps.blobs, restoration.siteId, ref), ref);
  for (const list of lists) {
    await eachChunk(
      list.chunks,
      open,
      async (links) => {
        const mapped: StagedLink[] = [];
        for (const link of links) {
          const m = mapLink(link, restoration.collections);
          const fromGen = m && genOf(m.fromCollection);
          const toGen = m && genOf(m.toCollection);
          if (m && fromGen !== undefined && toGen !== undefined) {
            mapped.push({ fromGen, fromId: m.fromId, field: m.field, toGen, toId: m.toId, pos: m.pos });
          }
        }
        // A link whose other end will not exist after the switch is dropped.
        const exists = new Map<number, Set<string>>();
        for (const gen of new Set(mapped.flatMap((l) => [l.fromGen, l.toGen]))) {
          const ids = mapped.flatMap((l) => [
            ...(l.fromGen === gen ? [l.fromId] : []),
            ...(l.toGen === gen ? [l.toId] : []),
          ]);
          const found = await deps.staging.existingIds(gen, ids);
          const liveGen = liveBehind.get(gen);
          if (liveGen !== undefined)
            for (const id of await deps.staging.existingIds(liveGen, ids)) found.add(id);
          exists.set(gen, found);
        }
        await deps.staging.appendLinks(
          mapped.filter((l) => exists.get(l.fromGen)?.has(l.fromId) && exists.get(l.toGen)?.has(l.toId)),
        );
      },
      signal,
    );
  }
}
