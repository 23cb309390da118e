/**
 * Where a generation's items live, decided by its id alone (docs/ARCHITECTURE.md, "Generations"): no lookup,
 * and the answer never changes for a given id.
 *
 * - legacy (`gen < SHARED_GEN_BASE`): a table `items_<gen>` without a gen column, written by releases before
 *   migration 0006; still read and written as it always was until it is migrated.
 * - shared (`SHARED_GEN_BASE <= gen < LARGE_GEN_BASE`): rows of the shared table `items`, keyed by (gen, id).
 *   Creating, truncating and deleting a collection is rows, never DDL.
 * - own (`gen >= LARGE_GEN_BASE`): a table `items_<gen>` with the columns of `items` (gen included), for a
 *   large restored generation: loaded bare, indexed, then (PostgreSQL) attached as a partition of `items`.
 */
import { sql, type RawBuilder } from 'kysely';

export const SHARED_GEN_BASE = 10_000_000_000;
export const LARGE_GEN_BASE = 1_000_000_000_000;

export type GenerationLayout = 'legacy' | 'shared' | 'own';

/** Generation ids are integers the database allotted, never input; anything else is a bug. */
function checked(gen: number): number {
  if (!Number.isSafeInteger(gen) || gen <= 0) throw new Error(`not a generation id: ${gen}`);
  return gen;
}

export function generationLayout(gen: number): GenerationLayout {
  checked(gen);
  return gen < SHARED_GEN_BASE ? 'legacy' : gen < LARGE_GEN_BASE ? 'shared' : 'own';
}

export interface ItemRelation {
  /** Table to read and write: 'items' for shared, `items_<gen>` for own and legacy. */
  readonly table: string;
  /** Predicate that keeps this generation's rows: `gen = <gen>` (shared/own), TRUE for legacy. */
  readonly scope: RawBuilder<unknown>;
  /** Whether rows carry a gen column (shared, own) — inserts must set it. */
  readonly hasGenColumn: boolean;
  /** `scope` as SQL text, for statements written as strings (the snapshot workers). */
  readonly scopeSql: string;
}

/**
 * The relation of a generation. In the shared table the scope binds the id as a parameter, so that one
 * statement text serves every collection (SQLite's statement cache keeps one statement, not one per
 * generation); SQLite still picks the (gen, …) indexes for `gen = ?`, and PostgreSQL plans each execution
 * of an unnamed statement with its parameters, so it still prunes partitions. An own table's name holds the
 * id anyway, so its scope keeps the literal (an integer, never input). `scopeSql` is always the literal.
 */
export function itemRelation(gen: number): ItemRelation {
  const layout = generationLayout(gen);
  const scopeSql = layout === 'legacy' ? 'TRUE' : `gen = ${gen}`;
  return {
    table: layout === 'shared' ? 'items' : `items_${gen}`,
    scope: layout === 'shared' ? sql`gen = ${gen}` : sql.raw(scopeSql),
    hasGenColumn: layout !== 'legacy',
    scopeSql,
  };
}
