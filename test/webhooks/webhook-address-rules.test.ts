/**
 * The webhook address rules (issue 10, item 4): webhooks never reach the operator's network unless the
 * operator allows a range (SAFEKEEP_WEBHOOK_ALLOWED_CIDRS). Each spelling is checked through the pure
 * policy and through `POST /webhooks`; then the connect-time check, blocked subscriptions across restarts
 * (kept, not lost), a receiver reached only through the allowlist, and redirects.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { WebhookAddressPolicy } from '../../src/domain/webhook-address-policy.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { loopbackHooks, startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import {
  createBackup,
  drain,
  runJobs,
  startReceiver,
  subscribe,
  testDeliverer,
  type WebhookReceiver,
} from './webhook-receiver.js';
import { eventsOf } from '../helpers/storage-rows.js';

const P = '/_api/safekeep/v1/webhooks';
const HOUR = 3_600_000;
const BACKUP = 'wix.data.v2.backup_backup_state_changed';

/**
 * URL hosts as a subscriber may write them, and the range (or name rule) that refuses each by default;
 * null for the ones that are public.
 */
const spellings: readonly (readonly [host: string, refusedBy: string | null])[] = [
  // Public: allowed.
  ['8.8.8.8', null],
  ['1.1.1.1', null],
  ['93.184.216.34', null],
  ['100.63.255.255', null],
  ['100.128.0.0', null],
  ['169.253.255.255', null],
  ['172.15.255.255', null],
  ['172.32.0.0', null],
  ['192.169.0.1', null],
  ['198.17.255.255', null],
  ['198.20.0.0', null],
  ['223.255.255.255', null],
  ['[2606:4700::1]', null],
  ['[2001:4860:4860::8888]', null],
  ['[2a00:1450:4001::1]', null],
  ['[::ffff:8.8.8.8]', null],
  ['[64:ff9b::8.8.8.8]', null],
  ['[64:ff9b::808:808]', null],
  ['[2002:808:808::1]', null],
  ['example.com', null],
  ['hooks.example.com', null],
  ['hooks.example.com.', null],
  ['xn--bcher-kva.example', null],
  ['metadata.example.com', null],
  ['localhost.example.com', null],
  // IPv4, in every spelling WHATWG URL parsing turns into a dotted quad.
  ['127.0.0.1', '127.0.0.0/8'],
  ['127.1', '127.0.0.0/8'],
  ['2130706433', '127.0.0.0/8'],
  ['0x7f.1', '127.0.0.0/8'],
  ['0x7f000001', '127.0.0.0/8'],
  ['0177.0.0.1', '127.0.0.0/8'],
  ['017700000001', '127.0.0.0/8'],
  ['127.000.000.001', '127.0.0.0/8'],
  ['127.0.0.1.', '127.0.0.0/8'],
  ['%31%32%37.0.0.1', '127.0.0.0/8'],
  ['127.255.255.254', '127.0.0.0/8'],
  ['0.0.0.0', '0.0.0.0/8'],
  ['0', '0.0.0.0/8'],
  ['10.0.0.1', '10.0.0.0/8'],
  ['10.255.255.255', '10.0.0.0/8'],
  ['100.64.0.1', '100.64.0.0/10'],
  ['100.100.100.200', '100.64.0.0/10'],
  ['169.254.169.254', '169.254.0.0/16'],
  ['0xa9fea9fe', '169.254.0.0/16'],
  ['2852039166', '169.254.0.0/16'],
  ['172.16.0.1', '172.16.0.0/12'],
  ['172.31.255.255', '172.16.0.0/12'],
  ['192.0.0.1', '192.0.0.0/24'],
  ['192.0.2.1', '192.0.2.0/24'],
  ['192.88.99.1', '192.88.99.0/24'],
  ['192.168.1.1', '192.168.0.0/16'],
  ['0300.0250.0.1', '192.168.0.0/16'],
  ['198.18.0.1', '198.18.0.0/15'],
  ['198.19.255.255', '198.18.0.0/15'],
  ['198.51.100.1', '198.51.100.0/24'],
  ['203.0.113.1', '203.0.113.0/24'],
  ['224.0.0.1', '224.0.0.0/4'],
  ['239.255.255.250', '224.0.0.0/4'],
  ['240.0.0.1', '240.0.0.0/4'],
  ['255.255.255.255', '255.255.255.255/32'],
  // IPv6, and IPv4 carried in IPv6.
  ['[::]', '::/128'],
  ['[::1]', '::1/128'],
  ['[0:0:0:0:0:0:0:1]', '::1/128'],
  ['[::ffff:127.0.0.1]', '127.0.0.0/8'],
  ['[::ffff:7f00:1]', '127.0.0.0/8'],
  ['[::ffff:169.254.169.254]', '169.254.0.0/16'],
  ['[::ffff:a9fe:a9fe]', '169.254.0.0/16'],
  ['[::ffff:10.0.0.1]', '10.0.0.0/8'],
  ['[::127.0.0.1]', '::/96'],
  ['[::a9fe:a9fe]', '::/96'],
  ['[::ffff:0:a9fe:a9fe]', '::ffff:0:0:0/96'],
  ['[::ffff:0:127.0.0.1]', '::ffff:0:0:0/96'],
  ['[64:ff9b::127.0.0.1]', '127.0.0.0/8'],
  ['[64:ff9b::a9fe:a9fe]', '169.254.0.0/16'],
  ['[64:ff9b:1::a9fe:a9fe]', '64:ff9b:1::/48'],
  ['[64:ff9b:1::808:808]', '64:ff9b:1::/48'],
  ['[100::1]', '100::/64'],
  ['[2001::a9fe:a9fe]', '2001::/32'],
  ['[2001:0:4136:e378:8000:63bf:3fff:fdd2]', '2001::/32'],
  ['[2001:db8::1]', '2001:db8::/32'],
  ['[2002:a9fe:a9fe::]', '169.254.0.0/16'],
  ['[2002:7f00:1::1]', '127.0.0.0/8'],
  ['[2002:c0a8:101::1]', '192.168.0.0/16'],
  ['[fc00::1]', 'fc00::/7'],
  ['[fd00:ec2::254]', 'fc00::/7'],
  ['[fe80::1]', 'fe80::/10'],
  ['[febf:ffff::1]', 'fe80::/10'],
  ['[fec0::1]', 'fec0::/10'],
  ['[ff02::1]', 'ff00::/8'],
  ['[5f00::1]', '2000::/3'],
  // Names.
  ['metadata', 'cloud metadata'],
  ['metadata.google.internal', 'cloud metadata'],
  ['METADATA.google.internal.', 'cloud metadata'],
  ['metadata.azure.internal', 'cloud metadata'],
  ['instance-data', 'cloud metadata'],
  ['instance-data.ec2.internal', 'cloud metadata'],
  ['metadata.packet.net', 'cloud metadata'],
  ['localhost', '127.0.0.0/8'],
  ['LOCALHOST.', '127.0.0.0/8'],
  ['api.localhost', '127.0.0.0/8'],
];

/** With SAFEKEEP_WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8,10.1.0.0/16,fd00::/8: what is let through, and what not. */
const allowlisted: readonly (readonly [host: string, refusedBy: string | null])[] = [
  ['127.0.0.1', null],
  ['2130706433', null],
  ['[::ffff:127.0.0.1]', null],
  ['[2002:7f00:1::1]', null],
  ['localhost', null],
  ['10.1.2.3', null],
  ['[fd00::1]', null],
  ['10.2.0.1', '10.0.0.0/8'],
  ['[::1]', '::1/128'],
  ['[fc00::1]', 'fc00::/7'],
  ['169.254.169.254', '169.254.0.0/16'],
  ['[64:ff9b:1::7f00:1]', '64:ff9b:1::/48'],
  ['metadata.google.internal', 'cloud metadata'],
  ['8.8.8.8', null],
];

const hostOf = (host: string) => new URL(`http://${host}/hook`).hostname;

describe('webhook address rules', () => {
  it('has a table of at least 60 spellings, allowed and refused', () => {
    assert.ok(spellings.length >= 60, `${spellings.length} spellings`);
    assert.ok(spellings.filter(([, r]) => r === null).length >= 20);
    assert.ok(spellings.filter(([, r]) => r !== null).length >= 60);
  });

  it('the pure policy refuses every non-public spelling, naming the range, and allows public ones', () => {
    const policy = new WebhookAddressPolicy();
    for (const [host, refusedBy] of spellings) {
      const refusal = policy.hostRefusal(hostOf(host));
      if (refusedBy === null) assert.equal(refusal, undefined, host);
      else assert.ok(refusal?.includes(refusedBy), `${host}: ${refusal} should name ${refusedBy}`);
    }
  });

  it('the allowlist lets its ranges through, in every spelling, and nothing else', () => {
    const policy = new WebhookAddressPolicy(['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8']);
    for (const [host, refusedBy] of allowlisted) {
      const refusal = policy.hostRefusal(hostOf(host));
      if (refusedBy === null) assert.equal(refusal, undefined, host);
      else assert.ok(refusal?.includes(refusedBy), `${host}: ${refusal} should name ${refusedBy}`);
    }
  });

  it('checks resolved addresses as a resolver gives them', () => {
    const policy = new WebhookAddressPolicy();
    assert.equal(policy.addressRefusal('93.184.216.34'), undefined);
    assert.equal(policy.addressRefusal('2606:4700:4700::1111'), undefined);
    assert.match(policy.addressRefusal('fe80::1%eth0') ?? '', /fe80::\/10/);
    assert.match(policy.addressRefusal('::ffff:192.168.0.1') ?? '', /192\.168\.0\.0\/16/);
    assert.match(policy.addressRefusal('not-an-ip') ?? '', /not an IP address/);
  });

  it('stops start-up on a bad SAFEKEEP_WEBHOOK_ALLOWED_CIDRS, naming each bad entry', () => {
    for (const bad of ['10.0.0.0/33', 'localhost', '::1/129', '10.0.0.0/8/1', '300.0.0.0/8', '10.0.0.0/-1']) {
      assert.throws(
        () => loadConfig({ SAFEKEEP_WEBHOOK_ALLOWED_CIDRS: `127.0.0.0/8,${bad}` }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes('SAFEKEEP_WEBHOOK_ALLOWED_CIDRS') &&
          error.message.includes(`"${bad}"`),
        bad,
      );
    }
    const config = loadConfig({ SAFEKEEP_WEBHOOK_ALLOWED_CIDRS: ' 127.0.0.0/8 , ::1/128,,10.0.0.1 ' });
    assert.deepEqual(config.webhookAllowedCidrs, ['127.0.0.0/8', '::1/128', '10.0.0.1']);
    assert.deepEqual(loadConfig({}).webhookAllowedCidrs, []);
  });
});

describe('webhook address rules through the API', () => {
  let env: TestEnv;
  let site: TestSite;

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
  });
  after(() => env.close());

  it('POST /webhooks refuses every non-public spelling with 400 naming url and the range', async () => {
    for (const [host, refusedBy] of spellings) {
      const url = `http://${host}/hook`;
      const res = await env.call('POST', P, {
        key: site.apiKey,
        body: { siteId: site.siteId, url, eventTypes: [BACKUP] },
      });
      if (refusedBy === null) {
        assert.equal(res.status, 200, `${url}: ${res.text}`);
        assert.equal(res.body.webhook.status, 'ACTIVE');
        continue;
      }
      assert.equal(res.status, 400, url);
      assert.equal(assertErrorShape(res.body), 'INVALID_ARGUMENT');
      const [violation] = res.body.details.validationError.fieldViolations;
      assert.equal(violation.field, 'url', url);
      assert.ok(violation.description.includes(refusedBy), `${url}: ${violation.description}`);
    }
  });
});

/** A server on 127.0.0.1 that answers every request with a redirect to `location`, counting requests. */
async function startRedirector(
  location: string,
): Promise<{ url: string; hits: () => number; server: Server }> {
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits += 1;
      res.writeHead(302, { location }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, hits: () => hits, server };
}

describe('webhook connections', () => {
  let receiver: WebhookReceiver;

  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  it('reaches a receiver on 127.0.0.1 only when SAFEKEEP_WEBHOOK_ALLOWED_CIDRS allows it', async () => {
    const refusing = await startTestEnv();
    try {
      const site = await refusing.createSite();
      const res = await refusing.call('POST', P, {
        key: site.apiKey,
        body: { siteId: site.siteId, url: receiver.url, eventTypes: [BACKUP] },
      });
      assert.equal(res.status, 400, res.text);
      assert.match(res.body.details.validationError.fieldViolations[0].description, /127\.0\.0\.0\/8/);
      // Stored by an earlier run that allowed it: the literal address is checked again at connect.
      await refusing.safekeep.storage.webhooks.create({
        id: 'stored-earlier',
        siteId: site.siteId,
        url: receiver.url,
        eventTypes: [BACKUP],
        createdAt: refusing.clock.now(),
      });
      await createBackup(refusing, site);
      await runJobs(refusing);
      await drain(await testDeliverer(refusing));
      assert.equal(receiver.requests.length, 0, 'never connected');
      const listed = await refusing.call('GET', `${P}?siteId=${site.siteId}`, { key: site.apiKey });
      assert.equal(listed.body.webhooks[0].status, 'BLOCKED');
      assert.match(listed.body.webhooks[0].blockedReason, /127\.0\.0\.1 is in 127\.0\.0\.0\/8 \(loopback\)/);
    } finally {
      await refusing.close();
    }

    const allowing = await startTestEnv({ env: { SAFEKEEP_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' } });
    try {
      const site = await allowing.createSite();
      await subscribe(allowing, site, receiver.url);
      const backupId = await createBackup(allowing, site);
      await runJobs(allowing);
      const events = await eventsOf(allowing.safekeep.storage, backupId);
      assert.ok(events.length >= 2);
      assert.equal(await drain(await testDeliverer(allowing)), events.length);
      assert.equal(receiver.requests.length, events.length, 'every event reached the receiver');
    } finally {
      receiver.requests.length = 0;
      await allowing.close();
    }
  });

  it('blocks a literal-IP subscription when restarted without the allowlist; its events wait, then resume', async () => {
    const warnings: object[] = [];
    const logger = {
      info: () => undefined,
      error: () => undefined,
      warn: (obj: object) => warnings.push(obj),
    };
    let env = await startTestEnv({ env: loopbackHooks });
    const { dataDir, clock } = env;
    const site = await env.createSite();
    const hookId = await subscribe(env, site, receiver.url);
    const backupId = await createBackup(env, site);
    await runJobs(env);
    const events = await eventsOf(env.safekeep.storage, backupId);
    assert.ok(events.length >= 2);
    await env.close(true);

    env = await startTestEnv({ dataDir, clock });
    try {
      await env.safekeep.checkWebhooks(logger);
      assert.deepEqual(
        warnings.map((w) => (w as { webhookId: string }).webhookId),
        [hookId],
        'one warning per blocked subscription at start',
      );
      const listed = await env.call('GET', `${P}?siteId=${site.siteId}`, { key: site.apiKey });
      assert.equal(listed.status, 200);
      assert.equal(listed.body.webhooks.length, 1, 'kept, not deleted');
      assert.equal(listed.body.webhooks[0].status, 'BLOCKED');
      assert.match(listed.body.webhooks[0].blockedReason, /127\.0\.0\.0\/8/);
      const stored = await env.safekeep.storage.webhooks.get(hookId);
      assert.match(stored?.blockedReason ?? '', /127\.0\.0\.0\/8/, 'stored, so no deliverer claims it');
      const deliverer = await testDeliverer(env);
      assert.equal(await drain(deliverer), 0, 'nothing of a blocked subscription is attempted');
      clock.advance(30 * HOUR);
      assert.equal(await drain(deliverer), 0, 'not even after the retry window');
      assert.equal(receiver.requests.length, 0);
    } finally {
      await env.close(true);
    }

    env = await startTestEnv({ dataDir, clock, env: loopbackHooks });
    try {
      warnings.length = 0;
      await env.safekeep.checkWebhooks(logger);
      assert.deepEqual(warnings, [], 'allowed again');
      const listed = await env.call('GET', `${P}?siteId=${site.siteId}`, { key: site.apiKey });
      assert.equal(listed.body.webhooks[0].status, 'ACTIVE');
      assert.equal(listed.body.webhooks[0].blockedReason, undefined);
      assert.equal(await drain(await testDeliverer(env)), events.length, 'the held events resume');
      assert.equal(receiver.requests.length, events.length, 'none was lost');
    } finally {
      receiver.requests.length = 0;
      await env.close();
    }
  });

  it('blocks, at delivery, a name that resolves to a refused address, keeping its events', async () => {
    const env = await startTestEnv();
    try {
      const site = await env.createSite();
      const hookId = await subscribe(env, site, receiver.url.replace('127.0.0.1', 'hooks.example.test'));
      const lookups: string[] = [];
      const deliverer = await testDeliverer(env, {
        resolve: (host, _options, callback) => {
          lookups.push(host);
          callback(null, [
            { address: '93.184.216.34', family: 4 },
            { address: '127.0.0.1', family: 4 },
          ]);
        },
      });
      const backupId = await createBackup(env, site);
      await runJobs(env);
      assert.equal(await deliverer.runOnce(), 1);
      assert.deepEqual(lookups, ['hooks.example.test']);
      assert.equal(receiver.requests.length, 0, 'refused when any address is refused');
      const listed = await env.call('GET', `${P}?siteId=${site.siteId}`, { key: site.apiKey });
      assert.equal(listed.body.webhooks[0].id, hookId);
      assert.equal(listed.body.webhooks[0].status, 'BLOCKED');
      assert.match(
        listed.body.webhooks[0].blockedReason,
        /hooks\.example\.test resolves to .*127\.0\.0\.0\/8/,
      );
      env.clock.advance(2 * HOUR);
      assert.equal(await drain(deliverer), 0, 'held: not attempted again');
      // The start-up check unblocks a name (nothing in the URL itself is refused): the next delivery
      // checks its addresses again, and delivers what was held once they are allowed.
      await env.safekeep.checkWebhooks({ info: () => undefined, error: () => undefined });
      assert.equal((await env.safekeep.storage.webhooks.get(hookId))?.blockedReason, undefined);
      const allowed = await testDeliverer(env, {
        resolve: (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]),
        policy: new WebhookAddressPolicy(['127.0.0.0/8']),
      });
      const events = await eventsOf(env.safekeep.storage, backupId);
      assert.equal(await drain(allowed), events.length, 'the held events resume');
      assert.equal(receiver.requests.length, events.length, 'none was lost');
    } finally {
      receiver.requests.length = 0;
      await env.close();
    }
  });

  it('never follows a redirect: a 302 is a failed attempt, retried, and its target gets nothing', async () => {
    const env = await startTestEnv({ env: loopbackHooks });
    const redirector = await startRedirector(receiver.url);
    try {
      const site = await env.createSite();
      await subscribe(env, site, redirector.url);
      await createBackup(env, site);
      const deliverer = await testDeliverer(env);
      assert.equal(await deliverer.runOnce(), 1);
      assert.equal(redirector.hits(), 1);
      assert.equal(receiver.requests.length, 0, 'the redirect target was not called');
      assert.equal(await deliverer.runOnce(), 0, 'a failed attempt waits for its retry');
      env.clock.advance(HOUR);
      assert.equal(await deliverer.runOnce(), 1, 'retried');
      assert.equal(redirector.hits(), 2);
      assert.equal(receiver.requests.length, 0);
    } finally {
      redirector.server.close();
      await env.close();
    }
  });
});
