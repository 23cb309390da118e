/**
 * Issue 10, item 3 — the stuck id. Releases before the Unicode rule accepted item ids holding a lone UTF-16
 * surrogate (`"id\ud800x"`); such an item could afterwards be neither updated nor removed. New ones are
 * refused (test/http/bad-input.test.ts); items already stored stay addressable by the id the API shows for
 * them, and a backup restores them byte for byte. On both stacks.
 */
import { itemRelation } from '../../src/adapters/storage/sql/item-relation.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { isWellFormedText } from '../../src/http/ill-formed-text.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';
const LONE = 'id\ud800x';

/** An item's JSON as an older release stored it: `_id` holds the lone surrogate (JSON escapes it). */
function oldItemJson(id: string, title: string): string {
  const date = { $date: '2025-06-01T00:00:00.000Z' };
  return JSON.stringify({ _id: id, title, _owner: 'old-key', _createdDate: date, _updatedDate: date });
}

/** The item rows of a collection as stored: id and data as hex of their bytes, sorted. */
async function storedRows(env: TestEnv, siteId: string, collectionId: string): Promise<string[]> {
  const url = env.safekeep.config.databaseUrl;
  const select = (gen: number, hex: (column: string) => string) => {
    const { table, scopeSql } = itemRelation(gen);
    return `SELECT ${hex('id')} AS id, ${hex('data')} AS data FROM ${table} WHERE ${scopeSql} ORDER BY 1`;
  };
  if (url === undefined) {
    const db = new Database(`${env.dataDir}/safekeep.db`);
    try {
      const { gen } = db
        .prepare('SELECT live_gen AS gen FROM collections WHERE site_id = ? AND id = ?')
        .get(siteId, collectionId) as { gen: number };
      const rows = db.prepare(select(gen, (c) => `hex(CAST(${c} AS BLOB))`)).all() as Record<
        string,
        string
      >[];
      return rows.map((r) => `${r.id} ${r.data}`);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const gens = await client.query<{ gen: string }>(
      'SELECT live_gen AS gen FROM collections WHERE site_id = $1 AND id = $2',
      [siteId, collectionId],
    );
    const gen = Number(gens.rows[0]?.gen);
    const rows = await client.query<{ id: string; data: string }>(
      select(gen, (c) => `upper(encode(convert_to(${c}, 'UTF8'), 'hex'))`),
    );
    return rows.rows.map((r) => `${r.id} ${r.data}`);
  } finally {
    await client.end();
  }
}

for (const stack of ['embedded', 'scaleout'] as const) {
  describe(`items stored with a lone surrogate in their id (${stack})`, () => {
    let env: TestEnv;
    let site: TestSite;
    const as = () => ({ key: site.apiKey });

    before(async () => {
      env = await startTestEnv({ stack });
      site = await env.createSite();
      const created = await env.call('POST', `${P}/collections`, {
        ...as(),
        body: { collection: { id: 'Old' } },
      });
      assert.equal(created.status, 200, created.text);
    });
    after(() => env.close());

    /** Stores an item as an older release did: straight through the storage port, no request rules. */
    async function plant(id: string, title: string): Promise<void> {
      const target = { siteId: site.siteId, collectionId: 'Old', environment: 'LIVE' as const };
      const at = Date.parse('2025-06-01T00:00:00.000Z');
      await env.safekeep.storage.items.write(target, (tx) =>
        tx.insert([{ id, createdAt: at, updatedAt: at, json: oldItemJson(id, title) }]),
      );
    }

    /** The id the API shows for the only item of the collection, and its data. */
    async function shown(): Promise<{ id: string; data: Record<string, unknown> } | undefined> {
      const res = await env.call('POST', `${P}/items/query`, { ...as(), body: { dataCollectionId: 'Old' } });
      assert.equal(res.status, 200, res.text);
      const items = res.body.dataItems as { id: string; data: Record<string, unknown> }[];
      assert.ok(items.length <= 1);
      return items[0];
    }

    it('can be read, updated and removed through the id the API shows for it', async () => {
      await plant(LONE, 'old');
      const item = await shown();
      assert.ok(item, 'the planted item is listed');
      assert.ok(isWellFormedText(item.id), `the shown id ${JSON.stringify(item.id)} is well formed`);
      assert.notEqual(item.id, LONE);
      assert.equal(item.data._id, LONE, "the item's JSON is shown as stored");
      const path = `${P}/items/${encodeURIComponent(item.id)}?dataCollectionId=Old`;

      const got = await env.call('GET', path, as());
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.dataItem.data.title, 'old');

      const updated = await env.call('POST', `${P}/items/update`, {
        ...as(),
        body: { dataCollectionId: 'Old', dataItem: { id: item.id, data: { title: 'new' } } },
      });
      assert.equal(updated.status, 200, updated.text);
      const after = await shown();
      assert.equal(after?.id, item.id, 'updated in place, not inserted beside it');
      assert.equal(after?.data.title, 'new');
      assert.equal((await env.call('GET', path, as())).body.dataItem.data.title, 'new');

      // Ids that hold U+FFFD but name nothing stay not found, wherever the U+FFFD is.
      for (const missing of ['\ufffdid', 'id\ufffd\ufffd\ufffdy', item.id.slice(0, -1)]) {
        const res = await env.call(
          'GET',
          `${P}/items/${encodeURIComponent(missing)}?dataCollectionId=Old`,
          as(),
        );
        assert.equal(res.status, 404, `${JSON.stringify(missing)}: ${res.text}`);
      }

      const removed = await env.call('POST', `${P}/items/remove`, {
        ...as(),
        body: { dataCollectionId: 'Old', dataItemId: item.id },
      });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(removed.body.dataItem.id, item.id);
      assert.equal(await shown(), undefined, 'the item is gone');
      assert.deepEqual(await storedRows(env, site.siteId, 'Old'), [], 'no row is left behind');
      const again = await env.call('POST', `${P}/items/remove`, {
        ...as(),
        body: { dataCollectionId: 'Old', dataItemId: item.id },
      });
      assert.equal(again.status, 404, again.text);
    });

    it('is removed by DELETE and by a bulk remove too', async () => {
      await plant(LONE, 'one');
      const first = await shown();
      assert.ok(first);
      const deleted = await env.call(
        'DELETE',
        `${P}/items/${encodeURIComponent(first.id)}?dataCollectionId=Old`,
        as(),
      );
      assert.equal(deleted.status, 200, deleted.text);
      assert.equal(await shown(), undefined);

      await plant(LONE, 'two');
      const second = await shown();
      assert.ok(second);
      const bulk = await env.call('POST', `${P}/bulk/items/remove`, {
        ...as(),
        body: { dataCollectionId: 'Old', dataItemIds: [second.id] },
      });
      assert.equal(bulk.status, 200, bulk.text);
      assert.equal(bulk.body.bulkActionMetadata.totalSuccesses, 1, bulk.text);
      assert.equal(await shown(), undefined);
    });

    it('is backed up and restored byte for byte', async () => {
      await plant(LONE, 'kept');
      const before = await storedRows(env, site.siteId, 'Old');
      assert.equal(before.length, 1);
      const backup = await env.call('POST', `${P}/backups`, { ...as(), body: {} });
      assert.equal(backup.status, 200, backup.text);
      await runJobs(env);
      const item = await shown();
      assert.ok(item);
      const removed = await env.call('POST', `${P}/items/remove`, {
        ...as(),
        body: { dataCollectionId: 'Old', dataItemId: item.id },
      });
      assert.equal(removed.status, 200, removed.text);
      const restore = await env.call('POST', `${P}/backups/${backup.body.backup.id}/restore`, {
        ...as(),
        body: {},
      });
      assert.equal(restore.status, 200, restore.text);
      await runJobs(env);
      const done = await env.call('GET', `${P}/backups/restorations/${restore.body.restoration.id}`, as());
      assert.equal(done.body.restoration.status, 'COMPLETED', done.text);
      assert.deepEqual(await storedRows(env, site.siteId, 'Old'), before, 'the same bytes as before');
      const back = await shown();
      assert.equal(back?.id, item.id);
      assert.equal(back?.data._id, LONE);
    });
  });
}
