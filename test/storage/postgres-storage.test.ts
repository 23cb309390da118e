import { sql } from 'kysely';
import { postgresItemTables } from '../../src/adapters/storage/postgres/postgres-item-tables.js';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { runLayoutContract } from './layout-contract.js';
import { runStorageContract } from './storage-contract.js';

runStorageContract('PostgreSQL', {
  async create() {
    const database = await createTestDatabase('storage-contract');
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
    return {
      storage,
      async cleanup() {
        await storage.close();
        await database.drop();
      },
    };
  },
});

runLayoutContract('PostgreSQL', {
  async create(options) {
    const database = await createTestDatabase('layout-contract');
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 4, ...options });
    return {
      storage,
      engine: postgresItemTables,
      async relations() {
        const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_class`.execute(storage.db);
        return Number(rows[0]?.n);
      },
      async isPartition(table) {
        const { rows } = await sql`SELECT 1 AS one FROM pg_inherits
          WHERE inhrelid = to_regclass(${table}) AND inhparent = to_regclass('items')`.execute(storage.db);
        return rows.length === 1;
      },
      async cleanup() {
        await storage.close();
        await database.drop();
      },
    };
  },
});
