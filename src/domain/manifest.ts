/**
 * A backup's manifest: what it holds, chunk by chunk, with every checksum. It is written last, create-only,
 * and its own SHA-256 is kept in the database, so a manifest edited in storage (even with a recomputed
 * checksum beside it) is refused.
 */
import { AppError } from '../contracts/errors.js';

export const MANIFEST_FORMAT = 'safekeep.backup/1';
/** Chunks are at most this large uncompressed (the chunk policy's maximum plus one largest item). */
export const MAX_CHUNK_RAW_BYTES = 8 * 1024 * 1024;

export interface ChunkRef {
  /** SHA-256 of the uncompressed chunk, hex: also its name. */
  readonly hash: string;
  readonly count: number;
  readonly rawSize: number;
  readonly storedSize: number;
  /**
   * SHA-256 of the stored (compressed) bytes, hex. It catches changes that decode to the same content (an
   * ignored header bit, a different window size). Absent in manifests written before it existed.
   */
  readonly storedHash?: string;
}

export interface ChunkList {
  readonly count: number;
  readonly chunks: readonly ChunkRef[];
}

/** A full item set, or the changes since the previous layer's change number. */
export interface ManifestLayer {
  readonly kind: 'full' | 'delta';
  /** For a delta: the change number of the layer it applies to. */
  readonly since?: number;
  readonly upserts: ChunkList;
  /** For a delta: ids removed since (NDJSON of JSON strings). */
  readonly deletes?: ChunkList;
}

export interface ManifestCollection {
  readonly id: string;
  readonly displayName: string;
  readonly gen: number;
  readonly version: number;
  readonly itemCount: number;
  readonly layers: readonly ManifestLayer[];
  /** Links in which this collection refers, to any collection. */
  readonly links: ChunkList;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly backupId: string;
  readonly siteId: string;
  readonly snapshotDate: string;
  readonly collections: readonly ManifestCollection[];
  /** Links from collections outside the backup into it (partial backups). */
  readonly incomingLinks: ChunkList;
}

export function encodeManifest(manifest: Manifest): Buffer {
  return Buffer.from(JSON.stringify(manifest));
}

const HEX64 = /^[0-9a-f]{64}$/;

function invalid(why: string): AppError {
  return new AppError('INTEGRITY_MANIFEST_INVALID', `The backup manifest is damaged: ${why}.`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalid(`${what} is not a count`);
  return value;
}

function chunkList(value: unknown, what: string): ChunkList {
  if (!isRecord(value) || !Array.isArray(value.chunks)) throw invalid(`${what} is not a chunk list`);
  const chunks = value.chunks.map((c: unknown, i): ChunkRef => {
    if (!isRecord(c) || typeof c.hash !== 'string' || !HEX64.test(c.hash))
      throw invalid(`${what}.chunks[${i}] has no valid hash`);
    const rawSize = count(c.rawSize, `${what}.chunks[${i}].rawSize`);
    if (rawSize > MAX_CHUNK_RAW_BYTES) throw invalid(`${what}.chunks[${i}] claims ${rawSize} bytes`);
    if (c.storedHash !== undefined && (typeof c.storedHash !== 'string' || !HEX64.test(c.storedHash)))
      throw invalid(`${what}.chunks[${i}] has no valid stored hash`);
    return {
      hash: c.hash,
      count: count(c.count, `${what}.chunks[${i}].count`),
      rawSize,
      storedSize: count(c.storedSize, `${what}.chunks[${i}].storedSize`),
      ...(c.storedHash !== undefined && { storedHash: c.storedHash }),
    };
  });
  const total = count(value.count, `${what}.count`);
  if (chunks.reduce((n, c) => n + c.count, 0) !== total) throw invalid(`${what}.count does not add up`);
  return { count: total, chunks };
}

/**
 * Reads and checks a manifest's structure (its checksum is checked by the caller before this).
 * @throws AppError INTEGRITY_MANIFEST_INVALID
 */
export function decodeManifest(bytes: Uint8Array, expected: { backupId: string; siteId: string }): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('it is not JSON');
  }
  if (!isRecord(raw) || raw.format !== MANIFEST_FORMAT) throw invalid('unknown format');
  if (raw.backupId !== expected.backupId) throw invalid('it belongs to another backup');
  if (raw.siteId !== expected.siteId) throw invalid('it belongs to another site');
  if (typeof raw.snapshotDate !== 'string' || Number.isNaN(Date.parse(raw.snapshotDate)))
    throw invalid('no snapshot date');
  if (!Array.isArray(raw.collections)) throw invalid('no collection list');
  const ids = new Set<string>();
  const collections = raw.collections.map((c: unknown, i): ManifestCollection => {
    const at = `collections[${i}]`;
    if (!isRecord(c) || typeof c.id !== 'string' || typeof c.displayName !== 'string')
      throw invalid(`${at} is malformed`);
    if (ids.has(c.id)) throw invalid(`${at} repeats ${c.id}`);
    ids.add(c.id);
    if (!Array.isArray(c.layers) || c.layers.length === 0) throw invalid(`${at} has no layers`);
    const layers = c.layers.map((l: unknown, j): ManifestLayer => {
      const lat = `${at}.layers[${j}]`;
      if (!isRecord(l) || (l.kind !== 'full' && l.kind !== 'delta')) throw invalid(`${lat} has no kind`);
      if ((j === 0) !== (l.kind === 'full')) throw invalid(`${lat}: only the first layer is full`);
      return l.kind === 'full'
        ? { kind: 'full', upserts: chunkList(l.upserts, `${lat}.upserts`) }
        : {
            kind: 'delta',
            since: count(l.since, `${lat}.since`),
            upserts: chunkList(l.upserts, `${lat}.upserts`),
            deletes: chunkList(l.deletes, `${lat}.deletes`),
          };
    });
    return {
      id: c.id,
      displayName: c.displayName,
      gen: count(c.gen, `${at}.gen`),
      version: count(c.version, `${at}.version`),
      itemCount: count(c.itemCount, `${at}.itemCount`),
      layers,
      links: chunkList(c.links, `${at}.links`),
    };
  });
  return {
    format: MANIFEST_FORMAT,
    backupId: expected.backupId,
    siteId: expected.siteId,
    snapshotDate: raw.snapshotDate,
    collections,
    incomingLinks: chunkList(raw.incomingLinks, 'incomingLinks'),
  };
}

/** Every chunk a manifest names (with repeats removed). */
export function chunksOf(manifest: Manifest): ChunkRef[] {
  const all = new Map<string, ChunkRef>();
  const add = (list: ChunkList | undefined) => list?.chunks.forEach((c) => all.set(c.hash, c));
  for (const c of manifest.collections) {
    for (const layer of c.layers) {
      add(layer.upserts);
      add(layer.deletes);
    }
    add(c.links);
  }
  add(manifest.incomingLinks);
  return [...all.values()];
}

export function chunkKey(siteId: string, hash: string): string {
  return `sites/${siteId}/chunks/${hash.slice(0, 2)}/${hash}`;
}

export function manifestKey(siteId: string, backupId: string): string {
  return `sites/${siteId}/manifests/${backupId}.json`;
}
