import { createHash } from 'node:crypto';
import type { ManifestRef } from '../domain/backup.js';
import { decodeManifest, encodeManifest, manifestKey, type Manifest } from '../domain/manifest.js';
import { BlobStoreError, type BlobStore } from '../ports/blob-store.js';
import { JobFailure } from './job-failure.js';

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads a manifest and checks it against the checksum the database holds, then its structure.
 * @throws JobFailure INTEGRITY_OBJECT_MISSING, INTEGRITY_SIZE_MISMATCH, INTEGRITY_CHECKSUM_MISMATCH,
 *   INTEGRITY_MANIFEST_INVALID, INTEGRITY_OBJECT_UNREADABLE
 */
export async function readManifest(
  blobs: BlobStore,
  ref: ManifestRef,
  expected: { backupId: string; siteId: string },
): Promise<Manifest> {
  let bytes: Buffer;
  try {
    bytes = await blobs.get(ref.key, Math.max(ref.size, 1));
  } catch (error) {
    if (error instanceof BlobStoreError && error.kind === 'NOT_FOUND') {
      throw new JobFailure(
        'INTEGRITY_OBJECT_MISSING',
        `The manifest of backup ${expected.backupId} is missing.`,
      );
    }
    if (error instanceof BlobStoreError && error.kind === 'FAILED') {
      throw new JobFailure(
        'INTEGRITY_SIZE_MISMATCH',
        `The manifest of backup ${expected.backupId} is larger than recorded.`,
      );
    }
    throw error;
  }
  if (bytes.length !== ref.size) {
    throw new JobFailure(
      'INTEGRITY_SIZE_MISMATCH',
      `The manifest of backup ${expected.backupId} is ${bytes.length} bytes, not ${ref.size}.`,
    );
  }
  if (sha256(bytes) !== ref.sha256) {
    throw new JobFailure(
      'INTEGRITY_CHECKSUM_MISMATCH',
      `The manifest of backup ${expected.backupId} does not match its checksum.`,
    );
  }
  return decodeManifest(bytes, expected);
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
  if (bytes.length > MAX_MANIFEST_BYTES) throw new JobFailure('INTERNAL', 'The manifest is too large.');
  if (await blobs.putIfAbsent(key, bytes))
    return { ref: { key, sha256: sha256(bytes), size: bytes.length }, manifest };
  const existing = await blobs.get(key, MAX_MANIFEST_BYTES);
  const earlier = decodeManifest(existing, { backupId: manifest.backupId, siteId: manifest.siteId });
  return { ref: { key, sha256: sha256(existing), size: existing.length }, manifest: earlier };
}
