/**
 * Compiles the parsed query language (src/domain/query) to SQL over an item table (aliased `i`), once for
 * every engine. Shaped like kysely's DefaultQueryCompiler: this base holds the walk over the filter, the
 * system columns, sorting and keyset paging; each engine subclasses it and overrides only small hooks
 * (how a JSON value, its text and its type are read, how numbers and text compare, how text is folded and
 * cut, how an array's elements are listed, how sort terms order and bind). Subclasses:
 * sqlite/sqlite-query-hooks.ts and postgres/postgres-query-hooks.ts.
 *
 * Semantics, the same on every engine (docs/ARCHITECTURE.md, "Query semantics"):
 * - a comparison only matches values of its own type: 5 never equals "5", and `$gt: 3` skips strings;
 * - `$eq: null` matches a missing field or null; `$ne` matches everything `$eq` does not;
 * - `$startsWith`, `$endsWith` and `$contains` ignore case (JavaScript's toLowerCase on both sides);
 * - `$hasSome`/`$hasAll` look inside arrays (and object values), and treat a single value as a one-element
 *   array;
 * - sorting orders values as SQLite orders what json_extract returns: NULL (missing or null) first, then
 *   numbers (booleans as 0 and 1), then text (strings, and objects or arrays as their JSON text), text
 *   compared bytewise.
 * Every leaf is NULL-free (true or false) so that NOT and OR behave as in two-valued logic.
 */
import { sql } from 'kysely';
import type { FieldPath } from '../../../domain/query/field-path.js';
import type { FilterNode, FilterValue } from '../../../domain/query/filter.js';
import type { SortKey } from '../../../domain/query/sort.js';
import type { AggregateOperation, ItemAggregation, KeysetPosition } from '../../../ports/storage.js';
import { linkedCondition, type FilterScope } from './link-filter.js';
import { conditionJoiners, fold, sqlOps, type Sql } from './sql-conditions.js';

export type CompareOp = keyof typeof sqlOps;
export type TextOp = 'startsWith' | 'endsWith' | 'contains';

/** Columns that mirror system fields, so that filters and sorts on them use indexes. */
const systemColumns: Record<string, { column: string; type: 'string' | 'date' }> = {
  _id: { column: 'id', type: 'string' },
  _createdDate: { column: 'created_at', type: 'date' },
  _updatedDate: { column: 'updated_at', type: 'date' },
};

function systemColumnOf(field: FieldPath) {
  return field.length === 1 ? systemColumns[field[0] ?? ''] : undefined;
}

/** One ORDER BY term, and how a position's value for it is bound back into SQL. */
export interface SortTerm {
  readonly expr: Sql;
  readonly bind: (value: unknown) => Sql;
}

/** A sort key: one term for a column, as many as the engine needs for a JSON field. */
export interface OrderedKey {
  readonly terms: readonly SortTerm[];
  readonly descending: boolean;
}

const plainTerm = (expr: Sql): SortTerm => ({ expr, bind: (value) => sql`${value}` });

/** An aggregate function over one group's operand column (numbers only; NULL where not a number). */
function operation(op: AggregateOperation['op'], operand: Sql): Sql {
  switch (op) {
    case 'count':
      return sql`count(*)`;
    case 'sum':
      return sql`coalesce(sum(${operand}), 0)`;
    case 'avg':
      return sql`avg(${operand})`;
    case 'min':
      return sql`min(${operand})`;
    case 'max':
      return sql`max(${operand})`;
  }
}

/** The JSON type names an engine's type function returns for strings and numbers. */
export interface JsonTypeNames {
  readonly string: string;
  readonly number: readonly string[];
}

export abstract class ItemQueryCompiler {
  /** The engine's boolean literals (and the NULL-free result of every leaf). */
  readonly TRUE: Sql;
  readonly FALSE: Sql;
  private readonly joiners: ReturnType<typeof conditionJoiners>;

  constructor(
    protected readonly scope: FilterScope,
    literals: { readonly TRUE: Sql; readonly FALSE: Sql },
  ) {
    this.TRUE = literals.TRUE;
    this.FALSE = literals.FALSE;
    this.joiners = conditionJoiners(this.TRUE, this.FALSE);
  }

  protected and(parts: Sql[]): Sql {
    return this.joiners.and(parts);
  }

  protected or(parts: Sql[]): Sql {
    return this.joiners.or(parts);
  }

  protected not(part: Sql): Sql {
    return this.joiners.not(part);
  }

  // ---- Hooks every engine provides ----

  /** What the engine's JSON type function returns for strings and numbers. */
  protected abstract readonly typeNames: JsonTypeNames;
  /** The JSON value at `field` of the item (NULL when missing), as the engine's type tests take it. */
  protected abstract jsonValue(field: FieldPath): Sql;
  /** The value at `field` as SQL text for a string, SQL number for a number (what comparisons take). */
  protected abstract jsonText(field: FieldPath): Sql;
  /** The JSON type name of the value at `field`, NULL when missing. */
  protected abstract jsonType(field: FieldPath): Sql;
  /** True where the value at `field` is the JSON boolean `value`. */
  protected abstract isBoolean(field: FieldPath, value: boolean): Sql;
  /** A relation `je` with one row per element of the array at `field` (an object's values; a scalar itself). */
  protected abstract elementsOf(field: FieldPath): Sql;
  /** True where the row of `elementsOf` is `value`, type-strict. */
  protected abstract elementIs(value: FilterValue): Sql;
  /** Text case-folded as JavaScript's toLowerCase does, compared bytewise afterwards. */
  protected abstract folded(text: Sql): Sql;
  /** The 1-based position of `needle` in `haystack`, 0 when absent. */
  protected abstract position(haystack: Sql, needle: string): Sql;
  /** The first `length` UTF-16 units of `text`. */
  protected abstract prefix(text: Sql, length: number): Sql;
  /** The last `length` (> 0) UTF-16 units of `text`. */
  protected abstract suffix(text: Sql, length: number): Sql;
  /** The ORDER BY terms of a JSON field, which order as SQLite orders what json_extract returns. */
  protected abstract jsonSortTerms(field: FieldPath): SortTerm[];
  /** The JSON value at `field` as a grouping key: a missing field is JSON null, equal values are equal. */
  protected abstract groupKey(field: FieldPath): Sql;
  /** The value at `field` as an SQL double where it is a JSON number, else NULL. */
  protected abstract numberOf(field: FieldPath): Sql;
  /** A JSON object of `entries`; `json` entries are JSON values (a `groupKey`), the others SQL scalars. */
  protected abstract jsonObject(entries: readonly { key: string; value: Sql; json?: boolean }[]): Sql;
  /** A JSON object as text (what the item table's `data` column holds). */
  protected abstract jsonAsText(json: Sql): Sql;

  // ---- Hooks with a default every engine could use ----

  /** Text compared bytewise (code point order); the default assumes the engine already does. */
  protected bytewise(text: Sql): Sql {
    return text;
  }

  /** A number as a bound parameter. */
  protected numberParam(value: number): Sql {
    return sql`${value}`;
  }

  /** `test` of the numeric value at `field`, false where it is not a number. */
  protected numeric(field: FieldPath, test: (value: Sql) => Sql): Sql {
    return this.and([
      this.typeIs(field, { type: 'number', value: 0 }),
      sql`coalesce(${test(this.jsonText(field))}, ${this.FALSE})`,
    ]);
  }

  /** The item table as the FROM of a statement, aliased `i`, with whatever the compiled parts need. */
  relation(table: string): Sql {
    return this.from(sql.table(table));
  }

  /**
   * A relation with the item table's `id` and `data` columns (a table or a parenthesised subquery) as
   * the FROM of a statement, aliased `i`. Called once every part of the statement is compiled.
   */
  from(source: Sql): Sql {
    return sql`${source} AS i`;
  }

  /** A column (of the item table `i`). */
  protected column(name: string): Sql {
    return sql.ref(`i.${name}`);
  }

  /** One ORDER BY term; the default puts NULLs first ascending and last descending. */
  protected orderTerm(term: Sql, descending: boolean): Sql {
    return descending ? sql`${term} DESC NULLS LAST` : sql`${term} ASC NULLS FIRST`;
  }

  /**
   * Rows strictly after `bound` on one term, given equal earlier terms (undefined: none), for the NULL
   * order of `orderTerm`.
   */
  protected afterTerm(term: Sql, bound: Sql, descending: boolean, isNull: boolean): Sql | undefined {
    if (isNull) return descending ? undefined : sql`${term} IS NOT NULL`;
    return descending
      ? sql`(${term} < ${bound} OR ${term} IS NULL)`
      : sql`coalesce(${term} > ${bound}, ${this.FALSE})`;
  }

  // ---- The shared walk ----

  private lit(value: string): Sql {
    return sql.lit(value);
  }

  private typeIs(field: FieldPath, value: FilterValue): Sql {
    const names = this.typeNames;
    switch (value.type) {
      case 'string':
        return sql`coalesce(${this.jsonType(field)} = ${this.lit(names.string)}, ${this.FALSE})`;
      case 'number': {
        const [only] = names.number;
        const test =
          names.number.length === 1 && only !== undefined
            ? sql`= ${this.lit(only)}`
            : sql`IN (${sql.join(names.number.map((n) => this.lit(n)))})`;
        return sql`coalesce(${this.jsonType(field)} ${test}, ${this.FALSE})`;
      }
      case 'boolean':
        return this.isBoolean(field, value.value);
      case 'null':
        return sql`(coalesce(${this.jsonType(field)}, 'null') = 'null')`;
      case 'date':
        return sql`coalesce(${this.jsonType([...field, '$date'])} = ${this.lit(names.string)}, ${this.FALSE})`;
    }
  }

  private compareJson(field: FieldPath, op: CompareOp, value: FilterValue): Sql {
    if (op === 'ne') return this.not(this.compareJson(field, 'eq', value));
    switch (value.type) {
      case 'null':
      case 'boolean':
        return this.typeIs(field, value);
      case 'date':
        return sql`coalesce(${this.bytewise(this.jsonText([...field, '$date']))} ${sqlOps[op]} ${value.iso}, ${this.FALSE})`;
      case 'string':
        return this.and([
          this.typeIs(field, value),
          sql`coalesce(${this.bytewise(this.jsonText(field))} ${sqlOps[op]} ${value.value}, ${this.FALSE})`,
        ]);
      case 'number':
        return this.numeric(field, (v) => sql`${v} ${sqlOps[op]} ${this.numberParam(value.value)}`);
    }
  }

  private inJson(field: FieldPath, values: readonly FilterValue[]): Sql {
    const strings = values.flatMap((v) => (v.type === 'string' ? [v.value] : []));
    const numbers = values.flatMap((v) => (v.type === 'number' ? [v.value] : []));
    const parts: Sql[] = [];
    if (strings.length > 0)
      parts.push(
        this.and([
          this.typeIs(field, { type: 'string', value: '' }),
          sql`coalesce(${this.bytewise(this.jsonText(field))} IN (${sql.join(strings)}), ${this.FALSE})`,
        ]),
      );
    if (numbers.length > 0)
      parts.push(
        this.numeric(field, (v) => sql`${v} IN (${sql.join(numbers.map((n) => this.numberParam(n)))})`),
      );
    for (const v of values)
      if (v.type !== 'string' && v.type !== 'number') parts.push(this.compareJson(field, 'eq', v));
    return this.or(parts);
  }

  private hasElement(field: FieldPath, value: FilterValue): Sql {
    return sql`EXISTS (SELECT 1 FROM ${this.elementsOf(field)} WHERE ${this.elementIs(value)})`;
  }

  private textMatch(subject: Sql, op: TextOp, needle: string): Sql {
    const folded = fold(needle);
    const haystack = this.folded(subject);
    switch (op) {
      case 'contains':
        return sql`coalesce(${this.position(haystack, folded)} > 0, ${this.FALSE})`;
      case 'startsWith':
        return sql`coalesce(${this.prefix(haystack, folded.length)} = ${folded}, ${this.FALSE})`;
      case 'endsWith':
        return folded.length === 0
          ? this.TRUE
          : sql`coalesce(${this.suffix(haystack, folded.length)} = ${folded}, ${this.FALSE})`;
    }
  }

  /** Leaf conditions on a column that mirrors a system field. */
  private compareColumn(
    column: { column: string; type: 'string' | 'date' },
    op: CompareOp,
    value: FilterValue,
  ): Sql {
    const bound =
      column.type === 'date'
        ? value.type === 'date'
          ? value.ms
          : undefined
        : value.type === 'string'
          ? value.value
          : undefined;
    // A value of another type never equals a system field (which is never null either).
    if (bound === undefined) return op === 'ne' ? this.TRUE : this.FALSE;
    return sql`${this.column(column.column)} ${sqlOps[op]} ${bound}`;
  }

  /** The WHERE condition of a filter (TRUE for none). */
  compile(node: FilterNode | null): Sql {
    if (node === null) return this.TRUE;
    switch (node.kind) {
      case 'and':
        return this.and(node.nodes.map((n) => this.compile(n)));
      case 'or':
        return this.or(node.nodes.map((n) => this.compile(n)));
      case 'not':
        return this.not(this.compile(node.node));
      case 'linked':
        return linkedCondition(node, this.column('id'), this.scope, this.TRUE, this.FALSE);
      case 'compare': {
        const column = systemColumnOf(node.field);
        return column
          ? this.compareColumn(column, node.op, node.value)
          : this.compareJson(node.field, node.op, node.value);
      }
      case 'in': {
        const column = systemColumnOf(node.field);
        return column
          ? this.or(node.values.map((v) => this.compareColumn(column, 'eq', v)))
          : this.inJson(node.field, node.values);
      }
      case 'hasSome':
      case 'hasAll': {
        const column = systemColumnOf(node.field);
        const parts = node.values.map((v) =>
          column ? this.compareColumn(column, 'eq', v) : this.hasElement(node.field, v),
        );
        return node.kind === 'hasSome' ? this.or(parts) : this.and(parts);
      }
      case 'string': {
        const column = systemColumnOf(node.field);
        if (column?.type === 'date') return this.FALSE;
        if (column) return this.textMatch(this.column(column.column), node.op, node.value);
        return this.and([
          this.typeIs(node.field, { type: 'string', value: '' }),
          this.textMatch(this.jsonText(node.field), node.op, node.value),
        ]);
      }
      case 'exists': {
        const present = systemColumnOf(node.field)
          ? this.TRUE
          : sql`coalesce(${this.jsonType(node.field)} <> 'null', ${this.FALSE})`;
        return node.exists ? present : this.not(present);
      }
    }
  }

  /**
   * The groups of an aggregation as a subquery shaped like an item table: `id` (the group's `_id` as JSON
   * text, so that the final `id` tie-breaker orders groups) and `data` (the result object: `_id`, the
   * group keys, and every operation's value). `where` is the compiled filter before grouping; the
   * caller compiles the filter after grouping and the sort over this subquery with another compiler.
   */
  groups(table: string, where: Sql, aggregation: ItemAggregation): Sql {
    // The keys and operands are columns of an inner SELECT, so that GROUP BY names plain columns (the
    // same expression bound twice is not the same expression to PostgreSQL).
    const columns: Sql[] = [];
    const keys = aggregation.groupBy.map((g, i) => {
      columns.push(sql`${this.groupKey(g.field)} AS ${sql.ref(`g${i}`)}`);
      return { key: g.key, value: sql.ref(`r.g${i}`), json: true };
    });
    const values = aggregation.operations.map((o, i) => {
      if (o.op !== 'count') columns.push(sql`${this.numberOf(o.field ?? [])} AS ${sql.ref(`v${i}`)}`);
      return { key: o.name, value: operation(o.op, sql.ref(`r.v${i}`)) };
    });
    const id = keys.length === 0 ? sql`NULL` : this.jsonObject(keys);
    const data = this.jsonObject([{ key: '_id', value: id, json: true }, ...keys, ...values]);
    const grouping = keys.length === 0 ? sql`` : sql` GROUP BY ${sql.join(keys.map((k) => k.value))}`;
    const inner = sql`SELECT ${columns.length === 0 ? sql`1 AS one` : sql.join(columns)}
      FROM ${this.relation(table)} WHERE ${where}`;
    // System-field columns exist (NULL) so that a filter or sort naming them reads nothing, not an error.
    return sql`(SELECT ${this.jsonAsText(id)} AS id, ${this.jsonAsText(data)} AS data,
      CAST(NULL AS BIGINT) AS created_at, CAST(NULL AS BIGINT) AS updated_at
      FROM (${inner}) AS r${grouping})`;
  }

  private sortTerms(field: FieldPath): SortTerm[] {
    const column = systemColumnOf(field);
    return column ? [plainTerm(this.column(column.column))] : this.jsonSortTerms(field);
  }

  /** The sort keys with `id` as the final tie-breaker, reversed when paging backwards. */
  orderedKeys(sort: readonly SortKey[], backwards: boolean): OrderedKey[] {
    const isId = (k: SortKey) => k.field.length === 1 && k.field[0] === '_id';
    const keys: OrderedKey[] = sort
      .filter((k) => !isId(k))
      .map((k) => ({ terms: this.sortTerms(k.field), descending: (k.order === 'DESC') !== backwards }));
    const idKey = sort.find(isId);
    keys.push({ terms: [plainTerm(this.column('id'))], descending: (idKey?.order === 'DESC') !== backwards });
    return keys;
  }

  /** ORDER BY over every term of every key. */
  orderBy(keys: readonly OrderedKey[]): Sql {
    return sql.join(keys.flatMap((k) => k.terms.map((t) => this.orderTerm(t.expr, k.descending))));
  }

  /**
   * Rows strictly after `position` in the order of `keys` (the last key is `id`, never NULL). A key of
   * several terms has its position value as an array, one per term; values are bound as the engine
   * returned them (`SortTerm.bind`), so comparisons mean what ORDER BY means.
   */
  afterPosition(keys: readonly OrderedKey[], position: KeysetPosition): Sql {
    const flat: { expr: Sql; descending: boolean; bound: Sql; isNull: boolean }[] = [];
    keys.forEach((key, i) => {
      const raw = i === keys.length - 1 ? position.id : position.values[i];
      const values = key.terms.length === 1 ? [raw] : Array.isArray(raw) ? (raw as unknown[]) : [];
      key.terms.forEach((term, j) => {
        const value: unknown = values[j] ?? null;
        flat.push({
          expr: term.expr,
          descending: key.descending,
          bound: term.bind(value),
          isNull: value === null,
        });
      });
    });
    const alternatives: Sql[] = [];
    flat.forEach((entry, i) => {
      const after = this.afterTerm(entry.expr, entry.bound, entry.descending, entry.isNull);
      if (!after) return;
      const equalBefore = flat.slice(0, i).map((e) => sql`${e.expr} IS NOT DISTINCT FROM ${e.bound}`);
      alternatives.push(this.and([...equalBefore, after]));
    });
    return this.or(alternatives);
  }
}

/** The terms a page's positions are read from: every term of every key but the final `id`. */
export function positionTerms(keys: readonly OrderedKey[]): Sql[] {
  return keys.slice(0, -1).flatMap((k) => k.terms.map((t) => t.expr));
}

/**
 * A position's values, one per sort key, read from the row's `k0`, `k1`… columns (`positionTerms`): the
 * term's value, or an array of them for a key of several terms.
 */
export function positionValues(keys: readonly OrderedKey[], row: Record<string, unknown>): unknown[] {
  let t = 0;
  return keys.slice(0, -1).map((k) => {
    const values = k.terms.map(() => row[`k${t++}`] ?? null);
    return values.length === 1 ? values[0] : values;
  });
}
