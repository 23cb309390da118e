/** Tenancy and authority: keys see only their sites, need their scopes, and stop working when revoked. */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';

describe('tenancy and authority', () => {
  let env: TestEnv;
  let siteA: TestSite;
  let siteB: TestSite;
  const bCollection = 'SecretOrdersOfB';
  const bItem = 'b-item-7f3a';

  before(async () => {
    env = await startTestEnv();
    siteA = await env.createSite('Site A');
    siteB = await env.createSite('Site B');
    const asB = { key: siteB.apiKey };
    assert.equal(
      (
        await env.call('POST', `${P}/collections`, {
          ...asB,
          body: {
            collection: {
              id: bCollection,
              fields: [
                {
                  key: 'refs',
                  type: 'MULTI_REFERENCE',
                  typeMetadata: { multiReference: { referencedCollectionId: bCollection } },
                },
              ],
            },
          },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await env.call('POST', `${P}/items`, {
          ...asB,
          body: { dataCollectionId: bCollection, dataItem: { id: bItem, data: { secret: 'B-only' } } },
        })
      ).status,
      200,
    );
  });

  after(() => env.close());

  /** Every Data API route, aimed at site B's collection and item. */
  const dataCalls = (): { method: string; path: string; body?: unknown }[] => {
    const c = bCollection;
    const ref = { referringItemFieldName: 'refs', referringItemId: bItem, referencedItemId: bItem };
    return [
      { method: 'POST', path: `${P}/items`, body: { dataCollectionId: c, dataItem: { data: { x: 1 } } } },
      { method: 'GET', path: `${P}/items/${bItem}?dataCollectionId=${c}` },
      {
        method: 'POST',
        path: `${P}/items/update`,
        body: { dataCollectionId: c, dataItem: { id: bItem, data: {} } },
      },
      { method: 'PUT', path: `${P}/items/${bItem}`, body: { dataCollectionId: c, dataItem: { data: {} } } },
      {
        method: 'POST',
        path: `${P}/items/save`,
        body: { dataCollectionId: c, dataItem: { id: bItem, data: {} } },
      },
      { method: 'POST', path: `${P}/items/remove`, body: { dataCollectionId: c, dataItemId: bItem } },
      { method: 'DELETE', path: `${P}/items/${bItem}?dataCollectionId=${c}` },
      { method: 'POST', path: `${P}/items/truncate`, body: { dataCollectionId: c } },
      { method: 'POST', path: `${P}/items/query`, body: { dataCollectionId: c } },
      {
        method: 'GET',
        path: `${P}/items/query?.r=${Buffer.from(JSON.stringify({ dataCollectionId: c })).toString('base64url')}`,
      },
      { method: 'POST', path: `${P}/items/count`, body: { dataCollectionId: c } },
      {
        method: 'POST',
        path: `${P}/bulk/items/insert`,
        body: { dataCollectionId: c, dataItems: [{ data: {} }] },
      },
      {
        method: 'POST',
        path: `${P}/bulk/items/update`,
        body: { dataCollectionId: c, dataItems: [{ id: bItem, data: {} }] },
      },
      {
        method: 'POST',
        path: `${P}/bulk/items/save`,
        body: { dataCollectionId: c, dataItems: [{ id: bItem, data: {} }] },
      },
      { method: 'POST', path: `${P}/bulk/items/remove`, body: { dataCollectionId: c, dataItemIds: [bItem] } },
      {
        method: 'POST',
        path: `${P}/bulk/items/insert-references`,
        body: { dataCollectionId: c, dataItemReferences: [ref] },
      },
      {
        method: 'POST',
        path: `${P}/bulk/items/remove-references`,
        body: { dataCollectionId: c, dataItemReferences: [ref] },
      },
      {
        method: 'POST',
        path: `${P}/items/replace-references`,
        body: {
          dataCollectionId: c,
          referringItemFieldName: 'refs',
          referringItemId: bItem,
          newReferencedItemIds: [bItem],
        },
      },
      { method: 'POST', path: `${P}/items/is-referenced`, body: { dataCollectionId: c, ...ref } },
      {
        method: 'POST',
        path: `${P}/items/query-referenced`,
        body: { dataCollectionId: c, referringItemId: bItem, referringItemFieldName: 'refs' },
      },
      { method: 'GET', path: `${P}/collections/${c}` },
      { method: 'GET', path: `${P}/collections` },
      { method: 'PUT', path: `${P}/collections`, body: { collection: { id: c, revision: '1' } } },
      { method: 'DELETE', path: `${P}/collections/${c}` },
      { method: 'POST', path: `${P}/collections`, body: { collection: { id: 'New' } } },
    ];
  };

  it('answers 404 to a key for site A on every route of site B, and leaks nothing of B', async () => {
    for (const call of dataCalls()) {
      const res = await env.call(call.method, call.path, {
        key: siteA.apiKey,
        site: siteB.siteId,
        body: call.body,
      });
      assert.equal(res.status, 404, `${call.method} ${call.path}`);
      assert.equal(res.body.details.applicationError.code, 'SITE_NOT_FOUND');
      const everything = res.text + JSON.stringify(res.headers);
      for (const secret of [bItem, 'B-only', 'Site B'])
        assert.ok(!everything.includes(secret), `${call.path} leaked ${secret}`);
    }
    // Site B's data is untouched by all of that.
    const check = await env.call('GET', `${P}/items/${bItem}?dataCollectionId=${bCollection}`, {
      key: siteB.apiKey,
    });
    assert.equal(check.body.dataItem.data.secret, 'B-only');
  });

  it("sees nothing of B's ids on its own site either", async () => {
    const res = await env.call('GET', `${P}/items/${bItem}?dataCollectionId=${bCollection}`, {
      key: siteA.apiKey,
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.details.applicationError.code, 'WDE0025');
    const unknownSite = await env.call('POST', `${P}/items/query`, {
      key: siteA.apiKey,
      site: 'no-such-site',
      body: { dataCollectionId: 'x' },
    });
    assert.equal(unknownSite.status, 404);
    assert.equal(
      unknownSite.text.replace('no-such-site', ''),
      unknownSite.text,
      'the unknown site id is not echoed',
    );
  });

  it("answers 404 to a site admin of A for B's settings and keys", async () => {
    const settings = await env.call('GET', `/_api/safekeep/v1/sites/${siteB.siteId}/settings`, {
      key: siteA.apiKey,
    });
    assert.equal(settings.status, 404);
    const patch = await env.call('PATCH', `/_api/safekeep/v1/sites/${siteB.siteId}/settings`, {
      key: siteA.apiKey,
      body: { autoBackupRetention: 1 },
    });
    assert.equal(patch.status, 404);
    const createKey = await env.call('POST', '/_api/safekeep/v1/api-keys', {
      key: siteA.apiKey,
      body: { name: 'x', siteIds: [siteB.siteId], scopes: ['data.read'] },
    });
    assert.equal(createKey.status, 404);
    const keys = await env.call('GET', '/_api/safekeep/v1/api-keys', { key: siteA.apiKey });
    assert.equal(keys.status, 200);
    assert.ok(
      keys.body.apiKeys.every((k: { siteIds: string[] }) => k.siteIds.every((s) => s === siteA.siteId)),
    );
    const bKeys = await env.call('GET', '/_api/safekeep/v1/api-keys', { key: siteB.apiKey });
    const bKeyId = bKeys.body.apiKeys[0].id as string;
    const revoke = await env.call('DELETE', `/_api/safekeep/v1/api-keys/${bKeyId}`, { key: siteA.apiKey });
    assert.equal(revoke.status, 404);
    const sites = await env.call('GET', '/_api/safekeep/v1/sites', { key: siteA.apiKey });
    assert.equal(sites.status, 403, 'listing sites needs the admin scope');
  });

  it('answers 403 PERMISSION_DENIED to a key without the scope', async () => {
    const created = await env.call('POST', '/_api/safekeep/v1/api-keys', {
      key: siteA.apiKey,
      body: { name: 'reader', siteIds: [siteA.siteId], scopes: ['data.read'] },
    });
    assert.equal(created.status, 200);
    const reader = created.body.secret as string;
    await env.call('POST', `${P}/collections`, { key: siteA.apiKey, body: { collection: { id: 'Mine' } } });
    const insert = await env.call('POST', `${P}/items`, {
      key: reader,
      body: { dataCollectionId: 'Mine', dataItem: { data: {} } },
    });
    assert.equal(insert.status, 403);
    assert.equal(insert.body.details.applicationError.code, 'PERMISSION_DENIED');
    const query = await env.call('POST', `${P}/items/query`, {
      key: reader,
      body: { dataCollectionId: 'Mine' },
    });
    assert.equal(query.status, 200);
    const collection = await env.call('POST', `${P}/collections`, {
      key: reader,
      body: { collection: { id: 'Nope' } },
    });
    assert.equal(collection.status, 403);
    const settings = await env.call('GET', `/_api/safekeep/v1/sites/${siteA.siteId}/settings`, {
      key: reader,
    });
    assert.equal(settings.status, 403);
    const escalate = await env.call('POST', '/_api/safekeep/v1/api-keys', {
      key: siteA.apiKey,
      body: { name: 'x', siteIds: [], scopes: ['admin'] },
    });
    assert.equal(escalate.status, 403, 'a site admin cannot mint admin keys');
  });

  it('answers 401 to a missing, unknown or revoked key', async () => {
    assert.equal(
      (await env.call('POST', `${P}/items/query`, { body: { dataCollectionId: 'x' } })).status,
      401,
    );
    assert.equal(
      (
        await env.call('POST', `${P}/items/query`, {
          key: 'sk_not-a-real-key',
          body: { dataCollectionId: 'x' },
        })
      ).status,
      401,
    );
    assert.equal(
      (await env.call('POST', `${P}/items/query`, { key: 'garbage', body: { dataCollectionId: 'x' } }))
        .status,
      401,
    );
    const created = await env.call('POST', '/_api/safekeep/v1/api-keys', {
      key: env.adminKey,
      body: { name: 'temp', siteIds: [siteA.siteId], scopes: ['data.read'] },
    });
    const temp = created.body.secret as string;
    await env.call('POST', `${P}/collections`, { key: siteA.apiKey, body: { collection: { id: 'Temp' } } });
    assert.equal(
      (
        await env.call('POST', `${P}/items/count`, {
          key: `Bearer ${temp}`,
          body: { dataCollectionId: 'Temp' },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await env.call('DELETE', `/_api/safekeep/v1/api-keys/${created.body.apiKey.id}`, {
          key: env.adminKey,
        })
      ).status,
      200,
    );
    const revoked = await env.call('POST', `${P}/items/count`, {
      key: temp,
      body: { dataCollectionId: 'Temp' },
    });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.details.applicationError.code, 'UNAUTHENTICATED');
  });

  it('never stores, logs or returns an API key secret after creating it', async () => {
    const logs: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const logged = env.safekeep.createHttpApp({ level: 'trace', stream });
    await logged.ready();
    const created = await logged.inject({
      method: 'POST',
      url: '/_api/safekeep/v1/api-keys',
      headers: { authorization: env.adminKey, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'watched', siteIds: [siteA.siteId], scopes: ['data.read'] }),
    });
    const secret = (JSON.parse(created.body) as { secret: string }).secret;
    assert.match(secret, /^sk_/);
    const listed = await logged.inject({
      method: 'GET',
      url: '/_api/safekeep/v1/api-keys',
      headers: { authorization: env.adminKey },
    });
    const used = await logged.inject({
      method: 'POST',
      url: `${P}/items/count`,
      headers: { authorization: secret, 'content-type': 'application/json' },
      payload: '{"dataCollectionId":"Temp"}',
    });
    assert.equal(used.statusCode, 200);
    await logged.close();
    const secrets = [secret, env.adminKey, siteA.apiKey, siteB.apiKey];
    assert.ok(logs.length > 0, 'the app logged something');
    for (const s of secrets) {
      assert.ok(!listed.body.includes(s), 'key list shows no secret');
      assert.ok(!logs.join('').includes(s), 'logs show no secret');
      for (const file of ['safekeep.db', 'safekeep.db-wal']) {
        const path = join(env.dataDir, file);
        if (existsSync(path))
          assert.ok(!readFileSync(path).includes(Buffer.from(s)), `${file} holds no secret`);
      }
    }
  });
});
