/**
 * Conformance: Wix's own SDK packages (@wix/sdk + @wix/wix-data-items-sdk) drive the Data Items API over
 * real HTTP on loopback, exactly as a Wix developer would use them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@wix/wix-data-items-sdk';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { rejectionCode } from '../helpers/wix-rejection.js';

type Client = ReturnType<typeof wixDataClient>;

describe('Data Items API through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    site = await env.createSite();
    client = wixDataClient(port, site);
    await client.collections.createDataCollection({
      _id: 'Books',
      displayName: 'Books',
      fields: [
        { key: 'title', type: 'TEXT' },
        {
          key: 'authors',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: 'Authors' } },
        },
      ],
    });
    await client.collections.createDataCollection({ _id: 'Authors', displayName: 'Authors', fields: [] });
  });

  after(() => env.close());

  it('inserts with a generated id and gets the item back with its types intact', async () => {
    const published = new Date('1965-08-01T00:00:00.000Z');
    const inserted = await client.items.insert('Books', {
      title: 'Dune',
      year: 1965,
      published,
      tags: ['sf', 'classic'],
      meta: { pages: 412, nested: { ok: true, when: published } },
    });
    assert.equal(typeof inserted._id, 'string');
    assert.match(inserted._id, /^[0-9a-f-]{36}$/);
    assert.ok(inserted._createdDate instanceof Date);
    const got = await client.items.get('Books', inserted._id);
    assert.ok(got);
    assert.equal(got.title, 'Dune');
    assert.equal(got.year, 1965);
    assert.deepEqual(got.published, published);
    assert.deepEqual(got.tags, ['sf', 'classic']);
    assert.deepEqual((got.meta as { nested: { when: Date } }).nested.when, published);
    assert.equal(got._owner, inserted._owner);
  });

  it('refuses a second insert of the same id with WDE0074, and returns null for a missing item', async () => {
    await client.items.insert('Books', { _id: 'dup', title: 'first' });
    assert.equal(
      await rejectionCode(client.items.insert('Books', { _id: 'dup', title: 'second' })),
      'WDE0074',
    );
    assert.equal((await client.items.get('Books', 'dup'))?.title, 'first');
    assert.equal(await client.items.get('Books', 'no-such-item'), null);
  });

  it('update replaces the item, keeps its creation date and owner, and moves the update date', async () => {
    const created = await client.items.insert('Books', { _id: 'upd', title: 'old', extra: 1 });
    env.clock.advance(1000);
    const updated = await client.items.update('Books', { _id: 'upd', title: 'new' });
    assert.equal(updated.title, 'new');
    assert.equal('extra' in updated, false);
    assert.deepEqual(updated._createdDate, created._createdDate);
    assert.equal((updated._updatedDate as Date).getTime(), (created._createdDate as Date).getTime() + 1000);
    assert.equal(updated._owner, created._owner);
    assert.equal(
      await rejectionCode(client.items.update('Books', { _id: 'missing-upd', title: 'x' })),
      'WDE0073',
    );
  });

  it('save inserts and then updates', async () => {
    const first = await client.items.save('Books', { _id: 'sv', title: 'a' });
    const second = await client.items.save('Books', { _id: 'sv', title: 'b' });
    assert.equal(first.title, 'a');
    assert.equal(second.title, 'b');
    assert.equal((await client.items.get('Books', 'sv'))?.title, 'b');
  });

  it('remove returns the removed item, and null when it is gone', async () => {
    await client.items.insert('Books', { _id: 'rm', title: 'bye' });
    const removed = await client.items.remove('Books', 'rm');
    assert.equal(removed?.title, 'bye');
    assert.equal(await client.items.get('Books', 'rm'), null);
    assert.equal(await client.items.remove('Books', 'rm'), null);
  });

  describe('query', () => {
    before(async () => {
      await client.collections.createDataCollection({ _id: 'Numbers', displayName: 'Numbers', fields: [] });
      const items = Array.from({ length: 60 }, (_, n) => ({
        _id: `n${String(n).padStart(2, '0')}`,
        n,
        name: n % 2 === 0 ? `Even ${n}` : `odd ${n}`,
        tags: n % 3 === 0 ? ['three', 'all'] : ['all'],
        when: new Date(Date.UTC(2020, 0, 1 + n)),
        ...(n % 10 === 0 ? {} : { optional: n }),
      }));
      const result = await client.items.bulkInsert('Numbers', items);
      assert.equal(result.inserted, 60);
    });

    const ns = (items: readonly Record<string, unknown>[]) => items.map((i) => i.n);

    it('filters with every operator', async () => {
      const q = () => client.items.query('Numbers');
      assert.deepEqual(ns((await q().eq('n', 7).find()).items), [7]);
      assert.deepEqual(ns((await q().gt('n', 56).ascending('n').find()).items), [57, 58, 59]);
      assert.deepEqual(ns((await q().ge('n', 58).ascending('n').find()).items), [58, 59]);
      assert.deepEqual(ns((await q().lt('n', 2).ascending('n').find()).items), [0, 1]);
      assert.deepEqual(ns((await q().le('n', 1).ascending('n').find()).items), [0, 1]);
      assert.equal((await q().ne('n', 7).find({ returnTotalCount: true })).totalCount, 59);
      assert.deepEqual(ns((await q().between('n', 10, 13).ascending('n').find()).items), [10, 11, 12]);
      assert.deepEqual(ns((await q().hasSome('n', [3, 4]).ascending('n').find()).items), [3, 4]);
      assert.equal((await q().hasSome('tags', ['three']).find({ returnTotalCount: true })).totalCount, 20);
      assert.equal(
        (await q().hasAll('tags', ['three', 'all']).find({ returnTotalCount: true })).totalCount,
        20,
      );
      assert.deepEqual(
        ns((await q().startsWith('name', 'even 5').ascending('n').find()).items),
        [50, 52, 54, 56, 58],
      );
      assert.deepEqual(ns((await q().endsWith('name', 'D 59').find()).items), [59]);
      assert.deepEqual(
        ns((await q().contains('name', 'VEN 1').ascending('n').find()).items),
        [10, 12, 14, 16, 18],
      );
      assert.deepEqual(
        ns((await q().isEmpty('optional').ascending('n').find()).items),
        [0, 10, 20, 30, 40, 50],
      );
      assert.equal((await q().isNotEmpty('optional').find({ returnTotalCount: true })).totalCount, 54);
      assert.deepEqual(
        ns(
          (
            await q()
              .eq('when', new Date(Date.UTC(2020, 0, 3)))
              .find()
          ).items,
        ),
        [2],
      );
      assert.deepEqual(
        ns(
          (
            await q()
              .gt('when', new Date(Date.UTC(2020, 1, 27)))
              .ascending('n')
              .find()
          ).items,
        ),
        [58, 59],
      );
      assert.deepEqual(ns((await q().eq('n', 1).or(q().eq('n', 2)).ascending('n').find()).items), [1, 2]);
      assert.deepEqual(ns((await q().lt('n', 4).not(q().eq('n', 2)).ascending('n').find()).items), [0, 1, 3]);
      assert.deepEqual(ns((await q().eq('_id', 'n05').find()).items), [5]);
      assert.equal(
        (await q().gt('_createdDate', new Date(0)).find({ returnTotalCount: true })).totalCount,
        60,
      );
      // A comparison only matches its own type: a string never equals a number.
      assert.equal((await q().eq('n', '7').find()).items.length, 0);
    });

    it('sorts ascending and descending on several keys', async () => {
      const desc = await client.items.query('Numbers').descending('n').limit(3).find();
      assert.deepEqual(ns(desc.items), [59, 58, 57]);
      const multi = await client.items.query('Numbers').ascending('tags').descending('n').limit(2).find();
      assert.deepEqual(ns(multi.items).length, 2);
      const byName = await client.items.query('Numbers').lt('n', 3).ascending('name').find();
      assert.deepEqual(
        byName.items.map((i) => i.name),
        ['Even 0', 'Even 2', 'odd 1'],
      );
    });

    it('pages with offsets (skip and limit) and reports the total count', async () => {
      const page = await client.items
        .query('Numbers')
        .ascending('n')
        .skip(20)
        .limit(7)
        .find({ returnTotalCount: true });
      assert.deepEqual(ns(page.items), [20, 21, 22, 23, 24, 25, 26]);
      assert.equal(page.totalCount, 60);
      assert.equal(page.hasNext(), true);
      const last = await client.items.query('Numbers').ascending('n').skip(57).limit(7).find();
      assert.deepEqual(ns(last.items), [57, 58, 59]);
      assert.equal(last.hasNext(), false);
    });

    it('pages with cursors forwards and backwards through the whole collection', async () => {
      const seen: number[] = [];
      let page = await client.items.query('Numbers').gt('n', 4).descending('n').limit(11).find();
      const firstPage = ns(page.items);
      seen.push(...(firstPage as number[]));
      while (page.hasNext()) {
        page = await page.next();
        seen.push(...(ns(page.items) as number[]));
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 55 }, (_, i) => 59 - i),
      );
      const previous = await (
        await (await client.items.query('Numbers').gt('n', 4).descending('n').limit(11).find()).next()
      ).prev();
      assert.deepEqual(ns(previous.items), firstPage);
      assert.ok(
        env.requests.some(
          (r) =>
            r.includes('cursorPaging') === false && r.startsWith('GET /_api/cloud-data/v2/items/query?.r='),
        ),
      );
    });

    it('projects fields', async () => {
      const page = await client.items.query('Numbers').eq('n', 3).fields('name').find();
      assert.deepEqual(Object.keys(page.items[0] ?? {}).sort(), ['_id', 'name']);
    });

    it('counts with and without a filter', async () => {
      assert.equal(await client.items.query('Numbers').count(), 60);
      assert.equal(await client.items.query('Numbers').lt('n', 10).count(), 10);
    });
  });

  it('bulk insert, update, save and remove report per-item results', async () => {
    await client.collections.createDataCollection({ _id: 'Bulk', displayName: 'Bulk', fields: [] });
    const inserted = await client.items.bulkInsert('Bulk', [
      { _id: 'a', v: 1 },
      { _id: 'b', v: 2 },
      { v: 3 },
    ]);
    assert.equal(inserted.inserted, 3);
    assert.equal(inserted.insertedItemIds.length, 3);
    const again = await client.items.bulkInsert('Bulk', [
      { _id: 'a', v: 9 },
      { _id: 'c', v: 4 },
    ]);
    // The SDK reports items that already exist (WDE0074 on the wire) as skipped, as Wix does.
    assert.equal(again.inserted, 1);
    assert.equal(again.skipped, 1);
    assert.equal((await client.items.get('Bulk', 'a'))?.v, 1);
    const updated = await client.items.bulkUpdate('Bulk', [
      { _id: 'a', v: 10 },
      { _id: 'zz', v: 0 },
    ]);
    assert.equal(updated.updated, 1);
    assert.equal(updated.skipped, 1);
    const saved = await client.items.bulkSave('Bulk', [
      { _id: 'b', v: 20 },
      { _id: 'd', v: 5 },
    ]);
    assert.equal(saved.updated, 1);
    assert.equal(saved.inserted, 1);
    assert.equal((await client.items.get('Bulk', 'b'))?.v, 20);
    const removed = await client.items.bulkRemove('Bulk', ['a', 'b', 'nope']);
    assert.equal(removed.removed, 2);
    assert.equal(removed.skipped, 1);
    assert.equal(await client.items.query('Bulk').count(), 3);
  });

  it('keeps multi-reference links apart from items and removes them with either end', async () => {
    await client.items.bulkInsert('Authors', [{ _id: 'herbert' }, { _id: 'anderson' }, { _id: 'asimov' }]);
    await client.items.insert('Books', { _id: 'dune', title: 'Dune' });
    await client.items.insertReference('Books', 'authors', 'dune', ['herbert', 'anderson']);
    assert.equal(await client.items.isReferenced('Books', 'authors', 'dune', 'herbert'), true);
    assert.equal(await client.items.isReferenced('Books', 'authors', 'dune', 'asimov'), false);
    const referenced = await client.items.queryReferenced('Books', 'dune', 'authors');
    assert.deepEqual(
      referenced.items.map((i) => i._id),
      ['herbert', 'anderson'],
    );
    const book = await client.items.get('Books', 'dune');
    assert.equal(book && 'authors' in book, false, 'links are not stored inside the item');

    await client.items.removeReference('Books', 'authors', 'dune', 'anderson');
    assert.deepEqual(
      (await client.items.queryReferenced('Books', 'dune', 'authors')).items.map((i) => i._id),
      ['herbert'],
    );
    await client.items.replaceReferences('Books', 'authors', 'dune', ['asimov', 'anderson']);
    assert.deepEqual(
      (await client.items.queryReferenced('Books', 'dune', 'authors')).items.map((i) => i._id),
      ['asimov', 'anderson'],
    );
    const included = await client.items.query('Books').eq('_id', 'dune').include('authors').find();
    assert.deepEqual(
      (included.items[0]?.authors as { _id: string }[]).map((a) => a._id),
      ['asimov', 'anderson'],
    );

    await client.items.remove('Authors', 'asimov');
    assert.deepEqual(
      (await client.items.queryReferenced('Books', 'dune', 'authors')).items.map((i) => i._id),
      ['anderson'],
    );
    await client.items.remove('Books', 'dune');
    await client.items.insert('Books', { _id: 'dune', title: 'Dune again' });
    assert.equal(await client.items.isReferenced('Books', 'authors', 'dune', 'anderson'), false);
  });

  it('truncate empties a collection', async () => {
    await client.collections.createDataCollection({ _id: 'Scratch', displayName: 'Scratch', fields: [] });
    await client.items.bulkInsert(
      'Scratch',
      Array.from({ length: 25 }, (_, i) => ({ i })),
    );
    assert.equal(await client.items.query('Scratch').count(), 25);
    await client.items.truncate('Scratch');
    assert.equal(await client.items.query('Scratch').count(), 0);
    await client.items.insert('Scratch', { _id: 'after' });
    assert.equal(await client.items.query('Scratch').count(), 1);
  });

  it('keeps SANDBOX and LIVE apart with withEnvironment', async () => {
    const sandbox = client.items.withEnvironment(Environment.SANDBOX);
    await client.collections.createDataCollection({ _id: 'Env', displayName: 'Env', fields: [] });
    await sandbox.insert('Env', { _id: 's1', where: 'sandbox' });
    await client.items.insert('Env', { _id: 'l1', where: 'live' });
    assert.equal(await client.items.get('Env', 's1'), null);
    assert.equal((await sandbox.get('Env', 's1'))?.where, 'sandbox');
    assert.equal(await sandbox.get('Env', 'l1'), null);
    assert.deepEqual(
      (await sandbox.query('Env').find()).items.map((i) => i._id),
      ['s1'],
    );
    assert.equal(await sandbox.query('Env').count(), 1);
    await sandbox.bulkInsert('Env', [{ _id: 's2' }, { _id: 's3' }]);
    await sandbox.remove('Env', 's2');
    await sandbox.truncate('Env');
    assert.equal(await sandbox.query('Env').count(), 0);
    assert.equal(await client.items.query('Env').count(), 1);
  });
});
