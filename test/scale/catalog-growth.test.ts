/**
 * The catalog grows with data, never with tenants (docs/ARCHITECTURE.md, "Storage"): creating sites and
 * collections, writing, truncating, deleting and restoring small collections adds rows, never tables or
 * indexes. Sites × collections are made directly through the storage port: 2,000 × 5 under `npm test`,
 * 20,000 × 5 under `npm run test:soak`. On PostgreSQL the relation count (pg_class) must not move; on the
 * embedded default the schema (sqlite_schema) must not either.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { composeItem } from '../../src/domain/item-codec.js';
import type { CollectionDefinition, Storage } from '../../src/ports/storage.js';
import { size } from '../helpers/fault-run.js';
import { createTestDatabase } from '../helpers/postgres.js';

const COLLECTIONS_PER_SITE = 5;
const T0 = Date.UTC(2030, 0, 7);

function definition(id: string): CollectionDefinition {
  return {
    id,
    displayName: id,
    collectionType: 'NATIVE',
    fields: [{ key: 'title', type: 'TEXT' }],
    permissions: null,
    views: [],
    extra: {},
  };
}

/** Runs `work` over `count` indexes with at most `width` at once. */
async function inParallel(count: number, width: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/**
 * Creates `sites` sites of five collections each; every 100th site also gets items in both environments,
 * a truncated collection, and a collection deleted into the bin and restored from it.
 */
async function fill(storage: Storage, sites: number, width: number): Promise<void> {
  await inParallel(sites, width, async (s) => {
    const siteId = `catalog-site-${s}`;
    await storage.sites.create({
      id: siteId,
      name: siteId,
      createdAt: T0,
      settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
    });
    for (let c = 0; c < COLLECTIONS_PER_SITE; c++) {
      await storage.collections.create(siteId, definition(`C${c}`), T0 + s);
    }
    if (s % 100 !== 0) return;
    for (const environment of ['LIVE', 'SANDBOX'] as const) {
      const items = Array.from({ length: 20 }, (_, i) =>
        composeItem({
          id: `item-${i}`,
          owner: 'owner',
          createdAt: T0 + i,
          updatedAt: T0 + i,
          fields: { title: `title ${i}` },
        }),
      );
      await storage.items.write({ siteId, collectionId: 'C0', environment }, (tx) => tx.insert(items));
    }
    await storage.items.write({ siteId, collectionId: 'C0', environment: 'LIVE' }, (tx) => tx.truncate());
    assert.equal(await storage.collections.delete(siteId, 'C1'), true);
    await storage.collections.restoreDeleted(siteId, 'C1', 0);
  });
}

async function sweepAll(storage: Storage): Promise<void> {
  while ((await storage.sweeper.sweep(10_000)) > 0);
}

describe('the catalog does not grow with sites and collections', () => {
  const sites = size(2_000, 20_000);

  describe('PostgreSQL', () => {
    let database: { url: string; drop(): Promise<void> };
    let storage: PostgresStorage;
    const relations = async (db: Kysely<Database>) =>
      Number((await sql<{ n: string }>`SELECT count(*) AS n FROM pg_class`.execute(db)).rows[0]?.n);

    before(async () => {
      database = await createTestDatabase('catalog-growth');
      storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
    });
    after(async () => {
      await storage?.close();
      await database?.drop();
    });

    it(`${sites} sites × ${COLLECTIONS_PER_SITE} collections add no relation`, async () => {
      const before = await relations(storage.db);
      await fill(storage, sites, 4);
      const collections = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM collections`.execute(storage.db);
      assert.equal(Number(collections.rows[0]?.n), sites * COLLECTIONS_PER_SITE);
      assert.equal(await relations(storage.db), before, 'relations after creating collections');
      await sweepAll(storage);
      assert.equal(await relations(storage.db), before, 'relations after sweeping');
    });
  });

  describe('SQLite', () => {
    let storage: SqliteStorage;
    const schemaRows = async (db: Kysely<Database>) =>
      Number((await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_schema`.execute(db)).rows[0]?.n);

    before(async () => {
      storage = await SqliteStorage.open({ path: ':memory:' });
    });
    after(async () => {
      await storage?.close();
    });

    it(`${sites} sites × ${COLLECTIONS_PER_SITE} collections change no schema`, async () => {
      const before = await schemaRows(storage.db);
      await fill(storage, sites, 1);
      assert.equal(await schemaRows(storage.db), before, 'schema objects after creating collections');
      await sweepAll(storage);
      assert.equal(await schemaRows(storage.db), before, 'schema objects after sweeping');
    });
  });
});
