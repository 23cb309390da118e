import { sql, type Kysely } from 'kysely';
import type { FilterNode } from '../../../domain/query/filter.js';
import type { ItemPage, ItemQuery, ItemTarget } from '../../../ports/storage.js';
import type { GenerationRegistry } from '../sql/generation-registry.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';
import type { SqlCapabilities } from '../sql/sql-capabilities.js';
import { currentGeneration, findItems, SqlItemStore } from '../sql/sql-item-store.js';
import { boundPage, inlineBytes, type SizedRow } from '../sql/byte-bounded-page.js';
import {
  afterPosition,
  ItemSqlCompiler,
  orderBy,
  positionTerms,
  positionValues,
} from './postgres-item-sql.js';

/** Items on PostgreSQL: the shared writes (sql-item-store.ts), reads compiled by the PostgreSQL compiler. */
export class PostgresItemStore extends SqlItemStore {
  constructor(
    db: Kysely<Database>,
    generations: GenerationRegistry,
    now: () => number,
    capabilities: SqlCapabilities,
  ) {
    // The pg driver stored U+FFFD for a lone surrogate, so an id shows as it is stored and is found as it is.
    super(db, generations, now, { rowLocks: capabilities.rowLocks });
  }

  async query(target: ItemTarget, query: ItemQuery): Promise<ItemPage> {
    const gen = await currentGeneration(this.db, target);
    const compiler = new ItemSqlCompiler({ gen, target });
    const where = compiler.compile(query.filter);
    const { table, scope } = itemRelation(gen);
    const keys = compiler.orderedKeys(query.sort, query.backwards ?? false);
    const terms = positionTerms(keys);
    const keyColumns = terms.map((term, i) => sql`${term} AS ${sql.ref(`k${i}`)}`);
    const position = query.after ? sql` AND ${afterPosition(keys, query.after)}` : sql``;
    // octet_length of a TOASTed value reads its header only; large items are fetched once the page is cut.
    const inline = inlineBytes(query.limit, query.maxBytes);
    const { rows } = await sql<SizedRow & Record<string, unknown>>`
      SELECT i.id, i.created_at, i.updated_at, octet_length(i.data) AS bytes,
        CASE WHEN octet_length(i.data) <= ${inline} THEN i.data END AS data${keyColumns.length > 0 ? sql`, ${sql.join(keyColumns)}` : sql``}
      FROM ${sql.table(table)} AS i${docOf(compiler)} WHERE ${scope} AND ${where}${position}
      ORDER BY ${orderBy(keys)} LIMIT ${query.limit + 1} OFFSET ${query.offset ?? 0}`.execute(this.db);
    const { page, items, hasMore } = await boundPage(rows, query.limit, query.maxBytes, (large) =>
      findItems(
        this.db,
        gen,
        large.map((r) => r.id),
      ),
    );
    if (query.backwards) {
      page.reverse();
      items.reverse();
    }
    const first = page[0];
    const last = page[page.length - 1];
    return {
      items: items.filter((item) => item !== undefined),
      hasMore,
      first: first && { values: positionValues(keys, first), id: first.id },
      last: last && { values: positionValues(keys, last), id: last.id },
      total: query.withTotal ? await this.countMatching(gen, target, query.filter) : undefined,
    };
  }

  async count(target: ItemTarget, filter: FilterNode | null): Promise<number> {
    return this.countMatching(await currentGeneration(this.db, target), target, filter);
  }

  private async countMatching(gen: number, target: ItemTarget, filter: FilterNode | null): Promise<number> {
    const compiler = new ItemSqlCompiler({ gen, target });
    const where = compiler.compile(filter);
    const { table, scope } = itemRelation(gen);
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM ${sql.table(table)} AS i${docOf(compiler)} WHERE ${scope} AND ${where}`.execute(
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
