import { Buffer } from 'node:buffer';
import { errors, invalidArgument } from '../contracts/errors.js';

/** An item is at most 500 KB of JSON (data-api.md §2). */
export const MAX_ITEM_BYTES = 500 * 1024;
export const MAX_ITEM_ID_LENGTH = 128;
/** Nesting deeper than this is refused before anything walks it recursively. */
export const MAX_ITEM_DEPTH = 64;

/** The system fields the server owns. Clients may send them back; their values are ignored or checked. */
export const systemFields = ['_id', '_createdDate', '_updatedDate', '_owner'] as const;
const systemFieldSet = new Set<string>(systemFields);

// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/;
const isoPrefix = /^[+-]?\d{4,6}-\d{2}-\d{2}/;

/** An item as stored: its JSON text is exactly what the API returns and what a backup holds. */
export interface StoredItem {
  readonly id: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The item's `data` object as canonical JSON, system fields included. */
  readonly json: string;
}

/**
 * Reads a date given as an ISO-8601 string. Dates are normalised to `toISOString()` form (UTC, milliseconds)
 * so that they compare correctly as text; years outside 0000–9999 are refused for the same reason.
 */
export function parseDateValue(raw: unknown): { iso: string; ms: number } | undefined {
  if (typeof raw !== 'string' || !isoPrefix.test(raw)) return undefined;
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  if (iso.length !== 24) return undefined;
  return { iso, ms };
}

/**
 * Validates an item id (caller-chosen or generated).
 * @throws AppError INVALID_ARGUMENT
 */
export function checkItemId(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalidArgument(where, 'an item id must be a non-empty string');
  if (raw.length > MAX_ITEM_ID_LENGTH)
    throw invalidArgument(where, `item ids are at most ${MAX_ITEM_ID_LENGTH} characters`, 'MAX_LENGTH');
  if (controlCharacters.test(raw))
    throw invalidArgument(where, 'item ids may not contain control characters', 'FORMAT');
  return raw;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Walks a value from a request: refuses `$`-keys other than the `{ "$date": ISO }` literal and nesting
 * deeper than MAX_ITEM_DEPTH, and normalises every date literal in place.
 */
function normalizeValue(value: unknown, depth: number, where: string): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_ITEM_DEPTH)
    throw invalidArgument(where, `nests deeper than ${MAX_ITEM_DEPTH} levels`, 'MAX');
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = normalizeValue(value[i], depth + 1, where);
    return value;
  }
  const record = value as Record<string, unknown>;
  if ('$date' in record) {
    const parsed = Object.keys(record).length === 1 ? parseDateValue(record.$date) : undefined;
    if (!parsed)
      throw invalidArgument(where, '{ "$date": ... } must hold exactly one ISO-8601 date string', 'FORMAT');
    record.$date = parsed.iso;
    return record;
  }
  for (const key of Object.keys(record)) {
    if (key.startsWith('$'))
      throw invalidArgument(`${where}.${key}`, 'keys may not start with "$"', 'FORMAT');
    record[key] = normalizeValue(record[key], depth + 1, `${where}.${key}`);
  }
  return record;
}

/**
 * Reads one field value from a request (a patch's value), as item data is read: `$`-keys other than date
 * literals and too deep nesting are refused, dates normalised (in place).
 * @throws AppError INVALID_ARGUMENT
 */
export function readFieldValue(value: unknown, where: string): unknown {
  return normalizeValue(value, 1, where);
}

/** Whether a top-level field is one the server owns (`_id`, `_owner`, `_createdDate`, `_updatedDate`). */
export function isSystemField(field: string): boolean {
  return systemFieldSet.has(field);
}

/** The user part of an item's data, checked and with dates normalised; system fields split off. */
export interface ItemInput {
  readonly id: string | undefined;
  readonly owner: string | undefined;
  readonly fields: Record<string, unknown>;
}

/**
 * Reads `dataItem: { id?, data }` from a request. `id` and `data._id` must agree when both are given.
 * @throws AppError INVALID_ARGUMENT
 */
export function readItemInput(rawId: unknown, rawData: unknown, where: string): ItemInput {
  const data = rawData === undefined || rawData === null ? {} : rawData;
  if (!isPlainObject(data)) throw invalidArgument(`${where}.data`, 'must be an object');
  const normalized = normalizeValue(data, 1, `${where}.data`) as Record<string, unknown>;
  const fromData = normalized._id;
  const id = rawId ?? fromData;
  if (rawId !== undefined && rawId !== null && fromData !== undefined && fromData !== rawId) {
    throw invalidArgument(`${where}.data._id`, 'differs from dataItem.id');
  }
  const owner = normalized._owner;
  if (owner !== undefined && owner !== null && typeof owner !== 'string')
    throw invalidArgument(`${where}.data._owner`, 'must be a string');
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(normalized)) if (!systemFieldSet.has(key)) fields[key] = value;
  return {
    id: id === undefined || id === null ? undefined : checkItemId(id, `${where}.id`),
    owner: typeof owner === 'string' ? owner : undefined,
    fields,
  };
}

/**
 * Builds the stored JSON of an item: `_id` first, the caller's fields in their order, then `_owner`,
 * `_createdDate` and `_updatedDate`.
 * @throws AppError WDE0109 when the result is larger than MAX_ITEM_BYTES
 */
export function composeItem(input: {
  id: string;
  owner: string;
  createdAt: number;
  updatedAt: number;
  fields: Record<string, unknown>;
}): StoredItem {
  const data: Record<string, unknown> = { _id: input.id, ...input.fields };
  data._owner = input.owner;
  data._createdDate = { $date: new Date(input.createdAt).toISOString() };
  data._updatedDate = { $date: new Date(input.updatedAt).toISOString() };
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json) > MAX_ITEM_BYTES) {
    throw errors.WDE0109(input.id);
  }
  return { id: input.id, createdAt: input.createdAt, updatedAt: input.updatedAt, json };
}

/** Reads the owner of a stored item (kept when the item is replaced). */
export function ownerOf(item: StoredItem): string | undefined {
  const parsed = JSON.parse(item.json) as Record<string, unknown>;
  return typeof parsed._owner === 'string' ? parsed._owner : undefined;
}
