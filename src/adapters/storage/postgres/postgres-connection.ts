import pg from 'pg';
import { StorageError, type StorageErrorKind } from '../../../ports/storage-error.js';

/** Where the tables live: a database URL, and optionally a schema of it (tests use one per file). */
export interface PostgresTarget {
  readonly url: string;
  readonly schema?: string | undefined;
}

/** A schema name safe to splice into SQL and into a connection's search_path. */
export function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`not a schema name: ${schema}`);
  return schema;
}

/**
 * Integers are BIGINT (epoch milliseconds, change numbers, link positions); all stay below 2^53, so they
 * come back as numbers rather than the driver's default strings.
 */
const INT8 = 20;
const parseInt8 = (value: string): number => Number(value);
const types = {
  getTypeParser(oid: number, format: 'text' | 'binary' = 'text'): (value: string) => unknown {
    return oid === INT8 && format === 'text'
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as (value: string) => unknown);
  },
};

export function clientConfig(target: PostgresTarget): pg.ClientConfig {
  return {
    connectionString: target.url,
    types,
    application_name: 'safekeep',
    // public stays on the path after the schema: the extensions the search index uses (pg_trgm, btree_gin)
    // are installed there once per database, whichever schema migrated first (migration 0011).
    ...(target.schema !== undefined && { options: `-c search_path=${checkSchema(target.schema)},public` }),
  };
}

/** PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) by kind. */
const kindOfCode: readonly (readonly [RegExp, StorageErrorKind])[] = [
  [/^53100$/, 'FULL'], // disk_full
  // connection_exception, admin/crash shutdown, cannot_connect_now, insufficient resources (too many connections)
  [/^(08|57P0|53)/, 'UNAVAILABLE'],
  // serialization_failure, deadlock_detected, lock_not_available
  [/^(40001|40P01|55P03)$/, 'BUSY'],
  [/^58030$/, 'IO_ERROR'],
  // unique_violation; duplicate_schema (two processes creating the schema at once)
  [/^(23505|42P06)$/, 'CONFLICT'],
  // character_not_in_repertoire (NUL in text), untranslatable_character (NUL in a JSON string read as text)
  [/^(22021|22P05)$/, 'UNSTORABLE_VALUE'],
];

/** Socket errors, and the driver's own messages for a connection it lost (it gives those no code). */
const socketCode = /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH)$/;
const lostConnection =
  /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i;

/**
 * The storage boundary for PostgreSQL: a driver error the engine and HTTP act on becomes a StorageError (the
 * original is its `cause`); anything else (a bug) is returned as it is.
 */
export function postgresStorageError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof StorageError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    const match = kindOfCode.find(([pattern]) => pattern.test(code));
    if (match) return new StorageError(match[1], `${error.message} (${code})`, { cause: error });
    if (socketCode.test(code))
      return new StorageError('UNAVAILABLE', `${error.message} (${code})`, { cause: error });
    return error;
  }
  return lostConnection.test(error.message)
    ? new StorageError('UNAVAILABLE', error.message, { cause: error })
    : error;
}

/**
 * The pool every query runs on. A connection that dies (a restarted server, pg_terminate_backend) emits
 * `error`: on the pool while idle, on the client while checked out. Both are handled here, so that it never
 * reaches the process; the pool drops the connection, the query in progress fails with an error that
 * `postgresStorageError` translates (a StorageError UNAVAILABLE), and the next query opens a fresh connection.
 */
export function createPool(target: PostgresTarget, size: number): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(target), max: size, idleTimeoutMillis: 30_000 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    // Promise-returning calls get their errors translated; a COPY stream (a Submittable) is returned as is.
    Object.assign(client, {
      query: (...args: unknown[]) => {
        const result = query(...args);
        return result instanceof Promise
          ? result.catch((error: unknown) => {
              throw postgresStorageError(error);
            })
          : result;
      },
    });
  });
  return pool;
}

/** The pool as Kysely's PostgresDialect sees it: failures to connect are translated too. */
export function kyselyPool(pool: pg.Pool) {
  return {
    async connect(): Promise<pg.PoolClient> {
      try {
        // Lets socket events already received be handled first, so that idle connections the server has
        // just closed (a restart, pg_terminate_backend) leave the pool before one is handed out: otherwise
        // each dead idle connection fails one query (and costs a job one attempt) after every such event.
        await new Promise<void>((resolve) => setImmediate(resolve));
        return await pool.connect();
      } catch (error) {
        throw postgresStorageError(error);
      }
    },
    end: () => pool.end(),
  };
}
