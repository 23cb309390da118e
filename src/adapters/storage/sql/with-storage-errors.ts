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
    private readonly translate: StorageErrorTranslator,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (error) {
      throw this.translate(error);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (error) {
      throw this.translate(error);
    }
  }
}

function innerOf(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof TranslatingConnection ? connection.inner : connection;
}

/**
 * The driver of `dialect` with every failure translated: queries, connecting and the transaction
 * statements. The dialect's driver always sees its own connections (PostgreSQL's releases them through a
 * private symbol), so the wrapper holds no state of its own.
 */
class TranslatingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly translate: StorageErrorTranslator,
  ) {}

  private async guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.translate(error);
    }
  }

  init(): Promise<void> {
    return this.guard(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new TranslatingConnection(await this.guard(() => this.inner.acquireConnection()), this.translate);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.guard(() => this.inner.beginTransaction(innerOf(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.guard(() => this.inner.commitTransaction(innerOf(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.guard(() => this.inner.rollbackTransaction(innerOf(connection)));
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.guard(async () => {
      if (!this.inner.savepoint) throw new Error('the driver has no savepoints');
      await this.inner.savepoint(innerOf(connection), name, compile);
    });
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.guard(async () => {
      if (!this.inner.rollbackToSavepoint) throw new Error('the driver has no savepoints');
      await this.inner.rollbackToSavepoint(innerOf(connection), name, compile);
    });
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.guard(async () => {
      if (!this.inner.releaseSavepoint) throw new Error('the driver has no savepoints');
      await this.inner.releaseSavepoint(innerOf(connection), name, compile);
    });
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
