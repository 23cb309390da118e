import { sql, type Kysely } from 'kysely';
import type { TextSearch } from '../../../domain/text-search.js';
import type { Database } from './schema.js';
import type { Sql } from './sql-conditions.js';

/**
 * The full-text index of item sets (docs/ARCHITECTURE.md, "Search"), one per engine: rows keyed by
 * generation, so a generation's index is staged, switched and swept with its items. Each row is one
 * declared TEXT field of one item. Both engines fill it from the stored items with SQL (the JSON is read by
 * the database), so an item write, a restoration and a definition change index the same way.
 */
export interface TextIndex {
  /**
   * Indexes `fields` of the items of `gen` whose ids are in `ids` (every item of the generation when
   * omitted), first removing whatever the index held for them unless `fresh` says there is nothing (items
   * just inserted: their ids were not in the generation). Nothing happens when `fields` is empty.
   */
  index(
    db: Kysely<Database>,
    gen: number,
    fields: readonly string[],
    ids?: readonly string[],
    fresh?: boolean,
  ): Promise<void>;
  /** Removes the index rows of these items of `gen` (every row of the generation when omitted). */
  remove(db: Kysely<Database>, gen: number, ids?: readonly string[]): Promise<void>;
  /** Deletes up to `maxRows` index rows of a retired generation; returns how many it deleted. */
  sweep(db: Kysely<Database>, gen: number, maxRows: number): Promise<number>;
  /**
   * A relation `(term, id, score)`: for each term (its position in `search.terms`), the items of `gen`
   * matching it in one of `search.fields`, one row per matching field. An exact word match scores in
   * [2, 3) (2 + the engine's relevance r as r / (1 + r)); with `fuzzy`, a similar word scores its
   * similarity, in [FUZZY_THRESHOLD, 1]. So exact matches always rank first. May read the database to
   * build it (SQLite's fuzzy matching reads the vocabulary).
   */
  hits(db: Kysely<Database>, gen: number, search: TextSearch): Promise<Sql>;
  /**
   * Runs a search statement: PostgreSQL sets the trigram threshold for the statement's transaction; SQLite
   * needs nothing.
   */
  run<T>(db: Kysely<Database>, search: TextSearch, statement: Sql): Promise<T[]>;
}

/** Ids per statement: well under SQLite's 32,766 bound parameters. */
export const IDS_PER_STATEMENT = 500;

export function idChunks(ids: readonly string[]): string[][] {
  const unique = [...new Set(ids)];
  const out: string[][] = [];
  for (let i = 0; i < unique.length; i += IDS_PER_STATEMENT) out.push(unique.slice(i, i + IDS_PER_STATEMENT));
  return out;
}

/** `(SELECT CAST(? AS TEXT) AS key UNION ALL …)`: the fields as a relation, each key a bound value. */
export function fieldRelation(fields: readonly string[]): Sql {
  return sql`(${sql.join(
    fields.map((key, i) =>
      i === 0 ? sql`SELECT CAST(${key} AS TEXT) AS key` : sql`SELECT CAST(${key} AS TEXT)`,
    ),
    sql` UNION ALL `,
  )})`;
}

/**
 * Scores the items of `hits` (`hits(gen, search)`): the best row per term, summed over terms; in AND mode
 * only items matching every term. A relation `(id, score)`.
 */
export function scoredHits(hits: Sql, search: TextSearch): Sql {
  const every = search.mode === 'AND' ? sql` HAVING count(*) = ${search.terms.length}` : sql``;
  return sql`(SELECT id, sum(best) AS score FROM (
      SELECT term, id, max(score) AS best FROM ${hits} AS h GROUP BY term, id
    ) AS per_term GROUP BY id${every})`;
}
