/**
 * Fresh storages for the contract suites (test/storage/*-contract.ts): an SQLite file in a temporary
 * directory, or a PostgreSQL database of its own (an unreachable server fails the test, never skips it).
 * Each comes with the cleanup that closes and removes it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { createTestDatabase } from './postgres.js';

export interface FreshStorage<S> {
  readonly storage: S;
  cleanup(): Promise<void>;
}

export async function freshSqliteStorage(): Promise<FreshStorage<SqliteStorage>> {
  const dir = mkdtempSync(join(tmpdir(), 'safekeep-sqlite-'));
  const storage = await SqliteStorage.open({ path: join(dir, 'test.db') });
  return {
    storage,
    async cleanup() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `label` names the database (it shows in `pg_database` while the test runs). */
export async function freshPostgresStorage(label: string): Promise<FreshStorage<PostgresStorage>> {
  const database = await createTestDatabase(label);
  const storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
  return {
    storage,
    async cleanup() {
      await storage.close();
      await database.drop();
    },
  };
}
