/**
 * The stored objects of one backup, as the corruption tests change them: through the blob store port (the
 * folder or S3), with the original bytes kept so each case can put them back.
 */
import type { Kysely } from 'kysely';
import zstd from 'zstd-napi/binding.js';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import type { BackupRecord } from '../../src/domain/backup.js';
import {
  chunkKey,
  chunksOf,
  decodeManifest,
  type ChunkRef,
  type Manifest,
} from '../../src/domain/manifest.js';
import type { TestEnv } from '../helpers/harness.js';

/** A READY backup with its manifest and chunks as stored. */
export interface StoredBackup {
  readonly record: BackupRecord;
  readonly manifestKey: string;
  readonly manifestBytes: Buffer;
  readonly manifest: Manifest;
  readonly chunks: readonly { readonly ref: ChunkRef; readonly key: string }[];
}

/** Loads a backup's record, manifest and chunk list. */
export async function storedBackup(env: TestEnv, siteId: string, backupId: string): Promise<StoredBackup> {
  const record = await env.safekeep.background().engine.backups.getBackup(siteId, backupId);
  if (!record?.manifest) throw new Error(`backup ${backupId} has no manifest`);
  const manifestBytes = await env.safekeep.blobs.get(record.manifest.key, record.manifest.size);
  const manifest = decodeManifest(manifestBytes, { backupId, siteId });
  const chunks = chunksOf(manifest).map((ref) => ({ ref, key: chunkKey(siteId, ref.hash) }));
  return { record, manifestKey: record.manifest.key, manifestBytes, manifest, chunks };
}

/** Rewrites the checksum and size the catalog recorded for a backup's manifest (as an attacker would). */
export async function rewriteRecordedChecksum(
  env: TestEnv,
  backupId: string,
  manifest: { sha256: string; size: number },
): Promise<void> {
  // Both SQL adapters expose their Kysely instance.
  const { db } = env.safekeep.storage as unknown as { db: Kysely<Database> };
  await db
    .updateTable('backups')
    .set({ manifest_sha256: manifest.sha256, manifest_size: manifest.size })
    .where('id', '=', backupId)
    .execute();
}

const { CCtx, DCtx, EndDirective, CParameter } = zstd;

/**
 * A valid zstd frame whose content differs from `stored`'s in one byte and whose length is the same: the
 * worst case of a same-length replacement, one the decompressor accepts and only the checksum can catch.
 */
export function sameLengthForgery(stored: Uint8Array, rawSize: number, level: number): Buffer {
  const raw = Buffer.alloc(rawSize);
  new DCtx().decompress(raw, stored);
  const cctx = new CCtx();
  const out = Buffer.alloc(zstd.compressBound(rawSize));
  // Random hex text compresses to much the same length whatever one digit is: a few tries find one.
  const changed = Buffer.from(raw);
  for (let at = Math.floor(rawSize / 2); at < rawSize; at++) {
    const c = raw[at] ?? 0;
    // Only a hex digit inside the item text is changed, to another one: still valid content lines.
    if (!/[0-9a-f]/.test(String.fromCharCode(c))) continue;
    for (const digit of [0x30, 0x61, 0x65]) {
      if (digit === c) continue;
      changed[at] = digit;
      const n = cctx.compress(out, changed, level);
      if (n === stored.length) return Buffer.from(out.subarray(0, n));
    }
    changed[at] = c;
  }
  throw new Error('no same-length forgery found');
}

/**
 * A decompression bomb: a zstd frame of `expandsTo` zero bytes (streamed, so never held whole), padded with
 * a skippable frame to exactly `length` bytes. With `lie`, its header declares `declared` bytes instead
 * (the recorded size) so only a bounded decoder can refuse it.
 */
export function decompressionBomb(expandsTo: number, length: number, declared?: number): Buffer {
  const cctx = new CCtx();
  cctx.setParameter(CParameter.compressionLevel, 3);
  cctx.setPledgedSrcSize(expandsTo);
  const piece = Buffer.alloc(1 << 20);
  const out = Buffer.alloc(1 << 20);
  const parts: Buffer[] = [];
  for (let left = expandsTo; left > 0; left -= piece.length) {
    const last = left <= piece.length;
    let src = piece.subarray(0, Math.min(left, piece.length));
    for (;;) {
      const [remaining, produced, consumed] = cctx.compressStream2(
        out,
        src,
        last ? EndDirective.end : EndDirective.continue,
      );
      parts.push(Buffer.from(out.subarray(0, produced)));
      src = src.subarray(consumed);
      if (src.length === 0 && (!last || remaining === 0)) break;
    }
  }
  const frame = Buffer.concat(parts);
  if (declared !== undefined) {
    // Frame header: magic (4), descriptor (1), window (1), then a 4-byte content size (descriptor 0b10…).
    if ((frame[4] ?? 0) >> 6 !== 2 || ((frame[4] ?? 0) & 0x23) !== 0) throw new Error('unexpected header');
    frame.writeUInt32LE(declared, 6);
  }
  const pad = length - frame.length - 8;
  if (pad < 0) throw new Error(`the bomb is ${frame.length} bytes, more than ${length - 8}`);
  const skippable = Buffer.alloc(8 + pad);
  skippable.writeUInt32LE(0x184d2a50, 0);
  skippable.writeUInt32LE(pad, 4);
  return Buffer.concat([frame, skippable]);
}
