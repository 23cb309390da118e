import type BetterSqlite3 from 'better-sqlite3';
import type { SqlDialect } from '../sql/sql-dialect.js';
import { sqliteStorageError } from './sqlite-connection.js';
import { SqliteBulkAppender } from './sqlite-bulk-appender.js';
import {
  ReservedBackupStore,
  ReservedRestorationStore,
  type SqliteDiskReserve,
} from './sqlite-disk-reserve.js';
import { SqliteItemStore } from './sqlite-item-store.js';
import { sqliteItemTables } from './sqlite-item-tables.js';

/**
 * SQLite for the shared stores. One writer at a time and no row locks, so it keeps the default capabilities:
 * a claim is a compare-and-set inside a transaction. Built per opened file: the bulk appender writes through
 * the raw connection, the snapshot reader opens the same path, and the job catalogs hold the disk reserve.
 */
export function sqliteSqlDialect(options: {
  readonly raw: BetterSqlite3.Database;
  readonly path: string;
  /** Held so that a job's failure is recorded even on a full disk; none for an in-memory database. */
  readonly reserve: SqliteDiskReserve | undefined;
}): SqlDialect<SqliteItemStore> {
  const { raw, path, reserve } = options;
  return {
    itemTables: sqliteItemTables,
    translateError: sqliteStorageError,
    createItemStore: (db, generations, now, capabilities) =>
      new SqliteItemStore(db, generations, now, capabilities),
    createBulkAppender: (db) => new SqliteBulkAppender(db, raw),
    snapshotWorker: { url: new URL('./sqlite-snapshot-worker.js', import.meta.url), workerData: { path } },
    ...(reserve && {
      createBackupStore: (db, capabilities) => new ReservedBackupStore(db, capabilities, reserve),
      createRestorationStore: (db, capabilities) => new ReservedRestorationStore(db, capabilities, reserve),
    }),
  };
}
