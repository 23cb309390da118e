import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider } from 'kysely';
import type pg from 'pg';
import { StorageError } from '../../../ports/storage-error.js';
import type { StorageCapabilities } from '../../../ports/storage.js';
import type { Database } from '../sql/schema.js';
import { SqlStorage } from '../sql/sql-storage.js';
import { checkSchema, createPool, kyselyPool, type PostgresTarget } from './postgres-connection.js';
import type { PostgresItemStore } from './postgres-item-store.js';
import { postgresMigrations } from './postgres-migrations.js';
import { postgresSqlDialect } from './postgres-sql-dialect.js';

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

/**
 * The scale-out storage: PostgreSQL, shared by any number of server and worker processes. The stores come
 * from the PostgreSQL dialect; this class keeps the pool, the schema and migrating.
 */
export class PostgresStorage extends SqlStorage<PostgresItemStore> {
  readonly capabilities: StorageCapabilities = { engine: 'postgres' };

  private constructor(
    readonly pool: pg.Pool,
    db: Kysely<Database>,
    target: PostgresTarget,
    now: () => number,
    largeGenerationItems: number | undefined,
  ) {
    super(db, postgresSqlDialect({ pool, target }), { now, largeGenerationItems });
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
