/**
 * PostgreSQL's hooks of the item-query compiler (sql/item-query-compiler.ts), with exactly SQLite's
 * semantics (docs/ARCHITECTURE.md, "Query semantics"):
 * - text compares bytewise (COLLATE "C"); numbers as numeric, behind a CASE (PostgreSQL may evaluate either
 *   side of an AND first, and a string cannot be cast);
 * - case folding is ICU's root-locale lower(), which applies JavaScript's full Unicode mapping, final sigma
 *   included;
 * - `$hasSome`/`$hasAll` visit what SQLite's json_each visits: an array's elements, an object's values, or
 *   a scalar itself;
 * - a JSON sort key is three terms (kind, number, text) that order as SQLite orders json_extract's values.
 * Items are stored as the exact JSON text (a JSONB value would not give it back byte for byte); a query
 * that looks inside items parses each row once, in a LATERAL subquery (`doc`, see `usesDoc`).
 */
import { sql } from 'kysely';
import type { FieldPath } from '../../../domain/query/field-path.js';
import type { FilterValue } from '../../../domain/query/filter.js';
import type { FilterScope } from '../sql/link-filter.js';
import type { Sql } from '../sql/sql-conditions.js';
import { ItemQueryCompiler, type JsonTypeNames, type SortTerm } from '../sql/item-query-compiler.js';

/** A JSON path as a text[] parameter. Paths are bound, never spliced into SQL. */
function pathParam(path: readonly string[]): Sql {
  return sql`${[...path]}::text[]`;
}

export class PostgresItemQueryCompiler extends ItemQueryCompiler {
  protected readonly typeNames: JsonTypeNames = { string: 'string', number: ['number'] };
  /** Set once a compiled part reads inside items: the query must then provide `doc`. */
  usesDoc = false;

  constructor(scope: FilterScope) {
    super(scope, { TRUE: sql`TRUE`, FALSE: sql`FALSE` });
  }

  /**
   * The parsed item, once per row, when the query looks inside items. OFFSET 0 keeps the planner from
   * inlining the subquery (which would parse the text again for every reference). Called once every part
   * of the statement is compiled.
   */
  override from(source: Sql): Sql {
    const items = super.from(source);
    return this.usesDoc
      ? sql`${items} CROSS JOIN LATERAL (SELECT i.data::jsonb AS doc OFFSET 0) AS d`
      : items;
  }

  protected jsonValue(field: FieldPath): Sql {
    this.usesDoc = true;
    return sql`(d.doc #> ${pathParam(field)})`;
  }

  protected jsonText(field: FieldPath): Sql {
    this.usesDoc = true;
    return sql`(d.doc #>> ${pathParam(field)})`;
  }

  protected jsonType(field: FieldPath): Sql {
    return sql`jsonb_typeof(${this.jsonValue(field)})`;
  }

  protected isBoolean(field: FieldPath, value: boolean): Sql {
    return sql`coalesce(${this.jsonValue(field)} = ${value ? 'true' : 'false'}::jsonb, FALSE)`;
  }

  protected override bytewise(text: Sql): Sql {
    return sql`${text} COLLATE "C"`;
  }

  protected override numberParam(value: number): Sql {
    return sql`${value}::numeric`;
  }

  protected override numeric(field: FieldPath, test: (value: Sql) => Sql): Sql {
    return sql`(CASE WHEN ${this.jsonType(field)} = 'number'
      THEN coalesce(${test(sql`${this.jsonText(field)}::numeric`)}, FALSE) ELSE FALSE END)`;
  }

  protected elementsOf(field: FieldPath): Sql {
    const v = this.jsonValue(field);
    const elements = sql`(CASE WHEN ${v} IS NULL THEN '[]'::jsonb
      WHEN jsonb_typeof(${v}) = 'array' THEN ${v}
      WHEN jsonb_typeof(${v}) = 'object' THEN (SELECT coalesce(jsonb_agg(o.value), '[]'::jsonb) FROM jsonb_each(${v}) AS o)
      ELSE jsonb_build_array(${v}) END)`;
    return sql`jsonb_array_elements(${elements}) AS je(value)`;
  }

  protected elementIs(value: FilterValue): Sql {
    switch (value.type) {
      case 'string':
        return sql`jsonb_typeof(je.value) = 'string' AND (je.value #>> '{}') COLLATE "C" = ${value.value}`;
      case 'number':
        return sql`CASE WHEN jsonb_typeof(je.value) = 'number'
          THEN (je.value #>> '{}')::numeric = ${value.value}::numeric ELSE FALSE END`;
      case 'boolean':
        return sql`je.value = ${value.value ? 'true' : 'false'}::jsonb`;
      case 'null':
        return sql`jsonb_typeof(je.value) = 'null'`;
      case 'date':
        return sql`jsonb_typeof(je.value) = 'object' AND (je.value ->> '$date') COLLATE "C" = ${value.iso}`;
    }
  }

  protected folded(text: Sql): Sql {
    return sql`(lower(${text} COLLATE "und-x-icu") COLLATE "C")`;
  }

  protected position(haystack: Sql, needle: string): Sql {
    return sql`strpos(${haystack}, ${needle})`;
  }

  /** The length counts UTF-16 units, as SQLite's substr is given it. */
  protected prefix(text: Sql, length: number): Sql {
    return sql`left(${text}, ${length})`;
  }

  protected suffix(text: Sql, length: number): Sql {
    return sql`right(${text}, ${length})`;
  }

  /** Plain ASC/DESC: no term is NULL where it decides the order (see `jsonSortTerms`), and indexes match. */
  protected override orderTerm(term: Sql, descending: boolean): Sql {
    return descending ? sql`${term} DESC` : sql`${term} ASC`;
  }

  /**
   * Within equal earlier terms a term is NULL on both sides or on neither (see `jsonSortTerms`), so a NULL
   * value has nothing after it.
   */
  protected override afterTerm(term: Sql, bound: Sql, descending: boolean, isNull: boolean): Sql | undefined {
    if (isNull) return undefined;
    return descending ? sql`coalesce(${term} < ${bound}, FALSE)` : sql`coalesce(${term} > ${bound}, FALSE)`;
  }

  /**
   * Three terms — the kind of value (0 null, 1 number, 2 text), its number, its text — which order as
   * SQLite orders the values json_extract returns; within one kind the other two terms are uniformly NULL
   * or not. Position values bind back typed so (numbers as the decimal text PostgreSQL returned, exactly).
   */
  protected jsonSortTerms(field: FieldPath): SortTerm[] {
    const type = this.jsonType(field);
    const v = this.jsonValue(field);
    const typed = (cast: Sql) => (value: unknown) => sql`${value}${cast}`;
    return [
      {
        expr: sql`(CASE ${type} WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 WHEN 'string' THEN 2
        WHEN 'object' THEN 2 WHEN 'array' THEN 2 ELSE 0 END)`,
        bind: typed(sql`::int`),
      },
      {
        expr: sql`(CASE ${type} WHEN 'number' THEN (${v} #>> '{}')::numeric
        WHEN 'boolean' THEN (CASE WHEN ${v} = 'true'::jsonb THEN 1 ELSE 0 END)::numeric END)`,
        bind: typed(sql`::numeric`),
      },
      {
        // Objects and arrays as their stored JSON text (the json type keeps it as written), as SQLite does.
        expr: sql`((CASE ${type} WHEN 'string' THEN ${v} #>> '{}'
        WHEN 'object' THEN (i.data::json #> ${pathParam(field)})::text
        WHEN 'array' THEN (i.data::json #> ${pathParam(field)})::text END) COLLATE "C")`,
        bind: typed(sql`::text`),
      },
    ];
  }

  protected groupKey(field: FieldPath): Sql {
    return sql`coalesce(${this.jsonValue(field)}, 'null'::jsonb)`;
  }

  protected numberOf(field: FieldPath): Sql {
    return sql`(CASE WHEN ${this.jsonType(field)} = 'number' THEN (${this.jsonText(field)})::float8 END)`;
  }

  protected jsonObject(entries: readonly { key: string; value: Sql; json?: boolean }[]): Sql {
    return sql`jsonb_build_object(${sql.join(entries.flatMap((e) => [sql`${e.key}::text`, e.value]))})`;
  }

  protected jsonAsText(json: Sql): Sql {
    return sql`(${json})::text`;
  }
}
