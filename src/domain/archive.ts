/**
 * The portable backup archive (docs/ARCHIVE-FORMAT.md): one file of concatenated zstd frames that
 * decompresses to NDJSON — a manifest line, then for each collection a marker line and its items, a marker
 * line and its links, then the incoming links and an end marker. This module holds the format's types and
 * the checks of what an archive says; reading and writing bytes is in src/engine/archive-*.ts.
 */
import { Buffer } from 'node:buffer';
import { errors } from '../contracts/errors.js';
import { checkCollectionId } from './collection-id.js';
import { MAX_ITEM_BYTES, MAX_ITEM_DEPTH, checkItemId, parseDateValue } from './item-codec.js';
import { decodeDefinition, type BackedUpDefinition } from './manifest.js';

export const ARCHIVE_FORMAT = 'safekeep.archive/1';
/** The manifest line is at most this long. */
export const MAX_ARCHIVE_MANIFEST_BYTES = 64 * 1024 * 1024;
/** A data line is at most this long (an item's 500 KB of JSON, with room for escapes of a link). */
export const MAX_ARCHIVE_LINE_BYTES = MAX_ITEM_BYTES + 64 * 1024;

/** A run of consecutive lines of a section, with the SHA-256 of their bytes (each line with its `\n`). */
export interface ArchiveBlock {
  readonly count: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** The lines of one section: how many, how many bytes, and their blocks in order. */
export interface ArchiveSection {
  readonly count: number;
  readonly bytes: number;
  readonly blocks: readonly ArchiveBlock[];
}

export interface ArchiveCollection {
  readonly id: string;
  readonly displayName: string;
  readonly definition?: BackedUpDefinition;
  readonly items: ArchiveSection;
  readonly links: ArchiveSection;
}

export interface ArchiveManifest {
  readonly format: typeof ARCHIVE_FORMAT;
  /** The backup it was made from, and its site (informative: an import creates a new backup). */
  readonly backupId: string;
  readonly siteId: string;
  readonly snapshotDate: string;
  readonly exportedDate: string;
  readonly collections: readonly ArchiveCollection[];
  /** Links from collections outside the backup into it (partial backups). */
  readonly incomingLinks: ArchiveSection;
}

/** A section marker line: which section the lines after it belong to. */
export type ArchiveMarker =
  | { readonly section: 'items'; readonly collection: string }
  | { readonly section: 'links'; readonly collection: string }
  | { readonly section: 'incomingLinks' }
  | { readonly section: 'end' };

export function markerLine(marker: ArchiveMarker): string {
  return JSON.stringify(marker);
}

/** The markers an archive of `manifest` holds, in order. */
export function expectedMarkers(manifest: ArchiveManifest): ArchiveMarker[] {
  return [
    ...manifest.collections.flatMap((c): ArchiveMarker[] => [
      { section: 'items', collection: c.id },
      { section: 'links', collection: c.id },
    ]),
    { section: 'incomingLinks' },
    { section: 'end' },
  ];
}

export function sameMarker(a: ArchiveMarker, b: ArchiveMarker): boolean {
  return (
    a.section === b.section &&
    ('collection' in a ? a.collection : '') === ('collection' in b ? b.collection : '')
  );
}

export function describeMarker(marker: ArchiveMarker): string {
  return 'collection' in marker ? `${marker.section} of ${marker.collection}` : marker.section;
}

/**
 * A marker, if the line is one: an object whose first key is `section`. Item lines are objects whose
 * first key is `_id`, link lines arrays, so no data line is taken for a marker.
 */
export function parseMarker(line: string): ArchiveMarker | undefined {
  if (!line.startsWith('{"section":')) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(raw)) return undefined;
  const { section, collection } = raw;
  if ((section === 'items' || section === 'links') && typeof collection === 'string')
    return { section, collection };
  if (section === 'incomingLinks' || section === 'end') return { section };
  return undefined;
}

/**
 * Orders item ids as they are stored and backed up: by their UTF-8 bytes (SQLite's BINARY, PostgreSQL's
 * COLLATE "C").
 */
export function compareIds(a: string, b: string): number {
  // Below the surrogates, UTF-16 code unit order is code point order is UTF-8 byte order.
  if (!/[\ud800-\uffff]/.test(a) && !/[\ud800-\uffff]/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const HEX64 = /^[0-9a-f]{64}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(why: string) {
  return errors.ARCHIVE_MANIFEST_INVALID(why);
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalid(`${what} is not a count`);
  return value;
}

function section(value: unknown, what: string): ArchiveSection {
  if (!isRecord(value) || !Array.isArray(value.blocks)) throw invalid(`${what} has no block list`);
  const blocks = value.blocks.map((b: unknown, i): ArchiveBlock => {
    const at = `${what}.blocks[${i}]`;
    if (!isRecord(b) || typeof b.sha256 !== 'string' || !HEX64.test(b.sha256))
      throw invalid(`${at} has no valid sha256`);
    const n = count(b.count, `${at}.count`);
    if (n === 0) throw invalid(`${at} is empty`);
    return { count: n, bytes: count(b.bytes, `${at}.bytes`), sha256: b.sha256 };
  });
  const total = count(value.count, `${what}.count`);
  const bytes = count(value.bytes, `${what}.bytes`);
  if (blocks.reduce((n, b) => n + b.count, 0) !== total)
    throw invalid(`${what}.count is not the sum of its blocks' counts`);
  if (blocks.reduce((n, b) => n + b.bytes, 0) !== bytes)
    throw invalid(`${what}.bytes is not the sum of its blocks' bytes`);
  return { count: total, bytes, blocks };
}

/**
 * Reads and checks an archive's manifest line.
 * @throws AppError ARCHIVE_MANIFEST_INVALID
 */
export function decodeArchiveManifest(line: string): ArchiveManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw invalid('its first line is not JSON');
  }
  if (!isRecord(raw)) throw invalid('its first line is not an object');
  if (raw.format !== ARCHIVE_FORMAT)
    throw invalid(`its format is ${JSON.stringify(raw.format)}, not ${ARCHIVE_FORMAT}`);
  const text = (key: string): string => {
    const value = raw[key];
    if (typeof value !== 'string') throw invalid(`${key} is not a string`);
    return value;
  };
  const snapshotDate = text('snapshotDate');
  if (!parseDateValue(snapshotDate)) throw invalid('snapshotDate is not an ISO-8601 date');
  if (!Array.isArray(raw.collections)) throw invalid('collections is not a list');
  const ids = new Set<string>();
  const collections = raw.collections.map((c: unknown, i): ArchiveCollection => {
    const at = `collections[${i}]`;
    if (!isRecord(c) || typeof c.displayName !== 'string') throw invalid(`${at} is malformed`);
    let id: string;
    try {
      id = checkCollectionId(c.id, `${at}.id`);
    } catch {
      throw invalid(`${at}.id is not a valid collection id`);
    }
    if (ids.has(id)) throw invalid(`${at} repeats ${id}`);
    ids.add(id);
    let definition: BackedUpDefinition | undefined;
    if (c.definition !== undefined && c.definition !== null) {
      try {
        definition = decodeDefinition(c.definition, `${at}.definition`);
      } catch (error) {
        throw invalid((error as Error).message);
      }
    }
    return {
      id,
      displayName: c.displayName,
      ...(definition && { definition }),
      items: section(c.items, `${at}.items`),
      links: section(c.links, `${at}.links`),
    };
  });
  return {
    format: ARCHIVE_FORMAT,
    backupId: text('backupId'),
    siteId: text('siteId'),
    snapshotDate,
    exportedDate: typeof raw.exportedDate === 'string' ? raw.exportedDate : snapshotDate,
    collections,
    incomingLinks: section(raw.incomingLinks, 'incomingLinks'),
  };
}

/** An item line read and checked as the items API checks an item: its id and dates, for staging. */
export interface ArchiveItem {
  readonly id: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

const canonicalDate = (value: unknown): number | undefined => {
  if (!isRecord(value) || Object.keys(value).length !== 1) return undefined;
  const parsed = parseDateValue(value.$date);
  return parsed && parsed.iso === value.$date ? parsed.ms : undefined;
};

/**
 * Walks item data as the items API does (`$`-keys other than `{ "$date": ISO }` refused, nesting at most
 * MAX_ITEM_DEPTH, well-formed text), without changing it: an archive's items are kept byte for byte, so a
 * date that the API would have normalised is refused rather than rewritten. Iterative.
 */
function checkItemData(data: Record<string, unknown>): string | undefined {
  const pending: [unknown, number, string][] = [[data, 1, 'data']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, depth, where] = next;
    if (typeof value === 'string') {
      if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed())
        return `${where} holds a lone UTF-16 surrogate`;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_ITEM_DEPTH) return `${where} nests deeper than ${MAX_ITEM_DEPTH} levels`;
    if (Array.isArray(value)) {
      value.forEach((v, i) => pending.push([v, depth + 1, `${where}[${i}]`]));
      continue;
    }
    const record = value as Record<string, unknown>;
    if ('$date' in record) {
      if (canonicalDate(record) === undefined)
        return `${where} must be { "$date": ISO-8601 date in UTC with milliseconds }`;
      continue;
    }
    for (const [key, child] of Object.entries(record)) {
      if (!(key as unknown as { isWellFormed(): boolean }).isWellFormed())
        return `${where} has a property name with a lone UTF-16 surrogate`;
      if (key.startsWith('$')) return `${where}.${key}: keys may not start with "$"`;
      pending.push([child, depth + 1, `${where}.${key}`]);
    }
  }
  return undefined;
}

const wellFormed = (text: string) => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** {@link checkItemData}'s rules, without building a path per value (the common, passing case). */
function itemDataPasses(value: unknown, depth = 1): boolean {
  if (typeof value === 'string') return wellFormed(value);
  if (typeof value !== 'object' || value === null) return true;
  if (depth > MAX_ITEM_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (!itemDataPasses(v, depth + 1)) return false;
    return true;
  }
  const record = value as Record<string, unknown>;
  if ('$date' in record) return canonicalDate(record) !== undefined;
  for (const key in record) {
    if (key.charCodeAt(0) === 36 /* $ */ || !wellFormed(key)) return false;
    if (!itemDataPasses(record[key], depth + 1)) return false;
  }
  return true;
}

/**
 * Checks an item line as the items API would accept the item: a JSON object of at most 500 KB with a valid
 * `_id`, `_createdDate` and `_updatedDate` as `{ "$date": ISO }`, a string `_owner` if any, and data the API
 * would store unchanged.
 * @returns the item's id and dates, or why it is refused
 */
export function checkArchiveItem(line: string, byteLength: number): ArchiveItem | string {
  if (byteLength > MAX_ITEM_BYTES) return `it is larger than ${MAX_ITEM_BYTES} bytes of JSON`;
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return 'it is not JSON';
  }
  if (!isRecord(data)) return 'it is not a JSON object';
  try {
    checkItemId(data._id, '_id');
  } catch (error) {
    return `_id: ${(error as { message: string }).message}`;
  }
  const createdAt = canonicalDate(data._createdDate);
  const updatedAt = canonicalDate(data._updatedDate);
  if (createdAt === undefined || updatedAt === undefined)
    return '_createdDate and _updatedDate must be { "$date": ISO-8601 date in UTC with milliseconds }';
  if (data._owner !== undefined && typeof data._owner !== 'string') return '_owner must be a string';
  // Nearly every item passes: walk it once without naming paths, and name the field only for one refused.
  if (!itemDataPasses(data)) return checkItemData(data) ?? 'its data is not valid';
  return { id: data._id as string, createdAt, updatedAt };
}

/** A link line `[fromCollection, fromId, field, toCollection, toId, pos]` checked, or why it is refused. */
export function checkArchiveLink(
  line: string,
):
  | { fromCollection: string; fromId: string; field: string; toCollection: string; toId: string; pos: number }
  | string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return 'it is not JSON';
  }
  if (
    !Array.isArray(raw) ||
    raw.length !== 6 ||
    !raw.slice(0, 5).every((v) => typeof v === 'string' && v.length > 0) ||
    typeof raw[5] !== 'number' ||
    !Number.isSafeInteger(raw[5]) ||
    raw[5] < 0
  )
    return 'it is not [fromCollection, fromId, field, toCollection, toId, position]';
  const [fromCollection, fromId, field, toCollection, toId, pos] = raw as [
    string,
    string,
    string,
    string,
    string,
    number,
  ];
  return { fromCollection, fromId, field, toCollection, toId, pos };
}
