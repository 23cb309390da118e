import type { Kysely } from 'kysely';
import type { SqlBackupStore } from './backup-store.js';
import type { SqlCollectionStore } from './collection-store.js';
import type { GenerationRegistry } from './generation-registry.js';
import type { SqlRestorationStore } from './restoration-store.js';
import type { Database } from './schema.js';
import type { SqlCapabilities } from './sql-capabilities.js';
import type { SqlEngine } from './sql-engine.js';
import type { SqlItemStore } from './sql-item-store.js';
import type { BulkAppender, SqlStagingStore } from './staging-store.js';
import type { StorageErrorTranslator } from './with-storage-errors.js';

/** What a staging store is built from; a dialect that changes staging builds its own subclass from it. */
export interface StagingStoreParts {
  readonly db: Kysely<Database>;
  readonly generations: GenerationRegistry;
  /** Already behind the storage's error boundary. */
  readonly appender: BulkAppender;
  readonly collections: SqlCollectionStore;
  readonly largeGenerationItems: number | undefined;
}

/**
 * Everything that differs between the SQL engines, in one object per engine (and per opened storage: it may
 * hold the raw connection or the reader's address). buildSqlStores (build-sql-stores.ts) builds every store
 * from it; the stores themselves are written once against Kysely. The shape follows kysely's own Dialect and
 * DialectAdapterBase: required members are what each engine must say, optional ones default to the
 * behaviour that is safe on every engine.
 */
export interface SqlDialect<Items extends SqlItemStore = SqlItemStore> {
  /**
   * Capability flags (sql-capabilities.ts); a flag left out takes defaultSqlCapabilities (the engine can
   * do none of them: `rowLocks: false`).
   */
  readonly capabilities?: Partial<SqlCapabilities>;
  /** The item tables: DDL of own and legacy generations and how generation ids are allotted. */
  readonly itemTables: SqlEngine;
  /** Turns this engine's driver errors into StorageError; every path past Kysely's driver goes through it. */
  readonly translateError: StorageErrorTranslator;
  /** The item store: the shared writes with this engine's query compiler for reads. */
  createItemStore(
    db: Kysely<Database>,
    generations: GenerationRegistry,
    now: () => number,
    capabilities: SqlCapabilities,
  ): Items;
  /** How a restoration's staging appends many rows without holding up live writes (not yet translated). */
  createBulkAppender(db: Kysely<Database>): BulkAppender;
  /** The snapshot reader thread: its module and the data it connects with. */
  readonly snapshotWorker: { readonly url: URL; readonly workerData: unknown };
  /** The staging store when the engine needs more than SqlStagingStore; SqlStagingStore when omitted. */
  createStagingStore?(parts: StagingStoreParts): SqlStagingStore;
  /** The backup catalog when the engine wraps it (SQLite's disk reserve); SqlBackupStore when omitted. */
  createBackupStore?(db: Kysely<Database>, capabilities: SqlCapabilities): SqlBackupStore;
  /** The restoration catalog when the engine wraps it; SqlRestorationStore when omitted. */
  createRestorationStore?(db: Kysely<Database>, capabilities: SqlCapabilities): SqlRestorationStore;
}
