/**
 * Migrations 0004-collection-bin to 0006-shared-items on a database written before them, on both engines:
 * the collections, items and links there are untouched (their generations stay legacy ones, still
 * writable), and deleting one of them afterwards goes into the bin and comes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { postgresItemTables } from '../../src/adapters/storage/postgres/postgres-item-tables.js';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { generationLayout } from '../../src/adapters/storage/sql/item-relation.js';
import type { SqlEngine } from '../../src/adapters/storage/sql/sql-engine.js';
import { sqliteItemTables } from '../../src/adapters/storage/sqlite/sqlite-item-tables.js';
import { sqliteMigrations } from '../../src/adapters/storage/sqlite/sqlite-migrations.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { composeItem } from '../../src/domain/item-codec.js';
import type { ItemTarget, Storage } from '../../src/ports/storage.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { linksFrom } from '../helpers/storage-rows.js';

type Opened = Storage & { db: SqliteStorage['db'] };

/**
 * Writes data, then puts the database back where it was before 0004 (no bin table, neither it nor the
 * migrations after it run).
 */
async function writeBeforeBin(storage: Opened, engine: SqlEngine): Promise<void> {
  await storage.sites.create({
    id: 's',
    name: 'S',
    createdAt: 1,
    settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
  });
  const definition = {
    displayName: 'X',
    collectionType: 'NATIVE',
    fields: [],
    permissions: null,
    views: [],
    extra: {},
  } as const;
  await storage.collections.create('s', { id: 'A', ...definition }, 1);
  await storage.collections.create('s', { id: 'B', ...definition }, 1);
  await storage.items.write(live('A'), (tx) => tx.insert([item('a1')]));
  await storage.items.write(live('B'), (tx) => tx.insert([item('b1')]));
  await storage.links.insert(live('B'), [{ field: 'refs', fromId: 'b1', toCollectionId: 'A', toId: 'a1' }]);
  // Migrations run in order: the ones after 0004 are undone too, so that reopening runs 0004 and then them.
  assert.deepEqual(
    Object.keys(sqliteMigrations).filter((name) => name >= '0004'),
    [
      '0004-collection-bin',
      '0005-webhook-blocked',
      '0006-shared-items',
      '0007-layout-migration',
      '0008-backup-queue',
      '0009-site-quotas',
      '0010-event-batches',
      '0011-search-index',
      '0012-item-jobs',
      '0015-verification',
    ],
    'a new migration must be undone here as well',
  );
  await sql`DROP TABLE item_jobs`.execute(storage.db);
  await sql`DROP TABLE verifications`.execute(storage.db);
  await sql`DROP INDEX backups_verify_due`.execute(storage.db);
  for (const column of [
    'last_verified_at',
    'verify_result',
    'verify_error_code',
    'verify_error_message',
    'verify_due_at',
  ])
    await sql`ALTER TABLE backups DROP COLUMN ${sql.ref(column)}`.execute(storage.db);
  for (const column of ['backup_health', 'backup_health_changed_at'])
    await sql`ALTER TABLE sites DROP COLUMN ${sql.ref(column)}`.execute(storage.db);
  if (engine !== postgresItemTables) {
    await sql`DROP TABLE item_words_vocab`.execute(storage.db);
    await sql`DROP TABLE item_words`.execute(storage.db);
  }
  await sql`DROP TABLE item_text`.execute(storage.db);
  await sql`DROP INDEX events_created`.execute(storage.db);
  await sql`ALTER TABLE deliveries DROP COLUMN progress`.execute(storage.db);
  await sql`ALTER TABLE events DROP COLUMN batch_size`.execute(storage.db);
  await sql`DROP INDEX generations_site`.execute(storage.db);
  await sql`ALTER TABLE generations DROP COLUMN item_count`.execute(storage.db);
  for (const column of ['max_collections', 'max_items', 'max_backup_bytes', 'max_request_body_bytes'])
    await sql`ALTER TABLE sites DROP COLUMN ${sql.ref(column)}`.execute(storage.db);
  await sql`DROP INDEX backups_claim_order`.execute(storage.db);
  await sql`DROP TABLE layout_migration`.execute(storage.db);
  await undoSharedItems(storage.db, engine);
  await sql`ALTER TABLE webhooks DROP COLUMN blocked_reason`.execute(storage.db);
  await sql`DROP TABLE collection_bin`.execute(storage.db);
  await sql`DELETE FROM kysely_migration WHERE name >= '0004-collection-bin'`.execute(storage.db);
}

/**
 * Undoes 0006-shared-items: every generation becomes a legacy one (a small id, a table `items_<id>` without a
 * gen column, as releases before 0006 wrote them) and the shared tables go; on PostgreSQL links and
 * tombstones become plain tables again, so that 0006 runs its one-time copy of them.
 */
async function undoSharedItems(db: Opened['db'], engine: SqlEngine): Promise<void> {
  const { rows: gens } = await sql<{ id: number }>`SELECT id FROM generations ORDER BY id`.execute(db);
  for (const [i, { id: shared }] of gens.entries()) {
    const gen = Number(shared);
    assert.equal(generationLayout(gen), 'shared');
    const legacy = i + 1;
    await engine.createItemTable(db, legacy);
    await sql`INSERT INTO ${sql.table(`items_${legacy}`)} (id, created_at, updated_at, data, seq)
      SELECT id, created_at, updated_at, data, seq FROM items WHERE gen = ${gen}`.execute(db);
    await sql`UPDATE generations SET id = ${legacy} WHERE id = ${gen}`.execute(db);
    await sql`UPDATE collections SET live_gen = ${legacy} WHERE live_gen = ${gen}`.execute(db);
    await sql`UPDATE collections SET sandbox_gen = ${legacy} WHERE sandbox_gen = ${gen}`.execute(db);
    await sql`UPDATE links SET from_gen = ${legacy} WHERE from_gen = ${gen}`.execute(db);
    await sql`UPDATE links SET to_gen = ${legacy} WHERE to_gen = ${gen}`.execute(db);
    await sql`UPDATE tombstones SET gen = ${legacy} WHERE gen = ${gen}`.execute(db);
  }
  await sql`DROP TABLE items`.execute(db);
  await sql`DELETE FROM meta WHERE key LIKE 'generation_next_%'`.execute(db);
  if (engine === postgresItemTables) {
    await sql`DROP SEQUENCE generations_large_id`.execute(db);
    for (const [table, key, index] of [
      ['links', '(from_gen, from_id, field, to_gen, to_id)', 'links_to ON links (to_gen, to_id)'],
      ['tombstones', '(gen, id)', 'tombstones_seq ON tombstones (gen, seq)'],
    ] as const) {
      await sql.raw(`CREATE TABLE ${table}_plain AS SELECT * FROM ${table}`).execute(db);
      await sql.raw(`DROP TABLE ${table}`).execute(db);
      await sql.raw(`ALTER TABLE ${table}_plain RENAME TO ${table}`).execute(db);
      await sql.raw(`ALTER TABLE ${table} ADD PRIMARY KEY ${key}`).execute(db);
      await sql.raw(`CREATE INDEX ${index}`).execute(db);
    }
  }
}

function item(id: string) {
  return composeItem({ id, owner: 'o', createdAt: 1, updatedAt: 1, fields: { v: id } });
}

function live(collectionId: string): ItemTarget {
  return { siteId: 's', collectionId, environment: 'LIVE' };
}

async function checkAfterBin(storage: Storage): Promise<void> {
  assert.equal((await storage.items.get(live('A'), 'a1'))?.id, 'a1');
  // Legacy generations stay writable; a truncate after the migration gets a shared one.
  await storage.items.write(live('B'), (tx) => tx.insert([item('b2')]));
  assert.equal((await storage.items.get(live('B'), 'b2'))?.id, 'b2');
  assert.deepEqual(
    (await linksFrom(storage, live('B'))).map((l) => l.toId),
    ['a1'],
  );
  assert.equal(await storage.collections.delete('s', 'A'), true);
  assert.deepEqual(await linksFrom(storage, live('B')), []);
  await storage.collections.restoreDeleted('s', 'A', 0);
  assert.equal((await storage.items.get(live('A'), 'a1'))?.id, 'a1');
  assert.deepEqual(
    (await linksFrom(storage, live('B'))).map((l) => l.toId),
    ['a1'],
  );
}

describe('migration 0004-collection-bin on existing data', () => {
  it('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-bin-migration-'));
    try {
      const path = join(dir, 'test.db');
      const before = await SqliteStorage.open({ path });
      await writeBeforeBin(before, sqliteItemTables);
      await before.close();
      const after = await SqliteStorage.open({ path });
      try {
        await checkAfterBin(after);
      } finally {
        await after.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL', async () => {
    const database = await createTestDatabase('bin-migration');
    try {
      const before = await PostgresStorage.open({ url: database.url, poolSize: 2 });
      await writeBeforeBin(before, postgresItemTables);
      await before.close();
      const after = await PostgresStorage.open({ url: database.url, poolSize: 2 });
      try {
        await checkAfterBin(after);
      } finally {
        await after.close();
      }
    } finally {
      await database.drop();
    }
  });
});
