/**
 * Migration 0004-collection-bin on a database written before it, on both engines: the collections, items
 * and links there are untouched, and deleting one of them afterwards goes into the bin and comes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { sqliteMigrations } from '../../src/adapters/storage/sqlite/sqlite-migrations.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { composeItem } from '../../src/domain/item-codec.js';
import type { ItemTarget, Storage } from '../../src/ports/storage.js';
import { createTestDatabase } from '../helpers/postgres.js';

type Opened = Storage & { db: SqliteStorage['db'] };

/**
 * Writes data, then puts the database back where it was before 0004 (no bin table, neither it nor the
 * migrations after it run).
 */
async function writeBeforeBin(storage: Opened): Promise<void> {
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
  const item = (id: string) => composeItem({ id, owner: 'o', createdAt: 1, updatedAt: 1, fields: { v: id } });
  await storage.items.write(live('A'), (tx) => tx.insert([item('a1')]));
  await storage.items.write(live('B'), (tx) => tx.insert([item('b1')]));
  await storage.links.insert(live('B'), [{ field: 'refs', fromId: 'b1', toCollectionId: 'A', toId: 'a1' }]);
  // Migrations run in order: the ones after 0004 are undone too, so that reopening runs 0004 and then them.
  assert.deepEqual(
    Object.keys(sqliteMigrations).filter((name) => name >= '0004'),
    ['0004-collection-bin', '0005-webhook-blocked', '0006-backup-queue'],
    'a new migration must be undone here as well',
  );
  await sql`DROP INDEX backups_claim_order`.execute(storage.db);
  await sql`ALTER TABLE webhooks DROP COLUMN blocked_reason`.execute(storage.db);
  await sql`DROP TABLE collection_bin`.execute(storage.db);
  await sql`DELETE FROM kysely_migration WHERE name >= '0004-collection-bin'`.execute(storage.db);
}

function live(collectionId: string): ItemTarget {
  return { siteId: 's', collectionId, environment: 'LIVE' };
}

async function checkAfterBin(storage: Storage): Promise<void> {
  assert.equal((await storage.items.get(live('A'), 'a1'))?.id, 'a1');
  assert.deepEqual(
    (await storage.links.listFrom(live('B'))).map((l) => l.toId),
    ['a1'],
  );
  assert.equal(await storage.collections.delete('s', 'A'), true);
  assert.deepEqual(await storage.links.listFrom(live('B')), []);
  await storage.collections.restoreDeleted('s', 'A', 0);
  assert.equal((await storage.items.get(live('A'), 'a1'))?.id, 'a1');
  assert.deepEqual(
    (await storage.links.listFrom(live('B'))).map((l) => l.toId),
    ['a1'],
  );
}

describe('migration 0004-collection-bin on existing data', () => {
  it('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-bin-migration-'));
    try {
      const path = join(dir, 'test.db');
      const before = await SqliteStorage.open({ path });
      await writeBeforeBin(before);
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
      await writeBeforeBin(before);
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
