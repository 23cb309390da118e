/** The webhook admin routes: validation, and tenancy (a site.admin key sees only its own sites' subscriptions). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorShape } from '../helpers/error-shape.js';
import { loopbackHooks, startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/_api/safekeep/v1/webhooks';
const BACKUP = 'wix.data.v2.backup_backup_state_changed';
const RESTORATION = 'wix.data.v2.backup_restoration_state_changed';

describe('webhook admin routes', () => {
  let env: TestEnv;
  let siteA: TestSite;
  let siteB: TestSite;
  let hookOfB: string;

  before(async () => {
    env = await startTestEnv({ env: loopbackHooks });
    siteA = await env.createSite('Site A');
    siteB = await env.createSite('Site B');
    const created = await env.call('POST', P, {
      key: siteB.apiKey,
      body: { siteId: siteB.siteId, url: 'https://hooks.example.com/b', eventTypes: [BACKUP] },
    });
    assert.equal(created.status, 200, created.text);
    hookOfB = created.body.webhook.id;
  });

  after(() => env.close());

  const create = (key: string, body: unknown) => env.call('POST', P, { key, body });

  it('creates a subscription and shows it in the documented shape', async () => {
    const res = await create(siteA.apiKey, {
      siteId: siteA.siteId,
      url: 'https://hooks.example.com/a?token=1',
      eventTypes: [BACKUP, RESTORATION, BACKUP],
    });
    assert.equal(res.status, 200, res.text);
    const { webhook } = res.body;
    assert.deepEqual(Object.keys(webhook).sort(), [
      'createdDate',
      'eventTypes',
      'id',
      'siteId',
      'status',
      'url',
    ]);
    assert.equal(webhook.status, 'ACTIVE', 'blockedReason only comes with BLOCKED');
    assert.equal(webhook.siteId, siteA.siteId);
    assert.equal(webhook.url, 'https://hooks.example.com/a?token=1');
    assert.deepEqual(webhook.eventTypes, [BACKUP, RESTORATION]);
    assert.equal(webhook.createdDate, new Date(env.clock.now()).toISOString());
    const listed = await env.call('GET', `${P}?siteId=${siteA.siteId}`, { key: siteA.apiKey });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.webhooks, [webhook]);
  });

  it('lists only the caller’s sites, and every site for an admin', async () => {
    const mine = await env.call('GET', P, { key: siteA.apiKey });
    assert.equal(mine.status, 200);
    assert.ok(mine.body.webhooks.length > 0);
    assert.ok(mine.body.webhooks.every((w: any) => w.siteId === siteA.siteId));
    const all = await env.call('GET', P, { key: env.adminKey });
    assert.deepEqual(
      [...new Set(all.body.webhooks.map((w: any) => w.siteId))].sort(),
      [siteA.siteId, siteB.siteId].sort(),
    );
    const ofB = await env.call('GET', `${P}?siteId=${siteB.siteId}`, { key: env.adminKey });
    assert.deepEqual(
      ofB.body.webhooks.map((w: any) => w.id),
      [hookOfB],
    );
  });

  it('reports another site, and its subscriptions, as not found', async () => {
    const list = await env.call('GET', `${P}?siteId=${siteB.siteId}`, { key: siteA.apiKey });
    assert.equal(list.status, 404);
    assert.equal(assertErrorShape(list.body), 'SITE_NOT_FOUND');
    const unknownSite = await env.call('GET', `${P}?siteId=no-such-site`, { key: siteA.apiKey });
    assert.equal(unknownSite.status, 404);
    assert.deepEqual(unknownSite.body, list.body, 'another site looks exactly like a missing one');

    const created = await create(siteA.apiKey, {
      siteId: siteB.siteId,
      url: 'https://x.example.com/',
      eventTypes: [BACKUP],
    });
    assert.equal(created.status, 404);
    assert.equal(assertErrorShape(created.body), 'SITE_NOT_FOUND');

    const deleted = await env.call('DELETE', `${P}/${hookOfB}`, { key: siteA.apiKey });
    assert.equal(deleted.status, 404);
    assert.equal(assertErrorShape(deleted.body), 'WEBHOOK_NOT_FOUND');
    const missing = await env.call('DELETE', `${P}/no-such-webhook`, { key: siteA.apiKey });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, deleted.body);
    assert.ok(!deleted.text.includes(siteB.siteId), 'nothing about site B leaks');

    const stillThere = await env.call('GET', `${P}?siteId=${siteB.siteId}`, { key: siteB.apiKey });
    assert.deepEqual(
      stillThere.body.webhooks.map((w: any) => w.id),
      [hookOfB],
    );
  });

  it('deletes a subscription of the caller’s own site, then reports it as not found', async () => {
    const created = await create(siteA.apiKey, {
      siteId: siteA.siteId,
      url: 'http://localhost:9/x',
      eventTypes: [BACKUP],
    });
    const id = created.body.webhook.id;
    const deleted = await env.call('DELETE', `${P}/${id}`, { key: siteA.apiKey });
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, {});
    const again = await env.call('DELETE', `${P}/${id}`, { key: siteA.apiKey });
    assert.equal(again.status, 404);
    assert.equal(assertErrorShape(again.body), 'WEBHOOK_NOT_FOUND');
    const listed = await env.call('GET', P, { key: siteA.apiKey });
    assert.ok(listed.body.webhooks.every((w: any) => w.id !== id));
  });

  it('lets an admin delete any site’s subscription', async () => {
    const created = await create(siteB.apiKey, {
      siteId: siteB.siteId,
      url: 'http://localhost:9/y',
      eventTypes: [BACKUP],
    });
    const res = await env.call('DELETE', `${P}/${created.body.webhook.id}`, { key: env.adminKey });
    assert.equal(res.status, 200);
  });

  it('needs a key with site.admin', async () => {
    const { secret } = await env.safekeep.services.admin.createApiKey({
      name: 'backups only',
      siteIds: [siteA.siteId],
      scopes: ['backups.manage'],
    });
    for (const [method, path] of [
      ['GET', P],
      ['GET', `${P}/public-key`],
      ['POST', P],
      ['DELETE', `${P}/x`],
    ] as const) {
      const body =
        method === 'POST'
          ? { siteId: siteA.siteId, url: 'https://a.example.com/', eventTypes: [BACKUP] }
          : undefined;
      const denied = await env.call(method, path, { key: secret, body });
      assert.equal(denied.status, 403, `${method} ${path}`);
      assert.equal(assertErrorShape(denied.body), 'PERMISSION_DENIED');
      const anonymous = await env.call(method, path, { body });
      assert.equal(anonymous.status, 401, `${method} ${path}`);
      assert.equal(assertErrorShape(anonymous.body), 'UNAUTHENTICATED');
    }
  });

  it('serves the public key to site admins', async () => {
    const res = await env.call('GET', `${P}/public-key`, { key: siteA.apiKey });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ['publicKey']);
    assert.match(res.body.publicKey, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.ok(!res.body.publicKey.includes('PRIVATE'));
  });

  it('refuses link-local, cloud metadata, private and unallowed loopback hosts with 400 naming url', async () => {
    for (const url of [
      'http://[::1]/x',
      'http://10.0.0.5/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://169.254.0.1:8080/hook',
      'https://[fe80::1]/hook',
      'http://[febf:ffff::1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fd00:ec2::254]/',
      'http://0xa9fea9fe/',
      'http://2852039166/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://METADATA.google.internal./',
      'http://metadata/',
    ]) {
      const res = await create(siteA.apiKey, { siteId: siteA.siteId, url, eventTypes: [BACKUP] });
      assert.equal(res.status, 400, url);
      assert.equal(assertErrorShape(res.body), 'INVALID_ARGUMENT');
      assert.equal(res.body.details.validationError.fieldViolations[0].field, 'url', url);
    }
    // This environment allows 127.0.0.0/8 (SAFEKEEP_WEBHOOK_ALLOWED_CIDRS), so loopback IPv4 passes.
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost:9/z', 'https://hooks.example.com/']) {
      const res = await create(siteA.apiKey, { siteId: siteA.siteId, url, eventTypes: [BACKUP] });
      assert.equal(res.status, 200, `${url}: ${res.text}`);
    }
  });

  it('validates url and eventTypes, naming the field', async () => {
    const cases: [unknown, unknown, string][] = [
      ['ftp://hooks.example.com/', [BACKUP], 'url'],
      ['file:///etc/passwd', [BACKUP], 'url'],
      ['not a url', [BACKUP], 'url'],
      ['', [BACKUP], 'url'],
      [`https://hooks.example.com/${'a'.repeat(2048)}`, [BACKUP], 'url'],
      [42, [BACKUP], 'url'],
      ['https://hooks.example.com/', [], 'eventTypes'],
      ['https://hooks.example.com/', ['wix.data.v2.item_created'], 'eventTypes[0]'],
      ['https://hooks.example.com/', [BACKUP, 7], 'eventTypes[1]'],
      ['https://hooks.example.com/', 'all', 'eventTypes'],
    ];
    for (const [url, eventTypes, field] of cases) {
      const res = await create(siteA.apiKey, { siteId: siteA.siteId, url, eventTypes });
      assert.equal(res.status, 400, `${JSON.stringify(url)} ${JSON.stringify(eventTypes)}`);
      assert.equal(assertErrorShape(res.body), 'INVALID_ARGUMENT');
      assert.equal(res.body.details.validationError.fieldViolations[0].field, field);
    }
    const longest = `https://hooks.example.com/${'a'.repeat(2048 - 'https://hooks.example.com/'.length)}`;
    assert.equal(
      (await create(siteA.apiKey, { siteId: siteA.siteId, url: longest, eventTypes: [BACKUP] })).status,
      200,
    );
    const extra = await create(siteA.apiKey, {
      siteId: siteA.siteId,
      url: 'https://hooks.example.com/',
      eventTypes: [BACKUP],
      secret: 'x',
    });
    assert.equal(extra.status, 400);
  });
});
