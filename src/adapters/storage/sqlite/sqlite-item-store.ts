import { isUtf8 } from 'node:buffer';
import { sql, type Kysely } from 'kysely';
import type { StoredItem } from '../../../ports/storage.js';
import type { GenerationRegistry } from '../sql/generation-registry.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database, ItemRow } from '../sql/schema.js';
import type { SqlCapabilities } from '../sql/sql-capabilities.js';
import type { FilterScope } from '../sql/link-filter.js';
import {
  REPLACEMENT,
  SqlItemStore,
  toStoredItem,
  type PageRow,
  type ShownIdMatch,
} from '../sql/sql-item-store.js';
import { SqliteItemQueryCompiler } from './sqlite-query-hooks.js';

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
      found.set(candidate.id, { item: { ...toStoredItem(row), id: candidate.id }, storedKey });
  }
  return found;
}

/** Items on SQLite: the shared reads and writes, compiled by the SQLite hooks, ids found as shown. */
export class SqliteItemStore extends SqlItemStore {
  constructor(
    db: Kysely<Database>,
    generations: GenerationRegistry,
    now: () => number,
    capabilities: SqlCapabilities,
  ) {
    super(db, generations, now, { rowLocks: capabilities.rowLocks, byShownIds: findByShownIds });
  }

  protected compiler(scope: FilterScope): SqliteItemQueryCompiler {
    return new SqliteItemQueryCompiler(scope);
  }

  protected override readonly pageColumns = sql`i.rid, `;

  /**
   * Large items are read again by rowid: an id an older release stored as non-UTF-8 bytes would not match
   * the text it reads back as.
   */
  protected override async fetchLarge(
    gen: number,
    rows: readonly PageRow[],
  ): Promise<Map<string, StoredItem>> {
    const { table } = itemRelation(gen);
    const { rows: full } = await sql<ItemRow>`SELECT id, created_at, updated_at, data FROM ${sql.table(table)}
      WHERE rid IN (${sql.join(rows.map((r) => r.rid))})`.execute(this.db);
    return new Map(full.map((row) => [row.id, toStoredItem(row)]));
  }
}
