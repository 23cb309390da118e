/**
 * Orders items in memory exactly as the engines' ORDER BY does (src/adapters/storage/sql/item-query-compiler.ts,
 * docs/ARCHITECTURE.md "Query semantics"): a JSON field orders as SQLite orders what json_extract returns —
 * NULL (missing or null) first, then numbers (booleans as 0 and 1), then text (strings, and objects or arrays
 * as their JSON text), text by code point — the system dates by their instant, and `_id` ascending as the
 * final tie-breaker unless the sort names it. Browsing a backup (src/services/browse-service.ts) sorts with it.
 */
import type { FieldPath } from './field-path.js';
import type { SortKey } from './sort.js';

/**
 * Compares two strings by code point, as the engines' bytewise collation of UTF-8 does (JavaScript's `<`
 * compares UTF-16 units, which puts U+E000–U+FFFF after the surrogate pairs of higher code points).
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitRank(x) - unitRank(y);
  }
  return a.length - b.length;
}

/** A UTF-16 unit moved so that surrogates (code points above U+FFFF) sort after U+E000–U+FFFF. */
function unitRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

/**
 * A sort value: for a JSON field its kind (0 null, 1 number, 2 text) and its number or text; for a system
 * date its epoch milliseconds. JSON-serialisable, so a cursor carries it.
 */
export type SortValue = number | readonly [kind: 0 | 1 | 2, value: number | string | null];

/** Fields the engines sort by a column: the dates by their instant (the item's own `_id` is the tie-breaker). */
const dateColumns: Readonly<Record<string, 'createdAt' | 'updatedAt'>> = {
  _createdDate: 'createdAt',
  _updatedDate: 'updatedAt',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(data: Record<string, unknown>, field: FieldPath): unknown {
  let current: unknown = data;
  for (const segment of field) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/** What a sorted item offers: its dates, and its data when some key reads a JSON field. */
export interface Sortable {
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly data?: Record<string, unknown>;
}

/** The sort value of one key for one item. */
export function sortValueOf(item: Sortable, field: FieldPath): SortValue {
  const column = field.length === 1 ? dateColumns[field[0] ?? ''] : undefined;
  if (column) return item[column];
  const value = item.data ? valueAt(item.data, field) : undefined;
  if (value === undefined || value === null) return [0, null];
  if (typeof value === 'number') return [1, value];
  if (typeof value === 'boolean') return [1, value ? 1 : 0];
  if (typeof value === 'string') return [2, value];
  return [2, JSON.stringify(value)];
}

/** Compares two sort values of the same key, ascending. */
export function compareSortValues(a: SortValue | undefined, b: SortValue | undefined): number {
  if (typeof a === 'number' || typeof b === 'number') return Number(a ?? 0) - Number(b ?? 0);
  const [ka, va] = a ?? [0, null];
  const [kb, vb] = b ?? [0, null];
  if (ka !== kb) return ka - kb;
  if (ka === 1) return (va as number) - (vb as number);
  if (ka === 2) return compareCodePoints(va as string, vb as string);
  return 0;
}

/** The sort keys of a query as the engines apply them: the JSON and date keys, then `_id`. */
export interface ItemOrder {
  /** The keys before the `_id` tie-breaker, each with its direction (already flipped for backwards paging). */
  readonly keys: readonly { readonly field: FieldPath; readonly descending: boolean }[];
  /** Whether `_id`, the final key, runs descending. */
  readonly idDescending: boolean;
  /** Whether any key reads the item's data (not only its system columns). */
  readonly readsData: boolean;
}

export function itemOrder(sort: readonly SortKey[], backwards: boolean): ItemOrder {
  const isId = (k: SortKey) => k.field.length === 1 && k.field[0] === '_id';
  const keys = sort
    .filter((k) => !isId(k))
    .map((k) => ({ field: k.field, descending: (k.order === 'DESC') !== backwards }));
  const idKey = sort.find(isId);
  return {
    keys,
    idDescending: (idKey?.order === 'DESC') !== backwards,
    readsData: keys.some((k) => !(k.field.length === 1 && (k.field[0] ?? '') in dateColumns)),
  };
}

/** An item's place in an order: its sort values, one per key, and its id. */
export interface OrderPosition {
  readonly values: readonly unknown[];
  readonly id: string;
}

/** Compares two positions in `order`: negative when `a` comes first. */
export function comparePositions(order: ItemOrder, a: OrderPosition, b: OrderPosition): number {
  for (let i = 0; i < order.keys.length; i++) {
    const key = order.keys[i];
    const d = compareSortValues(a.values[i] as SortValue, b.values[i] as SortValue);
    if (d !== 0) return key?.descending ? -d : d;
  }
  const d = compareCodePoints(a.id, b.id);
  return order.idDescending ? -d : d;
}
