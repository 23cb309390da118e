import { isUtf8 } from 'node:buffer';
import { sql, type Kysely } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import type { FilterNode } from '../../../domain/query/filter.js';
import type {
  ItemPage,
  ItemQuery,
  ItemStore,
  ItemTarget,
  ItemWriteTx,
  KeysetPosition,
  StoredItem,
} from '../../../ports/storage.js';
import type { GenerationRegistry } from '../sql/generation-registry.js';
import { fenceLegacyWrite } from '../sql/site-lock.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database, ItemRow } from '../sql/schema.js';
import { afterPosition, compileFilter, orderBy, orderedKeys } from './sqlite-item-sql.js';
import { boundPage, inlineBytes, type SizedRow } from '../sql/byte-bounded-page.js';

/** Rows per statement: well under SQLite's 32,766 bound parameters. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

function toItem(row: ItemRow): StoredItem {
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
    throw errors.COLLECTION_NOT_FOUND(target.collectionId);
  }
  return row.gen;
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

/**
 * Starts an item write: finds the target's generation and, for LIVE, takes the collection's next change
 * number (`live_version`), which every row written in this transaction carries as `seq`. Taking it first
 * also makes concurrent writers of one collection (and a restoration's switch) queue on the collection row.
 * @throws AppError COLLECTION_NOT_FOUND
 */
async function beginWrite(db: Kysely<Database>, target: ItemTarget): Promise<{ gen: number; seq: number }> {
  if (target.environment === 'SANDBOX') return { gen: await currentGeneration(db, target), seq: 0 };
  const row = await db
    .updateTable('collections')
    .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
    .where('site_id', '=', target.siteId)
    .where('id', '=', target.collectionId)
    .returning(['live_gen', 'live_version'])
    .executeTakeFirst();
  if (!row) {
    throw errors.COLLECTION_NOT_FOUND(target.collectionId);
  }
  return { gen: row.live_gen, seq: row.live_version };
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
    for (const row of rows) found.set(row.id, toItem(row));
  }
  return found;
}

/** How better-sqlite3 reads back each byte of stored text that is not UTF-8. */
const REPLACEMENT = '\uFFFD';

/**
 * Decodes generalized UTF-8 (WTF-8: surrogate code points allowed, which is how better-sqlite3 stores a
 * JavaScript string holding a lone surrogate) into the string that binds to exactly these bytes; undefined
 * for bytes no JavaScript string encodes to.
 */
export function decodeWtf8(bytes: Uint8Array): string | undefined {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i] ?? 0;
    const need =
      b < 0x80
        ? 0
        : b >= 0xc2 && b <= 0xdf
          ? 1
          : b >= 0xe0 && b <= 0xef
            ? 2
            : b >= 0xf0 && b <= 0xf4
              ? 3
              : -1;
    if (need < 0 || i + need >= bytes.length) return undefined;
    let cp = need === 0 ? b : b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k] ?? 0;
      if ((c & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((need === 2 && cp < 0x800) || (need === 3 && (cp < 0x10000 || cp > 0x10ffff))) return undefined;
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

/** An item found by the spelling the API shows for an id stored as non-UTF-8 bytes, and the key of those bytes. */
interface ShownIdMatch {
  readonly item: StoredItem;
  /** The string that binds to the stored id bytes (it holds the lone surrogates an older release stored). */
  readonly storedKey: string;
}

/**
 * Items whose stored id is not UTF-8, found by the id as the API shows it. Releases before the Unicode rule
 * accepted ids with lone surrogates; better-sqlite3 stored their WTF-8 bytes, which read back with U+FFFD
 * for each bad byte, so neither the original spelling nor the shown one matched the stored bytes and the
 * item could be neither updated nor removed. Only ids that hold U+FFFD and were not found as they are get
 * here. One pass reads just the ids (the id index) in the ranges sharing each id's text before its first
 * U+FFFD — the whole index when an id starts with one — and compares them as shown; each match is then read
 * through the key that binds to its stored bytes.
 */
export async function findByShownIds(
  db: Kysely<Database>,
  gen: number,
  ids: readonly string[],
): Promise<Map<string, ShownIdMatch>> {
  const found = new Map<string, ShownIdMatch>();
  const wanted = new Set(ids.filter((id) => id.includes(REPLACEMENT)));
  if (wanted.size === 0) return found;
  const { table: name, scope } = itemRelation(gen);
  const table = sql.table(name);
  const prefixes = [...new Set([...wanted].map((id) => id.slice(0, id.indexOf(REPLACEMENT))))];
  const ranges = prefixes.includes('')
    ? sql`1`
    : sql.join(
        prefixes.map((p) => sql`(id >= ${p} AND id < ${`${p}\u{10FFFF}`})`),
        sql` OR `,
      );
  const { rows: candidates } = await sql<{ id: string; raw: Uint8Array }>`SELECT id, CAST(id AS BLOB) AS raw
    FROM ${table} WHERE ${scope} AND (${ranges})`.execute(db);
  for (const candidate of candidates) {
    if (!wanted.has(candidate.id) || found.has(candidate.id) || isUtf8(candidate.raw)) continue;
    const storedKey = decodeWtf8(candidate.raw);
    if (storedKey === undefined) continue;
    const { rows } = await sql<ItemRow>`SELECT id, created_at, updated_at, data FROM ${table}
      WHERE ${scope} AND id = ${storedKey}`.execute(db);
    const row = rows[0];
    if (rows.length === 1 && row)
      found.set(candidate.id, { item: { ...toItem(row), id: candidate.id }, storedKey });
  }
  return found;
}

class SqliteItemWriteTx implements ItemWriteTx {
  /** Ids found by their shown spelling, and the keys that bind to their stored bytes. */
  private readonly storedKeys = new Map<string, string>();

  constructor(
    private readonly trx: Kysely<Database>,
    private readonly target: ItemTarget,
    private gen: number,
    /** The change number the rows written here carry (0 in SANDBOX). */
    private readonly seq: number,
    private readonly generations: GenerationRegistry,
    private readonly now: () => number,
    private readonly byShownIds: typeof findByShownIds | undefined,
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
    }
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    // Tombstones and links get the stored bytes too, so an incremental backup sees the same id go.
    const keys = ids.map((id) => this.keyOf(id));
    const { table, scope } = this.relation;
    for (const part of chunks(keys, ROWS_PER_STATEMENT)) {
      await sql`DELETE FROM ${sql.table(table)} WHERE ${scope} AND id IN (${sql.join(part)})`.execute(
        this.trx,
      );
      if (this.target.environment === 'LIVE') {
        // Tombstones tell the next incremental backup which ids went away.
        const values = part.map((id) => sql`(${this.gen}, ${id}, ${this.seq})`);
        await sql`INSERT INTO tombstones (gen, id, seq) VALUES ${sql.join(values)}
          ON CONFLICT (gen, id) DO UPDATE SET seq = excluded.seq`.execute(this.trx);
      }
      await removeLinksOf(this.trx, this.gen, part);
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
}

export class SqliteItemStore implements ItemStore {
  constructor(
    protected readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
    private readonly now: () => number,
  ) {}

  /**
   * Finds items by the spelling the API shows for ids stored as non-UTF-8 bytes (SQLite only: PostgreSQL
   * stored U+FFFD itself, so the shown spelling is the stored one and matches as it is).
   */
  protected readonly byShownIds: typeof findByShownIds | undefined = findByShownIds;

  /** Row locks exist (PostgreSQL): the layout migration's write fence holds the site row (site-lock.ts). */
  protected readonly rowLocks: boolean = false;

  async get(target: ItemTarget, id: string): Promise<StoredItem | undefined> {
    const gen = await currentGeneration(this.db, target);
    const found = (await findItems(this.db, gen, [id])).get(id);
    if (found || !id.includes(REPLACEMENT) || !this.byShownIds) return found;
    return (await this.byShownIds(this.db, gen, [id])).get(id)?.item;
  }

  async query(target: ItemTarget, query: ItemQuery): Promise<ItemPage> {
    const gen = await currentGeneration(this.db, target);
    const { table: name, scope } = itemRelation(gen);
    const table = sql.table(name);
    const where = compileFilter(query.filter, { gen, target });
    const keys = orderedKeys(query.sort, query.backwards ?? false);
    const keyColumns = keys.slice(0, -1).map((k, i) => sql`${k.expr} AS ${sql.ref(`k${i}`)}`);
    const position = query.after ? sql` AND ${afterPosition(keys, query.after)}` : sql``;
    // octet_length reads the size from the record header; large items' text is fetched once the page is cut.
    const inline = inlineBytes(query.limit, query.maxBytes);
    const { rows } = await sql<SizedRow & { rid: number } & Record<string, unknown>>`
      SELECT rid, id, created_at, updated_at, octet_length(data) AS bytes,
        CASE WHEN octet_length(data) <= ${inline} THEN data END AS data${keyColumns.length > 0 ? sql`, ${sql.join(keyColumns)}` : sql``}
      FROM ${table} WHERE ${scope} AND ${where}${position}
      ORDER BY ${orderBy(keys)} LIMIT ${query.limit + 1} OFFSET ${query.offset ?? 0}`.execute(this.db);
    // Large items are read again by rowid: an id an older release stored as non-UTF-8 bytes would not
    // match the text it reads back as.
    const { page, items, hasMore } = await boundPage(rows, query.limit, query.maxBytes, async (large) => {
      const { rows: full } = await sql<ItemRow>`SELECT id, created_at, updated_at, data FROM ${table}
        WHERE rid IN (${sql.join(large.map((r) => r.rid))})`.execute(this.db);
      return new Map(full.map((row) => [row.id, toItem(row)]));
    });
    if (query.backwards) {
      page.reverse();
      items.reverse();
    }
    const positionOf = (row: (typeof rows)[number]): KeysetPosition => ({
      values: keyColumns.map((_, i) => row[`k${i}`] ?? null),
      id: row.id,
    });
    const first = page[0];
    const last = page[page.length - 1];
    return {
      items: items.filter((item) => item !== undefined),
      hasMore,
      first: first && positionOf(first),
      last: last && positionOf(last),
      total: query.withTotal ? await this.countIn(gen, target, query.filter) : undefined,
    };
  }

  async count(target: ItemTarget, filter: FilterNode | null): Promise<number> {
    return this.countIn(await currentGeneration(this.db, target), target, filter);
  }

  private async countIn(gen: number, target: ItemTarget, filter: FilterNode | null): Promise<number> {
    const { table, scope } = itemRelation(gen);
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}
      WHERE ${scope} AND ${compileFilter(filter, { gen, target })}`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async write<T>(target: ItemTarget, work: (tx: ItemWriteTx) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      const { gen, seq } = await beginWrite(trx, target);
      await fenceLegacyWrite(trx, target.siteId, [gen], { rowLocks: this.rowLocks });
      return work(new SqliteItemWriteTx(trx, target, gen, seq, this.generations, this.now, this.byShownIds));
    });
  }
}
