import { sql, type RawBuilder, type SqlBool } from 'kysely';

/**
 * The row's lease is free at `now`: never taken, released, or expired (its holder stopped renewing it).
 * `column` names the expiry column, qualified when the query has more than one table.
 */
export function leaseIsFree(now: number, column = 'lease_expires_at'): RawBuilder<SqlBool> {
  const expires = sql.ref(column);
  return sql<SqlBool>`(${expires} is null or ${expires} < ${now})`;
}
