import pg from 'pg';

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
    ...(target.schema !== undefined && { options: `-c search_path=${checkSchema(target.schema)}` }),
  };
}

/** Error codes that mean "the database cannot answer now" (connection lost, server shutting down, full). */
const unavailable = /^(08|57P0|53)/;

/**
 * Gives a connection-loss error a code the rest of safekeep recognises as STORAGE_UNAVAILABLE (503 for a
 * request, a failed step for a job): the driver reports a dropped socket without one.
 */
export function markUnavailable(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const withCode = error as Error & { code?: unknown };
  if (typeof withCode.code === 'string' && unavailable.test(withCode.code)) {
    withCode.code = 'ECONNRESET';
  } else if (
    withCode.code === undefined &&
    /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i.test(
      error.message,
    )
  ) {
    withCode.code = 'ECONNRESET';
  }
  return error;
}

/**
 * The pool every query runs on. A connection that dies (a restarted server, pg_terminate_backend) emits
 * `error`: on the pool while idle, on the client while checked out. Both are handled here, so that it never
 * reaches the process; the pool drops the connection, the query in progress fails with an error that
 * `markUnavailable` marks, and the next query opens a fresh connection.
 */
export function createPool(target: PostgresTarget, size: number): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(target), max: size, idleTimeoutMillis: 30_000 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    // Promise-returning calls get their errors marked; a COPY stream (a Submittable) is returned as is.
    Object.assign(client, {
      query: (...args: unknown[]) => {
        const result = query(...args);
        return result instanceof Promise
          ? result.catch((error: unknown) => {
              throw markUnavailable(error);
            })
          : result;
      },
    });
  });
  return pool;
}

/** The pool as Kysely's PostgresDialect sees it: failures to connect are marked too. */
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
        throw markUnavailable(error);
      }
    },
    end: () => pool.end(),
  };
}
