import { sql, type RawBuilder } from 'kysely';

/** A fragment of SQL with its bound parameters. */
export type Sql = RawBuilder<unknown>;

/**
 * The boolean glue the item-query compiler builds filters with. Each engine spells true and false its own
 * way (SQLite `1`/`0`, PostgreSQL `TRUE`/`FALSE`); an empty AND is true and an empty OR false.
 */
export function conditionJoiners(TRUE: Sql, FALSE: Sql) {
  return {
    and: (parts: Sql[]): Sql => {
      if (parts.length === 0) return TRUE;
      if (parts.length === 1) return parts[0] ?? TRUE;
      return sql`(${sql.join(parts, sql` AND `)})`;
    },
    or: (parts: Sql[]): Sql => {
      if (parts.length === 0) return FALSE;
      if (parts.length === 1) return parts[0] ?? FALSE;
      return sql`(${sql.join(parts, sql` OR `)})`;
    },
    not: (part: Sql): Sql => sql`(NOT ${part})`,
  };
}

/** The comparison operators of the query language, in SQL. */
export const sqlOps = {
  eq: sql`=`,
  ne: sql`<>`,
  lt: sql`<`,
  lte: sql`<=`,
  gt: sql`>`,
  gte: sql`>=`,
} as const;

/** How text is case-folded for case-insensitive matching, the same on every engine. */
export function fold(value: string): string {
  return value.toLowerCase();
}
