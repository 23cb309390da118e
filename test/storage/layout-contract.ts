/**
 * The item layouts of the SQL engines (docs/ARCHITECTURE.md, "Generations"), written once for both: small
 * generations are rows of the shared table (no DDL, no new relation), a restored collection at or above the
 * engine's threshold gets a table of its own (attached as a partition where the engine partitions), and a
 * generation written before migration 0006 (a legacy table without a gen column) is still read, written
 * and swept. Each engine's test file calls `runLayoutContract` with a factory.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { generationLayout, itemRelation } from '../../src/adapters/storage/sql/item-relation.js';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import type { SqlEngine } from '../../src/adapters/storage/sql/sql-engine.js';
import { composeItem } from '../../src/domain/item-codec.js';
import { parseSort } from '../../src/domain/query/sort.js';
import type { CollectionDefinition, ItemTarget, Storage, StoredItem } from '../../src/ports/storage.js';

export interface LayoutStorage {
  readonly storage: Storage & { readonly db: Kysely<Database> };
  readonly engine: SqlEngine;
  /** Relations (tables, indexes, sequences, …) in the database's catalog. */
  relations: () => Promise<number>;
  /** Whether a table is a partition of `items`; absent for engines that do not partition. */
  isPartition?: (table: string) => Promise<boolean>;
  cleanup: () => Promise<void>;
}

export interface LayoutFactory {
  create(options: { largeGenerationItems?: number }): Promise<LayoutStorage>;
}

const siteId = 'site-1';
const at = 1_700_000_000_000;

function item(id: string, n: number): StoredItem {
  return composeItem({ id, owner: 'owner', createdAt: at + n, updatedAt: at + n, fields: { n } });
}

function live(collectionId: string): ItemTarget {
  return { siteId, collectionId, environment: 'LIVE' };
}

const definition = (id: string): CollectionDefinition => ({
  id,
  displayName: id,
  collectionType: 'NATIVE',
  fields: [],
  permissions: null,
  views: [],
  extra: {},
});

async function liveGen(db: Kysely<Database>, collectionId: string): Promise<number> {
  const row = await db
    .selectFrom('collections')
    .select('live_gen')
    .where('site_id', '=', siteId)
    .where('id', '=', collectionId)
    .executeTakeFirstOrThrow();
  return Number(row.live_gen);
}

/** Points a collection's LIVE set at a generation, as a restoration's switch does, retiring the old one. */
async function pointAt(db: Kysely<Database>, collectionId: string, gen: number): Promise<void> {
  const old = await liveGen(db, collectionId);
  await db
    .updateTable('generations')
    .set({ state: 'ACTIVE', owner_restoration: null })
    .where('id', '=', gen)
    .execute();
  await db.updateTable('generations').set({ state: 'RETIRED' }).where('id', '=', old).execute();
  await db
    .updateTable('collections')
    .set({ live_gen: gen })
    .where('site_id', '=', siteId)
    .where('id', '=', collectionId)
    .execute();
}

async function sweepAll(storage: Storage): Promise<number> {
  let swept = 0;
  for (let round = 0; round < 1000; round++) {
    const n = await storage.sweeper.sweep(50);
    if (n === 0) return swept;
    swept += n;
  }
  throw new Error('the sweeper never finished');
}

async function sortedIds(storage: Storage, collectionId: string): Promise<string[]> {
  const page = await storage.items.query(live(collectionId), {
    filter: null,
    sort: parseSort([{ fieldName: '_createdDate', order: 'DESC' }]),
    limit: 100,
    withTotal: true,
  });
  assert.equal(page.total, page.items.length);
  return page.items.map((i) => i.id);
}

export function runLayoutContract(name: string, factory: LayoutFactory): void {
  describe(`item layouts: ${name}`, () => {
    let opened: LayoutStorage | undefined;
    const open = async (options: { largeGenerationItems?: number } = {}) => {
      opened = await factory.create(options);
      await opened.storage.sites.create({
        id: siteId,
        name: 'Site',
        createdAt: at,
        settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
      });
      return opened;
    };
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });
    after(async () => opened?.cleanup());

    it('creates, truncates and deletes collections without creating a table or any other relation', async () => {
      const { storage, relations } = await open();
      const before = await relations();
      for (const id of ['A', 'B', 'C']) {
        await storage.collections.create(siteId, definition(id), at);
        await storage.items.write(live(id), (tx) => tx.insert([item(`${id}1`, 1), item(`${id}2`, 2)]));
      }
      const first = await liveGen(storage.db, 'A');
      assert.equal(generationLayout(first), 'shared');
      await storage.items.write(live('A'), (tx) => tx.truncate());
      await storage.items.write(live('A'), (tx) => tx.insert([item('A3', 3)]));
      assert.equal(generationLayout(await liveGen(storage.db, 'A')), 'shared');
      assert.deepEqual(await sortedIds(storage, 'A'), ['A3']);
      assert.deepEqual(await sortedIds(storage, 'B'), ['B2', 'B1']);
      assert.equal(await storage.collections.delete(siteId, 'C'), true);
      assert.equal(await storage.sweeper.expireBin(Number.MAX_SAFE_INTEGER, 10), 1);
      assert.ok((await sweepAll(storage)) >= 4, 'the truncated and the deleted item sets are swept');
      assert.equal(await relations(), before, 'no relation was created or left behind');
      const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM items`.execute(storage.db);
      assert.equal(Number(rows[0]?.n), 3, 'only the rows of A and B are left in the shared table');
    });

    it('reads, writes and sweeps a generation written before the shared table (legacy)', async () => {
      const { storage, engine } = await open();
      await storage.collections.create(siteId, definition('L'), at);
      // The way releases before migration 0006 made a generation: a small id and a table without a gen column.
      const legacy = 7;
      assert.equal(generationLayout(legacy), 'legacy');
      await engine.createItemTable(storage.db, legacy);
      const old = item('old', 1);
      await sql`INSERT INTO items_7 (id, created_at, updated_at, data, seq)
        VALUES (${old.id}, ${old.createdAt}, ${old.updatedAt}, ${old.json}, 0)`.execute(storage.db);
      await storage.db
        .insertInto('generations')
        .values({
          id: legacy,
          site_id: siteId,
          collection_id: 'L',
          environment: 'LIVE',
          state: 'BUILDING',
          created_at: at,
        })
        .execute();
      await pointAt(storage.db, 'L', legacy);
      assert.equal((await storage.items.get(live('L'), 'old'))?.json, old.json);
      await storage.items.write(live('L'), async (tx) => {
        await tx.insert([item('new', 2)]);
        await tx.update([item('old', 0)]);
      });
      assert.deepEqual(await sortedIds(storage, 'L'), ['new', 'old']);
      const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM items_7`.execute(storage.db);
      assert.equal(Number(rows[0]?.n), 2, 'the rows stay in the legacy table');
      await storage.items.write(live('L'), (tx) => tx.truncate());
      await sweepAll(storage);
      assert.equal(await engine.hasItemTable(storage.db, legacy), false, 'the legacy table was dropped');
      const gone = await storage.db.selectFrom('generations').select('id').where('id', '=', legacy).execute();
      assert.deepEqual(gone, []);
    });

    it('stages a restored collection at the threshold in a table of its own, and below it in the shared table', async () => {
      const { storage, engine, relations, isPartition } = await open({ largeGenerationItems: 4 });
      const staging = storage.staging;
      await storage.collections.create(siteId, definition('Big'), at);
      await storage.collections.create(siteId, definition('Small'), at);
      const before = await relations();
      const small = await staging.createGeneration(siteId, 'Small', 'r1', at, 3);
      assert.equal(generationLayout(small), 'shared');
      assert.equal(await relations(), before, 'a small staged generation creates no relation');
      const big = await staging.createGeneration(siteId, 'Big', 'r1', at, 4);
      assert.equal(generationLayout(big), 'own');
      assert.ok(await engine.hasItemTable(storage.db, big));
      assert.ok((await relations()) > before);
      const staged = (ids: string[], from: number) =>
        ids.map((id, i) => ({
          id,
          createdAt: at + from + i,
          updatedAt: at + from + i,
          json: item(id, from + i).json,
        }));
      // As a restoration does: the indexes it keeps while loading are asked for before the first rows.
      await staging.buildIndexes(big, ['created']);
      await staging.appendItems(big, staged(['b1', 'b2'], 0));
      await staging.appendItems(small, staged(['s1', 's2', 's3'], 0));
      // Lookups of links between staged items, before the own table has its key and after.
      assert.deepEqual([...(await staging.existingIds(big, ['b1', 'zz']))], ['b1']);
      await staging.appendItems(big, staged(['b3', 'b4'], 2));
      assert.deepEqual([...(await staging.existingIds(small, ['s3', 'b3']))], ['s3']);
      await staging.buildIndexes(big);
      await staging.buildIndexes(small);
      assert.deepEqual([...(await staging.existingIds(big, ['b4', 's1']))], ['b4']);
      const bigTable = itemRelation(big).table;
      if (isPartition) assert.equal(await isPartition(bigTable), true, 'the own table is attached to items');
      await pointAt(storage.db, 'Big', big);
      await pointAt(storage.db, 'Small', small);
      assert.deepEqual(await sortedIds(storage, 'Big'), ['b4', 'b3', 'b2', 'b1']);
      assert.deepEqual(await sortedIds(storage, 'Small'), ['s3', 's2', 's1']);
      await storage.items.write(live('Big'), async (tx) => {
        await tx.update([item('b1', 9)]);
        await tx.remove(['b2']);
      });
      assert.deepEqual(await sortedIds(storage, 'Big'), ['b1', 'b4', 'b3']);
      // Retired, the own table is detached (where attached) and dropped; nothing of it is left.
      await storage.items.write(live('Big'), (tx) => tx.truncate());
      await sweepAll(storage);
      assert.equal(await engine.hasItemTable(storage.db, big), false, 'the own table was dropped');
      assert.equal(await relations(), before, 'the own table left no relation behind');
      assert.deepEqual(await sortedIds(storage, 'Small'), ['s3', 's2', 's1']);
    });
  });
}
