import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { SqlCollectionStore } from '../sql/collection-store.js';
import type { GenerationRegistry } from '../sql/generation-registry.js';
import type { Database } from '../sql/schema.js';
import type { SqlDialect } from '../sql/sql-dialect.js';
import { SqlStagingStore, type BulkAppender } from '../sql/staging-store.js';
import { PostgresBulkAppender } from './postgres-bulk-appender.js';
import { postgresStorageError, type PostgresTarget } from './postgres-connection.js';
import { PostgresItemStore } from './postgres-item-store.js';
import { ensureKey, postgresItemTables } from './postgres-item-tables.js';

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

/**
 * PostgreSQL for the shared stores. Many processes claim jobs at once, so it has row locks: each locks the
 * row it claims and skips rows others hold. Built per pool: COPY goes through the pool, the snapshot reader
 * connects to the same target.
 */
export function postgresSqlDialect(options: {
  readonly pool: pg.Pool;
  readonly target: PostgresTarget;
}): SqlDialect<PostgresItemStore> {
  const { pool, target } = options;
  return {
    capabilities: { rowLocks: true },
    itemTables: postgresItemTables,
    translateError: postgresStorageError,
    createItemStore: (db, generations, now, capabilities) =>
      new PostgresItemStore(db, generations, now, capabilities),
    createBulkAppender: (db) => new PostgresBulkAppender(pool, db),
    snapshotWorker: { url: new URL('./postgres-snapshot-worker.js', import.meta.url), workerData: target },
    createStagingStore: (parts) =>
      new PostgresStagingStore(
        parts.db,
        parts.generations,
        parts.appender,
        parts.collections,
        parts.largeGenerationItems,
      ),
  };
}
