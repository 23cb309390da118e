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
import { itemTable, type Database } from '../sql/schema.js';
import type { SqlEngine } from '../sql/sql-engine.js';
import { SqlSiteStore } from '../sql/site-store.js';
import { SqlStagingStore, type BulkAppender } from '../sql/staging-store.js';
import { SqlWebhookStore } from '../sql/webhook-store.js';
import { SqliteLinkStore } from '../sqlite/sqlite-link-store.js';
import { SqliteSnapshotSource } from '../sqlite/sqlite-snapshot-source.js';
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
import { postgresMigrations } from './postgres-migrations.js';

export interface PostgresStorageOptions {
  /** `postgres://` URL of the database. */
  readonly url: string;
  /** Connections in the pool (per process); a snapshot reader holds one more of its own. */
  readonly poolSize: number;
  readonly now?: () => number;
  /** A schema to keep the tables in (created if missing); the connection's default otherwise. */
  readonly schema?: string;
}

const secondaryColumns = { created: 'created_at', updated: 'updated_at', seq: 'seq' } as const;

/**
 * A generation's items: `items_<gen> (id TEXT COLLATE "C" PRIMARY KEY, created_at, updated_at, data TEXT,
 * seq)`, a heap table keyed by id. A restoration's table is created bare — no key, no index — and filled
 * by COPY; the key and the indexes are built in one pass each when it is full (keeping the key during the
 * load measured 1.5x slower), so the early `which` requests of a load are left for that final build.
 */
const postgresEngine: SqlEngine = {
  async createItemTable(db, gen, options) {
    const t = itemTable(gen);
    await sql
      .raw(
        `CREATE TABLE ${t} (id TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
         data TEXT NOT NULL, seq BIGINT NOT NULL DEFAULT 0)`,
      )
      .execute(db);
    if (!options?.deferSecondaryIndexes) await this.createSecondaryIndexes(db, gen);
  },
  async createSecondaryIndexes(db, gen, which) {
    if (which !== undefined && !(await hasKey(db, gen))) return;
    const t = itemTable(gen);
    await sql
      .raw(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_pkey PRIMARY KEY (id)`)
      .execute(db)
      .catch(ignoreDuplicate);
    for (const index of which ?? (['created', 'updated', 'seq'] as const)) {
      await sql
        .raw(`CREATE INDEX IF NOT EXISTS ${t}_${index} ON ${t} (${secondaryColumns[index]})`)
        .execute(db);
    }
  },
  async hasItemTable(db, gen) {
    const { rows } = await sql<{
      t: string | null;
    }>`SELECT to_regclass(${itemTable(gen)})::text AS t`.execute(db);
    return rows[0]?.t != null;
  },
  async dropItemTable(db, gen) {
    await sql.raw(`DROP TABLE IF EXISTS ${itemTable(gen)}`).execute(db);
  },
};

async function hasKey(db: Kysely<Database>, gen: number): Promise<boolean> {
  const { rows } = await sql<{
    t: string | null;
  }>`SELECT to_regclass(${`${itemTable(gen)}_pkey`})::text AS t`.execute(db);
  return rows[0]?.t != null;
}

/** A key that exists already (built by an earlier call or attempt) is what was wanted. */
function ignoreDuplicate(error: unknown): void {
  const code = (error as { code?: unknown }).code;
  if (code !== '42P16' && code !== '42P07') throw error;
}

/** Staging on PostgreSQL: a lookup in a table still filling builds its key first (the lookups need it). */
class PostgresStagingStore extends SqlStagingStore {
  constructor(
    private readonly kdb: Kysely<Database>,
    generations: GenerationRegistry,
    appender: BulkAppender,
    collections: SqlCollectionStore,
  ) {
    super(kdb, generations, postgresEngine, appender, collections);
  }

  override async existingIds(gen: number, ids: readonly string[]): Promise<Set<string>> {
    if (!(await hasKey(this.kdb, gen))) {
      const t = itemTable(gen);
      await sql
        .raw(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_pkey PRIMARY KEY (id)`)
        .execute(this.kdb)
        .catch(ignoreDuplicate);
    }
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
    readonly pool: pg.Pool,
    readonly db: Kysely<Database>,
    target: PostgresTarget,
    now: () => number,
  ) {
    const generations = new GenerationRegistry(db, postgresEngine);
    this.sweeper = generations;
    this.sites = new SqlSiteStore(db, generations);
    this.apiKeys = new SqlApiKeyStore(db);
    this.meta = new SqlMetaStore(db);
    this.collections = new SqlCollectionStore(db, generations, now);
    this.items = new PostgresItemStore(db, generations, now);
    this.links = new SqliteLinkStore(db, now);
    // Many processes claim jobs at once: each locks the row it claims and skips rows others hold.
    const claims = { supportsSkipLocked: true };
    this.backups = new SqlBackupStore(db, claims);
    this.restorations = new SqlRestorationStore(db, claims);
    this.staging = new PostgresStagingStore(
      db,
      generations,
      withStorageErrorsAppender(new PostgresBulkAppender(pool, db), postgresStorageError),
      this.collections,
    );
    this.schedule = new SqlScheduleStore(db, claims);
    this.maintenance = new SqlMaintenanceStore(db, { rowLocks: true });
    this.webhooks = new SqlWebhookStore(db);
    this.snapshots = new SqliteSnapshotSource(
      target,
      new URL('./postgres-snapshot-worker.js', import.meta.url),
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
    return new PostgresStorage(pool, db, target, options.now ?? Date.now);
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
