/** Conformance: webhook bodies are accepted by Wix's own SDK (`webhooks.process` with AppStrategy). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppStrategy, createClient } from '@wix/sdk';
import * as backups from '@wix/auto_sdk_data_backups';
import { loopbackHooks, startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import {
  createBackup,
  decodeWebhook,
  drain,
  runJobs,
  startReceiver,
  subscribe,
  type WebhookReceiver,
} from './webhook-receiver.js';

describe('webhook deliveries through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let receiver: WebhookReceiver;
  let backupId: string;
  let restorationId: string;
  let publicKey: string;

  before(async () => {
    env = await startTestEnv({ env: loopbackHooks });
    receiver = await startReceiver();
    site = await env.createSite();
    const asSite = { key: site.apiKey };
    const created = await env.call('POST', '/wix-data/v2/collections', {
      ...asSite,
      body: { collection: { id: 'Books', fields: [] } },
    });
    assert.equal(created.status, 200, created.text);
    const inserted = await env.call('POST', '/wix-data/v2/items', {
      ...asSite,
      body: { dataCollectionId: 'Books', dataItem: { id: 'b1', data: { title: 'Dune' } } },
    });
    assert.equal(inserted.status, 200, inserted.text);
    await subscribe(env, site, receiver.url);
    publicKey = (await env.call('GET', '/_api/safekeep/v1/webhooks/public-key', asSite)).body.publicKey;

    backupId = await createBackup(env, site);
    await runJobs(env);
    env.clock.advance(1000);
    const restored = await env.call('POST', `/wix-data/v2/backups/${backupId}/restore`, {
      ...asSite,
      body: {},
    });
    assert.equal(restored.status, 200, restored.text);
    restorationId = restored.body.restoration.id;
    await runJobs(env);
    await drain(env.safekeep.background().deliverer);
  });

  after(async () => {
    await receiver.close();
    await env.close();
  });

  it('serves the public key as SPKI PEM', () => {
    assert.match(publicKey, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
  });

  it('POSTs each event as a JWT in a text/plain body, with no secret inside', () => {
    assert.ok(receiver.requests.length >= 4, `${receiver.requests.length} requests`);
    for (const request of receiver.requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.contentType, 'text/plain');
      assert.match(request.body, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const decoded = JSON.stringify(decodeWebhook(request.body));
      for (const secret of [site.apiKey, env.adminKey])
        assert.ok(!decoded.includes(secret), 'no API key in a webhook');
    }
  });

  it('is accepted by webhooks.process: PENDING then READY for the backup, PENDING then COMPLETED for the restoration', async () => {
    const client = createClient({
      auth: AppStrategy({ appId: 'any-app-id', publicKey }),
      modules: { backups },
    });
    const backupEvents: backups.BackupStateChangedEnvelope[] = [];
    const restorationEvents: backups.BackupRestorationStateChangedEnvelope[] = [];
    client.backups.onBackupStateChanged((event) => {
      backupEvents.push(event);
    });
    client.backups.onBackupRestorationStateChanged((event) => {
      restorationEvents.push(event);
    });
    const eventTypes: string[] = [];
    for (const request of receiver.requests) {
      const result = await client.webhooks.process(request.body);
      assert.equal(result.instanceId, site.siteId);
      eventTypes.push(result.eventType);
    }
    // The SDK leaves eventType out of the handlers' metadata (though its types list it); process returns it.
    assert.deepEqual([...new Set(eventTypes)].sort(), [
      'wix.data.v2.backup_backup_state_changed',
      'wix.data.v2.backup_restoration_state_changed',
    ]);

    const ofBackup = backupEvents.filter((e) => e.metadata.entityId === backupId);
    assert.deepEqual(
      ofBackup.map((e) => e.data.backup?.status),
      ['PENDING', 'READY'],
    );
    assert.deepEqual(
      ofBackup.map((e) => e.data.backup?._id),
      [backupId, backupId],
    );
    assert.deepEqual(
      ofBackup.map((e) => e.metadata.entityEventSequence),
      ['1', '2'],
    );
    for (const event of ofBackup) {
      assert.equal(event.metadata.entityFqdn, 'wix.data.v2.backup');
      assert.equal(event.metadata.slug, 'backup_state_changed');
      assert.equal(event.metadata.instanceId, site.siteId);
      assert.ok(event.metadata.eventTime instanceof Date, 'the SDK turns eventTime into a Date');
      assert.ok(event.data.backup?.requestedDate instanceof Date, 'and the backup timestamps');
      assert.deepEqual(event.metadata.identity, { identityType: 'UNKNOWN' });
    }
    assert.equal(ofBackup[1]?.data.backup?.type, 'ON_DEMAND');
    assert.ok(Number(ofBackup[1]?.data.backup?.sizeInBytes) > 0);
    assert.deepEqual(
      ofBackup[1]?.data.backup?.collections?.map((c) => c._id),
      ['Books'],
    );

    // The safety backup of the restoration reports its own events.
    const others = backupEvents.filter((e) => e.metadata.entityId !== backupId);
    assert.ok(others.length >= 2);
    assert.equal(others[0]?.data.backup?.status, 'PENDING');

    assert.deepEqual(
      restorationEvents.map((e) => e.data.restoration?.status),
      ['PENDING', 'COMPLETED'],
    );
    for (const event of restorationEvents) {
      assert.equal(event.metadata.entityId, restorationId);
      assert.equal(event.data.restoration?._id, restorationId);
      assert.equal(event.data.restoration?.backup?._id, backupId);
      assert.equal(event.metadata.slug, 'restoration_state_changed');
    }
    assert.deepEqual(
      restorationEvents.map((e) => e.metadata.entityEventSequence),
      ['1', '2'],
    );

    const ids = [...backupEvents, ...restorationEvents].map((e) => e.metadata._id);
    assert.equal(new Set(ids).size, ids.length, 'every event has its own id');
  });

  it('is refused by webhooks.process under another public key, or when tampered with', async () => {
    const other = await startTestEnv();
    try {
      const otherKey = (
        await other.call('GET', '/_api/safekeep/v1/webhooks/public-key', { key: other.adminKey })
      ).body.publicKey;
      assert.notEqual(otherKey, publicKey);
      const client = createClient({
        auth: AppStrategy({ appId: 'any', publicKey: otherKey }),
        modules: { backups },
      });
      client.backups.onBackupStateChanged(() => undefined);
      await assert.rejects(client.webhooks.process(receiver.requests[0]?.body ?? ''));
    } finally {
      await other.close();
    }
    const client = createClient({ auth: AppStrategy({ appId: 'any', publicKey }), modules: { backups } });
    client.backups.onBackupStateChanged(() => undefined);
    const [header, payload, signature] = (receiver.requests[0]?.body ?? '').split('.');
    const forged = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    forged.data = forged.data.replace('PENDING', 'READY');
    const tampered = `${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
    await assert.rejects(client.webhooks.process(tampered));
  });
});
