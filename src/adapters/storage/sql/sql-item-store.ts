import { sql, type Kysely } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import {
  ITEM_ENTITY_FQDN,
  ITEM_EVENT_TYPES,
  itemEventEntity,
  type ItemChange,
} from '../../../contracts/item-events.js';
import type { FilterNode } from '../../../domain/query/filter.js';
import { textFieldsOf } from '../../../domain/text-search.js';
import type {
  AggregatePage,
  ItemAggregation,
  ItemPage,
  ItemQuery,
  ItemSearch,
  ItemSearchPage,
  ItemStore,
  ItemTarget,
  ItemWriteTx,
  StoredItem,
} from '../../../ports/storage.js';
import type { ItemJobAdvance } from '../../../ports/item-job-store.js';
import type { GenerationRegistry } from './generation-registry.js';
import { advanceItemJob } from './item-job-store.js';
import { fenceLegacyWrite } from './site-lock.js';
import { itemRelation } from './item-relation.js';
import { appendEventBatch, subscribersOf, type Subscribers } from './outbox.js';
import type { Database, ItemRow } from './schema.js';
import { boundPage, inlineBytes, type SizedRow } from './byte-bounded-page.js';
import { positionTerms, positionValues, type ItemQueryCompiler } from './item-query-compiler.js';
import type { FilterScope } from './link-filter.js';
import type { Sql } from './sql-conditions.js';
import { scoredHits } from './text-index.js';

/** A page row: the shared columns, the engine's `pageColumns` and the position terms `k0`, `k1`…. */
export type PageRow = SizedRow & Record<string, unknown>;

/** Rows per statement: well under SQLite's 32,766 bound parameters (PostgreSQL allows 65,535). */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

export function toStoredItem(row: ItemRow): StoredItem {
  return { id: row.id, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at), json: row.data };
}

/** The generation an item target currently points at. */
export async function currentGeneration(db: Kysely<Database>, target: ItemTarget): Promise<number> {
  const row = await db
    .selectFrom('collections')
    .select(target.environment === 'LIVE' ? 'live_gen as gen' : 'sandbox_gen as gen')
    .where('site_id', '=', target.siteId)
    .where('id', '=', target.collectionId)
    .executeTakeFirst();
  if (!row) {
    throw errors.WDE0025(target.collectionId);
  }
  return row.gen;
}

/** Items of the site's live collections, both environments: the kept counts of its ACTIVE generations. */
export async function siteItemCount(db: Kysely<Database>, siteId: string): Promise<number> {
  const row = await db
    .selectFrom('generations')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('item_count'), eb.lit(0)).as('items'))
    .where('site_id', '=', siteId)
    .where('state', '=', 'ACTIVE')
    .executeTakeFirstOrThrow();
  return Number(row.items);
}

/** Marks a LIVE collection changed, so that the next backup reads it again. */
export async function bumpLiveVersion(
  db: Kysely<Database>,
  siteId: string,
  collectionId: string,
): Promise<void> {
  await db
    .updateTable('collections')
    .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
    .where('site_id', '=', siteId)
    .where('id', '=', collectionId)
    .execute();
}

/** Marks changed the LIVE collections owning these generations (their links changed). */
export async function bumpGenerationOwners(db: Kysely<Database>, gens: readonly number[]): Promise<void> {
  if (gens.length === 0) return;
  await db
    .updateTable('collections')
    .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
    .where('live_gen', 'in', gens)
    .execute();
}

/** Parsed TEXT field lists by the definition's stored JSON: a write reads the text, not a parse, each time. */
const textFieldCache = new Map<string, readonly string[]>();

/** The declared TEXT fields of a collection's stored field list (JSON), the fields its index holds. */
export function storedTextFields(fieldsJson: string): readonly string[] {
  let fields = textFieldCache.get(fieldsJson);
  if (fields === undefined) {
    fields = textFieldsOf(JSON.parse(fieldsJson) as Record<string, unknown>[]);
    if (textFieldCache.size >= 1000) textFieldCache.clear();
    textFieldCache.set(fieldsJson, fields);
  }
  return fields;
}

/**
 * Starts an item write: finds the target's generation and, for LIVE, takes the collection's next change
 * number (`live_version`), which every row written in this transaction carries as `seq`. Taking it first
 * also makes concurrent writers of one collection (and a restoration's switch) queue on the collection row.
 * Also returns the declared TEXT fields, which the write indexes.
 * @throws AppError WDE0025
 */
async function beginWrite(
  db: Kysely<Database>,
  target: ItemTarget,
): Promise<{ gen: number; seq: number; textFields: readonly string[] }> {
  if (target.environment === 'SANDBOX') {
    const row = await db
      .selectFrom('collections')
      .select(['sandbox_gen', 'fields'])
      .where('site_id', '=', target.siteId)
      .where('id', '=', target.collectionId)
      .executeTakeFirst();
    if (!row) throw errors.WDE0025(target.collectionId);
    return { gen: row.sandbox_gen, seq: 0, textFields: storedTextFields(row.fields) };
  }
  const row = await db
    .updateTable('collections')
    .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
    .where('site_id', '=', target.siteId)
    .where('id', '=', target.collectionId)
    .returning(['live_gen', 'live_version', 'fields'])
    .executeTakeFirst();
  if (!row) {
    throw errors.WDE0025(target.collectionId);
  }
  return { gen: row.live_gen, seq: row.live_version, textFields: storedTextFields(row.fields) };
}

/**
 * Deletes the links that start or end at these items of `gen`, except links whose other end is a frozen
 * (RETIRING) generation: those belong to a restoration's replaced content until its safety backup is
 * written. Collections whose links changed are marked changed.
 */
export async function removeLinksOf(
  db: Kysely<Database>,
  gen: number,
  ids: readonly string[],
): Promise<void> {
  const frozen = db.selectFrom('generations').select('id').where('state', '=', 'RETIRING');
  const incoming = await db
    .selectFrom('links')
    .select('from_gen')
    .distinct()
    .where('to_gen', '=', gen)
    .where('to_id', 'in', ids)
    .where('from_gen', 'not in', frozen)
    .execute();
  await db
    .deleteFrom('links')
    .where('from_gen', '=', gen)
    .where('from_id', 'in', ids)
    .where('to_gen', 'not in', frozen)
    .execute();
  await db
    .deleteFrom('links')
    .where('to_gen', '=', gen)
    .where('to_id', 'in', ids)
    .where('from_gen', 'not in', frozen)
    .execute();
  await bumpGenerationOwners(
    db,
    incoming.map((r) => r.from_gen).filter((g) => g !== gen),
  );
}

/** The items of `gen` with these ids (those that exist), by id. */
export async function findItems(
  db: Kysely<Database>,
  gen: number,
  ids: readonly string[],
): Promise<Map<string, StoredItem>> {
  const found = new Map<string, StoredItem>();
  const { table: name, scope } = itemRelation(gen);
  const table = sql.table(name);
  for (const part of chunks([...new Set(ids)], ROWS_PER_STATEMENT)) {
    const { rows } = await sql<ItemRow>`SELECT id, created_at, updated_at, data FROM ${table}
      WHERE ${scope} AND id IN (${sql.join(part)})`.execute(db);
    for (const row of rows) found.set(row.id, toStoredItem(row));
  }
  return found;
}

/** How better-sqlite3 reads back each byte of stored text that is not UTF-8 (and what pg stored for a lone surrogate). */
export const REPLACEMENT = '\uFFFD';

/** An item found by the spelling the API shows for an id stored as non-UTF-8 bytes, and the key of those bytes. */
export interface ShownIdMatch {
  readonly item: StoredItem;
  /** The string that binds to the stored id bytes (it holds the lone surrogates an older release stored). */
  readonly storedKey: string;
}

/** Finds items of `gen` by the shown spelling (holding U+FFFD) of ids stored as other bytes. */
export type ShownIdFinder = (
  db: Kysely<Database>,
  gen: number,
  ids: readonly string[],
) => Promise<Map<string, ShownIdMatch>>;

/** What differs between engines on the item write path. */
export interface SqlItemStoreOptions {
  /** Row locks exist (PostgreSQL): the layout migration's write fence holds the site row (site-lock.ts). */
  readonly rowLocks: boolean;
  /**
   * Finds ids stored as non-UTF-8 bytes by their shown spelling; undefined where the shown spelling is the
   * stored one (PostgreSQL stored U+FFFD itself, so such an id is found as it is).
   */
  readonly byShownIds?: ShownIdFinder;
}

class SqlItemWriteTx implements ItemWriteTx {
  /** Ids found by their shown spelling, and the keys that bind to their stored bytes. */
  private readonly storedKeys = new Map<string, string>();
  /** The site's webhook subscriptions, read at the first change this transaction records. */
  private subscribers: Subscribers | undefined;

  constructor(
    private readonly trx: Kysely<Database>,
    private readonly target: ItemTarget,
    private gen: number,
    /** The change number the rows written here carry (0 in SANDBOX). */
    private readonly seq: number,
    private readonly generations: GenerationRegistry,
    private readonly now: () => number,
    private readonly byShownIds: ShownIdFinder | undefined,
    /** The collection's declared TEXT fields: the ones its full-text index holds (none: no index work). */
    private readonly textFields: readonly string[],
  ) {}

  private get relation() {
    return itemRelation(this.gen);
  }

  async findExisting(ids: readonly string[]): Promise<Map<string, StoredItem>> {
    const found = await findItems(this.trx, this.gen, ids);
    const missing = ids.filter((id) => !found.has(id) && id.includes(REPLACEMENT));
    if (missing.length > 0 && this.byShownIds) {
      for (const [id, match] of await this.byShownIds(this.trx, this.gen, missing)) {
        found.set(id, match.item);
        this.storedKeys.set(id, match.storedKey);
      }
    }
    return found;
  }

  /** The key that addresses an id's stored bytes (the id itself, unless it was found as shown). */
  private keyOf(id: string): string {
    return this.storedKeys.get(id) ?? id;
  }

  async insert(items: readonly StoredItem[]): Promise<void> {
    await this.upsert(items, false);
    await this.countItems(items.length);
  }

  /** Keeps the generation's item count (the site's maxItems usage) in this same transaction. */
  private async countItems(delta: number): Promise<void> {
    if (delta === 0) return;
    await this.trx
      .updateTable('generations')
      .set((eb) => ({ item_count: eb('item_count', '+', delta) }))
      .where('id', '=', this.gen)
      .execute();
  }

  async siteItemCount(): Promise<number> {
    return siteItemCount(this.trx, this.target.siteId);
  }

  advanceItemJob(advance: ItemJobAdvance): Promise<boolean> {
    return advanceItemJob(this.trx, advance);
  }

  async update(items: readonly StoredItem[]): Promise<void> {
    await this.upsert(items, true);
  }

  private async upsert(items: readonly StoredItem[], replace: boolean): Promise<void> {
    if (items.length === 0) return;
    const { table, hasGenColumn } = this.relation;
    const key = hasGenColumn ? sql`(gen, id)` : sql`(id)`;
    const conflict = replace
      ? sql` ON CONFLICT ${key} DO UPDATE SET created_at = excluded.created_at, updated_at = excluded.updated_at,
          data = excluded.data, seq = excluded.seq`
      : sql``;
    const columns = hasGenColumn ? sql`gen, ` : sql``;
    const gen = hasGenColumn ? sql`${this.gen}, ` : sql``;
    for (const part of chunks(items, ROWS_PER_STATEMENT)) {
      const values = part.map(
        (i) => sql`(${gen}${this.keyOf(i.id)}, ${i.createdAt}, ${i.updatedAt}, ${i.json}, ${this.seq})`,
      );
      await sql`INSERT INTO ${sql.table(table)} (${columns}id, created_at, updated_at, data, seq)
        VALUES ${sql.join(values)}${conflict}`.execute(this.trx);
      // An insert's ids are new to the generation (a duplicate fails above), so it has no rows to remove.
      await this.generations.textIndex.index(
        this.trx,
        this.gen,
        this.textFields,
        part.map((i) => this.keyOf(i.id)),
        !replace,
      );
    }
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    // Tombstones and links get the stored bytes too, so an incremental backup sees the same id go.
    const keys = ids.map((id) => this.keyOf(id));
    const { table, scope } = this.relation;
    for (const part of chunks(keys, ROWS_PER_STATEMENT)) {
      const deleted = await sql`DELETE FROM ${sql.table(table)} WHERE ${scope} AND id IN (${sql.join(
        part,
      )})`.execute(this.trx);
      await this.countItems(-Number(deleted.numAffectedRows ?? 0n));
      if (this.target.environment === 'LIVE') {
        // Tombstones tell the next incremental backup which ids went away.
        const values = part.map((id) => sql`(${this.gen}, ${id}, ${this.seq})`);
        await sql`INSERT INTO tombstones (gen, id, seq) VALUES ${sql.join(values)}
          ON CONFLICT (gen, id) DO UPDATE SET seq = excluded.seq`.execute(this.trx);
      }
      await removeLinksOf(this.trx, this.gen, part);
      if (this.textFields.length > 0) await this.generations.textIndex.remove(this.trx, this.gen, part);
    }
  }

  async truncate(): Promise<void> {
    const old = this.gen;
    this.gen = await this.generations.allocate(this.trx, this.target, 'ACTIVE', this.now());
    await this.trx
      .updateTable('collections')
      .set(this.target.environment === 'LIVE' ? { live_gen: this.gen } : { sandbox_gen: this.gen })
      .where('site_id', '=', this.target.siteId)
      .where('id', '=', this.target.collectionId)
      .execute();
    await this.generations.retire(this.trx, [old]);
  }

  async recordChanges(changes: readonly ItemChange[]): Promise<void> {
    // Item events report the site's live content (as Wix does); SANDBOX writes emit none.
    if (changes.length === 0 || this.target.environment !== 'LIVE') return;
    this.subscribers ??= await subscribersOf(this.trx, this.target.siteId);
    const subscribers = this.subscribers;
    // One outbox row per kind (a save mixes creations and updates): creations first, so an item created
    // and then updated by one write keeps that order.
    for (const kind of ['created', 'updated', 'deleted'] as const) {
      const eventType = ITEM_EVENT_TYPES[kind];
      if (!subscribers.has(eventType)) continue;
      const entities = changes
        .filter((change) => change.kind === kind)
        .map((change) => itemEventEntity(this.target.collectionId, change));
      if (entities.length === 0) continue;
      const batch = {
        eventType,
        slug: kind,
        entityFqdn: ITEM_ENTITY_FQDN,
        collectionId: this.target.collectionId,
        entities,
      };
      await appendEventBatch(this.trx, this.target.siteId, batch, subscribers, this.now());
    }
  }
}

/**
 * Items on any SQL engine. Writes are portable Kysely (multi-row upserts with ON CONFLICT, tombstones,
 * links) and shared; reads (`query`, `count`) are shared too, through the engine's query compiler.
 */
export abstract class SqlItemStore implements ItemStore {
  constructor(
    protected readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
    private readonly now: () => number,
    private readonly options: SqlItemStoreOptions,
  ) {}

  /** The engine's query compiler (item-query-compiler.ts), one per statement. */
  protected abstract compiler(scope: FilterScope): ItemQueryCompiler;

  /** Columns a page row carries besides the shared ones, each followed by a comma (for `fetchLarge`). */
  protected readonly pageColumns: Sql = sql``;

  /** The items of page rows too large to carry inline, read again; by id unless the engine knows better. */
  protected fetchLarge(gen: number, rows: readonly PageRow[]): Promise<Map<string, StoredItem>> {
    return findItems(
      this.db,
      gen,
      rows.map((r) => r.id),
    );
  }

  async query(target: ItemTarget, query: ItemQuery): Promise<ItemPage> {
    const gen = await currentGeneration(this.db, target);
    const compiler = this.compiler({ gen, target });
    const where = compiler.compile(query.filter);
    const { table, scope } = itemRelation(gen);
    const keys = compiler.orderedKeys(query.sort, query.backwards ?? false);
    const keyColumns = positionTerms(keys).map((term, i) => sql`${term} AS ${sql.ref(`k${i}`)}`);
    const position = query.after ? sql` AND ${compiler.afterPosition(keys, query.after)}` : sql``;
    const order = compiler.orderBy(keys);
    // octet_length reads the size from the record header (SQLite) or a TOASTed value's header (PostgreSQL);
    // large items' text is fetched once the page is cut.
    const inline = inlineBytes(query.limit, query.maxBytes);
    const { rows } = await sql<PageRow>`
      SELECT ${this.pageColumns}i.id, i.created_at, i.updated_at, octet_length(i.data) AS bytes,
        CASE WHEN octet_length(i.data) <= ${inline} THEN i.data END AS data${keyColumns.length > 0 ? sql`, ${sql.join(keyColumns)}` : sql``}
      FROM ${compiler.relation(table)} WHERE ${scope} AND ${where}${position}
      ORDER BY ${order} LIMIT ${query.limit + 1} OFFSET ${query.offset ?? 0}`.execute(this.db);
    const { page, items, hasMore } = await boundPage(rows, query.limit, query.maxBytes, (large) =>
      this.fetchLarge(gen, large),
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
      total: query.withTotal ? await this.countIn(gen, target, query.filter) : undefined,
    };
  }

  async count(target: ItemTarget, filter: FilterNode | null): Promise<number> {
    return this.countIn(await currentGeneration(this.db, target), target, filter);
  }

  private async countIn(gen: number, target: ItemTarget, filter: FilterNode | null): Promise<number> {
    const compiler = this.compiler({ gen, target });
    const where = compiler.compile(filter);
    const { table, scope } = itemRelation(gen);
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM ${compiler.relation(table)}
      WHERE ${scope} AND ${where}`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async aggregate(target: ItemTarget, aggregation: ItemAggregation): Promise<AggregatePage> {
    const gen = await currentGeneration(this.db, target);
    const inner = this.compiler({ gen, target });
    const { table, scope } = itemRelation(gen);
    const groups = inner.groups(table, sql`${scope} AND ${inner.compile(aggregation.filter)}`, aggregation);
    // The results are filtered and sorted as items are: by another compiler over the groups' subquery.
    const outer = this.compiler({ gen, target });
    const having = outer.compile(aggregation.having);
    const order = outer.orderBy(outer.orderedKeys(aggregation.sort, false));
    const { rows } = await sql<{ data: string }>`SELECT i.data FROM ${outer.from(groups)} WHERE ${having}
      ORDER BY ${order} LIMIT ${aggregation.limit + 1} OFFSET ${aggregation.offset}`.execute(this.db);
    let total: number | undefined;
    if (aggregation.withTotal) {
      const counter = this.compiler({ gen, target });
      const kept = counter.compile(aggregation.having);
      const counted = await sql<{ n: number }>`SELECT count(*) AS n FROM ${counter.from(groups)}
        WHERE ${kept}`.execute(this.db);
      total = Number(counted.rows[0]?.n ?? 0);
    }
    return {
      results: rows.slice(0, aggregation.limit).map((r) => JSON.parse(r.data) as Record<string, unknown>),
      hasMore: rows.length > aggregation.limit,
      total,
    };
  }

  async search(target: ItemTarget, request: ItemSearch): Promise<ItemSearchPage> {
    const gen = await currentGeneration(this.db, target);
    const { textIndex } = this.generations;
    const scored = scoredHits(await textIndex.hits(this.db, gen, request.search), request.search);
    const { table, scope } = itemRelation(gen);
    // The matching items with their score, as a relation shaped like an item table for the compiler. CROSS
    // JOIN: SQLite then reads the (few) scored items first and looks each item up by its key, rather than
    // scanning the generation's items against them.
    const matched = sql`(SELECT it.*, s.score FROM ${scored} AS s
      CROSS JOIN ${sql.table(table)} AS it WHERE it.id = s.id AND ${scope})`;
    const compiler = this.compiler({ gen, target });
    const where = compiler.compile(request.filter);
    const keys = compiler.orderedKeys(request.sort, false);
    const byId = keys.slice(-1);
    const bySort = keys.slice(0, -1);
    const order = sql.join([
      ...(bySort.length > 0 ? [compiler.orderBy(bySort)] : []),
      sql`i.score DESC`,
      compiler.orderBy(byId),
    ]);
    const inline = inlineBytes(request.limit, request.maxBytes);
    const statement = sql`SELECT ${this.pageColumns}i.id, i.created_at, i.updated_at,
        octet_length(i.data) AS bytes, CASE WHEN octet_length(i.data) <= ${inline} THEN i.data END AS data
      FROM ${compiler.from(matched)} WHERE ${where}
      ORDER BY ${order} LIMIT ${request.limit + 1} OFFSET ${request.offset}`;
    const rows = await textIndex.run<PageRow>(this.db, request.search, statement);
    const { items, hasMore } = await boundPage(rows, request.limit, request.maxBytes, (large) =>
      this.fetchLarge(gen, large),
    );
    return { items: items.filter((item) => item !== undefined), hasMore };
  }

  async get(target: ItemTarget, id: string): Promise<StoredItem | undefined> {
    const gen = await currentGeneration(this.db, target);
    const found = (await findItems(this.db, gen, [id])).get(id);
    const { byShownIds } = this.options;
    if (found || !id.includes(REPLACEMENT) || !byShownIds) return found;
    return (await byShownIds(this.db, gen, [id])).get(id)?.item;
  }

  async write<T>(target: ItemTarget, work: (tx: ItemWriteTx) => Promise<T>): Promise<T> {
    const { rowLocks, byShownIds } = this.options;
    return this.db.transaction().execute(async (trx) => {
      const { gen, seq, textFields } = await beginWrite(trx, target);
      await fenceLegacyWrite(trx, target.siteId, [gen], { rowLocks });
      return work(
        new SqlItemWriteTx(trx, target, gen, seq, this.generations, this.now, byShownIds, textFields),
      );
    });
  }
}
