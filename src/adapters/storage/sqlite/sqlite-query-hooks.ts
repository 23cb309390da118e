/**
 * SQLite's hooks of the item-query compiler (sql/item-query-compiler.ts): JSON through json_extract,
 * json_type and json_each over the stored text; case folding through a function the adapter registers on
 * every connection (JavaScript's own toLowerCase). SQLite compares text bytewise and orders NULL first
 * ascending, which is what the shared compiler assumes by default.
 */
import { sql } from 'kysely';
import type { FieldPath } from '../../../domain/query/field-path.js';
import type { FilterValue } from '../../../domain/query/filter.js';
import type { FilterScope } from '../sql/link-filter.js';
import type { Sql } from '../sql/sql-conditions.js';
import { ItemQueryCompiler, type JsonTypeNames, type SortTerm } from '../sql/item-query-compiler.js';

/** Name of the case-folding function the adapter registers on every connection. */
export const FOLD_FUNCTION = 'sk_fold';

export function jsonPath(field: FieldPath): string {
  return '$' + field.map((segment) => `."${segment}"`).join('');
}

export class SqliteItemQueryCompiler extends ItemQueryCompiler {
  protected readonly typeNames: JsonTypeNames = { string: 'text', number: ['integer', 'real'] };

  constructor(scope: FilterScope) {
    super(scope, { TRUE: sql`1`, FALSE: sql`0` });
  }

  protected jsonValue(field: FieldPath): Sql {
    return sql`json_extract(data, ${jsonPath(field)})`;
  }

  protected jsonText(field: FieldPath): Sql {
    return this.jsonValue(field);
  }

  protected jsonType(field: FieldPath): Sql {
    return sql`json_type(data, ${jsonPath(field)})`;
  }

  protected isBoolean(field: FieldPath, value: boolean): Sql {
    return sql`coalesce(${this.jsonType(field)} = ${value ? 'true' : 'false'}, 0)`;
  }

  protected elementsOf(field: FieldPath): Sql {
    return sql`json_each(data, ${jsonPath(field)}) AS je`;
  }

  protected elementIs(value: FilterValue): Sql {
    switch (value.type) {
      case 'string':
        return sql`je.type = 'text' AND je.value = ${value.value}`;
      case 'number':
        return sql`je.type IN ('integer', 'real') AND je.value = ${value.value}`;
      case 'boolean':
        return sql`je.type = ${value.value ? 'true' : 'false'}`;
      case 'null':
        return sql`je.type = 'null'`;
      case 'date':
        return sql`je.type = 'object' AND json_extract(je.value, '$."$date"') = ${value.iso}`;
    }
  }

  protected folded(text: Sql): Sql {
    return sql`${sql.raw(FOLD_FUNCTION)}(${text})`;
  }

  protected position(haystack: Sql, needle: string): Sql {
    return sql`instr(${haystack}, ${needle})`;
  }

  protected prefix(text: Sql, length: number): Sql {
    return sql`substr(${text}, 1, ${length})`;
  }

  protected suffix(text: Sql, length: number): Sql {
    return sql`substr(${text}, ${-length})`;
  }

  /** One term: json_extract's value, which SQLite orders NULL, numbers, then text. */
  protected jsonSortTerms(field: FieldPath): SortTerm[] {
    return [{ expr: this.jsonValue(field), bind: (value) => sql`${value}` }];
  }

  protected groupKey(field: FieldPath): Sql {
    return sql`coalesce(data -> ${jsonPath(field)}, 'null')`;
  }

  protected numberOf(field: FieldPath): Sql {
    return sql`(CASE WHEN ${this.jsonType(field)} IN ('integer', 'real') THEN ${this.jsonValue(field)} END)`;
  }

  /** `json()` marks a key's text as JSON again (the subtype does not survive GROUP BY). */
  protected jsonObject(entries: readonly { key: string; value: Sql; json?: boolean }[]): Sql {
    const args = entries.flatMap((e) => [sql`${e.key}`, e.json ? sql`json(${e.value})` : e.value]);
    return sql`json_object(${sql.join(args)})`;
  }

  protected jsonAsText(json: Sql): Sql {
    return json;
  }
}
