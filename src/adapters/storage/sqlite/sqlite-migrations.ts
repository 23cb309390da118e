import { sql, type Kysely, type Migration } from 'kysely';

/** Runs each statement of a migration; better-sqlite3 prepares one statement at a time. */
async function run(db: Kysely<unknown>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

/**
 * SQLite migrations. Names must match the PostgreSQL list one for one (a test checks it); the SQL differs
 * only where the engines do. Item tables are not here: each generation creates its own.
 */
export const sqliteMigrations: Record<string, Migration> = {
  '0001-data-store': {
    async up(db) {
      await run(db, [
        `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
        `CREATE TABLE sites (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          auto_backup_interval_days INTEGER,
          auto_backup_retention INTEGER
        )`,
        `CREATE TABLE api_keys (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          secret_hash TEXT NOT NULL UNIQUE,
          scopes TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          revoked_at INTEGER
        )`,
        `CREATE TABLE api_key_sites (
          key_id TEXT NOT NULL,
          site_id TEXT NOT NULL,
          PRIMARY KEY (key_id, site_id)
        ) WITHOUT ROWID`,
        `CREATE INDEX api_key_sites_site ON api_key_sites (site_id)`,
        `CREATE TABLE collections (
          site_id TEXT NOT NULL,
          id TEXT NOT NULL,
          display_name TEXT NOT NULL,
          collection_type TEXT NOT NULL,
          fields TEXT NOT NULL,
          permissions TEXT,
          views TEXT NOT NULL,
          extra TEXT NOT NULL,
          revision INTEGER NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          live_gen INTEGER NOT NULL,
          sandbox_gen INTEGER NOT NULL,
          live_version INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (site_id, id)
        )`,
        `CREATE TABLE generations (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          site_id TEXT NOT NULL,
          collection_id TEXT NOT NULL,
          environment TEXT NOT NULL,
          state TEXT NOT NULL,
          created_at INTEGER NOT NULL
        )`,
        `CREATE INDEX generations_state ON generations (state, id)`,
        `CREATE TABLE links (
          from_gen INTEGER NOT NULL,
          from_id TEXT NOT NULL,
          field TEXT NOT NULL,
          to_gen INTEGER NOT NULL,
          to_id TEXT NOT NULL,
          pos INTEGER NOT NULL,
          PRIMARY KEY (from_gen, from_id, field, to_gen, to_id)
        ) WITHOUT ROWID`,
        `CREATE INDEX links_to ON links (to_gen, to_id)`,
      ]);
    },
  },
};
