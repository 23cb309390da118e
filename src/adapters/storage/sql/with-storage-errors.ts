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

  // A `.catch` rather than an async wrapper: no extra frame or promise on the path of every query.
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.inner.executeQuery<R>(query).catch(this.rethrow);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (error) {
      this.rethrow(error);
    }
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
    return this.inner.init().catch(this.rethrow);
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.inner
      .acquireConnection()
      .then((connection) => new TranslatingConnection(connection, this.rethrow), this.rethrow);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(innerOf(connection), settings).catch(this.rethrow);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(innerOf(connection)).catch(this.rethrow);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(innerOf(connection)).catch(this.rethrow);
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!this.inner.savepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return this.inner.savepoint(innerOf(connection), name, compile).catch(this.rethrow);
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!this.inner.rollbackToSavepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return this.inner.rollbackToSavepoint(innerOf(connection), name, compile).catch(this.rethrow);
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!this.inner.releaseSavepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return this.inner.releaseSavepoint(innerOf(connection), name, compile).catch(this.rethrow);
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
