import { sql, type Kysely } from 'kysely';
import { FUZZY_THRESHOLD, type TextSearch } from '../../../domain/text-search.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';
import type { Sql } from '../sql/sql-conditions.js';
import { fieldRelation, idChunks, type TextIndex } from '../sql/text-index.js';

/** The SQL function (registered on every connection, sqlite-connection.ts) fuzzy matching scores with. */
export const SIMILARITY_FUNCTION = 'sk_word_similarity';

/**
 * A generation as one token of the FTS5 table's `scope` column: three characters of Unicode's private use
 * plane 15 (U+F0000 + 15 bits each; ids stay below 2^45), which the unicode61 tokenizer keeps together as
 * one token, so `scope : "…"` is one posting list per generation: a search reads its own generation's
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

/** The most vocabulary words one fuzzy term expands to (the most similar first). */
const SIMILAR_WORDS = 64;

/**
 * The words of the index's vocabulary (every generation's: `item_words_vocab`, fts5vocab) whose trigram
 * similarity to `term` is at least FUZZY_THRESHOLD, the term itself left out, most similar first. A length
 * window (similarity is at most the ratio of the two words' trigram counts, length + 1) spares the
 * similarity function most of the vocabulary.
 */
async function similarWords(db: Kysely<Database>, term: string): Promise<string[]> {
  const trigrams = [...term].length + 1;
  const shortest = Math.ceil(FUZZY_THRESHOLD * trigrams) - 1;
  const longest = Math.floor(trigrams / FUZZY_THRESHOLD) - 1;
  const { rows } = await sql<{ term: string }>`SELECT term FROM (
      SELECT term, ${sql.raw(SIMILARITY_FUNCTION)}(${term}, term) AS similarity FROM item_words_vocab
      WHERE length(term) BETWEEN ${shortest} AND ${longest} AND term <> ${term}
    ) WHERE similarity >= ${FUZZY_THRESHOLD} ORDER BY similarity DESC, term LIMIT ${SIMILAR_WORDS}`.execute(
    db,
  );
  return rows.map((r) => r.term);
}

/**
 * SQLite: `item_text (rid, gen, id, field)` maps each indexed field of an item to a rowid of the contentless
 * FTS5 table `item_words` (migration 0011; unicode61: words, case-folded), with `contentless_delete=1`: the
 * text is stored once, in the item, and a row is deleted by rowid alone. Fuzzy matching reads the index's
 * vocabulary (`item_words_vocab`) for words similar to a term, then looks those words up in the index; a
 * trigram FTS5 table was measured and left out: it cost 2.5x the word index on every write.
 */
export const sqliteTextIndex: TextIndex = {
  async index(db, gen, fields, ids, fresh) {
    if (fields.length === 0) return;
    for (const part of ids ? idChunks(ids) : [undefined]) {
      if (part?.length === 0) continue;
      if (!fresh) await this.remove(db, gen, part);
      const only = part ? sql` AND i.id IN (${sql.join(part)})` : sql``;
      await sql`INSERT INTO item_text (gen, id, field)
        SELECT ${gen}, i.id, f.key FROM ${itemsOf(gen)} AS i, ${fieldRelation(fields)} AS f
        WHERE json_type(i.data, '$."' || f.key || '"') = 'text'${only}`.execute(db);
      const onlyText = part ? sql` AND t.id IN (${sql.join(part)})` : sql``;
      await sql`INSERT INTO item_words (rowid, scope, body)
        SELECT t.rid, ${scopeToken(gen)}, json_extract(i.data, '$."' || t.field || '"')
        FROM item_text AS t JOIN ${itemsOf(gen)} AS i ON i.id = t.id
        WHERE t.gen = ${gen}${onlyText}`.execute(db);
    }
  },

  async remove(db, gen, ids) {
    for (const part of ids ? idChunks(ids) : [undefined]) {
      if (part?.length === 0) continue;
      await sql`DELETE FROM item_words WHERE rowid IN (${rowsOf(gen, part)})`.execute(db);
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
        await sql`DELETE FROM item_text WHERE rid IN (${sql.join(part)})`.execute(trx);
      }
    });
    return rids.length;
  },

  async hits(db, gen, search) {
    const scope = phrase(scopeToken(gen));
    const fields = sql.join(search.fields);
    const parts: Sql[] = [];
    for (const [k, term] of search.terms.entries()) {
      // bm25 weights: the scope column counts for nothing; smaller (more negative) is more relevant.
      const r = sql`(-bm25(item_words, 0.0, 1.0))`;
      parts.push(sql`SELECT ${k} AS term, t.id AS id, 2.0 + ${r} / (1.0 + ${r}) AS score
        FROM item_words JOIN item_text AS t ON t.rid = item_words.rowid
        WHERE item_words MATCH ${`scope : ${scope} AND body : ${phrase(term)}`} AND t.field IN (${fields})`);
      if (!search.fuzzy) continue;
      const similar = await similarWords(db, term);
      if (similar.length === 0) continue;
      // Fields holding a similar word, scored by their best word's similarity to the term.
      parts.push(sql`SELECT term, id, score FROM (
          SELECT ${k} AS term, t.id AS id,
            ${sql.raw(SIMILARITY_FUNCTION)}(${term}, json_extract(i.data, '$."' || t.field || '"')) AS score
          FROM item_words JOIN item_text AS t ON t.rid = item_words.rowid
            JOIN ${itemsOf(gen)} AS i ON i.id = t.id
          WHERE item_words MATCH ${`scope : ${scope} AND body : (${similar.map(phrase).join(' OR ')})`}
            AND t.field IN (${fields})
        ) WHERE score >= ${FUZZY_THRESHOLD}`);
    }
    // LIMIT -1 (no limit) keeps SQLite from flattening this into the grouping query around it, where bm25()
    // could no longer see its FTS cursor ("unable to use function bm25 in the requested context").
    return sql`(${sql.join(parts, sql` UNION ALL `)} LIMIT -1)`;
  },

  async run<T>(db: Kysely<Database>, _search: TextSearch, statement: Sql): Promise<T[]> {
    const { rows } = await statement.execute(db);
    return rows as T[];
  },
};
