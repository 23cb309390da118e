/**
 * Wix's field modifications (Patch Data Item, Bulk Patch Data Items): changes to named fields of an item
 * that leave its other fields as they are, applied in the order given.
 */
import type { FieldModificationInput } from '../contracts/data-api.js';
import { invalidArgument } from '../contracts/errors.js';
import { composeItem, isSystemField, ownerOf, readFieldValue, type StoredItem } from './item-codec.js';
import { parseFieldPath, type FieldPath } from './query/field-path.js';

/** One checked modification. */
export type FieldModification =
  | { readonly action: 'SET_FIELD'; readonly path: FieldPath; readonly value: unknown }
  | { readonly action: 'REMOVE_FIELD'; readonly path: FieldPath }
  | { readonly action: 'INCREMENT_FIELD'; readonly path: FieldPath; readonly by: number }
  | { readonly action: 'APPEND_TO_ARRAY'; readonly path: FieldPath; readonly value: unknown }
  | { readonly action: 'REMOVE_FROM_ARRAY'; readonly path: FieldPath; readonly value: unknown };

/** Where each action but REMOVE_FIELD carries its value. */
const optionsOf = {
  SET_FIELD: 'setFieldOptions',
  INCREMENT_FIELD: 'incrementFieldOptions',
  APPEND_TO_ARRAY: 'appendToArrayOptions',
  REMOVE_FROM_ARRAY: 'removeFromArrayOptions',
} as const;

/** The value a modification's options carry; every action but REMOVE_FIELD needs one. */
function requiredValue(options: { readonly value?: unknown } | undefined, where: string): unknown {
  if (options === undefined || !('value' in options) || options.value === undefined)
    throw invalidArgument(`${where}.value`, 'this action needs a value', 'REQUIRED_FIELD');
  return readFieldValue(options.value, `${where}.value`);
}

/**
 * Checks the modifications of a request: a field path that names a user field (system fields belong to
 * the server), and the value its action needs.
 * @throws AppError INVALID_ARGUMENT naming the offending modification
 */
export function parseFieldModifications(
  raw: readonly FieldModificationInput[],
  where: string,
): FieldModification[] {
  if (raw.length === 0) throw invalidArgument(where, 'must hold at least one modification', 'MIN_SIZE');
  return raw.map((input, i): FieldModification => {
    const at = `${where}[${i}]`;
    const path = parseFieldPath(input.fieldPath, `${at}.fieldPath`);
    if (isSystemField(path[0] ?? ''))
      throw invalidArgument(`${at}.fieldPath`, `${path[0]} is a system field`, 'FIELD_NOT_ALLOWED');
    if (input.action === 'REMOVE_FIELD') return { action: input.action, path };
    const key = optionsOf[input.action];
    const value = requiredValue(input[key], `${at}.${key}`);
    if (input.action !== 'INCREMENT_FIELD') return { action: input.action, path, value };
    if (typeof value !== 'number') throw invalidArgument(`${at}.${key}.value`, 'must be a number');
    return { action: input.action, path, by: value };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Structural equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return false;
}

/**
 * The object holding a path's last segment: intermediate objects are created where missing (or null)
 * when `create` is set; undefined when the path cannot be followed.
 * @throws AppError INVALID_ARGUMENT when `create` meets a value that is not an object
 */
function parentOf(
  fields: Record<string, unknown>,
  path: FieldPath,
  create: boolean,
  where: string,
): Record<string, unknown> | undefined {
  let current = fields;
  for (const [depth, segment] of path.slice(0, -1).entries()) {
    const next = current[segment];
    if (isRecord(next)) current = next;
    else if (create && (next === undefined || next === null)) current = current[segment] = {};
    else if (create) throw invalidArgument(where, `${path.slice(0, depth + 1).join('.')} is not an object`);
    else return undefined;
  }
  return current;
}

/**
 * Applies modifications, in order, to a copy of an item's user fields and returns it.
 * @throws AppError INVALID_ARGUMENT when a modification does not fit the current value (incrementing
 *   text, appending to something that is not an array, a path through a value that is not an object)
 */
export function applyFieldModifications(
  fields: Readonly<Record<string, unknown>>,
  modifications: readonly FieldModification[],
  where: string,
): Record<string, unknown> {
  const result = structuredClone(fields) as Record<string, unknown>;
  modifications.forEach((modification, i) => {
    const at = `${where}[${i}].fieldPath`;
    const { path } = modification;
    const key = path[path.length - 1] ?? '';
    // Only the actions that write a value create the objects on their path.
    const removes = modification.action === 'REMOVE_FIELD' || modification.action === 'REMOVE_FROM_ARRAY';
    const parent = parentOf(result, path, !removes, at);
    if (!parent) return;
    if (modification.action === 'REMOVE_FIELD') {
      delete parent[key];
      return;
    }
    const current = Object.hasOwn(parent, key) ? parent[key] : undefined;
    const absent = current === undefined || current === null;
    switch (modification.action) {
      case 'SET_FIELD':
        parent[key] = structuredClone(modification.value);
        return;
      case 'INCREMENT_FIELD': {
        if (!absent && typeof current !== 'number')
          throw invalidArgument(at, `${path.join('.')} is not a number and cannot be incremented`);
        const sum = (absent ? 0 : current) + modification.by;
        if (!Number.isFinite(sum))
          throw invalidArgument(at, `${path.join('.')} would not be a finite number`);
        parent[key] = sum;
        return;
      }
      case 'APPEND_TO_ARRAY':
        if (!absent && !Array.isArray(current))
          throw invalidArgument(at, `${path.join('.')} is not an array`);
        parent[key] = [
          ...((current as unknown[] | null | undefined) ?? []),
          structuredClone(modification.value),
        ];
        return;
      case 'REMOVE_FROM_ARRAY':
        if (absent) return;
        if (!Array.isArray(current)) throw invalidArgument(at, `${path.join('.')} is not an array`);
        parent[key] = current.filter((element) => !jsonEqual(element, modification.value));
        return;
    }
  });
  return result;
}

/**
 * An item with field modifications applied to its current user fields, keeping its id, creation date and
 * owner (`fallbackOwner` when it has none); updated at `now`, or later if it already was.
 * @throws AppError INVALID_ARGUMENT (a modification that does not fit), WDE0109 (the result is too large)
 */
export function patchItem(
  current: StoredItem,
  modifications: readonly FieldModification[],
  fallbackOwner: string,
  now: number,
  where: string,
): StoredItem {
  const data = JSON.parse(current.json) as Record<string, unknown>;
  const fields = Object.fromEntries(Object.entries(data).filter(([key]) => !isSystemField(key)));
  return composeItem({
    id: current.id,
    owner: ownerOf(current) ?? fallbackOwner,
    createdAt: current.createdAt,
    updatedAt: Math.max(now, current.updatedAt),
    fields: applyFieldModifications(fields, modifications, where),
  });
}
