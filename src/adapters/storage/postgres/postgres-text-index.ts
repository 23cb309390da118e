import { sql, type Kysely } from 'kysely';
import { FUZZY_THRESHOLD, type TextSearch } from '../../../domain/text-search.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';
import type { Sql } from '../sql/sql-conditions.js';
import { fieldRelation, idChunks, type TextIndex } from '../sql/text-index.js';

/** The items of a generation as a relation with `id` and `data` (own and legacy tables included). */
function itemsOf(gen: number): Sql {
  const { table, scope } = itemRelation(gen);
  return sql`(SELECT id, data FROM ${sql.table(table)} WHERE ${scope})`;
}

/** The indexed expression of the word index; a query must spell it the same way to use the index. */
const words = sql`to_tsvector('simple'::regconfig, body)`;

/**
 * PostgreSQL: `item_text (gen, id, field, body)` (migration 0011) with two GIN indexes that begin with the
 * generation (btree_gin), so a search reads only its own generation's entries: `(gen, to_tsvector('simple',
 * body))` for words and `(gen, body gin_trgm_ops)` (pg_trgm) for fuzzy matching. The `simple` configuration
 * lower-cases and neither stems nor drops stop words, as SQLite's unicode61 tokenizer does.
 */
export const postgresTextIndex: TextIndex = {
  // `json`, not `jsonb`: reading a few members of the stored text does not need the whole parsed tree.
  async index(db, gen, fields, ids, fresh) {
    if (fields.length === 0) return;
    for (const part of ids ? idChunks(ids) : [undefined]) {
      if (part?.length === 0) continue;
      if (!fresh) await this.remove(db, gen, part);
      const only = part ? sql` AND i.id IN (${sql.join(part)})` : sql``;
      await sql`INSERT INTO item_text (gen, id, field, body)
        SELECT ${gen}::bigint, i.id, f.key, d.doc ->> f.key
        FROM ${itemsOf(gen)} AS i CROSS JOIN LATERAL (SELECT i.data::json AS doc OFFSET 0) AS d
          CROSS JOIN ${fieldRelation(fields)} AS f
        WHERE json_typeof(d.doc -> f.key) = 'string'${only}`.execute(db);
    }
  },

  async remove(db, gen, ids) {
    for (const part of ids ? idChunks(ids) : [undefined]) {
      if (part?.length === 0) continue;
      const only = part ? sql` AND id IN (${sql.join(part)})` : sql``;
      await sql`DELETE FROM item_text WHERE gen = ${gen}${only}`.execute(db);
    }
  },

  async sweep(db, gen, maxRows) {
    const result = await sql`DELETE FROM item_text WHERE ctid IN (
      SELECT ctid FROM item_text WHERE gen = ${gen} LIMIT ${maxRows})`.execute(db);
    return Number(result.numAffectedRows ?? 0n);
  },

  hits(_db, gen, search) {
    const fields = sql.join(search.fields);
    const parts: Sql[] = [];
    search.terms.forEach((term, k) => {
      const query = sql`plainto_tsquery('simple'::regconfig, ${term})`;
      const r = sql`ts_rank(${words}, ${query})`;
      parts.push(sql`SELECT ${k}::int AS term, id, 2.0 + ${r} / (1.0 + ${r}) AS score FROM item_text
        WHERE gen = ${gen}::bigint AND field IN (${fields}) AND ${words} @@ ${query}`);
      if (!search.fuzzy) return;
      // `<<%` (strict word similarity at least the transaction's threshold, set by `run`) uses the index.
      parts.push(sql`SELECT ${k}::int AS term, id, strict_word_similarity(${term}, body)::float8 AS score
        FROM item_text WHERE gen = ${gen}::bigint AND field IN (${fields}) AND ${term} <<% body`);
    });
    return Promise.resolve(sql`(${sql.join(parts, sql` UNION ALL `)})`);
  },

  async run<T>(db: Kysely<Database>, search: TextSearch, statement: Sql): Promise<T[]> {
    if (!search.fuzzy) return (await statement.execute(db)).rows as T[];
    return db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('pg_trgm.strict_word_similarity_threshold', ${String(FUZZY_THRESHOLD)}, true)`.execute(
        trx,
      );
      return (await statement.execute(trx)).rows as T[];
    });
  },
};
