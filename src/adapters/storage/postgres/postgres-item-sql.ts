/**
 * Compiles the parsed query language (src/domain/query) to PostgreSQL over an item table, with exactly the
 * semantics the SQLite compiler has (sqlite-item-sql.ts; docs/ARCHITECTURE.md, "Query semantics"):
 * - a comparison only matches values of its own type; `$eq: null` matches a missing field or null;
 * - `$startsWith`, `$endsWith` and `$contains` ignore case (JavaScript's toLowerCase: ICU's root-locale
 *   lower(), which applies the same full Unicode mapping, final sigma included);
 * - `$hasSome`/`$hasAll` look inside arrays (and object values, as SQLite's json_each does), and treat a
 *   single value as a one-element array;
 * - sorting orders values as SQLite orders what json_extract returns: NULL (missing or null) first, then
 *   numbers (booleans as 0 and 1), then text (strings, and objects or arrays as their JSON text), text
 *   compared bytewise.
 * Items are stored as the exact JSON text (a JSONB value would not give it back byte for byte); a query
 * that looks inside items parses each row once, in a LATERAL subquery (`doc`).
 * Every leaf is NULL-free so that NOT and OR behave as in two-valued logic.
 */
import { sql } from 'kysely';
import { conditionJoiners, fold, sqlOps, type Sql } from '../sql/sql-conditions.js';
import { linkedCondition, type FilterScope } from '../sql/link-filter.js';
import type { FieldPath } from '../../../domain/query/field-path.js';
import type { FilterNode, FilterValue } from '../../../domain/query/filter.js';
import type { SortKey } from '../../../domain/query/sort.js';
import type { KeysetPosition } from '../../../ports/storage.js';

const TRUE = sql`TRUE`;
const FALSE = sql`FALSE`;
const { and, or, not } = conditionJoiners(TRUE, FALSE);

/** Columns that mirror system fields, so that filters and sorts on them use indexes. */
const systemColumns: Record<string, { column: string; type: 'string' | 'date' }> = {
  _id: { column: 'id', type: 'string' },
  _createdDate: { column: 'created_at', type: 'date' },
  _updatedDate: { column: 'updated_at', type: 'date' },
};

function systemColumnOf(field: FieldPath) {
  return field.length === 1 ? systemColumns[field[0] ?? ''] : undefined;
}

/** A JSON path as a text[] parameter. Paths are bound, never spliced into SQL. */
function pathParam(path: readonly string[]): Sql {
  return sql`${[...path]}::text[]`;
}

/** A compiled query part, and whether it needs the parsed item (`doc`). */
export class ItemSqlCompiler {
  /** Set once a compiled part reads inside items: the query must then provide `doc`. */
  usesDoc = false;

  constructor(private readonly scope: FilterScope) {}

  private value(field: FieldPath): Sql {
    this.usesDoc = true;
    return sql`(d.doc #> ${pathParam(field)})`;
  }

  private textOf(field: FieldPath): Sql {
    this.usesDoc = true;
    return sql`(d.doc #>> ${pathParam(field)})`;
  }

  private typeOf(field: FieldPath): Sql {
    return sql`jsonb_typeof(${this.value(field)})`;
  }

  private typeIs(field: FieldPath, value: FilterValue): Sql {
    const type = this.typeOf(field);
    switch (value.type) {
      case 'string':
        return sql`coalesce(${type} = 'string', FALSE)`;
      case 'number':
        return sql`coalesce(${type} = 'number', FALSE)`;
      case 'boolean':
        return sql`coalesce(${this.value(field)} = ${value.value ? 'true' : 'false'}::jsonb, FALSE)`;
      case 'null':
        return sql`(coalesce(${type}, 'null') = 'null')`;
      case 'date':
        return sql`coalesce(jsonb_typeof(${this.value([...field, '$date'])}) = 'string', FALSE)`;
    }
  }

  private compareJson(field: FieldPath, op: keyof typeof sqlOps, value: FilterValue): Sql {
    if (op === 'ne') return not(this.compareJson(field, 'eq', value));
    switch (value.type) {
      case 'null':
      case 'boolean':
        return this.typeIs(field, value);
      case 'date':
        return sql`coalesce(${this.textOf([...field, '$date'])} COLLATE "C" ${sqlOps[op]} ${value.iso}, FALSE)`;
      case 'string':
        return and([
          this.typeIs(field, value),
          sql`coalesce(${this.textOf(field)} COLLATE "C" ${sqlOps[op]} ${value.value}, FALSE)`,
        ]);
      case 'number':
        // CASE, not AND: PostgreSQL may evaluate either side of an AND first, and a string cannot be cast.
        return sql`(CASE WHEN ${this.typeOf(field)} = 'number'
          THEN coalesce(${this.textOf(field)}::numeric ${sqlOps[op]} ${value.value}::numeric, FALSE) ELSE FALSE END)`;
    }
  }

  private inJson(field: FieldPath, values: readonly FilterValue[]): Sql {
    const strings = values.flatMap((v) => (v.type === 'string' ? [v.value] : []));
    const numbers = values.flatMap((v) => (v.type === 'number' ? [v.value] : []));
    const parts: Sql[] = [];
    if (strings.length > 0)
      parts.push(
        and([
          this.typeIs(field, { type: 'string', value: '' }),
          sql`coalesce(${this.textOf(field)} COLLATE "C" IN (${sql.join(strings)}), FALSE)`,
        ]),
      );
    if (numbers.length > 0)
      parts.push(sql`(CASE WHEN ${this.typeOf(field)} = 'number'
        THEN coalesce(${this.textOf(field)}::numeric IN (${sql.join(numbers.map((n) => sql`${n}::numeric`))}), FALSE)
        ELSE FALSE END)`);
    for (const v of values)
      if (v.type !== 'string' && v.type !== 'number') parts.push(this.compareJson(field, 'eq', v));
    return or(parts);
  }

  private hasElement(field: FieldPath, value: FilterValue): Sql {
    const v = this.value(field);
    // What SQLite's json_each visits: an array's elements, an object's values, or a scalar itself.
    const elements = sql`(CASE WHEN ${v} IS NULL THEN '[]'::jsonb
      WHEN jsonb_typeof(${v}) = 'array' THEN ${v}
      WHEN jsonb_typeof(${v}) = 'object' THEN (SELECT coalesce(jsonb_agg(o.value), '[]'::jsonb) FROM jsonb_each(${v}) AS o)
      ELSE jsonb_build_array(${v}) END)`;
    let match: Sql;
    switch (value.type) {
      case 'string':
        match = sql`jsonb_typeof(je.value) = 'string' AND (je.value #>> '{}') COLLATE "C" = ${value.value}`;
        break;
      case 'number':
        match = sql`CASE WHEN jsonb_typeof(je.value) = 'number'
          THEN (je.value #>> '{}')::numeric = ${value.value}::numeric ELSE FALSE END`;
        break;
      case 'boolean':
        match = sql`je.value = ${value.value ? 'true' : 'false'}::jsonb`;
        break;
      case 'null':
        match = sql`jsonb_typeof(je.value) = 'null'`;
        break;
      case 'date':
        match = sql`jsonb_typeof(je.value) = 'object' AND (je.value ->> '$date') COLLATE "C" = ${value.iso}`;
        break;
    }
    return sql`EXISTS (SELECT 1 FROM jsonb_array_elements(${elements}) AS je(value) WHERE ${match})`;
  }

  private exists(field: FieldPath): Sql {
    return sql`coalesce(${this.typeOf(field)} <> 'null', FALSE)`;
  }

  compile(node: FilterNode | null): Sql {
    if (node === null) return TRUE;
    switch (node.kind) {
      case 'and':
        return and(node.nodes.map((n) => this.compile(n)));
      case 'or':
        return or(node.nodes.map((n) => this.compile(n)));
      case 'not':
        return not(this.compile(node.node));
      case 'linked':
        return linkedCondition(node, sql.ref('i.id'), this.scope, TRUE, FALSE);
      case 'compare': {
        const column = systemColumnOf(node.field);
        return column
          ? compareColumn(column, node.op, node.value)
          : this.compareJson(node.field, node.op, node.value);
      }
      case 'in': {
        const column = systemColumnOf(node.field);
        return column
          ? or(node.values.map((v) => compareColumn(column, 'eq', v)))
          : this.inJson(node.field, node.values);
      }
      case 'hasSome':
      case 'hasAll': {
        const column = systemColumnOf(node.field);
        const parts = node.values.map((v) =>
          column ? compareColumn(column, 'eq', v) : this.hasElement(node.field, v),
        );
        return node.kind === 'hasSome' ? or(parts) : and(parts);
      }
      case 'string': {
        const column = systemColumnOf(node.field);
        if (column?.type === 'date') return FALSE;
        if (column) return textMatch(sql.ref(`i.${column.column}`), node.op, node.value);
        return and([
          this.typeIs(node.field, { type: 'string', value: '' }),
          textMatch(this.textOf(node.field), node.op, node.value),
        ]);
      }
      case 'exists': {
        const present = systemColumnOf(node.field) ? TRUE : this.exists(node.field);
        return node.exists ? present : not(present);
      }
    }
  }

  /**
   * The ORDER BY terms of a sort key. A system field is its column. A JSON field is three terms — the
   * kind of value (0 null, 1 number, 2 text), its number, its text — which order as SQLite orders the
   * values json_extract returns; within one kind the other two terms are uniformly NULL or not.
   */
  private sortTerms(field: FieldPath): Sql[] {
    const column = systemColumnOf(field);
    if (column) return [sql.ref(`i.${column.column}`)];
    const type = this.typeOf(field);
    const v = this.value(field);
    return [
      sql`(CASE ${type} WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 WHEN 'string' THEN 2
        WHEN 'object' THEN 2 WHEN 'array' THEN 2 ELSE 0 END)`,
      sql`(CASE ${type} WHEN 'number' THEN (${v} #>> '{}')::numeric
        WHEN 'boolean' THEN (CASE WHEN ${v} = 'true'::jsonb THEN 1 ELSE 0 END)::numeric END)`,
      // Objects and arrays as their stored JSON text (the json type keeps it as written), as SQLite does.
      sql`((CASE ${type} WHEN 'string' THEN ${v} #>> '{}'
        WHEN 'object' THEN (i.data::json #> ${pathParam(field)})::text
        WHEN 'array' THEN (i.data::json #> ${pathParam(field)})::text END) COLLATE "C")`,
    ];
  }

  /** The sort keys with `id` as the final tie-breaker, reversed when paging backwards. */
  orderedKeys(sort: readonly SortKey[], backwards: boolean): OrderedKey[] {
    const keys: OrderedKey[] = sort
      .filter((k) => !(k.field.length === 1 && k.field[0] === '_id'))
      .map((k) => ({ terms: this.sortTerms(k.field), descending: (k.order === 'DESC') !== backwards }));
    const idKey = sort.find((k) => k.field.length === 1 && k.field[0] === '_id');
    keys.push({ terms: [sql.ref('i.id')], descending: (idKey?.order === 'DESC') !== backwards });
    return keys;
  }
}

export interface OrderedKey {
  readonly terms: readonly Sql[];
  readonly descending: boolean;
}

/** Leaf conditions on a column that mirrors a system field. */
function compareColumn(
  column: { column: string; type: 'string' | 'date' },
  op: keyof typeof sqlOps,
  value: FilterValue,
): Sql {
  const ref = sql.ref(`i.${column.column}`);
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

function textMatch(subject: Sql, op: 'startsWith' | 'endsWith' | 'contains', needle: string): Sql {
  const folded = fold(needle);
  const haystack = sql`(lower(${subject} COLLATE "und-x-icu") COLLATE "C")`;
  switch (op) {
    case 'contains':
      return sql`coalesce(strpos(${haystack}, ${folded}) > 0, FALSE)`;
    case 'startsWith':
      // The length in UTF-16 units, as the SQLite compiler passes it to substr.
      return sql`coalesce(left(${haystack}, ${folded.length}) = ${folded}, FALSE)`;
    case 'endsWith':
      return folded.length === 0
        ? TRUE
        : sql`coalesce(right(${haystack}, ${folded.length}) = ${folded}, FALSE)`;
  }
}

/** ORDER BY over every term of every key. */
export function orderBy(keys: readonly OrderedKey[]): Sql {
  return sql.join(
    keys.flatMap((k) => k.terms.map((term) => (k.descending ? sql`${term} DESC` : sql`${term} ASC`))),
  );
}

/** The terms a page's positions are read from: every term of every key but the final `id`. */
export function positionTerms(keys: readonly OrderedKey[]): Sql[] {
  return keys.slice(0, -1).flatMap((k) => [...k.terms]);
}

/**
 * A position's values, one per sort key: a system column's value, or `[kind, number, text]` for a JSON
 * field (numbers as the decimal text PostgreSQL returned, so that they bind back exactly).
 */
export function positionValues(keys: readonly OrderedKey[], row: Record<string, unknown>): unknown[] {
  let t = 0;
  return keys.slice(0, -1).map((k) => {
    const values = k.terms.map(() => row[`k${t++}`] ?? null);
    return values.length === 1 ? values[0] : values;
  });
}

/**
 * Rows strictly after `position` in the order of `keys`. Within equal earlier terms, a term is NULL on
 * both sides or on neither (see `sortTerms`), so equality is IS NOT DISTINCT FROM and a NULL value has
 * nothing after it.
 */
export function afterPosition(keys: readonly OrderedKey[], position: KeysetPosition): Sql {
  const flat: { term: Sql; descending: boolean; bound: Sql; isNull: boolean }[] = [];
  keys.forEach((key, i) => {
    const raw = i === keys.length - 1 ? position.id : position.values[i];
    const values = key.terms.length === 1 ? [raw] : Array.isArray(raw) ? (raw as unknown[]) : [];
    key.terms.forEach((term, j) => {
      const value: unknown = values[j] ?? null;
      // A JSON field's terms are typed kind, number, text: bind them so.
      const casts = [sql`::int`, sql`::numeric`, sql`::text`];
      const bound = key.terms.length === 1 ? sql`${value}` : sql`${value}${casts[j] ?? sql``}`;
      flat.push({ term, descending: key.descending, bound, isNull: value === null });
    });
  });
  const alternatives: Sql[] = [];
  flat.forEach((entry, i) => {
    if (entry.isNull) return;
    const equalBefore = flat.slice(0, i).map((e) => sql`${e.term} IS NOT DISTINCT FROM ${e.bound}`);
    const after = entry.descending
      ? sql`${entry.term} < ${entry.bound}`
      : sql`${entry.term} > ${entry.bound}`;
    alternatives.push(and([...equalBefore, sql`coalesce(${after}, FALSE)`]));
  });
  return or(alternatives);
}
