/**
 * The lines of chunks. An item line is the item's stored JSON; a link line is
 * `[fromCollection, fromId, field, toCollection, toId, pos]`.
 */
import type { BackupLink } from '../domain/backup.js';

/** An item read back from a chunk: its id and dates, and its exact JSON text. */
export type ItemLine = [id: string, createdAt: number, updatedAt: number, json: string];

/** An item of a verified chunk: its id and dates, and where its JSON lies in the chunk's bytes. */
export type ItemRow = [id: string, createdAt: number, updatedAt: number, start: number, end: number];

/**
 * A verified item chunk as the restore uses it: the raw bytes, and a row per item. The JSON text of an
 * item is decoded only when it is written ({@link itemJson}), so chunks waiting their turn hold bytes, not
 * a million strings for the garbage collector to trace.
 */
export interface ItemChunk {
  readonly bytes: Uint8Array;
  readonly rows: ItemRow[];
}

export function itemJson(chunk: ItemChunk, row: ItemRow): string {
  const { bytes } = chunk;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', row[3], row[4]);
}

const tail = /"_createdDate":\{"\$date":"([0-9TZ:.+-]+)"\},"_updatedDate":\{"\$date":"([0-9TZ:.+-]+)"\}\}$/;
const simpleId = /^\{"_id":"([^"\\]{1,128})",/;

function dateOf(value: unknown): number {
  const iso = (value as { $date?: unknown } | undefined)?.$date;
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  if (!Number.isFinite(ms)) throw new Error('an item has no valid system dates');
  return ms;
}

/**
 * Reads an item line. Lines written by safekeep have `_id` first and the dates last, which a fast path
 * reads without parsing the whole item; anything else is parsed in full and checked.
 */
export function parseItemLine(line: string): ItemLine {
  const id = simpleId.exec(line)?.[1];
  const dates = tail.exec(line);
  if (id !== undefined && dates?.[1] && dates[2]) {
    const created = Date.parse(dates[1]);
    const updated = Date.parse(dates[2]);
    if (Number.isFinite(created) && Number.isFinite(updated)) return [id, created, updated, line];
  }
  const data = JSON.parse(line) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || typeof data._id !== 'string' || data._id.length === 0) {
    throw new Error('an item has no _id');
  }
  return [data._id, dateOf(data._createdDate), dateOf(data._updatedDate), line];
}

export function parseLinkLine(line: string): BackupLink {
  const raw = JSON.parse(line) as unknown;
  if (
    !Array.isArray(raw) ||
    raw.length !== 6 ||
    !raw.slice(0, 5).every((v) => typeof v === 'string') ||
    typeof raw[5] !== 'number'
  ) {
    throw new Error('a link line is malformed');
  }
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
