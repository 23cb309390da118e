/**
 * Worker thread: the shared snapshot reader (sql/snapshot-worker.ts) on its own SQLite connection. A live
 * snapshot is one read transaction (WAL gives it a fixed snapshot while live writes go on); rows are read
 * synchronously through a statement iterator, the item's JSON as its stored bytes (a BLOB cast).
 */
import { workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { serveSnapshotWorker, type RowField } from '../sql/snapshot-worker.js';
import { openSqlite } from './sqlite-connection.js';

const { path } = workerData as { path: string };
const db: BetterSqlite3.Database = openSqlite(path, { cacheMiB: 8 });

serveSnapshotWorker({
  itemBytes: 'CAST(data AS BLOB)',
  begin() {
    db.exec('BEGIN');
  },
  all<T>(statement: string, params: readonly unknown[]) {
    return db.prepare(statement).all(...params) as T[];
  },
  stream(statement: string, params: readonly number[]) {
    const rows = db
      .prepare(statement)
      .raw()
      .iterate(...params) as IterableIterator<RowField[]>;
    return {
      next: () => {
        const next = rows.next();
        return next.done ? undefined : next.value;
      },
      close: () => {
        rows.return?.();
      },
    };
  },
  end() {
    if (db.inTransaction) db.exec('COMMIT');
  },
});
