import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import type { Storage, StorageCapabilities } from '../../../ports/storage.js';
import { SqlApiKeyStore } from '../sql/api-key-store.js';
import { SqlCollectionStore } from '../sql/collection-store.js';
import { GenerationRegistry } from '../sql/generation-registry.js';
import { SqlMetaStore } from '../sql/meta-store.js';
import type { Database } from '../sql/schema.js';
import { defaultSqlCapabilities } from '../sql/sql-capabilities.js';
import { sqliteItemTables } from './sqlite-item-tables.js';
import { SqlSiteStore } from '../sql/site-store.js';
import { SqliteItemStore } from './sqlite-item-store.js';
import { openSqlite, sqliteStorageError } from './sqlite-connection.js';
import { withStorageErrors, withStorageErrorsAppender } from '../sql/with-storage-errors.js';
import { SqlLinkStore } from '../sql/sql-link-store.js';
import { SqliteBulkAppender } from './sqlite-bulk-appender.js';
import { ReservedBackupStore, ReservedRestorationStore, SqliteDiskReserve } from './sqlite-disk-reserve.js';
import { WorkerSnapshotSource } from '../sql/worker-snapshot-source.js';
import { SqlBackupStore } from '../sql/backup-store.js';
import { SqlRestorationStore } from '../sql/restoration-store.js';
import { SqlStagingStore } from '../sql/staging-store.js';
import { SqlScheduleStore } from '../sql/schedule-store.js';
import { SqlMaintenanceStore } from '../sql/maintenance-store.js';
import { SqlWebhookStore } from '../sql/webhook-store.js';
import { SqlLayoutMigrator } from '../sql/layout-migrator.js';
import { sqliteMigrations } from './sqlite-migrations.js';

export interface SqliteStorageOptions {
  /** Database file; `:memory:` for a private in-memory database. */
  readonly path: string;
  readonly now?: () => number;
  /**
   * Items of a restored collection from which it is loaded into a table of its own rather than the shared
   * one; the engine's measured default when omitted (tests lower it).
   */
  readonly largeGenerationItems?: number;
  /** Page cache per connection, in MiB. */
  readonly cacheMiB?: number;
}

/**
 * Kysely's ROLLBACK after a failed statement. SQLite itself rolls the whole transaction back on some errors
 * (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM: https://www.sqlite.org/lang_transaction.html), and a second
 * ROLLBACK then fails with "no transaction is active", an SQLITE_ERROR that would replace the real error
 * (a full disk would read as a bug). Rolling back only what is still open keeps the real one.
 */
function rollbackIfOpen(raw: BetterSqlite3.Database): BetterSqlite3.Statement {
  const statement = raw.prepare('rollback');
  return new Proxy(statement, {
    get(target, property, receiver) {
      if (property !== 'run') return Reflect.get(target, property, receiver) as unknown;
      return () => (raw.inTransaction ? target.run() : { changes: 0, lastInsertRowid: 0 });
    },
  });
}

/**
 * Kysely prepares every query afresh; preparing cost about a third of a small request's time. This keeps
 * the most recent statements by SQL text (Kysely never streams, so a statement is never busy when reused;
 * SQLite re-prepares them itself after a schema change).
 */
function withStatementCache(raw: BetterSqlite3.Database, size = 500): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return new Proxy(raw, {
    get(target, property, receiver) {
      if (property !== 'prepare') return Reflect.get(target, property, receiver) as unknown;
      return (text: string) => {
        if (text === 'rollback') return rollbackIfOpen(target);
        let statement = cache.get(text);
        if (statement) {
          cache.delete(text);
        } else {
          statement = target.prepare(text);
          if (cache.size >= size) cache.delete(cache.keys().next().value as string);
        }
        cache.set(text, statement);
        return statement;
      };
    },
  });
}

/** The embedded default: one SQLite file in WAL mode. */
export class SqliteStorage implements Storage {
  readonly capabilities: StorageCapabilities = { engine: 'sqlite' };
  readonly sites: SqlSiteStore;
  readonly apiKeys: SqlApiKeyStore;
  readonly meta: SqlMetaStore;
  readonly collections: SqlCollectionStore;
  readonly items: SqliteItemStore;
  readonly links: SqlLinkStore;
  readonly sweeper: GenerationRegistry;
  readonly backups: SqlBackupStore;
  readonly restorations: SqlRestorationStore;
  readonly staging: SqlStagingStore;
  readonly schedule: SqlScheduleStore;
  readonly maintenance: SqlMaintenanceStore;
  readonly webhooks: SqlWebhookStore;
  readonly layout: SqlLayoutMigrator;
  readonly snapshots: WorkerSnapshotSource;

  private constructor(
    readonly raw: BetterSqlite3.Database,
    readonly db: Kysely<Database>,
    now: () => number,
    path: string,
    largeGenerationItems: number | undefined,
  ) {
    const generations = new GenerationRegistry(db, sqliteItemTables);
    this.sweeper = generations;
    this.sites = new SqlSiteStore(db, generations);
    this.apiKeys = new SqlApiKeyStore(db);
    this.meta = new SqlMetaStore(db);
    this.collections = new SqlCollectionStore(db, generations, now);
    this.items = new SqliteItemStore(db, generations, now);
    this.links = new SqlLinkStore(db, now);
    // SQLite has one writer and no row locks: a claim is a compare-and-set inside a transaction.
    const capabilities = defaultSqlCapabilities;
    if (path === ':memory:') {
      this.backups = new SqlBackupStore(db, capabilities);
      this.restorations = new SqlRestorationStore(db, capabilities);
    } else {
      // A job's failure is recorded even when the disk is full (see SqliteDiskReserve).
      const reserve = new SqliteDiskReserve(`${path}-reserve`, 1024 * 1024);
      reserve.hold();
      this.reserve = reserve;
      this.backups = new ReservedBackupStore(db, capabilities, reserve);
      this.restorations = new ReservedRestorationStore(db, capabilities, reserve);
    }
    this.staging = new SqlStagingStore(
      db,
      generations,
      sqliteItemTables,
      withStorageErrorsAppender(new SqliteBulkAppender(db, raw), sqliteStorageError),
      this.collections,
      largeGenerationItems,
    );
    this.schedule = new SqlScheduleStore(db, capabilities);
    this.maintenance = new SqlMaintenanceStore(db, capabilities);
    this.webhooks = new SqlWebhookStore(db);
    this.layout = new SqlLayoutMigrator(db, generations, sqliteItemTables, { largeGenerationItems });
    this.snapshots = new WorkerSnapshotSource(
      new URL('./sqlite-snapshot-worker.js', import.meta.url),
      { path },
      sqliteStorageError,
    );
  }

  /** Opens (creating if needed) and migrates the database. */
  static async open(options: SqliteStorageOptions): Promise<SqliteStorage> {
    const raw = openSqlite(options.path, { cacheMiB: options.cacheMiB });
    let checkpointer: Worker | undefined;
    if (options.path !== ':memory:') {
      // Checkpoints run in a worker thread; the writer never checkpoints on the event loop.
      raw.pragma('wal_autocheckpoint = 0');
      checkpointer = new Worker(new URL('./sqlite-checkpoint-worker.js', import.meta.url), {
        workerData: { path: options.path, intervalMs: 250 },
      });
      checkpointer.unref();
    }
    const dialect = withStorageErrors(
      new SqliteDialect({ database: withStatementCache(raw) }),
      sqliteStorageError,
    );
    const db = new Kysely<Database>({ dialect });
    const provider: MigrationProvider = { getMigrations: () => Promise.resolve(sqliteMigrations) };
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      await checkpointer?.terminate();
      await db.destroy();
      throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
    }
    const storage = new SqliteStorage(
      raw,
      db,
      options.now ?? Date.now,
      options.path,
      options.largeGenerationItems,
    );
    storage.checkpointer = checkpointer;
    return storage;
  }

  async healthCheck(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
    this.reserve?.hold();
  }

  private reserve: SqliteDiskReserve | undefined;

  private checkpointer: Worker | undefined;

  async close(): Promise<void> {
    await this.checkpointer?.terminate();
    await this.snapshots.close();
    try {
      this.raw.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // A reader in another process may hold the WAL; its checkpoint will happen there.
    }
    await this.db.destroy();
  }
}
