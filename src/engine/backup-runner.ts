import type { CollectionRef, ManifestRef } from '../domain/backup.js';
import type { ChunkPolicy } from '../domain/chunking.js';
import {
  chunksOf,
  MANIFEST_FORMAT,
  type ChunkList,
  type ChunkRef,
  type Manifest,
  type ManifestCollection,
  type ManifestLayer,
} from '../domain/manifest.js';
import type { BackupBase, BackupStore, CollectionState } from '../ports/backup-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { ItemSnapshot, SnapshotCollection } from '../ports/snapshot-source.js';
import { ChunkSink } from './chunk-sink.js';
import type { CodecPool } from './codec-pool.js';
import type { ChunkObserver } from './engine-deps.js';
import { publishManifest, readManifest } from './manifest-io.js';

/** How an incremental chain is kept short: past these, the next backup of a collection reads it in full. */
export const MAX_DELTA_LAYERS = 24;
export const MAX_DELTA_SHARE = 0.25;

export interface ContentWriterDeps {
  readonly blobs: BlobStore;
  readonly codec: CodecPool;
  readonly compressionLevel: number;
  readonly policy: ChunkPolicy;
  readonly chunkObserver?: ChunkObserver | undefined;
}

export interface WrittenBackup {
  readonly manifest: Manifest;
  readonly ref: ManifestRef;
  readonly sizeBytes: number;
  readonly itemCount: number;
  readonly collectionStates: CollectionState[];
  readonly collections: CollectionRef[];
}

/** A base for incremental reading: its manifest entry, and the change number it was taken at. */
export interface CollectionBase {
  readonly entry: ManifestCollection;
  readonly version: number;
}

/** How a collection will be written: reused whole, as a delta on its base, or read in full. */
export interface CollectionPlan {
  readonly collection: SnapshotCollection;
  readonly mode: 'reuse' | 'delta' | 'full';
  readonly base: CollectionBase | undefined;
  readonly itemCount: number;
}

/**
 * Decides per collection: one whose base holds the same change number is reused without being read (not
 * even counted); one with few changes since its base gets a delta layer, while the chain stays short; any
 * other is read in full (its chunks deduplicated against the stored ones).
 */
export async function planSnapshot(
  snapshot: ItemSnapshot,
  bases: ReadonlyMap<string, CollectionBase>,
): Promise<CollectionPlan[]> {
  const plans: CollectionPlan[] = [];
  for (const collection of snapshot.collections) {
    const base = bases.get(collection.id);
    const sameGen = base !== undefined && base.entry.gen === collection.gen && collection.gen !== 0;
    if (sameGen && base.version === collection.version) {
      plans.push({ collection, mode: 'reuse', base, itemCount: base.entry.itemCount });
      continue;
    }
    const itemCount = await snapshot.count(collection.gen);
    let mode: CollectionPlan['mode'] = 'full';
    if (sameGen && base.version >= collection.tombstoneFloor && base.entry.layers.length < MAX_DELTA_LAYERS) {
      const changes = await snapshot.changeCounts(collection.gen, base.version);
      const chained = base.entry.layers
        .slice(1)
        .reduce((n, l) => n + l.upserts.count + (l.deletes?.count ?? 0), 0);
      if (chained + changes.upserts + changes.deletes <= MAX_DELTA_SHARE * Math.max(itemCount, 1000))
        mode = 'delta';
    }
    plans.push({ collection, mode, base, itemCount });
  }
  return plans;
}

/** Writes a planned snapshot as chunks and a manifest (published create-only, last). */
export async function writeSnapshot(
  deps: ContentWriterDeps,
  target: { siteId: string; backupId: string },
  snapshot: ItemSnapshot,
  plans: readonly CollectionPlan[],
  options: {
    known: Map<string, ChunkRef>;
    signal: AbortSignal;
    onItems: (count: number) => void;
    /** Called after each chunk is stored (fault tests stop here). */
    afterChunk?: () => Promise<void>;
  },
): Promise<WrittenBackup> {
  const sink = new ChunkSink(
    deps.blobs,
    deps.codec,
    target.siteId,
    deps.compressionLevel,
    options.known,
    options.signal,
    options.afterChunk,
    undefined,
    deps.chunkObserver,
  );
  const allTargets = [...snapshot.linkTargets.keys()];
  const collections: ManifestCollection[] = [];
  for (const plan of plans) {
    options.signal.throwIfAborted();
    collections.push(await writeCollection(plan, snapshot, sink, allTargets, options.onItems));
  }
  const inside = new Set(snapshot.collections.map((c) => c.gen));
  const incoming: ChunkRef[] = [];
  let incomingCount = 0;
  for (const gen of allTargets.filter((g) => !inside.has(g))) {
    const list = await sink.write(await snapshot.links(gen, [...inside]));
    incoming.push(...list.chunks);
    incomingCount += list.count;
  }
  const draft: Manifest = {
    format: MANIFEST_FORMAT,
    backupId: target.backupId,
    siteId: target.siteId,
    snapshotDate: new Date(snapshot.takenAt).toISOString(),
    collections,
    incomingLinks: { count: incomingCount, chunks: incoming },
  };
  const { ref, manifest } = await publishManifest(deps.blobs, draft);
  const storedBytes = chunksOf(manifest).reduce((n, c) => n + c.storedSize, 0);
  return {
    manifest,
    ref,
    sizeBytes: storedBytes + ref.size,
    itemCount: manifest.collections.reduce((n, c) => n + c.itemCount, 0),
    collectionStates: manifest.collections.map((c) => ({
      collectionId: c.id,
      gen: c.gen,
      version: c.version,
    })),
    collections: manifest.collections.map((c) => ({ id: c.id, displayName: c.displayName })),
  };
}

async function writeCollection(
  plan: CollectionPlan,
  snapshot: ItemSnapshot,
  sink: ChunkSink,
  linkTargets: readonly number[],
  onItems: (count: number) => void,
): Promise<ManifestCollection> {
  const c = plan.collection;
  // The definition always comes from this snapshot, even when the items' chunks are reused: a definition
  // can change without any item changing (the change number counts items and links only).
  const entry = (layers: readonly ManifestLayer[], links: ChunkList): ManifestCollection => ({
    id: c.id,
    displayName: c.displayName,
    ...(c.definition && { definition: c.definition }),
    ...(c.absentBefore && { absentBefore: true }),
    ...(c.itemSelection && { itemSelection: c.itemSelection }),
    gen: c.gen,
    version: c.version,
    itemCount: plan.itemCount,
    layers,
    links,
  });
  const base = plan.base?.entry;
  if (plan.mode === 'reuse' && base) {
    sink.reuse([...base.layers.flatMap((l) => [l.upserts, l.deletes]), base.links]);
    onItems(plan.itemCount);
    return entry(base.layers, base.links);
  }
  if (c.gen === 0)
    return entry([{ kind: 'full', upserts: { count: 0, chunks: [] } }], { count: 0, chunks: [] });
  const links = () => snapshot.links(c.gen, linkTargets).then((stream) => sink.write(stream));
  if (plan.mode === 'delta' && base && plan.base) {
    const since = plan.base.version;
    sink.reuse(base.layers.flatMap((l) => [l.upserts, l.deletes]));
    const upserts = await sink.write(await snapshot.items(c.gen, since));
    const deletes = await sink.write(await snapshot.deletions(c.gen, since));
    const layers: readonly ManifestLayer[] =
      upserts.count + deletes.count > 0
        ? [...base.layers, { kind: 'delta', since, upserts, deletes }]
        : base.layers;
    onItems(plan.itemCount);
    return entry(layers, await links());
  }
  const upserts = await sink.write(await snapshot.items(c.gen), onItems);
  return entry([{ kind: 'full', upserts }], await links());
}

/** Reads the bases of an incremental backup: for each collection, the newest READY backup at its generation. */
export async function loadBases(
  blobs: BlobStore,
  backups: BackupStore,
  siteId: string,
  collections: readonly SnapshotCollection[],
): Promise<{ bases: Map<string, CollectionBase>; known: Map<string, ChunkRef> }> {
  const found = await backups.latestBases(
    siteId,
    collections.map((c) => ({ collectionId: c.id, gen: c.gen })),
  );
  // Each base manifest is read, indexed by collection id and its chunks listed once, however many
  // collections it is the base of: a site of 2,000 collections would otherwise scan the manifest (and list
  // all its chunks) once per collection, O(N²) work on the event loop.
  const manifests = new Map<
    string,
    Promise<{ read: Manifest; entries: Map<string, ManifestCollection> } | undefined>
  >();
  const chunksKnown = new Set<string>();
  const gens = new Map(collections.map((c) => [c.id, c.gen]));
  const bases = new Map<string, CollectionBase>();
  const known = new Map<string, ChunkRef>();
  for (const [collectionId, base] of found) {
    let manifest = manifests.get(base.backupId);
    if (!manifest) {
      manifest = readBase(blobs, base, siteId).then(
        (read) => read && { read, entries: new Map(read.collections.map((c) => [c.id, c] as const)) },
      );
      manifests.set(base.backupId, manifest);
    }
    const indexed = await manifest;
    const entry = indexed?.entries.get(collectionId);
    const gen = gens.get(collectionId);
    if (indexed && entry && gen !== undefined) {
      // The catalog found this base at the collection's current generation; the manifest may name the same
      // item set by the id it had before the layout migration renumbered it (manifests are never rewritten).
      bases.set(collectionId, { entry: { ...entry, gen }, version: base.version });
      if (!chunksKnown.has(base.backupId)) {
        chunksKnown.add(base.backupId);
        for (const chunk of chunksOf(indexed.read)) known.set(chunk.hash, chunk);
      }
    }
  }
  return { bases, known };
}

/** A base that cannot be read is no base: the collection is read in full instead. */
async function readBase(blobs: BlobStore, base: BackupBase, siteId: string): Promise<Manifest | undefined> {
  try {
    return await readManifest(blobs, base.manifest, { backupId: base.backupId, siteId });
  } catch {
    return undefined;
  }
}
