/**
 * A backup's manifest: what it holds, chunk by chunk, with every checksum. It is written last, create-only,
 * and its own SHA-256 is kept in the database, so a manifest edited in storage (even with a recomputed
 * checksum beside it) is refused.
 */
import type { AppError } from '../contracts/errors.js';
import { errors } from '../contracts/errors.js';

/**
 * The format this version writes. Version 2 added per collection its definition (and, in safety backups,
 * whether it existed before the restoration) and per chunk its first and last key; version 1 manifests
 * (no definitions) are still read.
 */
export const MANIFEST_FORMAT = 'safekeep.backup/2';
/** The first format: no definitions, no chunk key ranges. Kept readable (and writable, for tests). */
export const MANIFEST_FORMAT_V1 = 'safekeep.backup/1';
const READABLE_FORMATS: readonly string[] = [MANIFEST_FORMAT_V1, MANIFEST_FORMAT];
/** Chunks are at most this large uncompressed (the chunk policy's maximum plus one largest item). */
export const MAX_CHUNK_RAW_BYTES = 8 * 1024 * 1024;

export interface ChunkRef {
  /** SHA-256 of the uncompressed chunk, hex: also its name. */
  readonly hash: string;
  /** Lines in the chunk: items (or deleted ids, or links). */
  readonly count: number;
  /**
   * The first and last key of the chunk, in order: item ids for items and deletions, referring item ids
   * for links (format 2 on; browsing and item-level restores find an item's chunk with them).
   */
  readonly firstId?: string;
  readonly lastId?: string;
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

/**
 * A collection's definition as a backup records it (backups-api.md §6.6): everything of the collection but
 * its id and its content. Fields, permissions, views and the other Wix properties are kept as stored.
 */
export interface BackedUpDefinition {
  readonly displayName: string;
  readonly fields: readonly Record<string, unknown>[];
  readonly permissions: Record<string, unknown> | null;
  readonly views: readonly Record<string, unknown>[];
  readonly extra: Readonly<Record<string, unknown>>;
}

/** A definition from a collection row's stored columns (JSON text, as both SQL adapters keep them). */
export function definitionOfColumns(row: {
  display_name: string;
  fields: string;
  permissions: string | null;
  views: string;
  extra: string;
}): BackedUpDefinition {
  return {
    displayName: row.display_name,
    fields: JSON.parse(row.fields) as Record<string, unknown>[],
    permissions: row.permissions === null ? null : (JSON.parse(row.permissions) as Record<string, unknown>),
    views: JSON.parse(row.views) as Record<string, unknown>[],
    extra: JSON.parse(row.extra) as Record<string, unknown>,
  };
}

export interface ManifestCollection {
  readonly id: string;
  readonly displayName: string;
  /** The definition at the snapshot instant (format 2 on; absent in older manifests). */
  readonly definition?: BackedUpDefinition;
  /**
   * Safety backups only: the collection did not exist before the restoration that created it, so
   * restoring this backup (the undo) deletes it.
   */
  readonly absentBefore?: boolean;
  /**
   * Safety backups of item restores only (an extension of backups-api.md §6, README "Restoring only some items"): the restoration restored only these items
   * (`mode` is how it was asked for), and the layers hold what they were before it: the ones not among the
   * layers' items did not exist. Restoring this backup (the undo) puts back exactly these items, never the
   * whole collection.
   */
  readonly itemSelection?: RecordedItemSelection;
  readonly gen: number;
  readonly version: number;
  readonly itemCount: number;
  readonly layers: readonly ManifestLayer[];
  /** Links in which this collection refers, to any collection. */
  readonly links: ChunkList;
}

/** What an item restore changed, as its safety backup records it. */
export interface RecordedItemSelection {
  readonly mode: 'RESTORE_ITEMS' | 'ONLY_MISSING';
  readonly itemIds: readonly string[];
}

function recordedItemSelection(value: unknown, what: string): RecordedItemSelection {
  if (
    !isRecord(value) ||
    (value.mode !== 'RESTORE_ITEMS' && value.mode !== 'ONLY_MISSING') ||
    !Array.isArray(value.itemIds) ||
    !value.itemIds.every((id) => typeof id === 'string' && id.length > 0)
  )
    throw invalid(`${what} is malformed`);
  return { mode: value.mode, itemIds: value.itemIds as string[] };
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT | typeof MANIFEST_FORMAT_V1;
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
  return errors.INTEGRITY_MANIFEST_INVALID(why);
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
    const n = count(c.count, `${what}.chunks[${i}].count`);
    const keyed = c.firstId !== undefined || c.lastId !== undefined;
    if (keyed && (typeof c.firstId !== 'string' || typeof c.lastId !== 'string' || n === 0))
      throw invalid(`${what}.chunks[${i}] has no valid key range`);
    return {
      hash: c.hash,
      count: n,
      rawSize,
      storedSize: count(c.storedSize, `${what}.chunks[${i}].storedSize`),
      ...(c.storedHash !== undefined && { storedHash: c.storedHash }),
      ...(keyed && { firstId: c.firstId as string, lastId: c.lastId as string }),
    };
  });
  const total = count(value.count, `${what}.count`);
  if (chunks.reduce((n, c) => n + c.count, 0) !== total) throw invalid(`${what}.count does not add up`);
  return { count: total, chunks };
}

/**
 * Reads and checks a recorded definition's structure.
 * @throws AppError INTEGRITY_MANIFEST_INVALID
 */
export function decodeDefinition(value: unknown, what: string): BackedUpDefinition {
  if (!isRecord(value) || typeof value.displayName !== 'string') throw invalid(`${what} is malformed`);
  const records = (list: unknown, name: string): Record<string, unknown>[] => {
    if (!Array.isArray(list) || !list.every(isRecord))
      throw invalid(`${what}.${name} is not a list of objects`);
    return list;
  };
  const fields = records(value.fields, 'fields');
  fields.forEach((f, i) => {
    if (typeof f.key !== 'string' || typeof f.type !== 'string')
      throw invalid(`${what}.fields[${i}] has no key or type`);
  });
  if (value.permissions !== null && !isRecord(value.permissions))
    throw invalid(`${what}.permissions is not an object`);
  if (!isRecord(value.extra)) throw invalid(`${what}.extra is not an object`);
  return {
    displayName: value.displayName,
    fields,
    permissions: value.permissions,
    views: records(value.views, 'views'),
    extra: value.extra,
  };
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
  if (!isRecord(raw) || typeof raw.format !== 'string' || !READABLE_FORMATS.includes(raw.format))
    throw invalid('unknown format');
  const format = raw.format as Manifest['format'];
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
    if (c.absentBefore !== undefined && typeof c.absentBefore !== 'boolean')
      throw invalid(`${at}.absentBefore is not a boolean`);
    return {
      id: c.id,
      displayName: c.displayName,
      ...(c.definition !== undefined && { definition: decodeDefinition(c.definition, `${at}.definition`) }),
      ...(c.absentBefore === true && { absentBefore: true }),
      ...(c.itemSelection !== undefined && {
        itemSelection: recordedItemSelection(c.itemSelection, `${at}.itemSelection`),
      }),
      gen: count(c.gen, `${at}.gen`),
      version: count(c.version, `${at}.version`),
      itemCount: count(c.itemCount, `${at}.itemCount`),
      layers,
      links: chunkList(c.links, `${at}.links`),
    };
  });
  return {
    format,
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
