/**
 * Round trip: random collections backed up and restored give exactly the backed-up live content (items to
 * the byte, and links), leave sandbox items, schemas and views as they were at restore time, and partial
 * restores into new destinations carry exactly their collection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { generationLayout } from '../../src/adapters/storage/sql/item-relation.js';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import type { ItemTarget } from '../../src/ports/storage.js';
import {
  assertSameContent,
  assertSameSite,
  contentOf,
  runJobs,
  type CollectionContent,
} from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { bigItem, pick, randomFields, randomId, randomItem, type Random } from '../helpers/random-data.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { composeItem } from '../../src/domain/item-codec.js';

const seed = Number(process.env.TEST_SEED ?? 20261127);
const P = '/wix-data/v2';

describe(`backup round trip (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  let env: TestEnv;
  let site: TestSite;
  let random: Random;
  const sizes: Record<string, number> = { Empty: 0, One: 1, Small: 37, Medium: 2500, Large: 20_000, Big: 3 };
  const ids: Record<string, string[]> = {};
  let backedUp: Record<string, CollectionContent> = {};

  const target = (collectionId: string, environment: 'LIVE' | 'SANDBOX' = 'LIVE'): ItemTarget => ({
    siteId: site.siteId,
    collectionId,
    environment,
  });
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });

  before(async () => {
    random = seededRandom(seed);
    // Medium and Large are restored into tables of their own (partitions on PostgreSQL), the rest as rows.
    env = await startTestEnv({ largeGenerationItems: 2500 });
    site = await env.createSite();
    for (const name of Object.keys(sizes)) {
      const fields = [
        {
          key: 'refs',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: pick(random, Object.keys(sizes)) } },
        },
      ];
      const res = await call('POST', `${P}/collections`, {
        collection: { id: name, fields, views: [{ name: 'v', filter: { f0: { $exists: true } } }] },
      });
      assert.equal(res.status, 200);
    }
    const at = Date.UTC(2025, 0, 1);
    for (const [name, size] of Object.entries(sizes)) {
      const items = Array.from({ length: size }, (_, i) =>
        name === 'Big' ? bigItem(`big-${i}`, at) : randomItem(random, randomId(random) + i, at + i),
      );
      ids[name] = items.map((i) => i.id);
      for (let i = 0; i < items.length; i += 1000) {
        await env.safekeep.storage.items.write(target(name), (tx) => tx.insert(items.slice(i, i + 1000)));
      }
      const sandbox = Array.from({ length: Math.min(size, 50) }, (_, i) =>
        randomItem(random, `sandbox-${i}`, at),
      );
      await env.safekeep.storage.items.write(target(name, 'SANDBOX'), (tx) => tx.insert(sandbox));
    }
    // Links along each collection's reference field, into its referenced collection.
    for (const name of Object.keys(sizes)) {
      const collection = await env.safekeep.storage.collections.get(site.siteId, name);
      const to = (
        collection?.fields[0]?.typeMetadata as { multiReference: { referencedCollectionId: string } }
      ).multiReference.referencedCollectionId;
      const from = ids[name] ?? [];
      const toIds = ids[to] ?? [];
      if (from.length === 0 || toIds.length === 0) continue;
      const links = Array.from({ length: Math.min(300, from.length * 2) }, () => ({
        field: 'refs',
        fromId: pick(random, from),
        toCollectionId: to,
        toId: pick(random, toIds),
      }));
      await env.safekeep.storage.links.insert(target(name), links);
    }
  });

  after(() => env.close());

  it('restores exactly the backed-up live content, and nothing else', async () => {
    backedUp = await contentOf(env, site.siteId);
    assert.equal(backedUp.Large?.items.length, 20_000);
    const created = await call('POST', '/wix-data/v2/backups', {});
    assert.equal(created.status, 200);
    await runJobs(env);
    const backupId = created.body.backup.id as string;
    const backup = (await call('GET', `/wix-data/v2/backups/${backupId}`)).body.backup;
    assert.equal(backup.status, 'READY', JSON.stringify(backup.error));
    assert.equal(
      Number(backup.itemCount),
      Object.values(sizes).reduce((a, b) => a + b, 0),
    );

    const schemaAtBackup = await env.safekeep.storage.collections.list(site.siteId, {
      limit: 100,
      offset: 0,
    });
    // Change everything a user might change.
    const now = Date.UTC(2025, 5, 1);
    await env.safekeep.storage.items.write(target('Medium'), async (tx) => {
      const victims = (ids.Medium ?? []).slice(0, 300);
      await tx.update(
        victims
          .slice(0, 150)
          .map((id) =>
            composeItem({ id, owner: 'x', createdAt: now, updatedAt: now, fields: randomFields(random) }),
          ),
      );
      await tx.remove(victims.slice(150));
      await tx.insert(Array.from({ length: 200 }, (_, i) => randomItem(random, `new-${i}`, now)));
    });
    await call('POST', `${P}/items/truncate`, { dataCollectionId: 'Large' });
    await call('DELETE', `${P}/collections/Small`);
    await call('POST', `${P}/items`, { dataCollectionId: 'Empty', dataItem: { data: { added: true } } });
    const one = await env.safekeep.storage.collections.get(site.siteId, 'One');
    await call('PUT', `${P}/collections`, {
      collection: {
        id: 'One',
        revision: String(one?.revision),
        fields: [{ key: 'changed', type: 'TEXT' }],
        views: [],
      },
    });
    await env.safekeep.storage.items.write(target('Medium', 'SANDBOX'), (tx) =>
      tx.insert([randomItem(random, 'sandbox-new', now)]),
    );
    const sandboxAtRestore = await contentOf(env, site.siteId, 'SANDBOX');
    const schemaAtRestore = await env.safekeep.storage.collections.list(site.siteId, {
      limit: 100,
      offset: 0,
    });

    const restore = await call('POST', `/wix-data/v2/backups/${backupId}/restore`, {});
    assert.equal(restore.status, 200);
    await runJobs(env);
    const restoration = (
      await call('GET', `/wix-data/v2/backups/restorations/${restore.body.restoration.id}`)
    ).body.restoration;
    assert.equal(restoration.status, 'COMPLETED', JSON.stringify(restoration.error));

    const restored = await contentOf(env, site.siteId);
    for (const name of Object.keys(sizes))
      assertSameContent(restored[name], backedUp[name], `${name} after restore`);
    const layouts = await env.safekeep.storage.collections.list(site.siteId, { limit: 100, offset: 0 });
    for (const c of layouts.collections) {
      const { live_gen } = await (env.safekeep.storage as unknown as { db: Kysely<Database> }).db
        .selectFrom('collections')
        .select('live_gen')
        .where('site_id', '=', site.siteId)
        .where('id', '=', c.id)
        .executeTakeFirstOrThrow();
      const large = (sizes[c.id] ?? 0) >= 2500;
      assert.equal(generationLayout(Number(live_gen)), large ? 'own' : 'shared', `${c.id}'s restored layout`);
    }
    // Sandbox items are untouched (the deleted collection's sandbox went with it and comes back empty).
    const sandbox = await contentOf(env, site.siteId, 'SANDBOX');
    for (const name of Object.keys(sizes)) {
      if (name === 'Small') assert.deepEqual(sandbox.Small?.items, []);
      else assertSameContent(sandbox[name], sandboxAtRestore[name], `${name}: sandbox untouched`);
    }
    // The recreated collection has its backed-up definition; the others keep theirs as they were at
    // restore time and gain the backed-up fields they lack (definitionMode MERGE, backups-api.md §6.2).
    const schemas = await env.safekeep.storage.collections.list(site.siteId, { limit: 100, offset: 0 });
    for (const c of schemas.collections) {
      const at = schemaAtRestore.collections.find((s) => s.id === c.id);
      const backed = schemaAtBackup.collections.find((s) => s.id === c.id);
      if (c.id === 'Small') {
        assert.deepEqual(c.fields, backed?.fields);
        assert.deepEqual(c.views, backed?.views);
      } else {
        const own = at?.fields ?? [];
        const gained = (backed?.fields ?? []).filter((f) => !own.some((o) => o.key === f.key));
        assert.deepEqual(c.fields, [...own, ...gained], `${c.id}: own fields kept, missing ones gained`);
        assert.deepEqual(c.views, at?.views, `${c.id}: views untouched`);
      }
    }
    assert.ok(
      schemas.collections.find((c) => c.id === 'One')?.fields.some((f) => f.key === 'refs'),
      'One regained the reference field its links are read through',
    );
  });

  it('undoes the restoration by restoring its safety backup', async () => {
    const beforeUndo = await contentOf(env, site.siteId);
    await call('POST', `${P}/items/truncate`, { dataCollectionId: 'Medium' });
    const withChange = await contentOf(env, site.siteId);
    const list = await call('GET', '/wix-data/v2/backups?type=ON_DEMAND&status=READY');
    const backupId = list.body.backups[0].id as string;
    const restore = await call('POST', `/wix-data/v2/backups/${backupId}/restore`, {});
    await runJobs(env);
    const restoration = (
      await call('GET', `/wix-data/v2/backups/restorations/${restore.body.restoration.id}`)
    ).body.restoration;
    assert.equal(restoration.status, 'COMPLETED');
    assertSameContent((await contentOf(env, site.siteId)).Medium, beforeUndo.Medium, 'Medium restored');
    const safety = (await call('GET', `/wix-data/v2/backups/${restoration.safetyBackupId}`)).body.backup;
    assert.equal(safety.status, 'READY');
    assert.equal(safety.snapshotDate, safety.requestedDate, 'it holds live content as of the switch');
    const undo = await call('POST', `/wix-data/v2/backups/${restoration.safetyBackupId}/restore`, {});
    assert.equal(undo.status, 200);
    await runJobs(env);
    assertSameSite(
      await contentOf(env, site.siteId),
      withChange,
      'the safety backup brings back exactly what was replaced',
    );
  });

  it('restores some collections into new destinations', async () => {
    const list = await call('GET', '/wix-data/v2/backups?type=ON_DEMAND&status=READY');
    const backupId = list.body.backups[0].id as string;
    const source = await contentOf(env, site.siteId);
    const restore = await call('POST', `/wix-data/v2/backups/${backupId}/partial-restore`, {
      restorationCollections: [
        {
          dataCollectionId: 'Medium',
          restoreDestination: { dataCollectionId: 'MediumCopy', displayName: '' },
        },
      ],
    });
    assert.equal(restore.status, 200);
    // §6.1: a copy under a new id gets a name that tells it apart from its source.
    assert.match(
      restore.body.restoration.restorationCollections[0].restoreDestination.displayName,
      /^Medium \(restored \d{4}-\d{2}-\d{2}\)$/,
    );
    await runJobs(env);
    const after = await contentOf(env, site.siteId);
    assertSameContent(
      { items: after.MediumCopy?.items ?? [], links: [] },
      { items: backedUp.Medium?.items ?? [], links: [] },
      'MediumCopy',
    );
    // The copy keeps the links in which it refers (to the originals), and takes none of others' links.
    const mediumField = (await env.safekeep.storage.collections.get(site.siteId, 'Medium'))?.fields[0] as {
      typeMetadata: { multiReference: { referencedCollectionId: string } };
    };
    const target = mediumField.typeMetadata.multiReference.referencedCollectionId;
    if (target !== 'Medium') assert.deepEqual(after.MediumCopy?.links, backedUp.Medium?.links);
    for (const name of Object.keys(sizes)) assertSameContent(after[name], source[name], `${name} untouched`);
  });
});
