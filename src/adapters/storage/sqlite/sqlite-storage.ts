import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import type { Storage, StorageCapabilities } from '../../../ports/storage.js';
import { SqlApiKeyStore } from '../sql/api-key-store.js';
import { SqlCollectionStore } from '../sql/collection-store.js';
import { GenerationRegistry } from '../sql/generation-registry.js';
import { SqlMetaStore } from '../sql/meta-store.js';
import { itemTable, type Database } from '../sql/schema.js';
import type { SqlEngine } from '../sql/sql-engine.js';
import { SqlSiteStore } from '../sql/site-store.js';
import { SqliteItemStore } from './sqlite-item-store.js';
import { FOLD_FUNCTION, fold } from './sqlite-item-sql.js';
import { SqliteLinkStore } from './sqlite-link-store.js';
import { sqliteMigrations } from './sqlite-migrations.js';

export interface SqliteStorageOptions {
  /** Database file; `:memory:` for a private in-memory database. */
  readonly path: string;
  readonly now?: () => number;
  /** Page cache per connection, in MiB. */
  readonly cacheMiB?: number;
}

const sqliteEngine: SqlEngine = {
  async createItemTable(db, gen) {
    const t = itemTable(gen);
    // A rowid table with a unique index on id: appends stay cheap even when ids arrive in random order
    // (a WITHOUT ROWID table of ~1 KB rows measured 4x slower for random inserts, see docs/ARCHITECTURE.md).
    await sql
      .raw(
        `CREATE TABLE ${t} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL, created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL, data TEXT NOT NULL)`,
      )
      .execute(db);
    await sql.raw(`CREATE UNIQUE INDEX ${t}_id ON ${t} (id)`).execute(db);
    await sql.raw(`CREATE INDEX ${t}_created ON ${t} (created_at)`).execute(db);
    await sql.raw(`CREATE INDEX ${t}_updated ON ${t} (updated_at)`).execute(db);
  },
  async hasItemTable(db, gen) {
    const { rows } =
      await sql`SELECT 1 AS one FROM sqlite_schema WHERE type = 'table' AND name = ${itemTable(gen)}`.execute(
        db,
      );
    return rows.length > 0;
  },
  async dropItemTable(db, gen) {
    await sql.raw(`DROP TABLE IF EXISTS ${itemTable(gen)}`).execute(db);
  },
};

/** Opens a connection with safekeep's settings. Used by the storage and by worker threads that read. */
export function openSqlite(
  path: string,
  options: { readonly?: boolean; cacheMiB?: number } = {},
): BetterSqlite3.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path, { readonly: options.readonly ?? false });
  if (!options.readonly) {
    // 16 KiB pages hold ~1 KB items without overflow pages; only effective on a new database.
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
  }
  // WAL with synchronous=NORMAL survives process crashes; a power cut may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${(options.cacheMiB ?? 64) * 1024}`);
  db.pragma('temp_store = MEMORY');
  db.function(FOLD_FUNCTION, { deterministic: true }, (value: unknown) =>
    typeof value === 'string' ? fold(value) : value,
  );
  return db;
}

/** The embedded default: one SQLite file in WAL mode. */
export class SqliteStorage implements Storage {
  readonly capabilities: StorageCapabilities = { engine: 'sqlite' };
  readonly sites: SqlSiteStore;
  readonly apiKeys: SqlApiKeyStore;
  readonly meta: SqlMetaStore;
  readonly collections: SqlCollectionStore;
  readonly items: SqliteItemStore;
  readonly links: SqliteLinkStore;
  readonly sweeper: GenerationRegistry;

  private constructor(
    readonly raw: BetterSqlite3.Database,
    readonly db: Kysely<Database>,
    now: () => number,
  ) {
    const generations = new GenerationRegistry(db, sqliteEngine);
    this.sweeper = generations;
    this.sites = new SqlSiteStore(db, generations);
    this.apiKeys = new SqlApiKeyStore(db);
    this.meta = new SqlMetaStore(db);
    this.collections = new SqlCollectionStore(db, generations);
    this.items = new SqliteItemStore(db, generations, now);
    this.links = new SqliteLinkStore(db, now);
  }

  /** Opens (creating if needed) and migrates the database. */
  static async open(options: SqliteStorageOptions): Promise<SqliteStorage> {
    const raw = openSqlite(options.path, { cacheMiB: options.cacheMiB });
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    const provider: MigrationProvider = { getMigrations: () => Promise.resolve(sqliteMigrations) };
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      await db.destroy();
      throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
    }
    return new SqliteStorage(raw, db, options.now ?? Date.now);
  }

  async healthCheck(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
