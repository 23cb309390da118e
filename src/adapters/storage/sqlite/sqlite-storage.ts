import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import type { Storage, StorageCapabilities } from '../../../ports/storage.js';
import { SqlApiKeyStore } from '../sql/api-key-store.js';
import { SqlCollectionStore } from '../sql/collection-store.js';
import { GenerationRegistry } from '../sql/generation-registry.js';
import { SqlMetaStore } from '../sql/meta-store.js';
import { itemTable, itemTableColumns, type Database } from '../sql/schema.js';
import type { SqlEngine } from '../sql/sql-engine.js';
import { SqlSiteStore } from '../sql/site-store.js';
import { SqliteItemStore } from './sqlite-item-store.js';
import { openSqlite } from './sqlite-connection.js';
import { SqliteLinkStore } from './sqlite-link-store.js';
import { SqliteBulkAppender } from './sqlite-bulk-appender.js';
import { SqliteSnapshotSource } from './sqlite-snapshot-source.js';
import { SqlBackupStore } from '../sql/backup-store.js';
import { SqlRestorationStore } from '../sql/restoration-store.js';
import { SqlStagingStore } from '../sql/staging-store.js';
import { SqlScheduleStore } from '../sql/schedule-store.js';
import { SqlMaintenanceStore } from '../sql/maintenance-store.js';
import { SqlWebhookStore } from '../sql/webhook-store.js';
import { sqliteMigrations } from './sqlite-migrations.js';

export interface SqliteStorageOptions {
  /** Database file; `:memory:` for a private in-memory database. */
  readonly path: string;
  readonly now?: () => number;
  /** Page cache per connection, in MiB. */
  readonly cacheMiB?: number;
}

const sqliteEngine: SqlEngine = {
  async createItemTable(db, gen, options) {
    const t = itemTable(gen);
    // A rowid table with a unique index on id: appends stay cheap even when ids arrive in random order
    // (a WITHOUT ROWID table of ~1 KB rows measured 4x slower for random inserts, see docs/ARCHITECTURE.md).
    await sql.raw(`CREATE TABLE ${t} ${itemTableColumns}`).execute(db);
    await sql.raw(`CREATE UNIQUE INDEX ${t}_id ON ${t} (id)`).execute(db);
    if (!options?.deferSecondaryIndexes) await this.createSecondaryIndexes(db, gen);
  },
  async createSecondaryIndexes(db, gen) {
    const t = itemTable(gen);
    await sql.raw(`CREATE INDEX IF NOT EXISTS ${t}_created ON ${t} (created_at)`).execute(db);
    await sql.raw(`CREATE INDEX IF NOT EXISTS ${t}_updated ON ${t} (updated_at)`).execute(db);
    await sql.raw(`CREATE INDEX IF NOT EXISTS ${t}_seq ON ${t} (seq)`).execute(db);
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
  readonly backups: SqlBackupStore;
  readonly restorations: SqlRestorationStore;
  readonly staging: SqlStagingStore;
  readonly schedule: SqlScheduleStore;
  readonly maintenance: SqlMaintenanceStore;
  readonly webhooks: SqlWebhookStore;
  readonly snapshots: SqliteSnapshotSource;

  private constructor(
    readonly raw: BetterSqlite3.Database,
    readonly db: Kysely<Database>,
    now: () => number,
    path: string,
  ) {
    const generations = new GenerationRegistry(db, sqliteEngine);
    this.sweeper = generations;
    this.sites = new SqlSiteStore(db, generations);
    this.apiKeys = new SqlApiKeyStore(db);
    this.meta = new SqlMetaStore(db);
    this.collections = new SqlCollectionStore(db, generations);
    this.items = new SqliteItemStore(db, generations, now);
    this.links = new SqliteLinkStore(db, now);
    // SQLite has one writer and no row locks: a claim is a compare-and-set inside a transaction.
    const claims = { supportsSkipLocked: false };
    this.backups = new SqlBackupStore(db, claims);
    this.restorations = new SqlRestorationStore(db, claims);
    this.staging = new SqlStagingStore(db, generations, sqliteEngine, new SqliteBulkAppender(db, raw));
    this.schedule = new SqlScheduleStore(db);
    this.maintenance = new SqlMaintenanceStore(db);
    this.webhooks = new SqlWebhookStore(db);
    this.snapshots = new SqliteSnapshotSource(path);
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
    return new SqliteStorage(raw, db, options.now ?? Date.now, options.path);
  }

  async healthCheck(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
