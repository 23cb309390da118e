/**
 * Compiles the parsed query language (src/domain/query) to SQLite SQL over an item table.
 *
 * Semantics, the same on every engine (docs/ARCHITECTURE.md, "Query semantics"):
 * - a comparison only matches values of its own type: 5 never equals "5", and `$gt: 3` skips strings;
 * - `$eq: null` matches a missing field or null; `$ne` matches everything `$eq` does not;
 * - `$startsWith`, `$endsWith` and `$contains` ignore case (JavaScript's toLowerCase on both sides);
 * - `$hasSome`/`$hasAll` look inside arrays, and treat a single value as a one-element array.
 * Every leaf is NULL-free (0 or 1) so that NOT and OR behave as in two-valued logic.
 */
import { sql } from 'kysely';
import { conditionJoiners, fold, sqlOps, type Sql } from '../sql/sql-conditions.js';
import { linkedCondition, type FilterScope } from '../sql/link-filter.js';
import type { FilterNode, FilterValue } from '../../../domain/query/filter.js';
import type { FieldPath } from '../../../domain/query/field-path.js';
import type { SortKey } from '../../../domain/query/sort.js';
import type { KeysetPosition } from '../../../ports/storage.js';

const TRUE = sql`1`;
const FALSE = sql`0`;
const { and, or, not } = conditionJoiners(TRUE, FALSE);

/** Name of the case-folding function the adapter registers on every connection. */
export const FOLD_FUNCTION = 'sk_fold';

/** Columns that mirror system fields, so that filters and sorts on them use indexes. */
const systemColumns: Record<string, { column: string; type: 'string' | 'date' }> = {
  _id: { column: 'id', type: 'string' },
  _createdDate: { column: 'created_at', type: 'date' },
  _updatedDate: { column: 'updated_at', type: 'date' },
};

function systemColumnOf(field: FieldPath) {
  return field.length === 1 ? systemColumns[field[0] ?? ''] : undefined;
}

export function jsonPath(field: FieldPath): string {
  return '$' + field.map((segment) => `."${segment}"`).join('');
}

const dateSuffix = '."$date"';

/** Leaf conditions on a JSON field. */
class JsonField {
  private readonly path: string;

  constructor(field: FieldPath) {
    this.path = jsonPath(field);
  }

  private get value(): Sql {
    return sql`json_extract(data, ${this.path})`;
  }

  private get type(): Sql {
    return sql`json_type(data, ${this.path})`;
  }

  private typeIs(value: FilterValue): Sql {
    switch (value.type) {
      case 'string':
        return sql`coalesce(${this.type} = 'text', 0)`;
      case 'number':
        return sql`coalesce(${this.type} IN ('integer', 'real'), 0)`;
      case 'boolean':
        return sql`coalesce(${this.type} = ${value.value ? 'true' : 'false'}, 0)`;
      case 'null':
        return sql`(coalesce(${this.type}, 'null') = 'null')`;
      case 'date':
        return sql`coalesce(json_type(data, ${this.path + dateSuffix}) = 'text', 0)`;
    }
  }

  compare(op: keyof typeof sqlOps, value: FilterValue): Sql {
    if (op === 'ne') return not(this.compare('eq', value));
    switch (value.type) {
      case 'null':
      case 'boolean':
        return this.typeIs(value);
      case 'date':
        return sql`coalesce(json_extract(data, ${this.path + dateSuffix}) ${sqlOps[op]} ${value.iso}, 0)`;
      case 'string':
      case 'number':
        return and([this.typeIs(value), sql`coalesce(${this.value} ${sqlOps[op]} ${value.value}, 0)`]);
    }
  }

  in(values: readonly FilterValue[]): Sql {
    const strings = values.flatMap((v) => (v.type === 'string' ? [v.value] : []));
    const numbers = values.flatMap((v) => (v.type === 'number' ? [v.value] : []));
    const parts: Sql[] = [];
    if (strings.length > 0)
      parts.push(
        sql`(${this.typeIs({ type: 'string', value: '' })} AND ${this.value} IN (${sql.join(strings)}))`,
      );
    if (numbers.length > 0)
      parts.push(
        sql`(${this.typeIs({ type: 'number', value: 0 })} AND ${this.value} IN (${sql.join(numbers)}))`,
      );
    for (const v of values) if (v.type !== 'string' && v.type !== 'number') parts.push(this.compare('eq', v));
    return or(parts);
  }

  hasElement(value: FilterValue): Sql {
    let match: Sql;
    switch (value.type) {
      case 'string':
        match = sql`je.type = 'text' AND je.value = ${value.value}`;
        break;
      case 'number':
        match = sql`je.type IN ('integer', 'real') AND je.value = ${value.value}`;
        break;
      case 'boolean':
        match = sql`je.type = ${value.value ? 'true' : 'false'}`;
        break;
      case 'null':
        match = sql`je.type = 'null'`;
        break;
      case 'date':
        match = sql`je.type = 'object' AND json_extract(je.value, '$."$date"') = ${value.iso}`;
        break;
    }
    return sql`EXISTS (SELECT 1 FROM json_each(data, ${this.path}) AS je WHERE ${match})`;
  }

  text(op: 'startsWith' | 'endsWith' | 'contains', needle: string): Sql {
    return and([this.typeIs({ type: 'string', value: '' }), textMatch(this.value, op, needle)]);
  }

  exists(): Sql {
    return sql`coalesce(${this.type} <> 'null', 0)`;
  }
}

function textMatch(subject: Sql, op: 'startsWith' | 'endsWith' | 'contains', needle: string): Sql {
  const folded = fold(needle);
  const haystack = sql`${sql.raw(FOLD_FUNCTION)}(${subject})`;
  switch (op) {
    case 'contains':
      return sql`coalesce(instr(${haystack}, ${folded}) > 0, 0)`;
    case 'startsWith':
      return sql`coalesce(substr(${haystack}, 1, ${folded.length}) = ${folded}, 0)`;
    case 'endsWith':
      return folded.length === 0
        ? TRUE
        : sql`coalesce(substr(${haystack}, ${-folded.length}) = ${folded}, 0)`;
  }
}

/** Leaf conditions on a column that mirrors a system field. */
function compareColumn(
  column: { column: string; type: 'string' | 'date' },
  op: keyof typeof sqlOps,
  value: FilterValue,
): Sql {
  const ref = sql.ref(column.column);
  const bound =
    column.type === 'date'
      ? value.type === 'date'
        ? value.ms
        : undefined
      : value.type === 'string'
        ? value.value
        : undefined;
  // A value of another type never equals a system field (which is never null either).
  if (bound === undefined) return op === 'ne' ? TRUE : FALSE;
  return sql`${ref} ${sqlOps[op]} ${bound}`;
}

export function compileFilter(node: FilterNode | null, scope: FilterScope): Sql {
  if (node === null) return TRUE;
  switch (node.kind) {
    case 'and':
      return and(node.nodes.map((n) => compileFilter(n, scope)));
    case 'or':
      return or(node.nodes.map((n) => compileFilter(n, scope)));
    case 'not':
      return not(compileFilter(node.node, scope));
    case 'linked':
      return linkedCondition(node, sql.ref('id'), scope, TRUE, FALSE);
    case 'compare': {
      const column = systemColumnOf(node.field);
      return column
        ? compareColumn(column, node.op, node.value)
        : new JsonField(node.field).compare(node.op, node.value);
    }
    case 'in': {
      const column = systemColumnOf(node.field);
      return column
        ? or(node.values.map((v) => compareColumn(column, 'eq', v)))
        : new JsonField(node.field).in(node.values);
    }
    case 'hasSome':
    case 'hasAll': {
      const column = systemColumnOf(node.field);
      const parts = node.values.map((v) =>
        column ? compareColumn(column, 'eq', v) : new JsonField(node.field).hasElement(v),
      );
      return node.kind === 'hasSome' ? or(parts) : and(parts);
    }
    case 'string': {
      const column = systemColumnOf(node.field);
      if (column?.type === 'date') return FALSE;
      return column
        ? textMatch(sql.ref(column.column), node.op, node.value)
        : new JsonField(node.field).text(node.op, node.value);
    }
    case 'exists': {
      const present = systemColumnOf(node.field) ? TRUE : new JsonField(node.field).exists();
      return node.exists ? present : not(present);
    }
  }
}

/** The SQL expression a sort key orders by. */
export function sortExpression(field: FieldPath): Sql {
  const column = systemColumnOf(field);
  return column ? sql.ref(column.column) : sql`json_extract(data, ${jsonPath(field)})`;
}

interface OrderedKey {
  readonly expr: Sql;
  readonly descending: boolean;
}

/** The sort keys with `id` as the final tie-breaker, reversed when paging backwards. */
export function orderedKeys(sort: readonly SortKey[], backwards: boolean): OrderedKey[] {
  const keys: OrderedKey[] = sort
    .filter((k) => !(k.field.length === 1 && k.field[0] === '_id'))
    .map((k) => ({ expr: sortExpression(k.field), descending: (k.order === 'DESC') !== backwards }));
  const idKey = sort.find((k) => k.field.length === 1 && k.field[0] === '_id');
  keys.push({ expr: sql.ref('id'), descending: (idKey?.order === 'DESC') !== backwards });
  return keys;
}

/** ORDER BY with NULLs first in ascending and last in descending order, as every engine here does it. */
export function orderBy(keys: readonly OrderedKey[]): Sql {
  return sql.join(
    keys.map((k) => (k.descending ? sql`${k.expr} DESC NULLS LAST` : sql`${k.expr} ASC NULLS FIRST`)),
  );
}

/**
 * Rows strictly after `position` in the order of `keys` (the last key is `id`, never NULL). Values are
 * bound with the types the engine returned them with, so comparisons mean what ORDER BY means.
 */
export function afterPosition(keys: readonly OrderedKey[], position: KeysetPosition): Sql {
  const values = [...position.values, position.id];
  const alternatives: Sql[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (!key) continue;
    const equalBefore = keys.slice(0, i).map((k, j) => sql`${k.expr} IS ${values[j] ?? null}`);
    const value = values[i] ?? null;
    let after: Sql;
    if (value === null) after = key.descending ? FALSE : sql`${key.expr} IS NOT NULL`;
    else if (key.descending) after = sql`(${key.expr} < ${value} OR ${key.expr} IS NULL)`;
    else after = sql`coalesce(${key.expr} > ${value}, 0)`;
    alternatives.push(and([...equalBefore, after]));
  }
  return or(alternatives);
}
