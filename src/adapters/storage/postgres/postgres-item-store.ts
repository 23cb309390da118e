import { sql } from 'kysely';
import type { FilterNode } from '../../../domain/query/filter.js';
import type { ItemPage, ItemQuery, ItemTarget, StoredItem } from '../../../ports/storage.js';
import { itemTable, type ItemRow } from '../sql/schema.js';
import { currentGeneration, SqliteItemStore } from '../sqlite/sqlite-item-store.js';
import {
  afterPosition,
  ItemSqlCompiler,
  orderBy,
  positionTerms,
  positionValues,
} from './postgres-item-sql.js';

function toItem(row: ItemRow): StoredItem {
  return { id: row.id, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at), json: row.data };
}

/**
 * Items on PostgreSQL. Writes are the SQLite store's (plain Kysely, portable: multi-row upserts with
 * ON CONFLICT, tombstones, links); reads compile the query language with the PostgreSQL compiler.
 */
export class PostgresItemStore extends SqliteItemStore {
  // The pg driver stored U+FFFD for a lone surrogate, so an id shows as it is stored and is found as it is.
  protected override readonly byShownIds = undefined;

  override async query(target: ItemTarget, query: ItemQuery): Promise<ItemPage> {
    const gen = await currentGeneration(this.db, target);
    const compiler = new ItemSqlCompiler();
    const where = compiler.compile(query.filter);
    const keys = compiler.orderedKeys(query.sort, query.backwards ?? false);
    const terms = positionTerms(keys);
    const keyColumns = terms.map((term, i) => sql`${term} AS ${sql.ref(`k${i}`)}`);
    const position = query.after ? sql` AND ${afterPosition(keys, query.after)}` : sql``;
    const { rows } = await sql<ItemRow & Record<string, unknown>>`
      SELECT i.id, i.created_at, i.updated_at, i.data${keyColumns.length > 0 ? sql`, ${sql.join(keyColumns)}` : sql``}
      FROM ${sql.table(itemTable(gen))} AS i${docOf(compiler)} WHERE ${where}${position}
      ORDER BY ${orderBy(keys)} LIMIT ${query.limit + 1} OFFSET ${query.offset ?? 0}`.execute(this.db);
    const hasMore = rows.length > query.limit;
    const page = rows.slice(0, query.limit);
    if (query.backwards) page.reverse();
    const first = page[0];
    const last = page[page.length - 1];
    return {
      items: page.map(toItem),
      hasMore,
      first: first && { values: positionValues(keys, first), id: first.id },
      last: last && { values: positionValues(keys, last), id: last.id },
      total: query.withTotal ? await this.countMatching(gen, query.filter) : undefined,
    };
  }

  override async count(target: ItemTarget, filter: FilterNode | null): Promise<number> {
    return this.countMatching(await currentGeneration(this.db, target), filter);
  }

  private async countMatching(gen: number, filter: FilterNode | null): Promise<number> {
    const compiler = new ItemSqlCompiler();
    const where = compiler.compile(filter);
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM ${sql.table(itemTable(gen))} AS i${docOf(compiler)} WHERE ${where}`.execute(
      this.db,
    );
    return Number(rows[0]?.n ?? 0);
  }
}

/**
 * The parsed item, once per row, when the query looks inside items. OFFSET 0 keeps the planner from
 * inlining the subquery (which would parse the text again for every reference).
 */
function docOf(compiler: ItemSqlCompiler) {
  return compiler.usesDoc ? sql` CROSS JOIN LATERAL (SELECT i.data::jsonb AS doc OFFSET 0) AS d` : sql``;
}
