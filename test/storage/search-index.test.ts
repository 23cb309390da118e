/**
 * The full-text index's rows on the stack SAFEKEEP_TEST_STACK names (docs/ARCHITECTURE.md, "Search"): one
 * per declared TEXT field of an item, none for a collection without TEXT fields, kept by writes and
 * definition changes, and swept with their generation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { currentGeneration } from '../../src/adapters/storage/sql/sql-item-store.js';
import { composeItem } from '../../src/domain/item-codec.js';
import { startTestEnv, testStack, type TestEnv } from '../helpers/harness.js';

const SITE = 'search-site';

describe('the full-text index rows', () => {
  let env: TestEnv;
  let db: Kysely<Database>;

  const target = (collectionId: string) => ({ siteId: SITE, collectionId, environment: 'LIVE' as const });
  const rowsOf = async (gen: number): Promise<number> => {
    const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM item_text
      WHERE gen = ${gen}`.execute(db);
    return Number(rows[0]?.n ?? 0);
  };
  const create = async (id: string, fields: Record<string, unknown>[]) => {
    const definition = {
      id,
      displayName: id,
      collectionType: 'NATIVE' as const,
      fields,
      permissions: null,
      views: [],
      extra: {},
    };
    return env.safekeep.storage.collections.create(SITE, definition, 1);
  };
  const insert = (collectionId: string, n: number) =>
    env.safekeep.storage.items.write(target(collectionId), (tx) =>
      tx.insert(
        Array.from({ length: n }, (_, i) =>
          composeItem({
            id: `i${i}`,
            owner: 'test',
            createdAt: 1,
            updatedAt: 1,
            fields: { title: `title ${i}`, note: `note ${i}`, count: i },
          }),
        ),
      ),
    );

  before(async () => {
    env = await startTestEnv();
    db = (env.safekeep.storage as unknown as { db: Kysely<Database> }).db;
    await env.safekeep.storage.sites.create({
      id: SITE,
      name: SITE,
      createdAt: 1,
      settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
    });
  });
  after(() => env.close());

  it('holds one row per declared TEXT field of each item, and none without TEXT fields', async () => {
    await create('Indexed', [
      { key: 'title', type: 'TEXT' },
      { key: 'note', type: 'TEXT' },
      { key: 'count', type: 'NUMBER' },
    ]);
    await create('Plain', [{ key: 'title', type: 'RICH_TEXT' }]);
    await insert('Indexed', 30);
    await insert('Plain', 30);
    assert.equal(await rowsOf(await currentGeneration(db, target('Indexed'))), 60);
    assert.equal(await rowsOf(await currentGeneration(db, target('Plain'))), 0);
  });

  it('follows removals and definition changes', async () => {
    const gen = await currentGeneration(db, target('Indexed'));
    await env.safekeep.storage.items.write(target('Indexed'), (tx) => tx.remove(['i0', 'i1']));
    assert.equal(await rowsOf(gen), 56);
    const collection = await env.safekeep.storage.collections.get(SITE, 'Indexed');
    assert.ok(collection);
    const onlyTitle = collection.fields.filter((f) => f.key !== 'note');
    await env.safekeep.storage.collections.update(SITE, { ...collection, fields: onlyTitle }, 1, 2);
    assert.equal(await rowsOf(gen), 28);
    const plain = await env.safekeep.storage.collections.get(SITE, 'Plain');
    assert.ok(plain);
    await env.safekeep.storage.collections.update(
      SITE,
      { ...plain, fields: [{ key: 'title', type: 'TEXT' }] },
      1,
      2,
    );
    assert.equal(await rowsOf(await currentGeneration(db, target('Plain'))), 30);
  });

  it('is swept with its generation', async () => {
    const old = await currentGeneration(db, target('Indexed'));
    await env.safekeep.storage.items.write(target('Indexed'), (tx) => tx.truncate());
    assert.equal(await rowsOf(old), 28, 'kept until the sweeper reclaims the retired generation');
    while ((await env.safekeep.storage.sweeper.sweep(10)) > 0);
    assert.equal(await rowsOf(old), 0);
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM item_text`.execute(db);
    assert.equal(Number(rows[0]?.n), 30, "only Plain's rows are left");
    if (testStack !== 'embedded') return;
    // The FTS5 table dropped the swept rows too (its docsize shadow table holds one row per document).
    const counted = await sql<{ n: number }>`SELECT count(*) AS n FROM item_words_docsize`.execute(db);
    assert.equal(Number(counted.rows[0]?.n), 30);
  });
});
