/**
 * Item events (`onDataItemCreated`, `onDataItemUpdated`, `onDataItemDeleted`) as signed webhooks: written
 * by every write path of the items API through Wix's own SDK, delivered from the outbox, and accepted by
 * `@wix/sdk`'s `AppStrategy(...).webhooks.process` with the items module's event handlers. Event shapes:
 * https://dev.wix.com/docs/api-reference/business-solutions/cms/data-items/data-item-created and the
 * `DataItemCreatedEnvelope`/`DataItemUpdatedEnvelope`/`DataItemDeletedEnvelope` types of
 * `@wix/wix-data-items-sdk`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppStrategy, createClient } from '@wix/sdk';
import * as items from '@wix/wix-data-items-sdk';
import { outboxRows } from '../helpers/storage-rows.js';
import {
  loopbackHooks,
  startTestEnv,
  wixDataClient,
  type TestEnv,
  type TestSite,
} from '../helpers/harness.js';
import {
  createBackup,
  drain,
  runJobs,
  siteWithBooks as withBooks,
  startReceiver,
  testDeliverer,
  type WebhookReceiver,
} from './webhook-receiver.js';

const ITEM_EVENTS = [
  'wix.data.v2.data_item_created',
  'wix.data.v2.data_item_updated',
  'wix.data.v2.data_item_deleted',
];
const ITEM_FQDN = 'wix.data.v2.data_item';

/** One item event as the SDK handed it to a handler. */
interface Handled {
  readonly slug: 'created' | 'updated' | 'deleted';
  readonly itemId: string;
  readonly collectionId: string;
  readonly sequence: number;
  readonly eventId: string | undefined;
  readonly data: Record<string, unknown> | undefined;
  readonly metadata: items.DataItemCreatedEnvelope['metadata'];
}

/** Runs every request the receiver got through the SDK's item event handlers; the events in arrival order. */
async function processed(requests: readonly { body: string }[], publicKey: string): Promise<Handled[]> {
  const client = createClient({ auth: AppStrategy({ appId: 'any-app-id', publicKey }), modules: { items } });
  const handled: Handled[] = [];
  const record =
    (slug: Handled['slug']) =>
    (event: items.DataItemCreatedEnvelope | items.DataItemDeletedEnvelope): void => {
      handled.push({
        slug,
        itemId: event.entity._id,
        collectionId: event.entity.dataCollectionId,
        sequence: Number(event.metadata.entityEventSequence),
        eventId: event.metadata._id,
        data: 'data' in event.entity ? event.entity.data : undefined,
        metadata: event.metadata,
      });
    };
  client.items.onDataItemCreated(record('created'));
  client.items.onDataItemUpdated(record('updated'));
  client.items.onDataItemDeleted(record('deleted'));
  for (const request of requests) await client.webhooks.process(request.body);
  return handled;
}

/** Each item's events (slugs) in the order they arrived. */
function historyByItem(handled: readonly Handled[]): Map<string, string[]> {
  const history = new Map<string, string[]>();
  for (const event of handled) history.set(event.itemId, [...(history.get(event.itemId) ?? []), event.slug]);
  return history;
}

describe('item events as signed webhooks', () => {
  let env: TestEnv;
  let receiver: WebhookReceiver;
  let site: TestSite;
  let publicKey: string;

  before(async () => {
    env = await startTestEnv({ env: loopbackHooks });
    receiver = await startReceiver();
    site = await env.createSite();
    publicKey = (await env.call('GET', '/_api/safekeep/v1/webhooks/public-key', { key: site.apiKey })).body
      .publicKey;
  });

  after(async () => {
    await receiver.close();
    await env.close();
  });

  const siteWithBooks = (eventTypes?: readonly string[]) => withBooks(env, receiver.url, eventTypes);

  async function deliverAll(): Promise<Handled[]> {
    receiver.requests.length = 0;
    // Wide enough that a bulk write's events drain within `drain`'s rounds.
    await drain(await testDeliverer(env, { concurrency: 32, perWebhook: 32 }));
    return processed(receiver.requests, publicKey);
  }

  it('the admin API accepts the item event types and refuses an unknown one', async () => {
    const res = await env.call('POST', '/_api/safekeep/v1/webhooks', {
      key: site.apiKey,
      body: { siteId: site.siteId, url: receiver.url, eventTypes: ['wix.data.v2.data_item_created'] },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.webhook.eventTypes, ['wix.data.v2.data_item_created']);
    const bad = await env.call('POST', '/_api/safekeep/v1/webhooks', {
      key: site.apiKey,
      body: { siteId: site.siteId, url: receiver.url, eventTypes: ['wix.data.v2.data_item_exploded'] },
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.details.validationError.fieldViolations[0].field, 'eventTypes[0]');
    await env.call('DELETE', `/_api/safekeep/v1/webhooks/${res.body.webhook.id}`, { key: site.apiKey });
  });

  it('single writes: created, updated, deleted through the SDK, in order per item, verified by webhooks.process', async () => {
    const subscribed = await siteWithBooks(ITEM_EVENTS);
    const client = wixDataClient(env.app, subscribed);
    await client.items.insert('Books', { _id: 'dune', title: 'Dune', year: 1965 });
    await client.items.insert('Books', { _id: 'emma', title: 'Emma' });
    await client.items.update('Books', { _id: 'dune', title: 'Dune', year: 1966 });
    await client.items.save('Books', { _id: 'dune', title: 'Dune Messiah' });
    await client.items.save('Books', { _id: 'ulysses', title: 'Ulysses' });
    await client.items.remove('Books', 'emma');
    await client.items.remove('Books', 'dune');
    // Refused writes write no event: the event is in the write's transaction.
    await assert.rejects(client.items.insert('Books', { _id: 'ulysses', title: 'again' }));
    await assert.rejects(client.items.update('Books', { _id: 'nobody', title: 'x' }));

    const handled = await deliverAll();
    assert.deepEqual(Object.fromEntries(historyByItem(handled)), {
      dune: ['created', 'updated', 'updated', 'deleted'],
      emma: ['created', 'deleted'],
      ulysses: ['created'],
    });
    for (const id of ['dune', 'emma']) {
      const sequences = handled.filter((e) => e.itemId === id).map((e) => e.sequence);
      assert.deepEqual(
        sequences,
        [...sequences].sort((a, b) => a - b),
        `${id}: entityEventSequence increases`,
      );
      assert.equal(new Set(sequences).size, sequences.length);
    }
    for (const event of handled) {
      assert.equal(event.collectionId, 'Books');
      assert.equal(event.metadata.entityFqdn, ITEM_FQDN);
      assert.equal(event.metadata.slug, event.slug);
      assert.equal(event.metadata.entityId, event.itemId);
      assert.equal(event.metadata.instanceId, subscribed.siteId);
      assert.ok(event.metadata.eventTime instanceof Date, 'the SDK turns eventTime into a Date');
    }
    const duneEvents = handled.filter((e) => e.itemId === 'dune');
    assert.deepEqual(
      duneEvents.map((e) => e.data?.title),
      ['Dune', 'Dune', 'Dune Messiah', undefined],
    );
    assert.equal(duneEvents[1]?.data?.year, 1966);
    assert.equal(duneEvents[0]?.data?._id, 'dune');
    assert.ok(duneEvents[0]?.data?._createdDate instanceof Date, 'item dates arrive as Dates');
    assert.equal(duneEvents[3]?.data, undefined, 'a deleted entity is only its id and collection');
    const ids = handled.map((e) => e.eventId);
    assert.equal(new Set(ids).size, ids.length, 'every event has its own id');
  });

  it('bulk writes: an event for every item written, in order per item', async () => {
    const subscribed = await siteWithBooks(ITEM_EVENTS);
    const client = wixDataClient(env.app, subscribed);
    const many = Array.from({ length: 120 }, (_, i) => ({ _id: `b${i}`, title: `Book ${i}` }));
    await client.items.bulkInsert('Books', many);
    // One refused entry (an existing id) and one new one: only the new one is an event.
    await client.items.bulkInsert('Books', [
      { _id: 'b0', title: 'duplicate' },
      { _id: 'fresh', title: 'Fresh' },
    ]);
    await client.items.bulkUpdate(
      'Books',
      many.slice(0, 60).map((b) => ({ ...b, title: `${b.title}, revised` })),
    );
    await client.items.bulkSave('Books', [
      { _id: 'b1', title: 'saved over' },
      { _id: 'new-by-save', title: 'New' },
    ]);
    await client.items.bulkRemove(
      'Books',
      many.slice(100).map((b) => b._id),
    );

    const handled = await deliverAll();
    const history = historyByItem(handled);
    assert.equal(history.size, 122, 'every written item has events');
    for (let i = 0; i < 120; i++) {
      const expected = ['created'];
      if (i < 60) expected.push('updated');
      if (i === 1) expected.push('updated');
      if (i >= 100) expected.push('deleted');
      assert.deepEqual(history.get(`b${i}`), expected, `b${i}`);
    }
    assert.deepEqual(history.get('fresh'), ['created']);
    assert.deepEqual(history.get('new-by-save'), ['created']);
    assert.equal(handled.filter((e) => e.itemId === 'b0' && e.data?.title === 'duplicate').length, 0);
    for (const [id] of history) {
      const sequences = handled.filter((e) => e.itemId === id).map((e) => e.sequence);
      for (let i = 1; i < sequences.length; i++)
        assert.ok((sequences[i] ?? 0) > (sequences[i - 1] ?? 0), `${id}: ${sequences.join(',')}`);
    }
  });

  it('patch and bulk patch: an updated event for every applied patch, none for a refused one', async () => {
    const subscribed = await siteWithBooks(ITEM_EVENTS);
    const client = wixDataClient(env.app, subscribed);
    await client.items.bulkInsert('Books', [
      { _id: 'p1', title: 'One', reads: 1 },
      { _id: 'p2', title: 'Two', reads: 1 },
    ]);
    await client.items.patch('Books', 'p1').incrementField('reads', 1).run();
    await client.items.bulkPatch('Books', ['p1', 'p2']).setField('title', 'Patched').run();
    // A patch of a missing item is refused and writes no event.
    await assert.rejects(client.items.patch('Books', 'nobody').setField('title', 'x').run());

    const handled = await deliverAll();
    assert.deepEqual(Object.fromEntries(historyByItem(handled)), {
      p1: ['created', 'updated', 'updated'],
      p2: ['created', 'updated'],
    });
    const p1 = handled.filter((e) => e.itemId === 'p1');
    assert.equal(p1[1]?.data?.reads, 2, 'the event carries the item as the patch left it');
    assert.equal(p1[2]?.data?.title, 'Patched');
  });

  it('remove and bulk remove under a condition: a deleted event only for an item that matched it', async () => {
    const subscribed = await siteWithBooks(ITEM_EVENTS);
    const client = wixDataClient(env.app, subscribed);
    await client.items.bulkInsert('Books', [
      { _id: 'r1', title: 'One', keep: true },
      { _id: 'r2', title: 'Two', keep: false },
      { _id: 'r3', title: 'Three', keep: true },
    ]);
    const unkept = client.items.filter().eq('keep', false);
    await assert.rejects(client.items.remove('Books', 'r1', { condition: unkept }));
    await client.items.bulkRemove('Books', ['r2', 'r3'], { condition: unkept });

    const handled = await deliverAll();
    assert.deepEqual(Object.fromEntries(historyByItem(handled)), {
      r1: ['created'],
      r2: ['created', 'deleted'],
      r3: ['created'],
    });
  });

  it('writes no item event without a subscription that names it (outbox rows counted)', async () => {
    const unsubscribed = await siteWithBooks();
    const backupsOnly = await siteWithBooks([
      'wix.data.v2.backup_backup_state_changed',
      'wix.data.v2.backup_restoration_state_changed',
    ]);
    const createdOnly = await siteWithBooks(['wix.data.v2.data_item_created']);
    for (const quiet of [unsubscribed, backupsOnly, createdOnly]) {
      const client = wixDataClient(env.app, quiet);
      await client.items.insert('Books', { _id: 'one', title: 'One' });
      await client.items.bulkInsert('Books', [{ title: 'Two' }, { title: 'Three' }]);
      await client.items.update('Books', { _id: 'one', title: 'One, again' });
      await client.items.bulkSave('Books', [{ _id: 'one', title: 'One, third' }]);
      await client.items.remove('Books', 'one');
    }
    assert.deepEqual(await outboxRows(env.safekeep.storage, unsubscribed.siteId), {
      events: 0,
      deliveries: 0,
    });
    assert.deepEqual(await outboxRows(env.safekeep.storage, backupsOnly.siteId, ITEM_FQDN), {
      events: 0,
      deliveries: 0,
    });
    // Only the creations, one outbox row per write (the insert, the bulk insert of two): updates and the
    // removal are not subscribed to.
    assert.deepEqual(await outboxRows(env.safekeep.storage, createdOnly.siteId, ITEM_FQDN), {
      events: 2,
      deliveries: 2,
    });
    const handled = await deliverAll();
    assert.equal(handled.length, 3);
    assert.ok(handled.every((e) => e.slug === 'created' && e.metadata.instanceId === createdOnly.siteId));
  });

  it('truncate, SANDBOX writes, restorations and restoreDataCollection emit no item events', async () => {
    const subscribed = await siteWithBooks(ITEM_EVENTS);
    const client = wixDataClient(env.app, subscribed);
    await client.items.bulkInsert('Books', [
      { _id: 'a', title: 'A' },
      { _id: 'b', title: 'B' },
    ]);
    await deliverAll();
    const before = await outboxRows(env.safekeep.storage, subscribed.siteId, ITEM_FQDN);
    // One outbox row for the bulk insert's two items.
    assert.deepEqual(before, { events: 1, deliveries: 1 });

    const sandbox = await env.call('POST', '/wix-data/v2/items', {
      key: subscribed.apiKey,
      body: {
        dataCollectionId: 'Books',
        environment: 'SANDBOX',
        dataItem: { id: 's1', data: { title: 'S' } },
      },
    });
    assert.equal(sandbox.status, 200, sandbox.text);
    const backupId = await createBackup(env, subscribed);
    await runJobs(env);
    await client.items.truncate('Books');
    env.clock.advance(1000);
    const restored = await env.call('POST', `/wix-data/v2/backups/${backupId}/restore`, {
      key: subscribed.apiKey,
      body: {},
    });
    assert.equal(restored.status, 200, restored.text);
    await runJobs(env);
    assert.equal((await client.items.query('Books').find()).items.length, 2, 'the restoration ran');
    const deleted = await env.call('DELETE', '/wix-data/v2/collections/Books', { key: subscribed.apiKey });
    assert.equal(deleted.status, 200, deleted.text);
    const back = await env.call('POST', '/wix-data/v2/collections/restore/Books', {
      key: subscribed.apiKey,
      body: {},
    });
    assert.equal(back.status, 200, back.text);
    assert.equal((await client.items.query('Books').find()).items.length, 2, 'restoreDataCollection ran');

    assert.deepEqual(await outboxRows(env.safekeep.storage, subscribed.siteId, ITEM_FQDN), before);
    assert.equal((await deliverAll()).length, 0);
  });
});
