import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { sqliteItemTables } from '../../src/adapters/storage/sqlite/sqlite-item-tables.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { runLayoutContract } from './layout-contract.js';
import { runStorageContract } from './storage-contract.js';

runStorageContract('SQLite', {
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-sqlite-'));
    const storage = await SqliteStorage.open({ path: join(dir, 'test.db') });
    return {
      storage,
      async cleanup() {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

runLayoutContract('SQLite', {
  async create(options) {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-sqlite-layout-'));
    const storage = await SqliteStorage.open({ path: join(dir, 'test.db'), ...options });
    return {
      storage,
      engine: sqliteItemTables,
      async relations() {
        const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_schema`.execute(
          storage.db,
        );
        return Number(rows[0]?.n);
      },
      async cleanup() {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
