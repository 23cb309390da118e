/**
 * What an SQL engine can do that changes how the shared stores take jobs, slots and leases. Each engine's
 * dialect (sql-dialect.ts) states its own; a flag it leaves out takes the default here (the behaviour that is
 * safe on every engine), resolved once in buildSqlStores.
 */
export interface SqlCapabilities {
  /**
   * Row locks: `SELECT … FOR UPDATE` / `FOR SHARE`, and `SKIP LOCKED` to pass over rows another transaction
   * holds (PostgreSQL). With them, many processes claim jobs at once, each locking the row it takes, and
   * jobs and garbage collection serialise on the site's row (see site-lock.ts). Without them (SQLite, one
   * writer at a time) a claim is a compare-and-set inside a transaction. Default: false.
   */
  readonly rowLocks: boolean;
}

/** The defaults: what an engine with none of the capabilities gets (SQLite). */
export const defaultSqlCapabilities: SqlCapabilities = { rowLocks: false };
