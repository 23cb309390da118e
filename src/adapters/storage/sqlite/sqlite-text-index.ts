import { sql, type Kysely } from 'kysely';
import { candidateTrigrams, FUZZY_THRESHOLD, type TextSearch } from '../../../domain/text-search.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';
import type { Sql } from '../sql/sql-conditions.js';
import { fieldRelation, idChunks, type TextIndex } from '../sql/text-index.js';

/** The SQL function (registered on every connection, sqlite-connection.ts) fuzzy matching scores with. */
export const SIMILARITY_FUNCTION = 'sk_word_similarity';

/**
 * A generation as one token of both FTS5 tables' `scope` column: three characters of Unicode's private use
 * plane 15 (U+F0000 + 15 bits each; ids stay below 2^45). The word tokenizer (unicode61) keeps private-use
 * characters together as one token and the trigram tokenizer makes exactly one trigram of three, so
 * `scope : "…"` is one posting list per generation in either table: a search reads its own generation's
 * postings, never another tenant's.
 */
export function scopeToken(gen: number): string {
  const base = 0xf0000;
  const part = 2 ** 15;
  return String.fromCodePoint(
    base + (Math.floor(gen / part / part) % part),
    base + (Math.floor(gen / part) % part),
    base + (gen % part),
  );
}

/** A string as an FTS5 query phrase. */
function phrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** The items of a generation as a relation with `id` and `data` (own and legacy tables included). */
function itemsOf(gen: number): Sql {
  const { table, scope } = itemRelation(gen);
  return sql`(SELECT id, data FROM ${sql.table(table)} WHERE ${scope})`;
}

/** `item_text` rows of these items (all of the generation's without ids). */
function rowsOf(gen: number, ids: readonly string[] | undefined): Sql {
  return ids
    ? sql`SELECT rid FROM item_text WHERE gen = ${gen} AND id IN (${sql.join(ids)})`
    : sql`SELECT rid FROM item_text WHERE gen = ${gen}`;
}

/**
 * SQLite: `item_text (rid, gen, id, field)` maps each indexed field of an item to a rowid of two contentless
 * FTS5 tables (migration 0011): `item_words` (unicode61: words, case-folded) and `item_trigrams` (trigram:
 * every three-character substring, for fuzzy candidates). Contentless with `contentless_delete=1`: the text
 * is stored once, in the item; a row is deleted by rowid alone.
 */
export const sqliteTextIndex: TextIndex = {
  async index(db, gen, fields, ids) {
    if (fields.length === 0) return;
    for (const part of ids ? idChunks(ids) : [undefined]) {
      if (part?.length === 0) continue;
      await this.remove(db, gen, part);
      const only = part ? sql` AND i.id IN (${sql.join(part)})` : sql``;
      await sql`INSERT INTO item_text (gen, id, field)
        SELECT ${gen}, i.id, f.key FROM ${itemsOf(gen)} AS i, ${fieldRelation(fields)} AS f
        WHERE json_type(i.data, '$."' || f.key || '"') = 'text'${only}`.execute(db);
      const onlyText = part ? sql` AND t.id IN (${sql.join(part)})` : sql``;
      const text = sql`json_extract(i.data, '$."' || t.field || '"')`;
      const scope = scopeToken(gen);
      for (const [table, body] of [
        ['item_words', text],
        ['item_trigrams', sql`' ' || ${text} || ' '`],
      ] as const) {
        await sql`INSERT INTO ${sql.table(table)} (rowid, scope, body)
          SELECT t.rid, ${scope}, ${body} FROM item_text AS t JOIN ${itemsOf(gen)} AS i ON i.id = t.id
          WHERE t.gen = ${gen}${onlyText}`.execute(db);
      }
    }
  },

  async remove(db, gen, ids) {
    for (const part of ids ? idChunks(ids) : [undefined]) {
      if (part?.length === 0) continue;
      await sql`DELETE FROM item_words WHERE rowid IN (${rowsOf(gen, part)})`.execute(db);
      await sql`DELETE FROM item_trigrams WHERE rowid IN (${rowsOf(gen, part)})`.execute(db);
      const only = part ? sql` AND id IN (${sql.join(part)})` : sql``;
      await sql`DELETE FROM item_text WHERE gen = ${gen}${only}`.execute(db);
    }
  },

  async sweep(db, gen, maxRows) {
    const { rows } = await sql<{ rid: number }>`SELECT rid FROM item_text WHERE gen = ${gen}
      LIMIT ${maxRows}`.execute(db);
    if (rows.length === 0) return 0;
    const rids = rows.map((r) => r.rid);
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rids.length; i += 500) {
        const part = rids.slice(i, i + 500);
        await sql`DELETE FROM item_words WHERE rowid IN (${sql.join(part)})`.execute(trx);
        await sql`DELETE FROM item_trigrams WHERE rowid IN (${sql.join(part)})`.execute(trx);
        await sql`DELETE FROM item_text WHERE rid IN (${sql.join(part)})`.execute(trx);
      }
    });
    return rids.length;
  },

  hits(gen, search) {
    const scope = phrase(scopeToken(gen));
    const fields = sql.join(search.fields);
    const parts: Sql[] = [];
    search.terms.forEach((term, k) => {
      // bm25 weights: the scope column counts for nothing; smaller (more negative) is more relevant.
      const r = sql`(-bm25(item_words, 0.0, 1.0))`;
      parts.push(sql`SELECT ${k} AS term, t.id AS id, 2.0 + ${r} / (1.0 + ${r}) AS score
        FROM item_words JOIN item_text AS t ON t.rid = item_words.rowid
        WHERE item_words MATCH ${`scope : ${scope} AND body : ${phrase(term)}`} AND t.field IN (${fields})`);
      if (!search.fuzzy) return;
      const trigrams = candidateTrigrams(term).map(phrase).join(' OR ');
      parts.push(sql`SELECT term, id, score FROM (
          SELECT ${k} AS term, t.id AS id,
            ${sql.raw(SIMILARITY_FUNCTION)}(${term}, json_extract(i.data, '$."' || t.field || '"')) AS score
          FROM item_trigrams JOIN item_text AS t ON t.rid = item_trigrams.rowid
            JOIN ${itemsOf(gen)} AS i ON i.id = t.id
          WHERE item_trigrams MATCH ${`scope : ${scope} AND body : (${trigrams})`} AND t.field IN (${fields})
        ) WHERE score >= ${FUZZY_THRESHOLD}`);
    });
    // LIMIT -1 (no limit) keeps SQLite from flattening this into the grouping query around it, where bm25()
    // could no longer see its FTS cursor ("unable to use function bm25 in the requested context").
    return sql`(${sql.join(parts, sql` UNION ALL `)} LIMIT -1)`;
  },

  async run<T>(db: Kysely<Database>, _search: TextSearch, statement: Sql): Promise<T[]> {
    const { rows } = await statement.execute(db);
    return rows as T[];
  },
};
