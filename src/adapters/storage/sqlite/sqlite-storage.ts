import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import type { StorageCapabilities } from '../../../ports/storage.js';
import type { Database } from '../sql/schema.js';
import { SqlStorage } from '../sql/sql-storage.js';
import { withStorageErrors } from '../sql/with-storage-errors.js';
import { openSqlite, sqliteStorageError } from './sqlite-connection.js';
import { withLoopTurns } from './sqlite-loop-turns.js';
import { SqliteDiskReserve } from './sqlite-disk-reserve.js';
import type { SqliteItemStore } from './sqlite-item-store.js';
import { sqliteMigrations } from './sqlite-migrations.js';
import { sqliteSqlDialect } from './sqlite-sql-dialect.js';

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

/**
 * The synchronous work a chain of statements may do before the event loop gets a turn (sqlite-loop-turns.ts):
 * the issue 14 goal is an event-loop delay p99 under 20 ms.
 */
const LOOP_TURN_BUDGET_MS = 8;

/**
 * The embedded default: one SQLite file in WAL mode. The stores come from the SQLite dialect; this class
 * keeps the file's own concerns: the checkpointer thread and the disk reserve.
 */
export class SqliteStorage extends SqlStorage<SqliteItemStore> {
  readonly capabilities: StorageCapabilities = { engine: 'sqlite' };

  private constructor(
    readonly raw: BetterSqlite3.Database,
    db: Kysely<Database>,
    now: () => number,
    path: string,
    largeGenerationItems: number | undefined,
    // A job's failure is recorded even when the disk is full (see SqliteDiskReserve).
    private readonly reserve: SqliteDiskReserve | undefined,
    private readonly checkpointer: Worker | undefined,
  ) {
    super(db, sqliteSqlDialect({ raw, path, reserve }), { now, largeGenerationItems });
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
      withLoopTurns(new SqliteDialect({ database: withStatementCache(raw) }), LOOP_TURN_BUDGET_MS),
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
    let reserve: SqliteDiskReserve | undefined;
    if (options.path !== ':memory:') {
      reserve = new SqliteDiskReserve(`${options.path}-reserve`, 1024 * 1024);
      reserve.hold();
    }
    return new SqliteStorage(
      raw,
      db,
      options.now ?? Date.now,
      options.path,
      options.largeGenerationItems,
      reserve,
      checkpointer,
    );
  }

  async healthCheck(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
    this.reserve?.hold();
  }

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
