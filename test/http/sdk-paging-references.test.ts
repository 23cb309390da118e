/**
 * Wix's SDK (@wix/sdk + @wix/wix-data-items-sdk) over real loopback HTTP, on both stacks: paging the Wix
 * way past 1,000 items (`limit(1000)` then `next()`), pages bounded by bytes, and reference fields read as
 * Wix documents them.
 * - limit() takes up to 1,000 and next() continues with the returned cursor:
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-query/limit
 * - include() replaces a REFERENCE field's id with the referenced item and a MULTI_REFERENCE field with its
 *   referenced items: https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-query/include
 * - hasSome()/hasAll() on a multi-reference field match items that reference any/all of the given ids:
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-query/has-some
 * - A single reference may be written as the referenced item's id or as the whole item; the id is stored:
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/insert ("Referenced items")
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@wix/wix-data-items-sdk';
import { MAX_PAGE_BYTES } from '../../src/services/item-service.js';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';

type Client = ReturnType<typeof wixDataClient>;
type Item = Record<string, unknown>;

const ITEMS = 2_500;

/** Every item of a query, walking `next()` while `hasNext()`, and the size of each page. */
async function walk(
  first: Promise<{ items: Item[]; hasNext(): boolean; next(): Promise<unknown> }>,
): Promise<{ items: Item[]; pages: number[] }> {
  let page = await first;
  const items = [...page.items];
  const pages = [page.items.length];
  while (page.hasNext()) {
    page = (await page.next()) as typeof page;
    items.push(...page.items);
    pages.push(page.items.length);
  }
  return { items, pages };
}

for (const stack of ['embedded', 'scaleout'] as const) {
  describe(`Wix SDK paging and references (${stack})`, () => {
    let env: TestEnv;
    let client: Client;
    let site: TestSite;
    const post = (path: string, body: unknown) =>
      env.call('POST', path, { key: site.apiKey, site: site.siteId, body });

    before(async () => {
      env = await startTestEnv({ stack });
      const port = await env.listen();
      site = await env.createSite();
      client = wixDataClient(port, site);
    });

    after(() => env.close());

    describe('paging past 1,000 items with limit(1000) and next()', () => {
      // A shuffled insertion order, so "unsorted" (id order) differs from insertion and from `n` order.
      const numbers = Array.from({ length: ITEMS }, (_, i) => (i * 7919) % ITEMS);
      const item = (n: number) => ({ _id: `p${String(n).padStart(5, '0')}`, n, half: n % 2 });

      before(async () => {
        await client.collections.createDataCollection({ _id: 'Paged', displayName: 'Paged', fields: [] });
        const sandbox = client.items.withEnvironment(Environment.SANDBOX);
        for (let i = 0; i < ITEMS; i += 1000) {
          const batch = numbers.slice(i, i + 1000).map(item);
          assert.equal((await client.items.bulkInsert('Paged', batch)).inserted, batch.length);
          assert.equal((await sandbox.bulkInsert('Paged', batch)).inserted, batch.length);
        }
      });

      const ns = (items: Item[]) => items.map((i) => i.n as number);
      const ascending = Array.from({ length: ITEMS }, (_, i) => i);

      it('ascending', async () => {
        const { items, pages } = await walk(client.items.query('Paged').ascending('n').limit(1000).find());
        assert.deepEqual(ns(items), ascending);
        assert.deepEqual(pages, [1000, 1000, 500]);
      });

      it('descending', async () => {
        const { items, pages } = await walk(client.items.query('Paged').descending('n').limit(1000).find());
        assert.deepEqual(ns(items), [...ascending].reverse());
        assert.deepEqual(pages, [1000, 1000, 500]);
      });

      it('unsorted (id order), with a filter', async () => {
        const { items } = await walk(client.items.query('Paged').eq('half', 1).limit(1000).find());
        const expected = ascending.filter((n) => n % 2 === 1).map((n) => item(n)._id);
        assert.deepEqual(
          items.map((i) => i._id),
          expected,
        );
      });

      it('in SANDBOX', async () => {
        const sandbox = client.items.withEnvironment(Environment.SANDBOX);
        await sandbox.remove('Paged', item(7)._id);
        const { items } = await walk(sandbox.query('Paged').ascending('n').limit(1000).find());
        assert.deepEqual(
          ns(items),
          ascending.filter((n) => n !== 7),
        );
        assert.equal((await client.items.query('Paged').eq('n', 7).find()).items.length, 1);
      });

      it('refuses a cursor page above 1,000 with a clear error', async () => {
        const response = await post('/wix-data/v2/items/query', {
          dataCollectionId: 'Paged',
          query: { cursorPaging: { limit: 1001 } },
        });
        assert.equal(response.status, 400);
        assert.match(JSON.stringify(response.body), /cursorPaging\.limit/);
      });
    });

    it('ends a page at the byte bound and continues exactly where it stopped', async () => {
      await client.collections.createDataCollection({ _id: 'Big', displayName: 'Big', fields: [] });
      // 40 items of ~480 KB (19 MB) exceed one page's 16 MiB; small items between them ride inline.
      const filler = 'x'.repeat(480 * 1024);
      const big = Array.from({ length: 40 }, (_, i) => ({
        _id: `b${String(i * 2).padStart(3, '0')}`,
        i: i * 2,
        filler,
      }));
      const small = Array.from({ length: 40 }, (_, i) => ({
        _id: `b${String(i * 2 + 1).padStart(3, '0')}`,
        i: i * 2 + 1,
      }));
      for (const batch of [big.slice(0, 20), big.slice(20), small]) {
        assert.equal((await client.items.bulkInsert('Big', batch)).inserted, batch.length);
      }
      const { items, pages } = await walk(client.items.query('Big').ascending('i').limit(1000).find());
      assert.deepEqual(
        items.map((i) => i.i),
        Array.from({ length: 80 }, (_, i) => i),
      );
      assert.ok(pages.length >= 2, `expected more than one page, got ${pages.join(', ')}`);
      const bytesPerBig = Buffer.byteLength(JSON.stringify(big[0]));
      assert.ok(
        (pages[0] ?? 0) < 80 && ((pages[0] ?? 0) / 2) * bytesPerBig <= MAX_PAGE_BYTES + bytesPerBig,
        `first page ${pages[0]}`,
      );
      assert.ok(items.every((i) => i.filler === undefined || i.filler === filler));
      // Offset paging reports the short page too: the next offset is offset + count.
      const first = await post('/wix-data/v2/items/query', {
        dataCollectionId: 'Big',
        query: { sort: [{ fieldName: 'i' }], paging: { limit: 1000 } },
      });
      const metadata = (first.body as { pagingMetadata: { count: number; hasNext: boolean } }).pagingMetadata;
      assert.equal(metadata.count, pages[0]);
      assert.equal(metadata.hasNext, true);
    });

    describe('references', () => {
      before(async () => {
        await client.collections.createDataCollection({
          _id: 'Writers',
          displayName: 'Writers',
          fields: [{ key: 'name', type: 'TEXT' }],
        });
        await client.collections.createDataCollection({
          _id: 'Novels',
          displayName: 'Novels',
          fields: [
            { key: 'title', type: 'TEXT' },
            {
              key: 'author',
              type: 'REFERENCE',
              typeMetadata: { reference: { referencedCollectionId: 'Writers' } },
            },
            {
              key: 'coauthors',
              type: 'MULTI_REFERENCE',
              typeMetadata: { multiReference: { referencedCollectionId: 'Writers' } },
            },
            { key: 'meta', type: 'OBJECT' },
          ],
        });
        await client.items.bulkInsert('Writers', [
          { _id: 'w1', name: 'Frank' },
          { _id: 'w2', name: 'Ursula' },
          { _id: 'w3', name: 'Iain' },
        ]);
        // The author written three ways: as an id, as the whole referenced item, and as a missing id.
        await client.items.insert('Novels', { _id: 'dune', title: 'Dune', author: 'w1' });
        await client.items.insert('Novels', {
          _id: 'earthsea',
          title: 'Earthsea',
          author: { _id: 'w2', name: 'Ursula', _createdDate: new Date() },
          meta: { _id: 'not-a-reference', kept: true },
        });
        await client.items.save('Novels', { _id: 'lost', title: 'Lost', author: 'w-gone' });
        await client.items.bulkSave('Novels', [{ _id: 'culture', title: 'Culture', author: { _id: 'w3' } }]);
        await client.items.insertReference('Novels', 'coauthors', 'dune', ['w1', 'w2']);
        await client.items.insertReference('Novels', 'coauthors', 'earthsea', 'w2');
      });

      it('stores a single reference written as the whole item by its id; eq matches it', async () => {
        assert.equal((await client.items.get('Novels', 'earthsea'))?.author, 'w2');
        assert.equal((await client.items.get('Novels', 'culture'))?.author, 'w3');
        assert.deepEqual(
          (await client.items.query('Novels').eq('author', 'w2').find()).items.map((i) => i._id),
          ['earthsea'],
        );
        // An OBJECT field holding an `_id` is content, not a reference: kept as written.
        assert.deepEqual((await client.items.get('Novels', 'earthsea'))?.meta, {
          _id: 'not-a-reference',
          kept: true,
        });
      });

      it('include() expands a single reference, and keeps an id whose item is gone', async () => {
        const page = await client.items.query('Novels').include('author').ascending('title').find();
        const byId = new Map(page.items.map((i) => [i._id, i.author as Item | string]));
        assert.equal((byId.get('dune') as Item).name, 'Frank');
        assert.equal((byId.get('dune') as Item)._id, 'w1');
        assert.equal((byId.get('earthsea') as Item).name, 'Ursula');
        assert.equal((byId.get('culture') as Item)._id, 'w3');
        assert.equal(byId.get('lost'), 'w-gone');
        const got = await client.items.get('Novels', 'dune', { includeReferences: [{ field: 'author' }] });
        assert.equal((got?.author as Item).name, 'Frank');
        const both = await client.items
          .query('Novels')
          .eq('_id', 'dune')
          .include('author', 'coauthors')
          .find();
        assert.deepEqual(
          (both.items[0]?.coauthors as Item[]).map((w) => w._id),
          ['w1', 'w2'],
        );
        assert.equal((both.items[0]?.author as Item).name, 'Frank');
      });

      it('include() of a field that is not a reference is refused, naming it', async () => {
        const response = await post('/wix-data/v2/items/query', {
          dataCollectionId: 'Novels',
          includeReferences: [{ field: 'title' }],
        });
        assert.equal(response.status, 400);
        assert.match(JSON.stringify(response.body), /title is not a REFERENCE or MULTI_REFERENCE field/);
      });

      it('hasSome and hasAll on a multi-reference field follow its links', async () => {
        const ids = async (q: ReturnType<Client['items']['query']>) =>
          (await q.ascending('_id').find()).items.map((i) => i._id);
        assert.deepEqual(await ids(client.items.query('Novels').hasSome('coauthors', ['w2'])), [
          'dune',
          'earthsea',
        ]);
        assert.deepEqual(await ids(client.items.query('Novels').hasSome('coauthors', ['w1', 'w3'])), [
          'dune',
        ]);
        assert.deepEqual(await ids(client.items.query('Novels').hasAll('coauthors', ['w1', 'w2'])), ['dune']);
        assert.deepEqual(await ids(client.items.query('Novels').hasAll('coauthors', ['w2'])), [
          'dune',
          'earthsea',
        ]);
        assert.deepEqual(await ids(client.items.query('Novels').hasSome('coauthors', ['w3'])), []);
        assert.deepEqual(
          await ids(client.items.query('Novels').not(client.items.filter().hasSome('coauthors', ['w1']))),
          ['culture', 'earthsea', 'lost'],
        );
        assert.equal(await client.items.query('Novels').hasSome('coauthors', ['w2']).count(), 2);
        assert.equal(await client.items.isReferenced('Novels', 'coauthors', 'earthsea', 'w2'), true);
        // A link removed is no longer matched.
        await client.items.removeReference('Novels', 'coauthors', 'dune', 'w2');
        assert.deepEqual(await ids(client.items.query('Novels').hasSome('coauthors', ['w2'])), ['earthsea']);
        await client.items.insertReference('Novels', 'coauthors', 'dune', 'w2');
      });
    });
  });
}
