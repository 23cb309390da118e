import { sql, type RawBuilder, type SqlBool } from 'kysely';

/**
 * The fence of a write made under a lease: the row is still leased to `workerId`. A worker whose lease
 * expired and was taken by another worker then writes nothing (the write reports that no row changed).
 */
export function heldBy(workerId: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.ref('lease_owner')} = ${workerId}`;
}

/** The fence of a write to a job: still leased to `workerId`, and still PENDING (not canceled or deleted). */
export function jobHeldBy(workerId: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${heldBy(workerId)} and ${sql.ref('status')} = ${'PENDING'})`;
}
