import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider } from 'kysely';
import type pg from 'pg';
import { StorageError } from '../../../ports/storage-error.js';
import type { Storage, StorageCapabilities } from '../../../ports/storage.js';
import { SqlApiKeyStore } from '../sql/api-key-store.js';
import { SqlBackupStore } from '../sql/backup-store.js';
import { SqlCollectionStore } from '../sql/collection-store.js';
import { GenerationRegistry } from '../sql/generation-registry.js';
import { SqlMaintenanceStore } from '../sql/maintenance-store.js';
import { SqlMetaStore } from '../sql/meta-store.js';
import { SqlRestorationStore } from '../sql/restoration-store.js';
import { SqlScheduleStore } from '../sql/schedule-store.js';
import type { Database } from '../sql/schema.js';
import { defaultSqlCapabilities, type SqlCapabilities } from '../sql/sql-capabilities.js';
import { SqlSiteStore } from '../sql/site-store.js';
import { SqlStagingStore, type BulkAppender } from '../sql/staging-store.js';
import { SqlWebhookStore } from '../sql/webhook-store.js';
import { SqlLayoutMigrator } from '../sql/layout-migrator.js';
import { SqlLinkStore } from '../sql/sql-link-store.js';
import { WorkerSnapshotSource } from '../sql/worker-snapshot-source.js';
import { PostgresBulkAppender } from './postgres-bulk-appender.js';
import {
  checkSchema,
  createPool,
  kyselyPool,
  postgresStorageError,
  type PostgresTarget,
} from './postgres-connection.js';
import { withStorageErrorsAppender } from '../sql/with-storage-errors.js';
import { PostgresItemStore } from './postgres-item-store.js';
import { ensureKey, postgresItemTables } from './postgres-item-tables.js';
import { postgresMigrations } from './postgres-migrations.js';

export interface PostgresStorageOptions {
  /** `postgres://` URL of the database. */
  readonly url: string;
  /** Connections in the pool (per process); a snapshot reader holds one more of its own. */
  readonly poolSize: number;
  readonly now?: () => number;
  /**
   * Items of a restored collection from which it is loaded into a table of its own rather than the shared
   * one; the engine's measured default when omitted (tests lower it).
   */
  readonly largeGenerationItems?: number;
  /** A schema to keep the tables in (created if missing); the connection's default otherwise. */
  readonly schema?: string;
}

/** Staging on PostgreSQL: a lookup in an own table still filling builds its key first (the lookups need it). */
class PostgresStagingStore extends SqlStagingStore {
  constructor(
    private readonly kdb: Kysely<Database>,
    generations: GenerationRegistry,
    appender: BulkAppender,
    collections: SqlCollectionStore,
    largeGenerationItems: number | undefined,
  ) {
    super(kdb, generations, postgresItemTables, appender, collections, largeGenerationItems);
  }

  override async existingIds(gen: number, ids: readonly string[]): Promise<Set<string>> {
    await ensureKey(this.kdb, gen);
    return super.existingIds(gen, ids);
  }
}

/** The scale-out storage: PostgreSQL, shared by any number of server and worker processes. */
export class PostgresStorage implements Storage {
  readonly capabilities: StorageCapabilities = { engine: 'postgres' };
  readonly sites: SqlSiteStore;
  readonly apiKeys: SqlApiKeyStore;
  readonly meta: SqlMetaStore;
  readonly collections: SqlCollectionStore;
  readonly items: PostgresItemStore;
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
    readonly pool: pg.Pool,
    readonly db: Kysely<Database>,
    target: PostgresTarget,
    now: () => number,
    largeGenerationItems: number | undefined,
  ) {
    const generations = new GenerationRegistry(db, postgresItemTables);
    this.sweeper = generations;
    this.sites = new SqlSiteStore(db, generations);
    this.apiKeys = new SqlApiKeyStore(db);
    this.meta = new SqlMetaStore(db);
    this.collections = new SqlCollectionStore(db, generations, now, { rowLocks: true });
    this.items = new PostgresItemStore(db, generations, now);
    this.links = new SqlLinkStore(db, now, { rowLocks: true });
    // Many processes claim jobs at once: each locks the row it claims and skips rows others hold.
    const capabilities: SqlCapabilities = { ...defaultSqlCapabilities, rowLocks: true };
    this.backups = new SqlBackupStore(db, capabilities);
    this.restorations = new SqlRestorationStore(db, capabilities);
    this.staging = new PostgresStagingStore(
      db,
      generations,
      withStorageErrorsAppender(new PostgresBulkAppender(pool, db), postgresStorageError),
      this.collections,
      largeGenerationItems,
    );
    this.schedule = new SqlScheduleStore(db, capabilities);
    this.maintenance = new SqlMaintenanceStore(db, capabilities);
    this.webhooks = new SqlWebhookStore(db);
    this.layout = new SqlLayoutMigrator(db, generations, postgresItemTables, {
      rowLocks: true,
      largeGenerationItems,
    });
    this.snapshots = new WorkerSnapshotSource(
      new URL('./postgres-snapshot-worker.js', import.meta.url),
      target,
      postgresStorageError,
    );
  }

  /**
   * Connects and migrates. Several processes may start at once: Kysely's migrator holds an advisory lock
   * on PostgreSQL while it migrates, so one migrates and the others find the work done.
   */
  static async open(options: PostgresStorageOptions): Promise<PostgresStorage> {
    const target: PostgresTarget = { url: options.url, schema: options.schema };
    const pool = createPool(target, options.poolSize);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: kyselyPool(pool) }) });
    try {
      if (options.schema !== undefined) {
        await sql
          .raw(`CREATE SCHEMA IF NOT EXISTS ${checkSchema(options.schema)}`)
          .execute(db)
          .catch(ignoreDuplicateSchema);
      }
      const provider: MigrationProvider = { getMigrations: () => Promise.resolve(postgresMigrations) };
      const { error } = await new Migrator({
        db,
        provider,
        // Kysely looks for its tables in any schema unless told which one is ours.
        ...(options.schema !== undefined && { migrationTableSchema: options.schema }),
      }).migrateToLatest();
      if (error)
        throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    return new PostgresStorage(pool, db, target, options.now ?? Date.now, options.largeGenerationItems);
  }

  async healthCheck(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.snapshots.close();
    await this.db.destroy();
  }
}

/** Two processes creating the schema at once: one of them sees a unique violation on the catalog. */
function ignoreDuplicateSchema(error: unknown): void {
  if (!(error instanceof StorageError && error.kind === 'CONFLICT')) throw error;
}
