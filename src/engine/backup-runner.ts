import type { BackupRecord, CollectionRef, ManifestRef } from '../domain/backup.js';
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
import { publishManifest, readManifest } from './manifest-io.js';

/** How an incremental chain is kept short: past these, the next backup of a collection reads it in full. */
export const MAX_DELTA_LAYERS = 8;
export const MAX_DELTA_SHARE = 0.25;

export interface ContentWriterDeps {
  readonly blobs: BlobStore;
  readonly codec: CodecPool;
  readonly compressionLevel: number;
  readonly policy: ChunkPolicy;
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

/**
 * Writes a snapshot's content as chunks and a manifest. A collection whose base backup holds the same
 * change number is not read at all; one with few changes since its base gets a delta layer; anything else
 * is read in full (chunks already stored are not written again).
 */
export async function writeSnapshot(
  deps: ContentWriterDeps,
  target: { siteId: string; backupId: string },
  snapshot: ItemSnapshot,
  options: {
    bases: ReadonlyMap<string, CollectionBase>;
    known: Map<string, ChunkRef>;
    signal: AbortSignal;
    onItems: (count: number) => void;
    /** Restrict incoming links to these source generations (partial backups); default: all others. */
    incomingFrom?: readonly number[];
  },
): Promise<WrittenBackup> {
  const sink = new ChunkSink(
    deps.blobs,
    deps.codec,
    target.siteId,
    deps.compressionLevel,
    options.known,
    options.signal,
  );
  const allTargets = [...snapshot.linkTargets.keys()];
  const collections: ManifestCollection[] = [];
  for (const c of snapshot.collections) {
    options.signal.throwIfAborted();
    collections.push(
      await writeCollection(c, snapshot, sink, allTargets, options.bases.get(c.id), options.onItems),
    );
  }
  const inside = new Set(snapshot.collections.map((c) => c.gen));
  const incomingFrom = options.incomingFrom ?? allTargets.filter((gen) => !inside.has(gen));
  const incoming: ChunkRef[] = [];
  let incomingCount = 0;
  for (const gen of incomingFrom) {
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
  c: SnapshotCollection,
  snapshot: ItemSnapshot,
  sink: ChunkSink,
  linkTargets: readonly number[],
  base: CollectionBase | undefined,
  onItems: (count: number) => void,
): Promise<ManifestCollection> {
  const entry = (layers: readonly ManifestLayer[], links: ChunkList): ManifestCollection => ({
    id: c.id,
    displayName: c.displayName,
    gen: c.gen,
    version: c.version,
    itemCount: c.itemCount,
    layers,
    links,
  });
  if (base && base.entry.gen === c.gen && base.version === c.version && c.gen !== 0) {
    // Unchanged since its base: nothing is read.
    sink.reuse([...base.entry.layers.flatMap((l) => [l.upserts, l.deletes]), base.entry.links]);
    onItems(c.itemCount);
    return entry(base.entry.layers, base.entry.links);
  }
  if (c.gen === 0)
    return entry([{ kind: 'full', upserts: { count: 0, chunks: [] } }], { count: 0, chunks: [] });
  const links = () => snapshot.links(c.gen, linkTargets).then((stream) => sink.write(stream));
  if (
    base &&
    base.entry.gen === c.gen &&
    base.version >= c.tombstoneFloor &&
    base.entry.layers.length < MAX_DELTA_LAYERS
  ) {
    const changes = await snapshot.changeCounts(c.gen, base.version);
    const chained = base.entry.layers
      .slice(1)
      .reduce((n, l) => n + l.upserts.count + (l.deletes?.count ?? 0), 0);
    if (chained + changes.upserts + changes.deletes <= MAX_DELTA_SHARE * Math.max(c.itemCount, 1000)) {
      sink.reuse(base.entry.layers.flatMap((l) => [l.upserts, l.deletes]));
      let layers = base.entry.layers;
      if (changes.upserts + changes.deletes > 0) {
        const upserts = await sink.write(await snapshot.items(c.gen, base.version));
        const deletes = await sink.write(await snapshot.deletions(c.gen, base.version));
        layers = [...layers, { kind: 'delta', since: base.version, upserts, deletes }];
      }
      onItems(c.itemCount);
      return entry(layers, await links());
    }
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
  const manifests = new Map<string, Promise<Manifest | undefined>>();
  const bases = new Map<string, CollectionBase>();
  const known = new Map<string, ChunkRef>();
  for (const [collectionId, base] of found) {
    let manifest = manifests.get(base.backupId);
    if (!manifest) {
      manifest = readBase(blobs, base, siteId);
      manifests.set(base.backupId, manifest);
    }
    const read = await manifest;
    const entry = read?.collections.find((c) => c.id === collectionId);
    if (read && entry) {
      bases.set(collectionId, { entry, version: base.version });
      for (const chunk of chunksOf(read)) known.set(chunk.hash, chunk);
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

export type { BackupRecord };
