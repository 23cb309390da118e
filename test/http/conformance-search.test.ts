/**
 * Conformance: `search` through Wix's own SDK (@wix/sdk + @wix/wix-data-items-sdk) over real HTTP on
 * loopback, on the stack SAFEKEEP_TEST_STACK names, checked against Wix's documentation:
 * - WixDataSearch (expression, andMode, orMode, fuzzy, filters, sort, fields, limit, skip):
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-search/introduction
 * - Search Data Items (`search.search.expression|mode|fuzzy|fields`, filter, sort, paging):
 *   https://dev.wix.com/docs/rest/business-solutions/cms/data-items/search-data-items
 * Where they differ the SDK is followed: `SearchParams(...).fields([...])` sends the fields to search in
 * `search.search.fields` (the REST reference does not list it), and `fields()` on the builder sends the
 * fields to return in `search.fields`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment, SearchBuilder, SearchParams } from '@wix/wix-data-items-sdk';
import { runJobs } from '../helpers/backup-helpers.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { rejectionCode } from '../helpers/wix-rejection.js';

type Client = ReturnType<typeof wixDataClient>;
type Row = Record<string, unknown>;

const P = '/wix-data/v2';

const books = [
  {
    _id: 'b1',
    title: 'The Hobbit',
    summary: 'A hobbit goes there and back again',
    year: 1937,
    genre: 'fantasy',
  },
  { _id: 'b2', title: 'Hobbits of the Shire', summary: 'A guide to the Shire and its people', year: 2001 },
  { _id: 'b3', title: 'Dune', summary: 'Spice and sand on a desert planet', year: 1965, genre: 'sf' },
  { _id: 'b4', title: 'Foundation', summary: 'The fall of a galactic empire', year: 1951, genre: 'sf' },
  { _id: 'b5', title: 'Sand Castles', summary: 'Stories of the beach', year: 1990 },
];

const ids = (items: readonly Row[]) => items.map((i) => i._id);

describe('search through the Wix SDK', () => {
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
        { key: 'summary', type: 'TEXT' },
        { key: 'year', type: 'NUMBER' },
      ],
    });
    assert.equal((await client.items.bulkInsert('Books', books)).inserted, books.length);
  });

  after(() => env.close());

  it('finds the words of the expression in the declared TEXT fields, case-insensitively', async () => {
    const result = await client.items.search('Books').expression('DUNE').run();
    assert.deepEqual(ids(result.items), ['b3']);
    assert.equal(result.items[0]?.year, 1965);
    assert.equal(typeof result.items[0]?.year, 'number');
    assert.ok(result.items[0]?._createdDate instanceof Date);
    const none = await client.items.search('Books').expression('hobbitses').run();
    assert.deepEqual(none.items, []);
    assert.equal(none.hasNext(), false);
  });

  it('ranks exact words first; fuzzy adds words of similar spelling after them', async () => {
    const exact = await client.items.search('Books').expression('hobbit').run();
    assert.deepEqual(ids(exact.items), ['b1'], 'without fuzzy only the exact word matches');
    const fuzzy = await client.items.search('Books').expression('hobbit').fuzzy().run();
    assert.deepEqual(ids(fuzzy.items), ['b1', 'b2'], '"Hobbits" comes after the exact "Hobbit"');
  });

  it('finds a one-letter typo with fuzzy, and not without', async () => {
    assert.deepEqual(ids((await client.items.search('Books').expression('foundetion').run()).items), []);
    const typo = await client.items.search('Books').expression('foundetion').fuzzy().run();
    assert.deepEqual(ids(typo.items), ['b4']);
    const direct = await client.items.search(
      'Books',
      SearchBuilder().withSearchClause(SearchParams('galactik').fuzzy(true)).build(),
    );
    assert.deepEqual(ids(direct.items), ['b4']);
  });

  it('OR finds any word, AND every word (in any searched field)', async () => {
    const any = await client.items.search('Books').expression('spice castles').orMode().run();
    assert.deepEqual(new Set(ids(any.items)), new Set(['b3', 'b5']));
    const defaultMode = await client.items.search('Books').expression('spice castles').run();
    assert.deepEqual(new Set(ids(defaultMode.items)), new Set(['b3', 'b5']));
    const every = await client.items.search('Books').expression('dune desert').andMode().run();
    assert.deepEqual(ids(every.items), ['b3'], '"dune" is in the title, "desert" in the summary');
    const nothing = await client.items.search('Books').expression('spice castles').andMode().run();
    assert.deepEqual(nothing.items, []);
  });

  it('SearchParams.fields narrows the search to some TEXT fields', async () => {
    const everywhere = await client.items.search(
      'Books',
      SearchBuilder().withSearchClause(SearchParams('sand')).build(),
    );
    assert.deepEqual(new Set(ids(everywhere.items)), new Set(['b3', 'b5']));
    const titles = await client.items.search(
      'Books',
      SearchBuilder()
        .withSearchClause(SearchParams('sand').fields(['title'] as never[]))
        .build(),
    );
    assert.deepEqual(ids(titles.items), ['b5'], 'b3 has "sand" in its summary only');
  });

  it('filters, sorts before relevance, pages by offset and returns the fields asked for', async () => {
    const filtered = await client.items
      .search('Books')
      .expression('the')
      .gt('year', 1950)
      .ascending('year')
      .run();
    assert.deepEqual(ids(filtered.items), ['b4', 'b5', 'b2']);
    const first = await client.items.search('Books').expression('the').ascending('year').limit(2).run();
    assert.deepEqual(ids(first.items), ['b1', 'b4']);
    assert.equal(first.hasNext(), true);
    const second = await first.next();
    assert.deepEqual(ids(second.items), ['b5', 'b2']);
    assert.equal(second.hasNext(), false);
    const skipped = await client.items.search('Books').expression('the').ascending('year').skip(3).run();
    assert.deepEqual(ids(skipped.items), ['b2']);
    const projected = await client.items.search('Books').expression('dune').fields('title').run();
    assert.deepEqual(Object.keys(projected.items[0] ?? {}).sort(), ['_id', 'title']);
  });

  it('follows writes: update, patch, remove and truncate change what is found', async () => {
    await client.items.insert('Books', { _id: 'w1', title: 'Neuromancer', summary: 'Cyberspace' });
    assert.deepEqual(ids((await client.items.search('Books').expression('neuromancer').run()).items), ['w1']);
    await client.items.update('Books', { _id: 'w1', title: 'Count Zero', summary: 'Cyberspace' });
    assert.deepEqual((await client.items.search('Books').expression('neuromancer').run()).items, []);
    assert.deepEqual(ids((await client.items.search('Books').expression('zero').run()).items), ['w1']);
    await client.items.patch('Books', 'w1').setField('title', 'Mona Lisa Overdrive').run();
    assert.deepEqual(ids((await client.items.search('Books').expression('overdrive').run()).items), ['w1']);
    await client.items.remove('Books', 'w1');
    assert.deepEqual((await client.items.search('Books').expression('cyberspace').run()).items, []);
    await client.collections.createDataCollection({
      _id: 'Scratch',
      displayName: 'Scratch',
      fields: [{ key: 'note', type: 'TEXT' }],
    });
    await client.items.insert('Scratch', { note: 'temporary words' });
    assert.equal((await client.items.search('Scratch').expression('temporary').run()).items.length, 1);
    await client.items.truncate('Scratch');
    assert.deepEqual((await client.items.search('Scratch').expression('temporary').run()).items, []);
  });

  it('a TEXT field declared later is indexed for the items already there', async () => {
    assert.deepEqual((await client.items.search('Books').expression('fantasy').run()).items, []);
    const collection = await client.collections.getDataCollection('Books');
    await client.collections.updateDataCollection({
      ...collection,
      fields: [...(collection.fields ?? []), { key: 'genre', type: 'TEXT' }],
    });
    const found = await client.items.search('Books').expression('fantasy').run();
    assert.deepEqual(ids(found.items), ['b1']);
  });

  it('keeps SANDBOX and LIVE apart', async () => {
    const sandbox = client.items.withEnvironment(Environment.SANDBOX);
    await sandbox.insert('Books', { _id: 's1', title: 'Sandbox Hobbit' });
    const live = await client.items.search('Books').expression('sandbox').run();
    assert.deepEqual(live.items, []);
    const inSandbox = await sandbox.search('Books').expression('hobbit').run();
    assert.deepEqual(ids(inSandbox.items), ['s1']);
  });

  it('right after a restore, finds the restored text and not the replaced one', async () => {
    const created = await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} });
    assert.equal(created.status, 200);
    await runJobs(env);
    const backupId = (created.body as { backup: { id: string } }).backup.id;
    await client.items.update('Books', { _id: 'b3', title: 'Arrakis', summary: 'Spice', year: 1965 });
    await client.items.insert('Books', { _id: 'n1', title: 'Hyperion', summary: 'Pilgrims' });
    assert.deepEqual(ids((await client.items.search('Books').expression('arrakis').run()).items), ['b3']);
    const restore = await env.call('POST', `${P}/backups/${backupId}/restore`, {
      key: site.apiKey,
      body: {},
    });
    assert.equal(restore.status, 200);
    await runJobs(env);
    const restorationId = (restore.body as { restoration: { id: string } }).restoration.id;
    const done = await env.call('GET', `${P}/backups/restorations/${restorationId}`, { key: site.apiKey });
    assert.equal((done.body as { restoration: { status: string } }).restoration.status, 'COMPLETED');
    assert.deepEqual((await client.items.search('Books').expression('arrakis').run()).items, []);
    assert.deepEqual((await client.items.search('Books').expression('hyperion').run()).items, []);
    assert.deepEqual(ids((await client.items.search('Books').expression('dune').run()).items), ['b3']);
    const fuzzy = await client.items.search('Books').expression('hobbit').fuzzy().run();
    assert.deepEqual(ids(fuzzy.items), ['b1', 'b2']);
  });

  it('right after an item restore, finds the restored items and not what they replaced', async () => {
    const created = await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} });
    assert.equal(created.status, 200);
    await runJobs(env);
    const backupId = (created.body as { backup: { id: string } }).backup.id;
    await client.items.update('Books', { _id: 'b3', title: 'Caladan', summary: 'Oceans', year: 1965 });
    await client.items.insert('Books', { _id: 'n2', title: 'Solaris', summary: 'Ocean planet' });
    assert.deepEqual(ids((await client.items.search('Books').expression('caladan').run()).items), ['b3']);
    const restore = await env.call('POST', `${P}/backups/${backupId}/partial-restore`, {
      key: site.apiKey,
      body: {
        restorationCollections: [
          { dataCollectionId: 'Books', restoreMode: 'RESTORE_ITEMS', itemIds: ['b3', 'n2'] },
        ],
      },
    });
    assert.equal(restore.status, 200, JSON.stringify(restore.body));
    await runJobs(env);
    const restorationId = (restore.body as { restoration: { id: string } }).restoration.id;
    const done = await env.call('GET', `${P}/backups/restorations/${restorationId}`, { key: site.apiKey });
    assert.equal((done.body as { restoration: { status: string } }).restoration.status, 'COMPLETED');
    // b3 is back as the backup held it; n2, absent from the backup and listed, left live data.
    assert.deepEqual((await client.items.search('Books').expression('caladan').run()).items, []);
    assert.deepEqual((await client.items.search('Books').expression('solaris').run()).items, []);
    assert.deepEqual(ids((await client.items.search('Books').expression('dune').run()).items), ['b3']);
  });

  it('answers bad requests with a 4xx in the error shape, naming what is wrong', async () => {
    const bad = async (body: unknown) => {
      const res = await env.call('POST', `${P}/items/search`, { key: site.apiKey, body });
      assertErrorShape(res.body);
      return res as { status: number; body: { details?: unknown } };
    };
    const field = (res: { body: unknown }) => JSON.stringify(res.body);
    const unknown = await bad({
      dataCollectionId: 'Books',
      search: { search: { expression: 'dune', fields: ['year'] } },
    });
    assert.equal(unknown.status, 400);
    assert.match(field(unknown), /search\.search\.fields\[0\]/);
    const empty = await bad({ dataCollectionId: 'Books', search: { search: { expression: '  ' } } });
    assert.equal(empty.status, 400);
    assert.match(field(empty), /search\.search\.expression/);
    const missing = await bad({ dataCollectionId: 'Books', search: {} });
    assert.equal(missing.status, 400);
    const noWords = await bad({ dataCollectionId: 'Books', search: { search: { expression: '?!' } } });
    assert.equal(noWords.status, 400);
    const cursor = await bad({
      dataCollectionId: 'Books',
      search: { search: { expression: 'dune' }, cursorPaging: { cursor: 'abc' } },
    });
    assert.equal(cursor.status, 400);
    await client.collections.createDataCollection({ _id: 'Plain', displayName: 'Plain', fields: [] });
    const plain = await bad({ dataCollectionId: 'Plain', search: { search: { expression: 'dune' } } });
    assert.equal(plain.status, 400);
    assert.match(field(plain), /declares no TEXT field/);
    assert.equal(await rejectionCode(client.items.search('Missing').expression('dune').run()), 'WDE0025');
  });
});
