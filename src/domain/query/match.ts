/**
 * Evaluates a parsed filter against one item's data in memory, with the query semantics every storage
 * engine implements in SQL (docs/ARCHITECTURE.md, "Query semantics"): a write's `condition` is checked
 * against the current item inside the write's transaction, where the item is already read.
 */
import type { FieldPath } from './field-path.js';
import type { CompareOperator, FilterNode, FilterValue } from './filter.js';

/** How text is case-folded for `$startsWith`/`$endsWith`/`$contains`, as the engines fold it. */
const fold = (value: string): string => value.toLowerCase();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a field path, or undefined when some step is missing or not an object. */
function valueAt(data: Record<string, unknown>, field: FieldPath): unknown {
  let current: unknown = data;
  for (const segment of field) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/** The ISO text of a stored date (`{ "$date": ISO }`), or undefined for anything else. */
function dateOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.$date === 'string' ? value.$date : undefined;
}

/** Text compares by code point, as the engines' binary collation of UTF-8 does. */
function compareText(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

function ordered(difference: number, op: CompareOperator): boolean {
  switch (op) {
    case 'eq':
      return difference === 0;
    case 'ne':
      return difference !== 0;
    case 'lt':
      return difference < 0;
    case 'lte':
      return difference <= 0;
    case 'gt':
      return difference > 0;
    case 'gte':
      return difference >= 0;
  }
}

/** A comparison matches only a value of its own type; `ne` matches whatever `eq` does not. */
function compare(actual: unknown, op: CompareOperator, value: FilterValue): boolean {
  if (op === 'ne') return !compare(actual, 'eq', value);
  switch (value.type) {
    case 'null':
      return actual === undefined || actual === null;
    case 'boolean':
      return actual === value.value;
    case 'number':
      return typeof actual === 'number' && ordered(actual - value.value, op);
    case 'string':
      return typeof actual === 'string' && ordered(compareText(actual, value.value), op);
    case 'date': {
      const iso = dateOf(actual);
      return iso !== undefined && ordered(compareText(iso, value.iso), op);
    }
  }
}

/** Fields the engines keep in columns, where a date is one value rather than a `{ "$date" }` object. */
const dateColumns = new Set(['_createdDate', '_updatedDate']);

/**
 * What `$hasSome`/`$hasAll` look inside, as the engines do: an array's elements, an object's values, a
 * single value as a one-element array (a system date as itself), nothing for a missing field.
 */
function elementsOf(actual: unknown, field: FieldPath): readonly unknown[] {
  if (actual === undefined) return [];
  if (Array.isArray(actual)) return actual;
  if (field.length === 1 && dateColumns.has(field[0] ?? '')) return [actual];
  return isRecord(actual) ? Object.values(actual) : [actual];
}

function textMatches(actual: unknown, op: 'startsWith' | 'endsWith' | 'contains', needle: string): boolean {
  if (typeof actual !== 'string') return false;
  const haystack = fold(actual);
  const folded = fold(needle);
  switch (op) {
    case 'startsWith':
      return haystack.startsWith(folded);
    case 'endsWith':
      return haystack.endsWith(folded);
    case 'contains':
      return haystack.includes(folded);
  }
}

/**
 * Whether an item's data (system fields included, dates as `{ "$date": ISO }`) matches a filter; `null`
 * matches everything. A `linked` node (multi-reference links) cannot be decided from the item alone and
 * never reaches here: callers pass filters as parsed, where `$hasSome`/`$hasAll` look inside the item.
 */
export function matchesFilter(node: FilterNode | null, data: Record<string, unknown>): boolean {
  if (node === null) return true;
  switch (node.kind) {
    case 'and':
      return node.nodes.every((n) => matchesFilter(n, data));
    case 'or':
      return node.nodes.some((n) => matchesFilter(n, data));
    case 'not':
      return !matchesFilter(node.node, data);
    case 'compare':
      return compare(valueAt(data, node.field), node.op, node.value);
    case 'in': {
      const actual = valueAt(data, node.field);
      return node.values.some((v) => compare(actual, 'eq', v));
    }
    case 'hasSome':
    case 'hasAll': {
      const elements = elementsOf(valueAt(data, node.field), node.field);
      const found = (v: FilterValue) => elements.some((e) => compare(e, 'eq', v));
      return node.kind === 'hasSome' ? node.values.some(found) : node.values.every(found);
    }
    case 'string':
      return textMatches(valueAt(data, node.field), node.op, node.value);
    case 'exists': {
      const actual = valueAt(data, node.field);
      return (actual !== undefined && actual !== null) === node.exists;
    }
    case 'linked':
      throw new Error('a multi-reference link filter cannot be evaluated against one item');
  }
}
