import { createHash } from 'node:crypto';
import { AppError } from '../contracts/errors.js';
import type { BackupRecord, ManifestRef } from '../domain/backup.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_V1,
  chunksOf,
  decodeManifest,
  encodeManifest,
  manifestKey,
  type Manifest,
} from '../domain/manifest.js';
import { BlobStoreError, type BlobStore } from '../ports/blob-store.js';
import { JobFailure, jobFailures, manifestOf } from './job-failure.js';

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads a manifest and checks it against the checksum the database holds, then its structure. Damage is
 * told apart, one code per kind: empty, shorter, longer, another backup's or site's manifest, or edited.
 * @throws JobFailure INTEGRITY_OBJECT_MISSING, INTEGRITY_OBJECT_EMPTY, INTEGRITY_OBJECT_TRUNCATED,
 *   INTEGRITY_SIZE_MISMATCH, INTEGRITY_OBJECT_SWAPPED, INTEGRITY_MANIFEST_CHECKSUM_MISMATCH,
 *   INTEGRITY_MANIFEST_INVALID
 * @throws BlobStoreError UNREADABLE, UNAVAILABLE (reported as INTEGRITY_OBJECT_UNREADABLE, STORAGE_UNAVAILABLE)
 */
export async function readManifest(
  blobs: BlobStore,
  ref: ManifestRef,
  expected: { backupId: string; siteId: string },
): Promise<Manifest> {
  let bytes: Buffer;
  try {
    // Up to the largest manifest, not just the recorded size, so that a swapped one can be recognised.
    bytes = await blobs.get(ref.key, MAX_MANIFEST_BYTES);
  } catch (error) {
    if (error instanceof BlobStoreError && error.kind === 'NOT_FOUND') {
      throw jobFailures.INTEGRITY_OBJECT_MISSING(manifestOf(expected.backupId));
    }
    if (error instanceof BlobStoreError && error.kind === 'FAILED') {
      throw jobFailures.INTEGRITY_SIZE_MISMATCH(manifestOf(expected.backupId));
    }
    throw error;
  }
  if (bytes.length !== ref.size || sha256(bytes) !== ref.sha256) throw damaged(bytes, ref, expected);
  try {
    return decodeManifest(bytes, expected);
  } catch (error) {
    // As a JobFailure, so that the job reports INTEGRITY_MANIFEST_INVALID rather than an internal error.
    if (error instanceof AppError) throw JobFailure.relay(error);
    throw error;
  }
}

/** Why manifest bytes are not the recorded ones, as the most specific code that applies. */
function damaged(
  bytes: Buffer,
  ref: ManifestRef,
  expected: { backupId: string; siteId: string },
): JobFailure {
  const of = manifestOf(expected.backupId);
  if (bytes.length === 0) return jobFailures.INTEGRITY_OBJECT_EMPTY(of);
  const owner = ownerOf(bytes);
  if (owner && (owner.backupId !== expected.backupId || owner.siteId !== expected.siteId)) {
    return jobFailures.INTEGRITY_OBJECT_SWAPPED(of, owner);
  }
  const sizes = { found: bytes.length, recorded: ref.size };
  if (bytes.length < ref.size) return jobFailures.INTEGRITY_OBJECT_TRUNCATED(of, sizes);
  if (bytes.length > ref.size) return jobFailures.INTEGRITY_SIZE_MISMATCH(of, sizes);
  return jobFailures.INTEGRITY_MANIFEST_CHECKSUM_MISMATCH(expected.backupId);
}

/** The backup and site a manifest names, if the bytes are a manifest at all. */
function ownerOf(bytes: Buffer): { backupId: string; siteId: string } | undefined {
  try {
    const raw = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> | null;
    if (raw?.format !== MANIFEST_FORMAT && raw?.format !== MANIFEST_FORMAT_V1) return undefined;
    const { backupId, siteId } = raw;
    return typeof backupId === 'string' && typeof siteId === 'string' ? { backupId, siteId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Cross-checks a manifest with what the catalog recorded for its backup apart from the checksum: the item
 * count, the stored size and the collections. A manifest rewritten together with its recorded checksum
 * still has to agree with all of these, and a consistent forgery must then keep the same items and bytes.
 * @throws JobFailure INTEGRITY_MANIFEST_MISMATCH
 */
export function checkManifestAgainstCatalog(manifest: Manifest, backup: BackupRecord): void {
  const differs = (what: string, recorded: unknown, found: unknown) =>
    jobFailures.INTEGRITY_MANIFEST_MISMATCH(backup.id, what, recorded, found);
  const items = manifest.collections.reduce((n, c) => n + c.itemCount, 0);
  if (backup.itemCount !== null && items !== backup.itemCount)
    throw differs('items:', backup.itemCount, items);
  const stored = chunksOf(manifest).reduce((n, c) => n + c.storedSize, 0) + (backup.manifest?.size ?? 0);
  if (backup.sizeBytes !== null && stored !== backup.sizeBytes)
    throw differs('bytes:', backup.sizeBytes, stored);
  const ids = (list: readonly { id: string }[]) =>
    list
      .map((c) => c.id)
      .sort()
      .join(',');
  if (ids(manifest.collections) !== ids(backup.collections))
    throw differs('collections', ids(backup.collections), ids(manifest.collections));
}

/**
 * Publishes a manifest, create-only. If an earlier attempt of the same backup already published one (it
 * crashed before recording it), that complete manifest is kept and returned instead.
 */
export async function publishManifest(
  blobs: BlobStore,
  manifest: Manifest,
): Promise<{ ref: ManifestRef; manifest: Manifest }> {
  const key = manifestKey(manifest.siteId, manifest.backupId);
  const bytes = encodeManifest(manifest);
  if (bytes.length > MAX_MANIFEST_BYTES) throw jobFailures.INTERNAL(bytes.length, MAX_MANIFEST_BYTES);
  if (await blobs.putIfAbsent(key, bytes))
    return { ref: { key, sha256: sha256(bytes), size: bytes.length }, manifest };
  const existing = await blobs.get(key, MAX_MANIFEST_BYTES);
  const earlier = decodeManifest(existing, { backupId: manifest.backupId, siteId: manifest.siteId });
  return { ref: { key, sha256: sha256(existing), size: existing.length }, manifest: earlier };
}
