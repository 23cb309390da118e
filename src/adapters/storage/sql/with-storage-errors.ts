import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import type { BulkAppender } from './staging-store.js';

/** Turns a driver's error into a StorageError when it is one the engine and HTTP must tell apart. */
export type StorageErrorTranslator = (error: unknown) => unknown;

/** A connection whose failures reach Kysely's callers translated; the dialect's own driver gets `inner`. */
class TranslatingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly rethrow: (error: unknown) => never,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return guard(() => this.inner.executeQuery<R>(query), this.rethrow);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (error) {
      this.rethrow(error);
    }
  }
}

/**
 * Runs `run` with its failures translated, whether it rejects or throws before returning a promise
 * (Kysely's SQLite connection runs better-sqlite3 synchronously and throws). A `.catch` rather than an
 * async wrapper: no extra frame on the path of every query.
 */
function guard<T>(run: () => Promise<T>, rethrow: (error: unknown) => never): Promise<T> {
  try {
    return run().catch(rethrow);
  } catch (error) {
    return rethrow(error);
  }
}

function innerOf(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof TranslatingConnection ? connection.inner : connection;
}

/**
 * The driver of `dialect` with every failure translated: queries, connecting and the transaction
 * statements. The dialect's driver always sees its own connections (PostgreSQL's releases them through a
 * private symbol).
 */
class TranslatingDriver implements Driver {
  private readonly rethrow: (error: unknown) => never;

  constructor(
    private readonly inner: Driver,
    translate: StorageErrorTranslator,
  ) {
    this.rethrow = (error) => {
      throw translate(error);
    };
  }

  init(): Promise<void> {
    return guard(() => this.inner.init(), this.rethrow);
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.inner
      .acquireConnection()
      .then((connection) => new TranslatingConnection(connection, this.rethrow), this.rethrow);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return guard(() => this.inner.beginTransaction(innerOf(connection), settings), this.rethrow);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return guard(() => this.inner.commitTransaction(innerOf(connection)), this.rethrow);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return guard(() => this.inner.rollbackTransaction(innerOf(connection)), this.rethrow);
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const savepoint = this.inner.savepoint?.bind(this.inner);
    if (!savepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return guard(() => savepoint(innerOf(connection), name, compile), this.rethrow);
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const rollbackToSavepoint = this.inner.rollbackToSavepoint?.bind(this.inner);
    if (!rollbackToSavepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return guard(() => rollbackToSavepoint(innerOf(connection), name, compile), this.rethrow);
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const releaseSavepoint = this.inner.releaseSavepoint?.bind(this.inner);
    if (!releaseSavepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return guard(() => releaseSavepoint(innerOf(connection), name, compile), this.rethrow);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/**
 * The error boundary of a SQL storage: `dialect` with its driver's errors translated by `translate` where
 * Kysely executes them, so that every store built on the Kysely instance throws StorageError for the
 * failures callers act on (a Kysely plugin cannot: plugins see results, never errors).
 */
export function withStorageErrors(dialect: Dialect, translate: StorageErrorTranslator): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new TranslatingDriver(dialect.createDriver(), translate),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

/**
 * A bulk appender writes past Kysely's driver (SQLite's raw connection, PostgreSQL's COPY): its errors (a
 * restoration's staging filling the disk, a connection lost mid-copy) cross the same boundary here, once
 * per batch rather than once per row.
 */
export function withStorageErrorsAppender(
  appender: BulkAppender,
  translate: StorageErrorTranslator,
): BulkAppender {
  const rethrow = (error: unknown): never => {
    throw translate(error);
  };
  return {
    appendItems: (gen, items) => appender.appendItems(gen, items).catch(rethrow),
    appendLinks: (links) => appender.appendLinks(links).catch(rethrow),
  };
}
