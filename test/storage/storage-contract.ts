/**
 * The storage contract: the behaviour every Storage adapter must have, written once. Each adapter's test
 * file calls `runStorageContract` with a factory (see sqlite-storage.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/contracts/errors.js';
import { composeItem } from '../../src/domain/item-codec.js';
import { parseFilter } from '../../src/domain/query/filter.js';
import { parseSort } from '../../src/domain/query/sort.js';
import type {
  CollectionDefinition,
  ItemTarget,
  KeysetPosition,
  Storage,
  StoredItem,
} from '../../src/ports/storage.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { linksFrom } from '../helpers/storage-rows.js';

export interface StorageFactory {
  create(): Promise<{ storage: Storage; cleanup(): Promise<void> }>;
}

const definition = (id: string, extra: Partial<CollectionDefinition> = {}): CollectionDefinition => ({
  id,
  displayName: id,
  collectionType: 'NATIVE',
  fields: [],
  permissions: null,
  views: [],
  extra: {},
  ...extra,
});

function item(id: string, fields: Record<string, unknown>, at = 1_700_000_000_000): StoredItem {
  return composeItem({ id, owner: 'owner', createdAt: at, updatedAt: at, fields });
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  return 'NO_ERROR';
}

export function runStorageContract(name: string, factory: StorageFactory): void {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    const siteId = 'site-1';
    const at = 1_700_000_000_000;

    before(async () => {
      const created = await factory.create();
      storage = created.storage;
      cleanup = () => created.cleanup();
      await storage.sites.create({
        id: siteId,
        name: 'One',
        createdAt: at,
        settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
      });
    });
    after(() => cleanup());

    const live = (collectionId: string): ItemTarget => ({ siteId, collectionId, environment: 'LIVE' });

    async function ids(
      target: ItemTarget,
      filter: unknown,
      sort: unknown = [{ fieldName: '_id' }],
    ): Promise<string[]> {
      const page = await storage.items.query(target, {
        filter: parseFilter(filter),
        sort: parseSort(sort),
        limit: 1000,
      });
      return page.items.map((i) => i.id);
    }

    it('keeps sites and their settings', async () => {
      await storage.sites.create({
        id: 'site-2',
        name: 'Two',
        createdAt: at + 1,
        settings: { autoBackupIntervalDays: 3, autoBackupRetention: null },
      });
      assert.equal((await storage.sites.get('site-2'))?.settings.autoBackupIntervalDays, 3);
      assert.deepEqual(
        (await storage.sites.list()).map((s) => s.id),
        [siteId, 'site-2'],
      );
      const updated = await storage.sites.updateSettings('site-2', {
        autoBackupIntervalDays: null,
        autoBackupRetention: 9,
        maxItems: 12,
        maxBackupBytes: 60 * 1024 ** 3,
      });
      // Quotas left out are kept as null: the deployment default.
      assert.deepEqual(updated?.settings, {
        autoBackupIntervalDays: null,
        autoBackupRetention: 9,
        maxCollections: null,
        maxItems: 12,
        maxBackupBytes: 60 * 1024 ** 3,
        maxRequestBodyBytes: null,
      });
      assert.equal(await storage.sites.delete('site-2'), true);
      assert.equal(await storage.sites.delete('site-2'), false);
      assert.equal(await storage.sites.get('site-2'), undefined);
    });

    it('keeps API keys by hash, with their sites and scopes, and revokes them once', async () => {
      await storage.apiKeys.create({
        id: 'k1',
        name: 'one',
        secretHash: 'h1',
        siteIds: [siteId],
        scopes: ['data.read'],
        createdAt: at,
        revokedAt: null,
      });
      await storage.apiKeys.create({
        id: 'k2',
        name: 'adm',
        secretHash: 'h2',
        siteIds: [],
        scopes: ['admin'],
        createdAt: at + 1,
        revokedAt: null,
      });
      assert.deepEqual((await storage.apiKeys.findBySecretHash('h1'))?.siteIds, [siteId]);
      assert.deepEqual((await storage.apiKeys.get('k2'))?.scopes, ['admin']);
      assert.deepEqual(
        (await storage.apiKeys.list([siteId])).map((k) => k.id),
        ['k1'],
      );
      assert.equal((await storage.apiKeys.list()).length >= 2, true);
      assert.equal(await storage.apiKeys.revoke('k1', at + 5), true);
      assert.equal(await storage.apiKeys.revoke('k1', at + 6), false);
      assert.equal((await storage.apiKeys.get('k1'))?.revokedAt, at + 5);
      assert.equal(await storage.apiKeys.findBySecretHash('nope'), undefined);
    });

    it('sets meta values only once', async () => {
      assert.equal(await storage.meta.setIfAbsent('m', 'first'), 'first');
      assert.equal(await storage.meta.setIfAbsent('m', 'second'), 'first');
      assert.equal(await storage.meta.get('m'), 'first');
      assert.equal(await storage.meta.get('absent'), undefined);
    });

    it('creates, lists, updates by revision and deletes collections', async () => {
      const created = await storage.collections.create(
        siteId,
        definition('C1', { views: [{ name: 'v' }] }),
        at,
      );
      assert.equal(created.revision, 1);
      assert.equal(
        await code(storage.collections.create(siteId, definition('C1'), at)),
        'COLLECTION_ALREADY_EXISTS',
      );
      await storage.collections.create(siteId, definition('C0'), at);
      const page = await storage.collections.list(siteId, { limit: 1, offset: 1 });
      assert.deepEqual(
        page.collections.map((c) => c.id),
        ['C1'],
      );
      assert.equal(page.total >= 2, true);
      const updated = await storage.collections.update(
        siteId,
        definition('C1', { displayName: 'Renamed' }),
        1,
        at + 1,
      );
      assert.equal(updated.revision, 2);
      assert.equal(updated.displayName, 'Renamed');
      assert.equal(
        await code(storage.collections.update(siteId, definition('C1'), 1, at)),
        'REVISION_MISMATCH',
      );
      assert.equal(await code(storage.collections.update(siteId, definition('Nope'), 1, at)), 'WDE0025');
      assert.equal(await storage.collections.delete(siteId, 'C0'), true);
      assert.equal(await storage.collections.delete(siteId, 'C0'), false);
      assert.equal(await storage.collections.get(siteId, 'C0'), undefined);
    });

    it('lets exactly one of several concurrent creators of a collection win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => storage.collections.create(siteId, definition('Raced'), at)),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results.filter((r) => r.status === 'rejected'))
        assert.equal((r.reason as { code?: string }).code, 'COLLECTION_ALREADY_EXISTS');
      assert.equal((await storage.collections.get(siteId, 'Raced'))?.revision, 1);
    });

    it('writes items in transactions and keeps environments apart', async () => {
      await storage.collections.create(siteId, definition('Items'), at);
      await storage.items.write(live('Items'), async (tx) => {
        await tx.insert([item('a', { v: 1 }), item('b', { v: 2 })]);
      });
      const sandbox = { ...live('Items'), environment: 'SANDBOX' as const };
      await storage.items.write(sandbox, (tx) => tx.insert([item('s', { v: 9 })]));
      assert.deepEqual(await ids(live('Items'), null), ['a', 'b']);
      assert.deepEqual(await ids(sandbox, null), ['s']);
      await storage.items.write(live('Items'), async (tx) => {
        const found = await tx.findExisting(['a', 'zz']);
        assert.deepEqual([...found.keys()], ['a']);
        await tx.update([item('a', { v: 10 })]);
        await tx.remove(['b']);
      });
      const stored = JSON.parse((await storage.items.get(live('Items'), 'a'))?.json ?? '{}') as { v: number };
      assert.equal(stored.v, 10);
      assert.equal(await storage.items.get(live('Items'), 'b'), undefined);
      // A failing transaction changes nothing.
      await assert.rejects(
        storage.items.write(live('Items'), async (tx) => {
          await tx.insert([item('c', {})]);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await storage.items.get(live('Items'), 'c'), undefined);
      assert.equal(await code(storage.items.write(live('Nope'), () => Promise.resolve())), 'WDE0025');
      assert.equal(
        await code(storage.items.query(live('Nope'), { filter: null, sort: [], limit: 1 })),
        'WDE0025',
      );
    });

    it('returns the exact stored JSON text', async () => {
      await storage.collections.create(siteId, definition('Exact'), at);
      const odd = item('x', {
        s: 'é\u2028"\\',
        n: -0.000001,
        big: 9007199254740991,
        arr: [null, true, { d: { $date: '2020-01-01T00:00:00.000Z' } }],
      });
      await storage.items.write(live('Exact'), (tx) => tx.insert([odd]));
      assert.equal((await storage.items.get(live('Exact'), 'x'))?.json, odd.json);
    });

    it('filters with the query language semantics', async () => {
      await storage.collections.create(siteId, definition('F'), at);
      await storage.items.write(live('F'), (tx) =>
        tx.insert([
          item('i1', {
            n: 1,
            s: 'Apple',
            b: true,
            tags: ['x', 'y'],
            d: { $date: '2020-01-01T00:00:00.000Z' },
            o: { k: 'v' },
          }),
          item('i2', { n: 2, s: 'banana', b: false, tags: ['y'], d: { $date: '2021-01-01T00:00:00.000Z' } }),
          item('i3', { n: '3', s: 'Cherry pie', tags: 'x', nul: null }),
          item('i4', { n: 4.5, s: 'ÉCLAIR' }),
          item('i5', {}, at + 1000),
        ]),
      );
      const F = live('F');
      assert.deepEqual(await ids(F, { n: 1 }), ['i1']);
      assert.deepEqual(await ids(F, { n: '3' }), ['i3']);
      assert.deepEqual(await ids(F, { n: { $gt: 1 } }), ['i2', 'i4']);
      assert.deepEqual(await ids(F, { n: { $gte: '3' } }), ['i3']);
      assert.deepEqual(await ids(F, { n: { $ne: 1 } }), ['i2', 'i3', 'i4', 'i5']);
      assert.deepEqual(await ids(F, { b: true }), ['i1']);
      assert.deepEqual(await ids(F, { b: false }), ['i2']);
      assert.deepEqual(await ids(F, { nul: null }), ['i1', 'i2', 'i4', 'i5', 'i3'].sort());
      assert.deepEqual(await ids(F, { s: { $ne: null } }), ['i1', 'i2', 'i3', 'i4']);
      assert.deepEqual(await ids(F, { n: { $in: [1, '3', 7] } }), ['i1', 'i3']);
      assert.deepEqual(await ids(F, { tags: { $hasSome: ['x'] } }), ['i1', 'i3']);
      assert.deepEqual(await ids(F, { tags: { $hasAll: ['x', 'y'] } }), ['i1']);
      assert.deepEqual(await ids(F, { s: { $startsWith: 'app' } }), ['i1']);
      assert.deepEqual(await ids(F, { s: { $endsWith: 'PIE' } }), ['i3']);
      assert.deepEqual(await ids(F, { s: { $contains: 'an' } }), ['i2']);
      assert.deepEqual(await ids(F, { s: { $contains: 'éclair' } }), ['i4'], 'case folding covers non-ASCII');
      assert.deepEqual(await ids(F, { o: { $exists: true } }), ['i1']);
      assert.deepEqual(await ids(F, { 'o.k': 'v' }), ['i1']);
      assert.deepEqual(await ids(F, { d: { $gt: { $date: '2020-06-01T00:00:00.000Z' } } }), ['i2']);
      assert.deepEqual(await ids(F, { $or: [{ n: 1 }, { n: 2 }] }), ['i1', 'i2']);
      assert.deepEqual(await ids(F, { $not: [{ n: { $gt: 1 } }] }), ['i1', 'i3', 'i5']);
      assert.deepEqual(await ids(F, { _id: { $in: ['i2', 'i5'] } }), ['i2', 'i5']);
      assert.deepEqual(await ids(F, { _createdDate: { $gt: { $date: new Date(at).toISOString() } } }), [
        'i5',
      ]);
      assert.deepEqual(await ids(F, { _id: { $startsWith: 'I' } }), ['i1', 'i2', 'i3', 'i4', 'i5']);
      assert.equal(await storage.items.count(F, parseFilter({ tags: { $hasSome: ['y'] } })), 2);
    });

    it('pages by keyset in both directions, with ties, nulls and mixed types', async () => {
      await storage.collections.create(siteId, definition('K'), at);
      const random = seededRandom(20261127);
      const values = [null, undefined, 0, 1, -1, 2.5, 'a', 'b', 'B', true, false];
      const rows = Array.from({ length: 137 }, (_, i) => {
        const pick = values[Math.floor(random() * values.length)];
        const fields: Record<string, unknown> = { g: Math.floor(random() * 4) };
        if (pick !== undefined) fields.v = pick;
        return item(`k${String(i).padStart(3, '0')}`, fields, at + Math.floor(random() * 5));
      });
      await storage.items.write(live('K'), (tx) => tx.insert(rows));
      const sorts = [
        [{ fieldName: 'v' }],
        [{ fieldName: 'v', order: 'DESC' }],
        [{ fieldName: 'g' }, { fieldName: 'v', order: 'DESC' }],
        [{ fieldName: '_createdDate', order: 'DESC' }, { fieldName: 'g' }],
        [{ fieldName: '_id', order: 'DESC' }],
      ];
      for (const rawSort of sorts) {
        const sort = parseSort(rawSort);
        const filter = parseFilter({ g: { $ne: 3 } });
        const all = (await storage.items.query(live('K'), { filter, sort, limit: 1000 })).items.map(
          (i) => i.id,
        );
        const forward: string[] = [];
        let after: KeysetPosition | undefined;
        for (;;) {
          const page = await storage.items.query(live('K'), { filter, sort, limit: 10, after });
          forward.push(...page.items.map((i) => i.id));
          if (!page.hasMore) break;
          after = page.last;
        }
        assert.deepEqual(forward, all, `forward ${JSON.stringify(rawSort)}`);
        const backward: string[] = [];
        let before = (await storage.items.query(live('K'), { filter, sort, limit: 1000 })).last;
        backward.unshift(all[all.length - 1] ?? '');
        for (;;) {
          const page = await storage.items.query(live('K'), {
            filter,
            sort,
            limit: 7,
            after: before,
            backwards: true,
          });
          backward.unshift(...page.items.map((i) => i.id));
          if (!page.hasMore) break;
          before = page.first;
        }
        assert.deepEqual(backward, all, `backward ${JSON.stringify(rawSort)}`);
        const offset = await storage.items.query(live('K'), {
          filter,
          sort,
          limit: 10,
          offset: 20,
          withTotal: true,
        });
        assert.deepEqual(
          offset.items.map((i) => i.id),
          all.slice(20, 30),
        );
        assert.equal(offset.total, all.length);
      }
    });

    it('ends a page at its byte bound, always with one item, and continues exactly in both directions', async () => {
      await storage.collections.create(siteId, definition('Bytes'), at);
      const random = seededRandom(20261203);
      const rows = Array.from({ length: 60 }, (_, i) =>
        item(`y${String(i).padStart(2, '0')}`, { s: 'z'.repeat(Math.floor(random() * 3000)) }),
      );
      await storage.items.write(live('Bytes'), (tx) => tx.insert(rows));
      const size = new Map(rows.map((r) => [r.id, Buffer.byteLength(r.json)]));
      const sort = parseSort([{ fieldName: '_id' }]);
      const maxBytes = 6000;
      for (const backwards of [false, true]) {
        const seen: string[] = [];
        let after: KeysetPosition | undefined;
        let pages = 0;
        for (;;) {
          const page = await storage.items.query(live('Bytes'), {
            filter: null,
            sort,
            limit: 25,
            maxBytes,
            after,
            backwards,
          });
          pages += 1;
          const bytes = page.items.reduce((sum, i) => sum + (size.get(i.id) ?? 0), 0);
          assert.ok(page.items.length >= 1 && page.items.length <= 25);
          assert.ok(page.items.length === 1 || bytes <= maxBytes, `page of ${bytes} bytes`);
          for (const got of page.items) assert.equal(got.json, rows.find((r) => r.id === got.id)?.json);
          if (backwards) seen.unshift(...page.items.map((i) => i.id));
          else seen.push(...page.items.map((i) => i.id));
          if (!page.hasMore) break;
          after = backwards ? page.first : page.last;
        }
        const expected = rows.map((r) => r.id);
        assert.deepEqual(seen, expected, backwards ? 'backwards' : 'forwards');
        assert.ok(pages > 60 / 25 + 1, `the bound cut pages short (${pages} pages)`);
      }
      // An item larger than the whole budget still makes a page of its own.
      const one = await storage.items.query(live('Bytes'), { filter: null, sort, limit: 25, maxBytes: 1 });
      assert.equal(one.items.length, 1);
      assert.equal(one.hasMore, true);
    });

    it('keeps links apart from items: both ends must exist, and removing either end removes them', async () => {
      await storage.collections.create(siteId, definition('From'), at);
      await storage.collections.create(siteId, definition('To'), at);
      await storage.items.write(live('From'), (tx) => tx.insert([item('f1', {}), item('f2', {})]));
      await storage.items.write(live('To'), (tx) =>
        tx.insert([item('t1', {}), item('t2', {}), item('t3', {})]),
      );
      const link = (fromId: string, toId: string) => ({ field: 'refs', fromId, toCollectionId: 'To', toId });
      const outcomes = await storage.links.insert(live('From'), [
        link('f1', 't1'),
        link('f1', 't2'),
        link('nope', 't1'),
        link('f1', 'nope'),
      ]);
      assert.deepEqual(outcomes, [
        { ok: true },
        { ok: true },
        { ok: false, missing: 'referring' },
        { ok: false, missing: 'referenced' },
      ]);
      const page = { limit: 10, offset: 0, descending: false, withTotal: true };
      const refs = await storage.links.queryReferenced(live('From'), 'refs', 'f1', 'To', page);
      assert.deepEqual(
        refs.items.map((i) => i.id),
        ['t1', 't2'],
      );
      assert.equal(refs.total, 2);
      assert.equal(await storage.links.exists(live('From'), link('f1', 't2')), true);
      await storage.links.remove(live('From'), [link('f1', 't2')]);
      assert.equal(await storage.links.exists(live('From'), link('f1', 't2')), false);
      await storage.links.replace(live('From'), 'refs', 'f2', 'To', ['t3', 't1']);
      assert.deepEqual(
        (await storage.links.queryReferenced(live('From'), 'refs', 'f2', 'To', page)).items.map((i) => i.id),
        ['t3', 't1'],
      );
      assert.equal(
        await code(storage.links.replace(live('From'), 'refs', 'f2', 'To', ['missing'])),
        'WDE0073',
      );
      await storage.items.write(live('To'), (tx) => tx.remove(['t1']));
      assert.deepEqual(
        (await storage.links.queryReferenced(live('From'), 'refs', 'f2', 'To', page)).items.map((i) => i.id),
        ['t3'],
      );
      await storage.items.write(live('From'), (tx) => tx.remove(['f2']));
      await storage.items.write(live('From'), (tx) => tx.insert([item('f2', {})]));
      assert.equal(
        (await storage.links.queryReferenced(live('From'), 'refs', 'f2', 'To', page)).items.length,
        0,
      );
      await storage.links.insert(live('From'), [link('f1', 't3')]);
      await storage.items.write(live('To'), (tx) => tx.truncate());
      await storage.items.write(live('To'), (tx) => tx.insert([item('t3', {})]));
      assert.equal(
        await storage.links.exists(live('From'), link('f1', 't3')),
        false,
        'truncating the target drops its links',
      );
    });

    it('truncates at once and sweeps the old item set in the background', async () => {
      await storage.collections.create(siteId, definition('T'), at);
      await storage.items.write(live('T'), (tx) =>
        tx.insert(Array.from({ length: 300 }, (_, i) => item(`t${i}`, { i }))),
      );
      await storage.items.write(live('T'), (tx) => tx.truncate());
      assert.equal(await storage.items.count(live('T'), null), 0);
      let swept = 0;
      for (let round = 0; round < 100; round++) {
        const n = await storage.sweeper.sweep(100);
        if (n === 0) break;
        swept += n;
      }
      assert.ok(swept >= 300, `swept ${swept} rows`);
      assert.equal(await storage.sweeper.sweep(100), 0, 'nothing is left to sweep');
    });

    it('keeps a deleted collection in the bin, whole, until it is restored or expires', async () => {
      const bin = 'site-bin';
      await storage.sites.create({
        id: bin,
        name: 'Bin',
        createdAt: at,
        settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
      });
      const target = (collectionId: string, environment: 'LIVE' | 'SANDBOX' = 'LIVE'): ItemTarget => ({
        siteId: bin,
        collectionId,
        environment,
      });
      const linksOf = async (t: ItemTarget) =>
        (await linksFrom(storage, t)).map((l) => `${l.fromId}>${l.toCollectionId}/${l.toId}`);
      const ids = async (t: ItemTarget) =>
        (await storage.items.query(t, { filter: null, sort: [], limit: 100 })).items.map((i) => i.json);
      await storage.collections.create(bin, definition('A', { displayName: 'Alpha' }), at);
      await storage.collections.create(bin, definition('B'), at);
      await storage.items.write(target('A'), (tx) => tx.insert([item('a1', { n: 1 }), item('a2', { n: 2 })]));
      await storage.items.write(target('A', 'SANDBOX'), (tx) => tx.insert([item('s1', { n: 3 })]));
      await storage.items.write(target('B'), (tx) => tx.insert([item('b1', {})]));
      const ref = (fromId: string, toCollectionId: string, toId: string) => ({
        field: 'refs',
        fromId,
        toCollectionId,
        toId,
      });
      await storage.links.insert(target('A'), [ref('a1', 'B', 'b1')]);
      await storage.links.insert(target('B'), [ref('b1', 'A', 'a2')]);
      const before = { live: await ids(target('A')), sandbox: await ids(target('A', 'SANDBOX')) };

      assert.equal(await storage.collections.delete(bin, 'A'), true);
      assert.equal(await storage.collections.get(bin, 'A'), undefined);
      assert.deepEqual(await linksOf(target('B')), [], 'links into a deleted collection are not visible');
      const listed = await storage.collections.listDeleted(bin, 0);
      assert.deepEqual(
        listed.map((c) => [c.id, c.displayName]),
        [['A', 'Alpha']],
      );
      assert.ok((listed[0]?.deletedAt ?? 0) > 0);
      // The sweeper leaves binned item sets alone.
      for (let round = 0; round < 100 && (await storage.sweeper.sweep(1000)) > 0; round++);

      const restored = await storage.collections.restoreDeleted(bin, 'A', 0);
      assert.equal(restored.displayName, 'Alpha');
      assert.deepEqual(await ids(target('A')), before.live);
      assert.deepEqual(await ids(target('A', 'SANDBOX')), before.sandbox);
      assert.deepEqual(await linksOf(target('A')), ['a1>B/b1']);
      assert.deepEqual(await linksOf(target('B')), ['b1>A/a2']);
      assert.deepEqual(await storage.collections.listDeleted(bin, 0), []);
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'A', 0)), 'WDE0025');
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'Never', 0)), 'WDE0025');

      // Deleted twice: the newest copy comes back. A collection with the id blocks the restore (409),
      // and the copy stays in the bin.
      await storage.collections.delete(bin, 'A');
      await storage.collections.create(bin, definition('A', { displayName: 'Second' }), at);
      await storage.items.write(target('A'), (tx) => tx.insert([item('x', {})]));
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'A', 0)), 'COLLECTION_ALREADY_EXISTS');
      await storage.collections.delete(bin, 'A');
      assert.deepEqual(
        (await storage.collections.listDeleted(bin, 0)).map((c) => c.displayName),
        ['Second'],
        'one copy per id: the newest',
      );
      await storage.collections.create(bin, definition('A', { displayName: 'Third' }), at);
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'A', 0)), 'COLLECTION_ALREADY_EXISTS');
      assert.equal((await storage.collections.listDeleted(bin, 0)).length, 1);
      await storage.collections.delete(bin, 'A');
      assert.equal((await storage.collections.restoreDeleted(bin, 'A', 0)).displayName, 'Third');
      await storage.collections.delete(bin, 'A');

      // Outside the window: not restorable, then purged by the sweeper.
      const future = Date.now() + 1000 * 24 * 3600 * 1000;
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'A', future)), 'WDE0025');
      assert.deepEqual(await storage.collections.listDeleted(bin, future), []);
      assert.ok((await storage.sweeper.expireBin(future, 100)) >= 1);
      assert.deepEqual(await storage.collections.listDeleted(bin, 0), []);
      let swept = 0;
      for (let round = 0; round < 100; round++) {
        const n = await storage.sweeper.sweep(1000);
        if (n === 0) break;
        swept += n;
      }
      assert.ok(swept > 0, 'the expired generations were reclaimed');
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'A', 0)), 'WDE0025');
      assert.deepEqual(await linksOf(target('B')), []);

      // Deleting a site empties its bin.
      await storage.collections.delete(bin, 'B');
      assert.equal((await storage.collections.listDeleted(bin, 0)).length, 1);
      await storage.sites.delete(bin);
      assert.deepEqual(await storage.collections.listDeleted(bin, 0), []);
      assert.equal(await code(storage.collections.restoreDeleted(bin, 'B', 0)), 'WDE0025');
    });

    it('deleting a site removes its collections', async () => {
      await storage.sites.create({
        id: 'site-3',
        name: 'Three',
        createdAt: at,
        settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
      });
      await storage.collections.create('site-3', definition('X'), at);
      await storage.sites.delete('site-3');
      assert.equal(await storage.collections.get('site-3', 'X'), undefined);
    });
  });
}
