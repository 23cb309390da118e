/**
 * Verifies a backup without restoring it: its manifest against the catalog, then every chunk it names,
 * through the codec workers, with the same checks (and codes) a restoration applies before its first
 * live write.
 */
import type { BackupRecord, JobError } from '../domain/backup.js';
import { chunkKey, chunksOf, type ChunkList, type ChunkRef, type Manifest } from '../domain/manifest.js';
import { BlobStoreError, type BlobStore } from '../ports/blob-store.js';
import type { CodecPool } from './codec-pool.js';
import { chunkNamed, jobErrorOf, jobFailures, manifestOf } from './job-failure.js';
import { checkManifestAgainstCatalog, readManifest } from './manifest-io.js';

/** What verification needs of the engine. */
export interface VerifierDeps {
  readonly blobs: BlobStore;
  readonly codec: CodecPool;
}

export type Verification = { readonly ok: true } | { readonly ok: false; readonly error: JobError };

/**
 * Downloads a stored chunk, reporting damage with the integrity codes.
 * @throws JobFailure INTEGRITY_OBJECT_MISSING, INTEGRITY_OBJECT_UNREADABLE, INTEGRITY_SIZE_MISMATCH
 */
export async function fetchChunk(blobs: BlobStore, siteId: string, ref: ChunkRef): Promise<Uint8Array> {
  try {
    // One byte more than recorded, so that a longer object is seen (and refused) as such.
    return await blobs.get(chunkKey(siteId, ref.hash), ref.storedSize + 1);
  } catch (error) {
    if (error instanceof BlobStoreError) {
      if (error.kind === 'NOT_FOUND') throw jobFailures.INTEGRITY_OBJECT_MISSING(chunkNamed(ref.hash));
      if (error.kind === 'UNREADABLE') throw jobFailures.INTEGRITY_OBJECT_UNREADABLE(chunkNamed(ref.hash));
      if (error.kind === 'FAILED') throw jobFailures.INTEGRITY_SIZE_MISMATCH(chunkNamed(ref.hash));
    }
    throw error;
  }
}

/**
 * Reads a READY backup's manifest and checks it against the catalog.
 * @throws JobFailure INTEGRITY_* (see readManifest, checkManifestAgainstCatalog)
 */
export async function readVerifiedManifest(blobs: BlobStore, backup: BackupRecord): Promise<Manifest> {
  if (!backup.manifest) throw jobFailures.INTEGRITY_OBJECT_MISSING(manifestOf(backup.id));
  const manifest = await readManifest(blobs, backup.manifest, { backupId: backup.id, siteId: backup.siteId });
  checkManifestAgainstCatalog(manifest, backup);
  return manifest;
}

/** How each chunk of a manifest is opened: item chunks, deleted-id chunks or link chunks. */
function kindsOf(manifest: Manifest): Map<string, 'items' | 'ids' | 'links'> {
  const kinds = new Map<string, 'items' | 'ids' | 'links'>();
  const mark = (list: ChunkList | undefined, kind: 'items' | 'ids' | 'links') =>
    list?.chunks.forEach((c) => kinds.set(c.hash, kind));
  for (const c of manifest.collections) {
    for (const layer of c.layers) {
      mark(layer.upserts, 'items');
      mark(layer.deletes, 'ids');
    }
    mark(c.links, 'links');
  }
  mark(manifest.incomingLinks, 'links');
  return kinds;
}

/**
 * Verifies a backup: its manifest (size, checksum, owner, structure, agreement with the catalog) and every
 * chunk it names (size, zstd frame, bounded decompression, SHA-256, line structure). Writes nothing.
 * Returns the first failure, as a restoration of the backup would report it.
 */
export async function verifyBackup(deps: VerifierDeps, backup: BackupRecord): Promise<Verification> {
  try {
    const manifest = await readVerifiedManifest(deps.blobs, backup);
    const kinds = kindsOf(manifest);
    for (const ref of chunksOf(manifest)) {
      const stored = await fetchChunk(deps.blobs, backup.siteId, ref);
      const kind = kinds.get(ref.hash);
      if (kind === 'items') deps.codec.recycle((await deps.codec.openItems(stored, ref)).bytes);
      else if (kind === 'ids') await deps.codec.openIds(stored, ref);
      else await deps.codec.openLinks(stored, ref);
    }
    return { ok: true };
  } catch (error) {
    const failure = jobErrorOf(error);
    if (failure.code.startsWith('INTEGRITY_')) return { ok: false, error: failure };
    throw error;
  }
}
