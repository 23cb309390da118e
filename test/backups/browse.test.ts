/**
 * Browsing a backup without restoring it: for random queries (filters, sorts, projections, offset and
 * cursor paging), the backup's answer equals the answer of the same query on live data holding exactly
 * what a restore of the backup holds (a restore into a scratch collection), and the items a filter keeps
 * equal a brute-force filter over the restored items. The backup is an incremental one (a full layer and a
 * delta), so layers are merged. Bad input gets clear 4xx errors. Through the HTTP API and the SDK.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { composeItem, type StoredItem } from '../../src/domain/item-codec.js';
import { chunkKey } from '../../src/domain/manifest.js';
import { readManifest } from '../../src/engine/manifest-io.js';
import { parseFilter } from '../../src/domain/query/filter.js';
import { matchesFilter } from '../../src/domain/query/match.js';
import { SafekeepClient } from '../../src/sdk/index.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { seededRandom } from '../helpers/seeded-random.js';

const seed = Number(process.env.TEST_SEED ?? 20261203);
const D = '/wix-data/v2';
const A = '/_api/safekeep/v1';
const date = (day: number) => ({ $date: new Date(Date.UTC(2024, 0, day)).toISOString() });

describe(`browsing a backup (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  let env: TestEnv;
  let site: TestSite;
  let backupId: string;
  const restored: Record<string, unknown>[] = [];
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });

  const pool: unknown[] = [
    -2,
    -1,
    0,
    1,
    2.5,
    'a',
    'B',
    'ab',
    'Éa',
    'é',
    '',
    'z\u{1F600}',
    '\uE000',
    true,
    false,
    null,
  ];
  const value = (random: () => number): unknown => {
    const roll = random();
    if (roll < 0.1) return undefined;
    if (roll < 0.7) return pool[Math.floor(random() * pool.length)];
    if (roll < 0.8) return date(1 + Math.floor(random() * 4));
    if (roll < 0.9) return [pool[Math.floor(random() * 5)], pool[5 + Math.floor(random() * 5)]];
    return { x: pool[Math.floor(random() * pool.length)], y: random() < 0.5 ? 1 : 'k' };
  };
  const itemOf = (random: () => number, id: string, at: number): StoredItem => {
    const fields: Record<string, unknown> = { pad: 'p'.repeat(200 + Math.floor(random() * 300)) };
    for (const f of ['a', 'n', 'obj', 'list']) {
      const v = f === 'list' ? [value(random), value(random)] : value(random);
      if (v !== undefined) fields[f] = v;
    }
    return composeItem({
      id,
      owner: 'o',
      createdAt: at,
      updatedAt: at + Math.floor(random() * 3) * 1000,
      fields,
    });
  };

  before(async () => {
    const random = seededRandom(seed);
    env = await startTestEnv();
    site = await env.createSite();
    assert.equal((await call('POST', `${D}/collections`, { collection: { id: 'Things' } })).status, 200);
    const target = { siteId: site.siteId, collectionId: 'Things', environment: 'LIVE' as const };
    const at = Date.UTC(2025, 0, 1);
    const items = Array.from({ length: 3000 }, (_, i) =>
      itemOf(
        random,
        `${String(i % 7 === 0 ? 'Z' : 'i')}${(i * 7919) % 10007}${i % 13 === 0 ? 'é' : ''}`,
        at + (i % 5) * 1000,
      ),
    );
    for (let i = 0; i < items.length; i += 1000)
      await env.safekeep.storage.items.write(target, (tx) => tx.insert(items.slice(i, i + 1000)));
    const first = await call('POST', D + '/backups', {});
    await runJobs(env);
    assert.equal((await call('GET', `${D}/backups/${first.body.backup.id}`)).body.backup.status, 'READY');
    // Changes after the full backup: the next backup holds them as a delta layer.
    env.clock.advance(60_000);
    const ids = items.map((i) => i.id);
    for (let i = 0; i < 40; i++) {
      const id = ids[Math.floor(random() * ids.length)] as string;
      await call('PUT', `${D}/items/${encodeURIComponent(id)}`, {
        dataCollectionId: 'Things',
        dataItem: { id, data: { a: value(random) ?? 1, n: 'updated', pad: 'u' } },
      });
    }
    for (let i = 0; i < 20; i++) {
      const id = ids[Math.floor(random() * ids.length)] as string;
      await call('DELETE', `${D}/items/${encodeURIComponent(id)}?dataCollectionId=Things`);
    }
    for (let i = 0; i < 20; i++)
      await call('POST', `${D}/items`, {
        dataCollectionId: 'Things',
        dataItem: { id: `new-${i}`, data: { a: value(random) ?? 0, n: i } },
      });
    const second = await call('POST', D + '/backups', {});
    backupId = second.body.backup.id;
    await runJobs(env);
    const backup = await env.safekeep.storage.backups.getBackup(site.siteId, backupId);
    assert.equal(backup?.status, 'READY');
    if (!backup?.manifest) throw new Error('the READY backup has no manifest');
    const manifest = await readManifest(env.safekeep.blobs, backup.manifest, {
      backupId,
      siteId: site.siteId,
    });
    const things = manifest.collections.find((c) => c.id === 'Things');
    assert.ok((things?.layers.length ?? 0) >= 2, 'the backup holds a delta layer over its full layer');
    assert.ok((things?.layers[0]?.upserts.chunks.length ?? 0) >= 2, 'the full layer has several chunks');
    // Live data moves on; the backup must not.
    await call('POST', `${D}/items`, {
      dataCollectionId: 'Things',
      dataItem: { id: 'after-backup', data: {} },
    });
    // What a restore of the backup holds: a scratch collection restored from it.
    const restore = await call('POST', `${D}/backups/${backupId}/partial-restore`, {
      restorationCollections: [
        {
          dataCollectionId: 'Things',
          restoreDestination: { dataCollectionId: 'Scratch', displayName: 'Scratch' },
        },
      ],
    });
    assert.equal(restore.status, 200, restore.text);
    await runJobs(env);
    const done = await call('GET', `${D}/backups/restorations/${restore.body.restoration.id}`);
    assert.equal(done.body.restoration.status, 'COMPLETED');
    let offset = 0;
    for (;;) {
      const page = await call('POST', `${D}/items/query`, {
        dataCollectionId: 'Scratch',
        query: { paging: { limit: 1000, offset } },
      });
      restored.push(...page.body.dataItems.map((d: { data: Record<string, unknown> }) => d.data));
      if (!page.body.pagingMetadata.hasNext) break;
      offset += 1000;
    }
    assert.equal(restored.length, things?.itemCount);
  });

  after(async () => {
    await env.close();
  });

  const field = fc.constantFrom(
    'a',
    'n',
    'list',
    'obj',
    'obj.x',
    'obj.y',
    '_id',
    '_createdDate',
    '_updatedDate',
    'missing',
  );
  const operand = fc.oneof(
    fc.constantFrom(-1, 0, 1, 2.5, 'a', 'b', 'ab', 'éa', '', 'Z5', 'i1', '\uE000'),
    fc.integer({ min: 1, max: 4 }).map(date),
  );
  const leaf = fc.oneof(
    fc
      .tuple(field, fc.constantFrom('$eq', '$ne', '$lt', '$lte', '$gt', '$gte'), operand)
      .map(([f, op, v]) => ({ [f]: { [op]: v } })),
    fc
      .tuple(field, fc.constantFrom('$eq', '$ne'), fc.oneof(fc.boolean(), fc.constant(null)))
      .map(([f, op, v]) => ({
        [f]: { [op]: v },
      })),
    fc
      .tuple(
        field,
        fc.constantFrom('$startsWith', '$endsWith', '$contains'),
        fc.constantFrom('a', 'B', 'é', 'i1', ''),
      )
      .map(([f, op, v]) => ({ [f]: { [op]: v } })),
    fc
      .tuple(field, fc.constantFrom('$in', '$hasSome', '$hasAll'), fc.array(operand, { maxLength: 3 }))
      .map(([f, op, v]) => ({ [f]: { [op]: v } })),
    fc.tuple(field, fc.boolean()).map(([f, v]) => ({ [f]: { $exists: v } })),
  );
  const filter = fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: leaf },
    { weight: 2, arbitrary: fc.array(leaf, { minLength: 2, maxLength: 3 }).map((f) => ({ $or: f })) },
    { weight: 1, arbitrary: leaf.map((f) => ({ $not: f })) },
  );
  const sort = fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 4,
      arbitrary: fc
        .uniqueArray(
          fc.constantFrom('a', 'n', 'obj', 'list', '_createdDate', '_updatedDate', '_id', 'missing'),
          {
            minLength: 1,
            maxLength: 2,
          },
        )
        .chain((names) =>
          fc.tuple(
            ...names.map((n) => fc.constantFrom('ASC', 'DESC').map((order) => ({ fieldName: n, order }))),
          ),
        ),
    },
  );
  const fields = fc.oneof(fc.constant(undefined), fc.subarray(['a', 'obj.x', 'n'], { minLength: 1 }));

  it('answers every random query exactly as the same query over the restored items, page after page', async () => {
    await fc.assert(
      fc.asyncProperty(
        filter,
        sort,
        fields,
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 80 }),
        async (f, s, projection, limit, offset) => {
          const query = {
            ...(f && { filter: f }),
            ...(s && { sort: s }),
            ...(projection && { fields: projection }),
          };
          // Offset paging, with the total.
          const live = await call('POST', `${D}/items/query`, {
            dataCollectionId: 'Scratch',
            query: { ...query, paging: { limit, offset } },
            returnTotalCount: true,
          });
          const browsed = await call('POST', `${A}/backups/${backupId}/items/query`, {
            dataCollectionId: 'Things',
            query: { ...query, paging: { limit, offset } },
            returnTotalCount: true,
          });
          // A query the live API refuses (a string compared with a date field) is refused the same way.
          if (live.status === 400) {
            assert.equal(browsed.status, 400, browsed.text);
            assert.deepEqual(browsed.body, live.body);
            return;
          }
          assert.equal(live.status, 200, live.text);
          assert.equal(browsed.status, 200, browsed.text);
          assert.deepEqual(
            browsed.body.dataItems,
            live.body.dataItems.map((d: object) => ({ ...d, dataCollectionId: 'Things' })),
          );
          const { cursors: _l, ...liveMeta } = live.body.pagingMetadata;
          const { cursors: _b, ...browsedMeta } = browsed.body.pagingMetadata;
          assert.deepEqual(browsedMeta, liveMeta);
          // Brute force: the filter over every restored item keeps exactly the total.
          const parsed = parseFilter(f ?? null);
          assert.equal(
            browsed.body.pagingMetadata.total,
            restored.filter((d) => matchesFilter(parsed, d)).length,
          );
          // Cursor paging: three pages forward, then one back.
          let liveCursor: string | undefined;
          let browseCursor: string | undefined;
          let livePage = live;
          let browsePage = browsed;
          for (let page = 0; page < 3; page++) {
            const req = (cursor: string | undefined) => ({
              query: cursor ? { cursorPaging: { cursor, limit } } : { ...query, cursorPaging: { limit } },
            });
            livePage = await call('POST', `${D}/items/query`, {
              dataCollectionId: 'Scratch',
              ...req(liveCursor),
            });
            browsePage = await call('POST', `${A}/backups/${backupId}/items/query`, {
              dataCollectionId: 'Things',
              ...req(browseCursor),
            });
            assert.equal(browsePage.status, 200, browsePage.text);
            assert.deepEqual(
              browsePage.body.dataItems.map((d: { id: string }) => d.id),
              livePage.body.dataItems.map((d: { id: string }) => d.id),
            );
            assert.equal(browsePage.body.pagingMetadata.hasNext, livePage.body.pagingMetadata.hasNext);
            liveCursor = livePage.body.pagingMetadata.cursors.next ?? undefined;
            browseCursor = browsePage.body.pagingMetadata.cursors.next ?? undefined;
            if (!liveCursor) break;
          }
          const livePrev = livePage.body.pagingMetadata.cursors.prev;
          const browsePrev = browsePage.body.pagingMetadata.cursors.prev;
          assert.equal(Boolean(browsePrev), Boolean(livePrev));
          if (livePrev && browsePrev) {
            const back = await call('POST', `${A}/backups/${backupId}/items/query`, {
              dataCollectionId: 'Things',
              query: { cursorPaging: { cursor: browsePrev } },
            });
            const liveBack = await call('POST', `${D}/items/query`, {
              dataCollectionId: 'Scratch',
              query: { cursorPaging: { cursor: livePrev } },
            });
            assert.deepEqual(
              back.body.dataItems.map((d: { id: string }) => d.id),
              liveBack.body.dataItems.map((d: { id: string }) => d.id),
            );
          }
          // Count.
          const counted = await call('POST', `${A}/backups/${backupId}/items/count`, {
            dataCollectionId: 'Things',
            ...(f && { filter: f }),
          });
          assert.equal(counted.body.totalCount, live.body.pagingMetadata.total);
        },
      ),
      { seed, numRuns: 60 },
    );
  });

  it('gets single items by id as the restore holds them, and the SDK reads the same', async () => {
    const port = await env.listen();
    const client = new SafekeepClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: site.apiKey,
      siteId: site.siteId,
    });
    for (const data of restored.slice(0, 300).filter((_, i) => i % 7 === 0)) {
      const id = data._id as string;
      const got = await call(
        'GET',
        `${A}/backups/${backupId}/items/${encodeURIComponent(id)}?dataCollectionId=Things`,
      );
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(got.body.dataItem.data, data);
      assert.deepEqual((await client.backupContents.get(backupId, 'Things', id)).data, data);
    }
    const first = restored[0] ?? {};
    const projected = await client.backupContents.get(backupId, 'Things', first._id as string, {
      fields: ['a'],
    });
    assert.deepEqual(projected.data, { _id: first._id, ...('a' in first && { a: first.a }) });
    const collections = await client.backupContents.collections(backupId);
    assert.deepEqual(
      collections.map((c) => [c.id, c.itemCount]),
      [['Things', restored.length]],
    );
    const page = await client.backupContents.query(
      backupId,
      'Things',
      { filter: { n: 'updated' } },
      { returnTotalCount: true },
    );
    assert.equal(page.pagingMetadata.total, restored.filter((d) => d.n === 'updated').length);
    assert.equal(
      await client.backupContents.count(backupId, 'Things', { n: 'updated' }),
      page.pagingMetadata.total,
    );
  });

  it('compares two backups reading only the chunks they do not share, and reports a damaged chunk', async () => {
    const same = { siteId: site.siteId, collectionId: 'Same', environment: 'LIVE' as const };
    assert.equal((await call('POST', `${D}/collections`, { collection: { id: 'Same' } })).status, 200);
    const at = Date.UTC(2025, 0, 1);
    const pad = 'q'.repeat(400);
    const first = Array.from({ length: 3000 }, (_, i) =>
      composeItem({
        id: `m${String(i).padStart(5, '0')}`,
        owner: 'o',
        createdAt: at,
        updatedAt: at,
        fields: { pad },
      }),
    );
    await env.safekeep.storage.items.write(same, (tx) => tx.insert(first));
    const take = async () => {
      const res = await call('POST', `${D}/backups`, {});
      await runJobs(env);
      return res.body.backup.id as string;
    };
    const g1 = await take();
    // More new items than a delta layer takes: the next backup of Same is a full one, whose first chunks are
    // the very chunks of the previous one (content-defined chunking by id).
    const added = Array.from({ length: 1200 }, (_, i) =>
      composeItem({
        id: `z${String(i).padStart(5, '0')}`,
        owner: 'o',
        createdAt: at,
        updatedAt: at,
        fields: { pad },
      }),
    );
    await env.safekeep.storage.items.write(same, (tx) => tx.insert(added));
    const g2 = await take();
    const chunksOf = async (id: string) => {
      const backup = await env.safekeep.storage.backups.getBackup(site.siteId, id);
      if (!backup?.manifest) throw new Error('no manifest');
      const manifest = await readManifest(env.safekeep.blobs, backup.manifest, {
        backupId: id,
        siteId: site.siteId,
      });
      const entry = manifest.collections.find((c) => c.id === 'Same');
      assert.equal(entry?.layers.length, 1, 'a full layer only');
      return entry?.layers[0]?.upserts.chunks ?? [];
    };
    const [c1, c2] = [await chunksOf(g1), await chunksOf(g2)];
    const shared = c1.filter((c) => c2.some((d) => d.hash === c.hash));
    assert.ok(shared.length >= 1, `${shared.length} shared of ${c1.length} and ${c2.length} chunks`);
    const reader = env.safekeep.services.browse.reader;
    const before = reader.fetched;
    const diff = await call('POST', `${A}/backups/${g1}/diff`, { against: g2, dataCollectionId: 'Same' });
    assert.equal(diff.status, 200, diff.text);
    assert.deepEqual(diff.body.diff.collections[0], {
      dataCollectionId: 'Same',
      presence: 'BOTH',
      itemsAdded: 1200,
      itemsRemoved: 0,
      itemsChanged: 0,
      definitionChanges: { fieldsAdded: [], fieldsRemoved: [], fieldsRetyped: [] },
      method: 'FULL',
    });
    assert.equal(
      reader.fetched - before,
      c1.length + c2.length - 2 * shared.length,
      'shared chunks are not read',
    );
    const ids = await call('POST', `${A}/backups/${g1}/diff/items`, {
      against: g2,
      dataCollectionId: 'Same',
      limit: 1000,
    });
    assert.deepEqual(
      ids.body.changes.slice(0, 3),
      ['z00000', 'z00001', 'z00002'].map((dataItemId) => ({ dataItemId, change: 'ADDED' })),
    );
    assert.equal(typeof ids.body.nextCursor, 'string');
    // A shared chunk, never read so far, damaged in storage: reading it is refused with BACKUP_DAMAGED.
    const victim = shared[0];
    if (!victim) throw new Error('no shared chunk');
    const key = chunkKey(site.siteId, victim.hash);
    const stored = await env.safekeep.blobs.get(key, victim.storedSize + 1);
    const damaged = Buffer.from(stored);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await env.safekeep.blobs.delete(key);
    await env.safekeep.blobs.put(key, damaged);
    const refused = await call('POST', `${A}/backups/${g2}/items/count`, {
      dataCollectionId: 'Same',
      filter: { pad },
    });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.details.applicationError.code, 'BACKUP_DAMAGED');
    assert.match(refused.body.details.applicationError.data.integrityCode, /^INTEGRITY_/);
    await env.safekeep.blobs.delete(key);
    await env.safekeep.blobs.put(key, stored);
  });

  it('refuses bad input with clear 4xx errors', async () => {
    const codeOf = (res: { body: any }) =>
      res.body?.details?.applicationError?.code ??
      (res.body?.details?.validationError ? 'INVALID_ARGUMENT' : undefined);
    const query = (id: string, body: object) => call('POST', `${A}/backups/${id}/items/query`, body);
    const unknown = await query('00000000-0000-4000-8000-000000000000', { dataCollectionId: 'Things' });
    assert.equal(unknown.status, 404);
    assert.equal(codeOf(unknown), 'BACKUP_NOT_FOUND');
    const notGuid = await query('nope', { dataCollectionId: 'Things' });
    assert.equal(notGuid.status, 404);
    const notInBackup = await query(backupId, { dataCollectionId: 'Nope' });
    assert.equal(notInBackup.status, 400);
    assert.equal(codeOf(notInBackup), 'COLLECTION_NOT_IN_BACKUP');
    const badFilter = await query(backupId, {
      dataCollectionId: 'Things',
      query: { filter: { a: { $bogus: 1 } } },
    });
    assert.equal(badFilter.status, 400);
    assert.equal(codeOf(badFilter), 'INVALID_ARGUMENT');
    const badSort = await query(backupId, {
      dataCollectionId: 'Things',
      query: { sort: [{ fieldName: 'a', order: 'UP' }] },
    });
    assert.equal(badSort.status, 400);
    const refs = await query(backupId, { dataCollectionId: 'Things', includeReferences: [{ field: 'a' }] });
    assert.equal(refs.status, 400);
    const liveCursor = (
      await call('POST', `${D}/items/query`, {
        dataCollectionId: 'Things',
        query: { cursorPaging: { limit: 1 } },
      })
    ).body.pagingMetadata.cursors.next;
    const foreignCursor = await query(backupId, {
      dataCollectionId: 'Things',
      query: { cursorPaging: { cursor: liveCursor } },
    });
    assert.equal(foreignCursor.status, 400);
    const missingItem = await call(
      'GET',
      `${A}/backups/${backupId}/items/after-backup?dataCollectionId=Things`,
    );
    assert.equal(missingItem.status, 404);
    assert.equal(codeOf(missingItem), 'WDE0073');
    // A backup still PENDING (no job has run it) cannot be browsed yet.
    const pending = await call('POST', `${D}/backups`, {});
    const early = await query(pending.body.backup.id, { dataCollectionId: 'Things' });
    assert.equal(early.status, 428);
    assert.equal(codeOf(early), 'BACKUP_NOT_READY');
    await runJobs(env);
    // Another site's backup is not found.
    const other = await env.createSite('other');
    const foreign = await env.call('POST', `${A}/backups/${backupId}/items/query`, {
      key: other.apiKey,
      body: { dataCollectionId: 'Things' },
    });
    assert.equal(foreign.status, 404);
  });
});
