import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';

/**
 * Tells how long the event loop has been held by the work of this turn. better-sqlite3 runs each statement
 * on the event loop and Kysely's promise for it resolves in a microtask, so a job awaiting one statement
 * after another (a restore of 2,000 collections records 2,000 item counts, a safety backup reads 2,000
 * collections' bases) never lets the loop take I/O: the whole chain is one block, and every other site's
 * request waits behind it. A stretch starts with the first statement of a turn and ends when the loop next
 * reaches its check phase (a setImmediate queued at the start clears it).
 */
class LoopStretch {
  private startedAt: number | undefined;

  constructor(private readonly budgetMs: number) {}

  /** Whether this turn's stretch has run past the budget (noting the start of one if none is open). */
  over(): boolean {
    const now = performance.now();
    if (this.startedAt === undefined) {
      this.startedAt = now;
      setImmediate(() => {
        this.startedAt = undefined;
      });
      return false;
    }
    return now - this.startedAt > this.budgetMs;
  }

  /** A turn of the event loop when the stretch is over budget; otherwise nothing (no promise to await). */
  turn(): Promise<void> | undefined {
    return this.over() ? yieldToEventLoop().then(() => undefined) : undefined;
  }
}

/** A connection that gives the event loop a turn before a statement once the stretch is over budget. */
class TurningConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly stretch: LoopStretch,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const turn = this.stretch.turn();
    // Inside a transaction the turn is taken holding Kysely's connection lock: other statements wait for
    // the transaction as they would anyway (none can land inside it), but the loop serves I/O meanwhile.
    return turn ? turn.then(() => this.inner.executeQuery<R>(query)) : this.inner.executeQuery<R>(query);
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

function innerOf(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof TurningConnection ? connection.inner : connection;
}

class TurningDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly stretch: LoopStretch,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // Before the lock is taken: a statement outside a transaction turns the loop without holding anyone up.
    await this.stretch.turn();
    return new TurningConnection(await this.inner.acquireConnection(), this.stretch);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(innerOf(connection), settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(innerOf(connection));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(innerOf(connection));
  }

  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    const savepoint = this.inner.savepoint?.bind(this.inner);
    if (!savepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return savepoint(innerOf(connection), name, compile);
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    const rollbackToSavepoint = this.inner.rollbackToSavepoint?.bind(this.inner);
    if (!rollbackToSavepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return rollbackToSavepoint(innerOf(connection), name, compile);
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    const releaseSavepoint = this.inner.releaseSavepoint?.bind(this.inner);
    if (!releaseSavepoint) return Promise.reject(new Error('the driver has no savepoints'));
    return releaseSavepoint(innerOf(connection), name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/**
 * `dialect` (SQLite's) with the event loop given a turn between statements whenever the synchronous work
 * of the current turn has lasted `budgetMs`: long chains of statements (jobs, maintenance) no longer hold
 * the server, and short requests never wait (docs/ARCHITECTURE.md, "The event loop on SQLite").
 */
export function withLoopTurns(dialect: Dialect, budgetMs: number): Dialect {
  const stretch = new LoopStretch(budgetMs);
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new TurningDriver(dialect.createDriver(), stretch),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
