import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { postgresItemTables } from '../../src/adapters/storage/postgres/postgres-item-tables.js';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { itemRelation } from '../../src/adapters/storage/sql/item-relation.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { freshPostgresStorage } from '../helpers/storage-factories.js';
import { runLayoutContract } from './layout-contract.js';
import { runStorageContract } from './storage-contract.js';

runStorageContract('PostgreSQL', { create: () => freshPostgresStorage('storage-contract') });

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

/** Creates site `s` and stages a generation of `n` items for `collectionId` (own when n >= the threshold 3). */
async function stage(storage: PostgresStorage, collectionId: string, n: number): Promise<number> {
  if (!(await storage.sites.get('s'))) {
    await storage.sites.create({
      id: 's',
      name: 'S',
      createdAt: 1,
      settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
    });
  }
  const gen = await storage.staging.createGeneration('s', collectionId, 'r', 1, n);
  await storage.staging.appendItems(
    gen,
    Array.from({ length: n }, (_, i) => ({
      id: `${collectionId}${i}`,
      createdAt: i,
      updatedAt: i,
      json: '{}',
    })),
  );
  return gen;
}

describe('PostgreSQL: attaching an own generation', () => {
  it('scans neither the new table nor the default partition, even with rows of small generations there', async () => {
    const database = await createTestDatabase('attach-no-scan');
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 2, largeGenerationItems: 3 });
    const client = new pg.Client({ connectionString: database.url });
    try {
      await stage(storage, 'small', 2);
      const big = await stage(storage, 'big', 3);
      // What ATTACH checks, it reports at DEBUG1: a scan shows as "verifying table".
      await client.connect();
      const notices: string[] = [];
      client.on('notice', (notice) => notices.push(notice.message ?? ''));
      await client.query('SET client_min_messages = debug1');
      const table = itemRelation(big).table;
      await client.query(`ALTER TABLE ${table} ADD PRIMARY KEY (gen, id)`);
      await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_gen CHECK (gen = ${big})`);
      // Adding the CHECK validates it by reading the new table once; ATTACH must not read anything again.
      notices.length = 0;
      await client.query(`ALTER TABLE items ATTACH PARTITION ${table} FOR VALUES IN (${big})`);
      assert.deepEqual(
        notices.filter((m) => m.startsWith('verifying table')),
        [],
        notices.join('\n'),
      );
      assert.ok(
        notices.some((m) =>
          m.includes('default partition "items_shared" is implied by existing constraints'),
        ),
        notices.join('\n'),
      );
      // The final build finds the table attached already and leaves it as it is; its rows read through items.
      await storage.staging.buildIndexes(big);
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM items WHERE gen = ${big}`.execute(
        storage.db,
      );
      assert.equal(Number(rows[0]?.n), 3);
    } finally {
      await client.end().catch(() => undefined);
      await storage.close();
      await database.drop();
    }
  });
});

describe('PostgreSQL: attaching an own generation while a long transaction holds the shared partition', () => {
  it('waits in short lock timeouts and attaches once the transaction ends, without failing the build', async () => {
    const database = await createTestDatabase('attach-busy');
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 2, largeGenerationItems: 3 });
    const holder = new pg.Client({ connectionString: database.url });
    try {
      const big = await stage(storage, 'big', 3);
      // A reader of small generations in a long transaction: ATTACH needs the default partition exclusively,
      // so each attempt times out (lock_timeout 500 ms) until the reader commits 1.5 s later.
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM items_shared');
      const released = new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          holder.query('COMMIT').then(() => resolve(), reject);
        }, 1500);
      });
      await storage.staging.buildIndexes(big);
      await released;
      const { rows } = await sql`SELECT 1 AS one FROM pg_inherits
        WHERE inhrelid = to_regclass(${itemRelation(big).table}) AND inhparent = to_regclass('items')`.execute(
        storage.db,
      );
      assert.equal(rows.length, 1, 'the own table is a partition of items');
      const count = await sql<{ n: string }>`SELECT count(*) AS n FROM items WHERE gen = ${big}`.execute(
        storage.db,
      );
      assert.equal(Number(count.rows[0]?.n), 3);
    } finally {
      await holder.end().catch(() => undefined);
      await storage.close();
      await database.drop();
    }
  });
});
