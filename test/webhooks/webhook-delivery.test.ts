/** Delivery rules (backups-api.md §7): at least once, in order per entity, retried with backoff for 24 h+. */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loopbackHooks, startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import {
  createBackup,
  decodeWebhook,
  drain,
  runJobs,
  startReceiver,
  statusOf,
  subscribe,
  testDeliverer,
  type WebhookReceiver,
} from './webhook-receiver.js';

const HOUR = 3_600_000;

describe('webhook delivery', () => {
  let env: TestEnv;
  let site: TestSite;
  let receiver: WebhookReceiver;

  beforeEach(async () => {
    env = await startTestEnv({ env: loopbackHooks });
    site = await env.createSite();
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await receiver.close();
    await env.close();
  });

  /** The (entity, status) of each request the receiver got, in arrival order. */
  const seen = () =>
    receiver.requests.map((r) => {
      const decoded = decodeWebhook(r.body);
      return `${decoded.event.entityId}:${statusOf(decoded)}`;
    });

  it('delivers each event exactly once and in order per entity after the receiver was down', async () => {
    await subscribe(env, site, receiver.url);
    await receiver.stop();
    const first = await createBackup(env, site);
    await runJobs(env);
    env.clock.advance(1000);
    const second = await createBackup(env, site);
    await runJobs(env);
    const deliverer = await testDeliverer(env);

    // Only the first event of each backup may go; the READY events wait behind them.
    assert.equal(await deliverer.runOnce(), 2);
    assert.equal(await deliverer.runOnce(), 0, 'nothing is due before the retry delay');
    env.clock.advance(5000);
    assert.equal(await deliverer.runOnce(), 2);
    assert.equal(receiver.requests.length, 0);

    await receiver.start();
    env.clock.advance(10_000);
    assert.equal(await drain(deliverer), 4);
    for (let i = 0; i < 5; i++) {
      env.clock.advance(24 * HOUR);
      assert.equal(await deliverer.runOnce(), 0, 'a delivered event is never sent again');
    }
    assert.equal(receiver.requests.length, 4);
    const order = seen();
    assert.deepEqual(
      order.filter((s) => s.startsWith(first)),
      [`${first}:PENDING`, `${first}:READY`],
    );
    assert.deepEqual(
      order.filter((s) => s.startsWith(second)),
      [`${second}:PENDING`, `${second}:READY`],
    );
  });

  it('retries a receiver that answers 500 with growing delays, then delivers', async () => {
    await subscribe(env, site, receiver.url);
    let failures = 5;
    receiver.react = () => (failures-- > 0 ? 500 : 200);
    await createBackup(env, site);
    const deliverer = await testDeliverer(env);
    assert.equal(await deliverer.runOnce(), 1);
    for (const delay of [5000, 10_000, 20_000, 40_000, 80_000]) {
      env.clock.advance(delay - 1);
      assert.equal(await deliverer.runOnce(), 0, `not retried before ${delay} ms`);
      env.clock.advance(1);
      assert.equal(await deliverer.runOnce(), 1, `retried after ${delay} ms`);
    }
    assert.equal(receiver.requests.length, 6);
    env.clock.advance(HOUR);
    assert.equal(await deliverer.runOnce(), 0, 'delivered on the sixth attempt');
    const ids = receiver.requests.map((r) => decodeWebhook(r.body).event.id);
    assert.equal(new Set(ids).size, 1, 'every retry carries the same event id');
  });

  it('doubles the delay up to one hour, with jitter that only shortens it', async () => {
    const steady = await testDeliverer(env);
    assert.deepEqual(
      [1, 2, 3, 4, 10, 11, 12, 50].map((n) => steady.retryDelay(n)),
      [5000, 10_000, 20_000, 40_000, 2_560_000, HOUR, HOUR, HOUR],
    );
    const jittered = await testDeliverer(env, { random: () => 0.999 });
    for (let n = 1; n < 15; n++) {
      const delay = jittered.retryDelay(n);
      assert.ok(delay <= steady.retryDelay(n) && delay >= steady.retryDelay(n) * 0.75, `${n}: ${delay}`);
      if (n > 1 && steady.retryDelay(n) < HOUR)
        assert.ok(delay > steady.retryDelay(n - 1), `the delay after ${n} failures still grows`);
    }
  });

  it('times out a receiver that never answers, and retries it', async () => {
    await subscribe(env, site, receiver.url);
    let calls = 0;
    receiver.react = () => (calls++ === 0 ? 'hang' : 200);
    await createBackup(env, site);
    const deliverer = await testDeliverer(env, { timeoutMs: 200 });
    const started = performance.now();
    assert.equal(await deliverer.runOnce(), 1);
    const took = performance.now() - started;
    assert.ok(took >= 150 && took < 5000, `the attempt ended after ${Math.round(took)} ms`);
    assert.equal(await deliverer.runOnce(), 0);
    env.clock.advance(5000);
    assert.equal(await deliverer.runOnce(), 1);
    env.clock.advance(HOUR);
    assert.equal(await deliverer.runOnce(), 0, 'delivered by the retry');
    assert.equal(receiver.requests.length, 2);
  });

  it('keeps retrying for more than 24 hours, then gives the event up', async () => {
    await subscribe(env, site, receiver.url);
    const attemptsAt: number[] = [];
    receiver.react = () => {
      attemptsAt.push(env.clock.now());
      return 503;
    };
    const createdAt = env.clock.now();
    await createBackup(env, site);
    const deliverer = await testDeliverer(env);
    for (let minutes = 0; minutes < 48 * 60; minutes += 10) {
      await drain(deliverer);
      env.clock.advance(10 * 60_000);
    }
    const last = attemptsAt.at(-1) ?? 0;
    assert.ok(last - createdAt >= 24 * HOUR, `last attempt ${(last - createdAt) / HOUR} h after the event`);
    assert.ok(last - createdAt <= 26.5 * HOUR, `given up ${(last - createdAt) / HOUR} h after the event`);
    const gaps = attemptsAt.slice(1).map((t, i) => t - (attemptsAt[i] ?? 0));
    assert.ok(
      gaps.every((gap) => gap <= HOUR + 10 * 60_000),
      'the delay never exceeds the one-hour cap (plus this test’s step)',
    );
    assert.ok(attemptsAt.length < 50, `${attemptsAt.length} attempts: backoff, not hammering`);
  });

  it('lets a de-duplicating receiver handle each event once, although an unacknowledged one comes again', async () => {
    await subscribe(env, site, receiver.url);
    const handled: string[] = [];
    const handledIds = new Set<string>();
    let requests = 0;
    receiver.react = (request) => {
      const { event } = decodeWebhook(request.body);
      if (!handledIds.has(event.id)) {
        handledIds.add(event.id);
        handled.push(`${statusOf(decodeWebhook(request.body))}`);
      }
      // The first answer is lost: the receiver handled the event but the sender never hears back.
      return requests++ === 0 ? 'hang' : 200;
    };
    await createBackup(env, site);
    await runJobs(env);
    const deliverer = await testDeliverer(env, { timeoutMs: 200 });
    await drain(deliverer);
    env.clock.advance(5000);
    await drain(deliverer);
    assert.equal(receiver.requests.length, 3, 'the unacknowledged event was sent again');
    assert.deepEqual(handled, ['PENDING', 'READY']);
  });

  it('never lets two deliverers send the same delivery at once', async () => {
    await subscribe(env, site, receiver.url);
    await createBackup(env, site);
    const [a, b] = [await testDeliverer(env), await testDeliverer(env)];
    const attempted = await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(attempted[0] + attempted[1], 1);
    assert.equal(receiver.requests.length, 1);
  });

  it('sends a site’s events only to that site’s subscriptions', async () => {
    const other = await env.createSite('Other');
    const otherReceiver = await startReceiver();
    try {
      await subscribe(env, other, otherReceiver.url);
      await subscribe(env, site, receiver.url);
      await createBackup(env, site);
      await drain(await testDeliverer(env));
      assert.equal(receiver.requests.length, 1);
      assert.equal(otherReceiver.requests.length, 0);
      assert.equal(decodeWebhook(receiver.requests[0]?.body ?? '').instanceId, site.siteId);
    } finally {
      await otherReceiver.close();
    }
  });

  it('only sends the event types a subscription asked for', async () => {
    const res = await env.call('POST', '/_api/safekeep/v1/webhooks', {
      key: site.apiKey,
      body: {
        siteId: site.siteId,
        url: receiver.url,
        eventTypes: ['wix.data.v2.backup_restoration_state_changed'],
      },
    });
    assert.equal(res.status, 200);
    await createBackup(env, site);
    await runJobs(env);
    assert.equal(await drain(await testDeliverer(env)), 0);
  });

  it('refuses a host that resolves to a link-local address, blocking its subscription', async () => {
    await env.safekeep.storage.webhooks.create({
      id: 'rebound',
      siteId: site.siteId,
      url: 'http://hooks.rebinding.test/in',
      eventTypes: ['wix.data.v2.backup_backup_state_changed'],
      createdAt: env.clock.now(),
    });
    const lookups: string[] = [];
    const deliverer = await testDeliverer(env, {
      resolve: (host, _options, callback) => {
        lookups.push(host);
        const addresses: LookupAddress[] = [{ address: '169.254.169.254', family: 4 }];
        callback(null, addresses);
      },
    });
    await createBackup(env, site);
    assert.equal(await deliverer.runOnce(), 1);
    assert.deepEqual(lookups, ['hooks.rebinding.test']);
    env.clock.advance(2 * HOUR);
    assert.equal(await deliverer.runOnce(), 0, 'not retried');
    assert.match(
      (await env.safekeep.storage.webhooks.get('rebound'))?.blockedReason ?? '',
      /resolves to a refused address: 169\.254\.169\.254 is in 169\.254\.0\.0\/16/,
    );
  });

  it('resolves names itself and delivers to an allowed address', async () => {
    await subscribe(env, site, receiver.url.replace('127.0.0.1', 'hooks.example.test'));
    const deliverer = await testDeliverer(env, {
      resolve: (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]),
    });
    await createBackup(env, site);
    assert.equal(await deliverer.runOnce(), 1);
    assert.equal(receiver.requests.length, 1);
  });

  it('refuses a subscription stored with a link-local URL without connecting', async () => {
    await env.safekeep.storage.webhooks.create({
      id: 'metadata',
      siteId: site.siteId,
      url: 'http://169.254.169.254/latest/meta-data/',
      eventTypes: ['wix.data.v2.backup_backup_state_changed'],
      createdAt: env.clock.now(),
    });
    const deliverer = await testDeliverer(env, { timeoutMs: 100 });
    await createBackup(env, site);
    const started = performance.now();
    assert.equal(await deliverer.runOnce(), 1);
    assert.ok(performance.now() - started < 100, 'refused before any connection attempt');
    env.clock.advance(2 * HOUR);
    assert.equal(await deliverer.runOnce(), 0);
    assert.match(
      (await env.safekeep.storage.webhooks.get('metadata'))?.blockedReason ?? '',
      /169\.254\.0\.0\/16/,
    );
  });

  it('runs as a loop beside the job worker, and a hanging receiver does not hold up backups', async () => {
    await subscribe(env, site, receiver.url);
    receiver.react = () => 'hang';
    const deliverer = await testDeliverer(env, { pollMs: 20, timeoutMs: 60_000, concurrency: 2 });
    const stop = new AbortController();
    const loop = deliverer.run(stop.signal);
    try {
      await createBackup(env, site);
      while (receiver.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const started = performance.now();
      await runJobs(env);
      assert.ok(performance.now() - started < 5000, 'the backup ran while a delivery hung');
      const backups = await env.call('GET', '/wix-data/v2/backups', { key: site.apiKey });
      assert.equal(backups.body.backups[0].status, 'READY');
    } finally {
      stop.abort();
      await loop;
    }
    assert.equal(receiver.requests.length, 1, 'the READY event waited behind the PENDING one');
    // Stopping released the hung attempt at once, to be tried again after a restart.
    receiver.react = () => 200;
    assert.equal(await drain(await testDeliverer(env)), 2);
    assert.deepEqual(
      seen()
        .slice(1)
        .map((s) => s.split(':')[1]),
      ['PENDING', 'READY'],
    );
  });

  it('delivers events as they are written while the loop runs', async () => {
    await subscribe(env, site, receiver.url);
    const deliverer = await testDeliverer(env, { pollMs: 20 });
    const stop = new AbortController();
    const loop = deliverer.run(stop.signal);
    try {
      await createBackup(env, site);
      await runJobs(env);
      const deadline = performance.now() + 5000;
      while (receiver.requests.length < 2 && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      stop.abort();
      await loop;
    }
    assert.deepEqual(
      seen().map((s) => s.split(':')[1]),
      ['PENDING', 'READY'],
    );
  });
});
