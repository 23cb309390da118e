/**
 * Item events are written as one outbox row per write and sent as one webhook per item: the order of a
 * batch, how a failure or a crash mid-batch resumes (same event ids), and the retention of old events
 * (SAFEKEEP_EVENT_RETENTION_DAYS). Runs on the stack SAFEKEEP_TEST_STACK names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itemEventTypes } from '../../src/contracts/item-events.js';
import { eventsOf, outboxRows } from '../helpers/storage-rows.js';
import { loopbackHooks, startTestEnv, wixDataClient, type TestEnv } from '../helpers/harness.js';
import {
  createBackup,
  decodeWebhook,
  drain,
  runJobs,
  siteWithBooks,
  startReceiver,
  subscribe,
  testDeliverer,
  type WebhookReceiver,
} from './webhook-receiver.js';

const ITEM_EVENTS = itemEventTypes;
const BACKUP_EVENTS = ['wix.data.v2.backup_backup_state_changed'];
const ITEM_FQDN = 'wix.data.v2.data_item';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The item events a receiver got, in arrival order. */
function received(receiver: WebhookReceiver): { id: string; itemId: string; sequence: number }[] {
  return receiver.requests.map((request) => {
    const { event } = decodeWebhook(request.body);
    return { id: event.id, itemId: event.entityId, sequence: Number(event.entityEventSequence) };
  });
}

const books = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({ _id: `${prefix}${String(i).padStart(3, '0')}`, title: `${i}` }));

/** A test environment of its own (retention works across sites) and a receiver. */
function environment(): { env: TestEnv; receiver: WebhookReceiver } {
  const state = {} as { env: TestEnv; receiver: WebhookReceiver };
  before(async () => {
    state.env = await startTestEnv({ env: loopbackHooks });
    state.receiver = await startReceiver();
  });
  after(async () => {
    await state.receiver.close();
    await state.env.close();
  });
  return state;
}

describe('item event batches', () => {
  const state = environment();

  it('a bulk write is one outbox row, sent as one webhook per item in the order written', async () => {
    const { env, receiver } = state;
    receiver.react = () => 200;
    receiver.requests.length = 0;
    const site = await siteWithBooks(env, receiver.url, ITEM_EVENTS);
    const client = wixDataClient(env.app, site);
    const first = books('a', 40);
    await client.items.bulkInsert('Books', first);
    assert.deepEqual(await outboxRows(env.safekeep.storage, site.siteId, ITEM_FQDN), {
      events: 1,
      deliveries: 1,
    });
    await client.items.bulkUpdate(
      'Books',
      first.slice(0, 5).map((b) => ({ ...b, title: 'revised' })),
    );
    await drain(await testDeliverer(env));

    const got = received(receiver);
    assert.deepEqual(
      got.map((e) => e.itemId),
      [...first.map((b) => b._id), ...first.slice(0, 5).map((b) => b._id)],
      'every item of each batch, in the order written, batch after batch',
    );
    assert.equal(new Set(got.map((e) => e.id)).size, got.length, 'each event has its own id');
    for (let i = 1; i < 40; i++)
      assert.ok((got[i]?.sequence ?? 0) > (got[i - 1]?.sequence ?? 0), 'sequences grow through a batch');
    for (let i = 0; i < 5; i++)
      assert.ok(
        (got[40 + i]?.sequence ?? 0) > (got[i]?.sequence ?? 0),
        `${first[i]?._id}: update after create`,
      );
  });

  it('a failure mid-batch resumes at the failed item, and a crash mid-batch at the recorded progress, with the same ids', async () => {
    const { env, receiver } = state;
    receiver.requests.length = 0;
    const site = await siteWithBooks(env, receiver.url, ITEM_EVENTS);
    const client = wixDataClient(env.app, site);
    await client.items.bulkInsert('Books', books('f', 10));
    let answered = 0;
    receiver.react = () => (++answered === 4 ? 500 : 200);
    const deliverer = await testDeliverer(env);
    await drain(deliverer);
    assert.equal(receiver.requests.length, 4, 'the batch stops at the refused item');
    env.clock.advance(60_000);
    await drain(deliverer);
    const got = received(receiver);
    assert.deepEqual(
      got.map((e) => e.itemId),
      ['f000', 'f001', 'f002', 'f003', 'f003', 'f004', 'f005', 'f006', 'f007', 'f008', 'f009'],
    );
    assert.equal(got[3]?.id, got[4]?.id, 'the retried item keeps its id');
    assert.equal(new Set(got.map((e) => e.id)).size, 10);

    // A worker that claimed a batch, sent five items, recorded four and died.
    receiver.requests.length = 0;
    receiver.react = () => 200;
    await client.items.bulkInsert('Books', books('c', 10));
    const [claimed, ...others] = await env.safekeep.storage.webhooks.claimDue({
      workerId: 'crashed',
      now: env.clock.now(),
      leaseMs: 60_000,
      limit: 10,
    });
    assert.ok(claimed);
    assert.equal(others.length, 0);
    assert.deepEqual(
      claimed.events.map((e) => e.entityId),
      books('c', 10).map((b) => b._id),
    );
    const held = await env.safekeep.storage.webhooks.markProgress(
      claimed.eventSeq,
      claimed.webhookId,
      'crashed',
      4,
      env.clock.now() + 60_000,
    );
    assert.equal(held, true);
    assert.equal(await drain(deliverer), 0, 'nobody else takes it while the lease lasts');
    env.clock.advance(60_001);
    await drain(deliverer);
    assert.deepEqual(
      received(receiver).map((e) => e.id),
      claimed.events.slice(4).map((e) => e.id),
      'redelivered from the recorded progress, with the ids the first claim had',
    );
    // The dead worker's late writes change nothing.
    assert.equal(
      await env.safekeep.storage.webhooks.markProgress(claimed.eventSeq, claimed.webhookId, 'crashed', 9, 0),
      false,
    );
  });
});

describe('item event retention', () => {
  const state = environment();

  it('retention deletes only old events that were delivered or given up, and keeps a backup’s last event', async () => {
    const { env, receiver } = state;
    receiver.requests.length = 0;
    receiver.react = (request) => (decodeWebhook(request.body).event.entityId === 'stuck' ? 500 : 200);
    const site = await siteWithBooks(env, receiver.url, [...ITEM_EVENTS, ...BACKUP_EVENTS]);
    const client = wixDataClient(env.app, site);
    // A site whose only subscription is blocked: its event stays PENDING, however old.
    const held = await siteWithBooks(env, receiver.url);
    await env.safekeep.storage.webhooks.setBlocked(
      await subscribe(env, held, receiver.url, ITEM_EVENTS),
      'held for the test',
    );
    await wixDataClient(env.app, held).items.insert('Books', { _id: 'pending', title: 'P' });

    await client.items.bulkInsert('Books', books('old', 3));
    await client.items.insert('Books', { _id: 'stuck', title: 'never accepted' });
    const backupId = await createBackup(env, site);
    await runJobs(env);
    const deliverer = await testDeliverer(env, { retentionMs: 7 * DAY, purgeBatch: 1 });
    await drain(deliverer);
    env.clock.advance(26 * HOUR);
    await drain(deliverer); // 'stuck' fails again, now past the day of retries: given up
    env.clock.advance(6 * DAY);
    await client.items.insert('Books', { _id: 'recent', title: 'R' });
    await drain(deliverer);
    assert.deepEqual(await outboxRows(env.safekeep.storage, site.siteId, ITEM_FQDN), {
      events: 3,
      deliveries: 3,
    });
    assert.equal((await eventsOf(env.safekeep.storage, backupId)).length, 2);

    // The old batch, the given-up event and the backup's first event, one per transaction.
    assert.equal(await deliverer.purgeOld(), 3);
    assert.deepEqual(await outboxRows(env.safekeep.storage, site.siteId, ITEM_FQDN), {
      events: 1,
      deliveries: 1,
    });
    const left = await eventsOf(env.safekeep.storage, backupId);
    assert.deepEqual(
      left.map((e) => e.entitySequence),
      [2],
      "the backup's last event stays, so that its next one still follows it",
    );
    assert.deepEqual(await outboxRows(env.safekeep.storage, held.siteId, ITEM_FQDN), {
      events: 1,
      deliveries: 1,
    });
    assert.equal(await deliverer.purgeOld(), 0);
  });
});
