/**
 * Issue 5, item 8: webhook deliveries to a receiver that is down for an hour, answers 500, hangs, or answers
 * slowly. Pass: a de-duplicating receiver ends with exactly the outbox's events, each entity's in order;
 * backups finish while deliveries hang; link-local and metadata addresses are refused, also when a name
 * resolves to one at delivery time.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { WebhookAddressPolicy } from '../../src/domain/webhook-address-policy.js';
import { WebhookDeliverer } from '../../src/jobs/webhook-deliverer.js';
import type { WebhookStore } from '../../src/ports/webhook-store.js';
import { WebhookSigner } from '../../src/services/webhook-signer.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { reportFigures, seedFor, size } from '../helpers/fault-run.js';
import { loopbackHooks, startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { createBackup, drain, runJobs, subscribe } from '../webhooks/webhook-receiver.js';
import { startDedupReceiver, type Behaviour } from './webhook-dedup-receiver.js';
import { eventsOf } from '../helpers/storage-rows.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const silent = { info: () => undefined, error: () => undefined };
const HOOK_HOST = 'hooks.fault.test';

/** One failed attempt, as the deliverer recorded it. */
interface Failure {
  readonly delivery: string;
  readonly at: number;
  readonly next: number | null;
  readonly error: string;
}

async function publicKey(env: TestEnv): Promise<string> {
  const res = await env.call('GET', '/_api/safekeep/v1/webhooks/public-key', { key: env.adminKey });
  assert.equal(res.status, 200);
  return res.body.publicKey as string;
}

/**
 * A deliverer on the environment's store, watched through its port: every failed attempt is recorded (to
 * read the backoff schedule) and every name resolution too (one per attempt, also while the port refuses).
 */
async function watchedDeliverer(
  env: TestEnv,
  options: { timeoutMs: number; random: () => number; pollMs?: number },
): Promise<{ deliverer: WebhookDeliverer; failures: Failure[]; resolutions: number[] }> {
  const failures: Failure[] = [];
  const resolutions: number[] = [];
  const store = env.safekeep.storage.webhooks;
  const watched: WebhookStore = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'markFailed')
        return (...args: Parameters<WebhookStore['markFailed']>) => {
          const [eventSeq, webhookId, , error, next, at] = args;
          failures.push({ delivery: `${eventSeq}/${webhookId}`, at, next, error });
          return target.markFailed(...args);
        };
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const deliverer = new WebhookDeliverer(watched, await WebhookSigner.open(env.safekeep.storage.meta), {
    clock: env.clock.now,
    logger: silent,
    concurrency: 8,
    policy: new WebhookAddressPolicy(env.safekeep.config.webhookAllowedCidrs),
    ...options,
    resolve: (host, _options, callback) => {
      resolutions.push(env.clock.now());
      const addresses: LookupAddress[] = host === HOOK_HOST ? [{ address: '127.0.0.1', family: 4 }] : [];
      callback(addresses.length ? null : new Error(`unknown host ${host}`), addresses);
    },
  });
  return { deliverer, failures, resolutions };
}

/** A backup per site, run to READY; every third one is then deleted (a third event for that entity). */
async function backupRound(env: TestEnv, sites: readonly TestSite[], round: number): Promise<void> {
  for (const site of sites) {
    const id = await createBackup(env, site);
    await runJobs(env);
    if (round % 3 === 2) {
      const res = await env.call('DELETE', `/wix-data/v2/backups/${id}`, { key: site.apiKey });
      assert.equal(res.status, 200);
    }
    env.clock.advance(SECOND);
  }
}

/** Every event in the outbox for the sites' backups, by entity, in sequence order. */
async function outboxOf(env: TestEnv, sites: readonly TestSite[]): Promise<Map<string, string[]>> {
  const byEntity = new Map<string, string[]>();
  for (const site of sites) {
    const { backups } = await env.safekeep.storage.backups.listBackups(site.siteId, {
      limit: 10_000,
      offset: 0,
    });
    for (const backup of backups) {
      const events = await eventsOf(env.safekeep.storage, backup.id);
      byEntity.set(
        backup.id,
        [...events].sort((a, b) => a.entitySequence - b.entitySequence).map((e) => e.id),
      );
    }
  }
  return byEntity;
}

/** The chaos a receiver shows once it is back: errors, hangs (some after handling), slow answers. */
function chaos(random: () => number): () => Behaviour {
  return () => {
    const r = random();
    if (r < 0.4) return { answer: 200, delayMs: 0, accept: true };
    if (r < 0.55) return { answer: 500, delayMs: 0, accept: false };
    if (r < 0.65) return { hang: true, accept: true };
    if (r < 0.7) return { hang: true, accept: false };
    // Slow: half of these answer after the deliverer's timeout, so the event comes again.
    return { answer: 200, delayMs: Math.floor(random() * 300), accept: true };
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe('webhooks under a failing receiver', () => {
  for (const stack of ['embedded', 'scaleout'] as const) {
    const siteCount = stack === 'embedded' ? size(4, 40) : size(2, 20);
    const rounds = stack === 'embedded' ? size(6, 60) : size(3, 30);

    it(`${stack}: every event exactly once and in order per entity through an hour down, 500s, hangs and slow answers`, async () => {
      const seed = seedFor(`8. Webhooks: failing receiver (${stack})`);
      const random = seededRandom(seed);
      const env = await startTestEnv({ stack, env: loopbackHooks });
      const receiver = await startDedupReceiver(await publicKey(env));
      const timeoutMs = 150;
      try {
        const sites: TestSite[] = [];
        for (let i = 0; i < siteCount; i++) {
          const site = await env.createSite(`hooks ${i}`);
          await subscribe(env, site, `http://${HOOK_HOST}:${receiver.port}/in`);
          sites.push(site);
        }
        const { deliverer, failures, resolutions } = await watchedDeliverer(env, { timeoutMs, random });

        // Down for an hour: the port refuses; events keep coming.
        await receiver.stop();
        const downAt = env.clock.now();
        let round = 0;
        await backupRound(env, sites, round++);
        while (env.clock.now() - downAt < HOUR) {
          if (env.clock.now() - downAt > 30 * MINUTE && round < 2) await backupRound(env, sites, round++);
          env.clock.advance(20 * SECOND);
          await drain(deliverer);
        }
        const downFailures = [...failures];
        assert.equal(receiver.requests, 0);
        assert.ok(
          downFailures.every((f) => /ECONNREFUSED/.test(f.error)),
          'refused while down',
        );
        const perDelivery = new Map<string, Failure[]>();
        for (const f of downFailures)
          perDelivery.set(f.delivery, [...(perDelivery.get(f.delivery) ?? []), f]);
        const downAttempts = [...perDelivery.values()].map((list) => list.length);
        const firstSchedule = [...perDelivery.values()][0]?.map((f) => (f.next ?? f.at) - f.at) ?? [];
        assert.ok(Math.min(...downAttempts) >= 5, 'kept trying during the hour');
        assert.ok(
          Math.max(...downAttempts) <= 12,
          `${Math.max(...downAttempts)} attempts in an hour: backoff`,
        );
        for (const list of perDelivery.values())
          for (let i = 1; i < list.length; i++) {
            const gap = (list[i]?.next ?? 0) - (list[i]?.at ?? 0);
            const before = (list[i - 1]?.next ?? 0) - (list[i - 1]?.at ?? 0);
            assert.ok(gap > before && gap <= HOUR, `delays grow, capped at an hour: ${before} then ${gap}`);
          }

        // Back, but misbehaving; more events arrive meanwhile.
        await receiver.start();
        receiver.behave = chaos(random);
        const upAt = env.clock.now();
        const expectedEvents = async () =>
          [...(await outboxOf(env, sites)).values()].reduce((n, ids) => n + ids.length, 0);
        let steps = 0;
        for (; steps < 1000; steps++) {
          if (round < rounds && steps % 4 === 0) await backupRound(env, sites, round++);
          env.clock.advance(30 * SECOND);
          await drain(deliverer);
          if (round >= rounds && receiver.accepted.length === (await expectedEvents())) break;
        }
        const allAcceptedAfter = env.clock.now() - upAt;
        // Healthy again: whatever still counts as undelivered goes, then nothing more.
        receiver.behave = () => ({ answer: 200, delayMs: 0, accept: true });
        for (let i = 0; i < 3; i++) {
          env.clock.advance(2 * HOUR);
          await drain(deliverer);
        }
        const requestsBefore = receiver.requests;
        env.clock.advance(24 * HOUR);
        assert.equal(await drain(deliverer), 0, 'nothing is due once everything was delivered');
        assert.equal(receiver.requests, requestsBefore);

        const outbox = await outboxOf(env, sites);
        const outboxIds = [...outbox.values()].flat();
        const acceptedIds = receiver.accepted.map((e) => e.id);
        const missing = outboxIds.filter((id) => !acceptedIds.includes(id)).length;
        const extra = acceptedIds.filter((id) => !outboxIds.includes(id)).length;
        let outOfOrder = 0;
        for (const [entity, ids] of outbox) {
          const arrived = receiver.accepted.filter((e) => e.entityId === entity);
          if (arrived.map((e) => e.id).join() !== ids.join()) outOfOrder += 1;
          for (let i = 1; i < arrived.length; i++)
            if ((arrived[i]?.sequence ?? 0) <= (arrived[i - 1]?.sequence ?? 0)) outOfOrder += 1;
        }
        const figures =
          `${outboxIds.length} events of ${outbox.size} entities: ${missing} missing, ${extra} unknown, ` +
          `${outOfOrder} entities out of order, ${receiver.duplicates} redeliveries de-duplicated ` +
          `(${receiver.requests} requests, ${receiver.badSignatures} bad signatures); down hour: ` +
          `${Math.min(...downAttempts)}–${Math.max(...downAttempts)} attempts per delivery, delays ` +
          `${firstSchedule.map((d) => `${Math.round(d / 1000)}s`).join(', ')}; all handled ` +
          `${Math.round(allAcceptedAfter / MINUTE)} min (fake clock) after the receiver came back; ` +
          `${resolutions.length} attempts in all`;
        console.log(`# ${stack}: ${figures}`);
        assert.equal(missing, 0, 'no event lost');
        assert.equal(extra, 0, 'no event the outbox does not hold');
        assert.equal(acceptedIds.length, new Set(acceptedIds).size);
        assert.equal(outOfOrder, 0, 'each entity’s events handled in sequence order');
        assert.equal(receiver.badSignatures, 0);
        assert.ok(receiver.duplicates > 0, 'the lost answers did cause redeliveries (the test bites)');
        reportFigures({
          test: `8. Webhooks: receiver down 1 h, 500s, hangs, slow (${stack})`,
          proves:
            'a de-duplicating receiver ends with every outbox event exactly once, in order per entity, with backoff',
          ciSize: `${siteCount} sites × ${rounds} backup rounds`,
          ran: `${siteCount} sites × ${rounds} backup rounds`,
          figures,
          seed,
        });
      } finally {
        await receiver.stop();
        await env.close();
      }
    });

    it(`${stack}: backups finish while deliveries hang, as fast as with a healthy receiver`, async () => {
      const env = await startTestEnv({ stack, env: loopbackHooks });
      const pem = await publicKey(env);
      const hanging = await startDedupReceiver(pem);
      const healthy = await startDedupReceiver(pem);
      hanging.behave = () => ({ hang: true, accept: true });
      const stop = new AbortController();
      let loop: Promise<void> | undefined;
      try {
        const [slowSite, fastSite] = [await env.createSite('hung'), await env.createSite('healthy')];
        for (const site of [slowSite, fastSite]) {
          await env.call('POST', '/wix-data/v2/collections', {
            key: site.apiKey,
            body: { collection: { id: 'Things' } },
          });
          const dataItems = Array.from({ length: 200 }, (_, i) => ({
            data: { n: i, text: 'x'.repeat(200) },
          }));
          const res = await env.call('POST', '/wix-data/v2/bulk/items/insert', {
            key: site.apiKey,
            body: { dataCollectionId: 'Things', dataItems },
          });
          assert.equal(res.status, 200);
        }
        await subscribe(env, slowSite, `http://127.0.0.1:${hanging.port}/in`);
        await subscribe(env, fastSite, `http://127.0.0.1:${healthy.port}/in`);
        const deliverer = new WebhookDeliverer(
          env.safekeep.storage.webhooks,
          await WebhookSigner.open(env.safekeep.storage.meta),
          {
            clock: env.clock.now,
            logger: silent,
            pollMs: 10,
            timeoutMs: 10 * MINUTE,
            concurrency: 8,
            policy: new WebhookAddressPolicy(env.safekeep.config.webhookAllowedCidrs),
          },
        );
        loop = deliverer.run(stop.signal);
        const timed = async (site: TestSite) => {
          // Apart in time, as real backups are (retention orders backups by their request time).
          env.clock.advance(SECOND);
          const started = performance.now();
          const id = await createBackup(env, site);
          await runJobs(env);
          const took = performance.now() - started;
          const res = await env.call('GET', `/wix-data/v2/backups/${id}`, { key: site.apiKey });
          assert.equal(res.body.backup.status, 'READY');
          return took;
        };
        // A first backup gets a delivery hanging before the measured ones start.
        await timed(slowSite);
        while (hanging.open === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        const slow: number[] = [];
        const fast: number[] = [];
        let openAtReady = Number.POSITIVE_INFINITY;
        for (let i = 0; i < 8; i++) {
          // Alternating which goes first, so that neither always follows the other.
          if (i % 2 === 0) fast.push(await timed(fastSite));
          slow.push(await timed(slowSite));
          if (i % 2 === 1) fast.push(await timed(fastSite));
          // Structural: the backup reached READY while the hanging receiver still held requests open.
          openAtReady = Math.min(openAtReady, hanging.open);
        }
        const ratio = median(slow) / median(fast);
        const figures =
          `backup median ${median(slow).toFixed(0)} ms with a hanging receiver vs ${median(fast).toFixed(0)} ms ` +
          `healthy (ratio ${ratio.toFixed(2)}); ${openAtReady}+ requests hanging at each READY`;
        console.log(`# ${stack}: ${figures}`);
        assert.ok(openAtReady >= 1, 'deliveries were hanging while the backups completed');
        assert.ok(healthy.accepted.length >= 8, 'the healthy receiver got its events meanwhile');
        reportFigures({
          test: `8. Webhooks: backups beside a hanging receiver (${stack})`,
          proves: 'a receiver that never answers holds up no backup and no other receiver',
          ciSize: '8 + 8 backups of 200 items',
          ran: '8 + 8 backups of 200 items',
          figures,
        });
      } finally {
        stop.abort();
        await loop;
        await hanging.stop();
        await healthy.stop();
        await env.close();
      }
    });

    it(`${stack}: a receiver that hangs holds a few delivery slots, and another receiver is served at once`, async () => {
      const env = await startTestEnv({ stack, env: loopbackHooks });
      const pem = await publicKey(env);
      const hanging = await startDedupReceiver(pem);
      const healthy = await startDedupReceiver(pem);
      hanging.behave = () => ({ hang: true, accept: true });
      const stop = new AbortController();
      let loop: Promise<void> | undefined;
      const concurrency = 8;
      // Long enough that a delivery which had to wait for a hung one to time out would fail the test.
      const timeoutMs = 30_000;
      try {
        const [slowSite, fastSite] = [await env.createSite('hung'), await env.createSite('healthy')];
        await subscribe(env, slowSite, `http://127.0.0.1:${hanging.port}/in`);
        await subscribe(env, fastSite, `http://127.0.0.1:${healthy.port}/in`);
        for (let i = 0; i < concurrency + 2; i++) {
          env.clock.advance(SECOND);
          await createBackup(env, slowSite);
          await runJobs(env);
        }
        const deliverer = new WebhookDeliverer(
          env.safekeep.storage.webhooks,
          await WebhookSigner.open(env.safekeep.storage.meta),
          {
            clock: env.clock.now,
            logger: silent,
            pollMs: 10,
            timeoutMs,
            concurrency,
            policy: new WebhookAddressPolicy(env.safekeep.config.webhookAllowedCidrs),
          },
        );
        loop = deliverer.run(stop.signal);
        const waitFor = async (what: string, done: () => boolean) => {
          // A safety net against a hung test, not a performance limit.
          const giveUp = performance.now() + 60_000;
          while (!done()) {
            assert.ok(performance.now() < giveUp, `never ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        };
        await waitFor('sent to the hanging receiver', () => hanging.open > 0);
        // Let the loop claim whatever else it would (several polls).
        await new Promise((resolve) => setTimeout(resolve, 200));
        const held = hanging.open;
        const started = performance.now();
        await createBackup(env, fastSite);
        await waitFor('delivered to the healthy receiver', () => healthy.accepted.length > 0);
        const waited = performance.now() - started;
        const stillOpen = hanging.open;
        const figures =
          `a hanging receiver with ${concurrency + 2} due events held ${held} of ${concurrency} delivery slots; ` +
          `another receiver's event arrived ${waited.toFixed(0)} ms after it was written, all ${stillOpen} ` +
          `hung requests still open (before this fix: all 8 slots held, and the wait was the full delivery timeout)`;
        console.log(`# ${stack}: ${figures}`);
        assert.ok(held < concurrency, `the hanging receiver holds ${held} of ${concurrency} slots`);
        assert.equal(stillOpen, held, 'delivered without waiting for any hung attempt to time out');
        reportFigures({
          test: `8. Webhooks: other receivers beside a hanging one (${stack})`,
          proves:
            'a receiver that never answers cannot take every delivery slot; other receivers are served at once',
          ciSize: `${concurrency + 2} hung events, 1 healthy`,
          ran: `${concurrency + 2} hung events, 1 healthy`,
          figures,
        });
      } finally {
        stop.abort();
        await loop;
        await hanging.stop();
        await healthy.stop();
        await env.close();
      }
    });
  }

  it('refuses link-local and metadata receivers in every spelling, and names that resolve to them', async () => {
    // Stack-neutral: the check is in the service and the deliverer, before any storage is involved. The
    // operator allows loopback, one private /16 and ::1, so those are receivers; 169.254/16 stays refused.
    const env = await startTestEnv({
      stack: 'embedded',
      env: { SAFEKEEP_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,10.1.0.0/16,::1/128' },
    });
    try {
      const site = await env.createSite();
      const refused = [
        'http://169.254.169.254/latest/meta-data/',
        'https://169.254.0.1/',
        'http://169.254.255.255:8080/x',
        'http://[fe80::1]/',
        'http://[fe80::a9fe:a9fe]/',
        'http://[febf:ffff::1]/',
        'http://[::ffff:169.254.169.254]/',
        'http://[::ffff:a9fe:a9fe]/',
        'http://[0:0:0:0:0:ffff:169.254.1.1]/',
        'http://[::169.254.169.254]/',
        'http://[64:ff9b::169.254.169.254]/',
        'http://[fd00:ec2::254]/',
        'http://2852039166/',
        'http://0xa9fea9fe/',
        'http://0251.0376.0251.0376/',
        'http://0xa9.0xfe.0xa9.0xfe/',
        'http://169.254.43518/',
        'http://169.254.169.254./',
        'http://metadata.google.internal/',
        'http://METADATA.google.internal./',
        'http://metadata/',
      ];
      const accepted: string[] = [];
      for (const url of refused) {
        const res = await env.call('POST', '/_api/safekeep/v1/webhooks', {
          key: site.apiKey,
          body: { siteId: site.siteId, url, eventTypes: ['wix.data.v2.backup_backup_state_changed'] },
        });
        if (res.status !== 400) {
          accepted.push(`${url} → ${res.status}`);
          continue;
        }
        assert.equal(assertErrorShape(res.body), 'INVALID_ARGUMENT');
        assert.match(
          res.text,
          /must point at a public address: .*(169\.254\.0\.0\/16|fe80::\/10|fc00::\/7|::\/96|cloud metadata)/,
        );
      }
      assert.deepEqual(accepted, [], 'every link-local spelling is refused');
      for (const url of [
        'http://127.0.0.1:9/in',
        'http://10.1.2.3/',
        'http://[::1]/',
        'https://hooks.example.com/',
      ]) {
        const res = await env.call('POST', '/_api/safekeep/v1/webhooks', {
          key: site.apiKey,
          body: { siteId: site.siteId, url, eventTypes: ['wix.data.v2.backup_backup_state_changed'] },
        });
        assert.equal(res.status, 200, `${url} is an allowed receiver`);
      }

      // DNS rebinding: a name that resolved to the receiver once resolves to the metadata service later.
      const receiver = await startDedupReceiver(await publicKey(env));
      try {
        const rebound = await env.createSite('rebound');
        await subscribe(env, rebound, `http://rebind.fault.test:${receiver.port}/in`);
        const bad: LookupAddress[][] = [
          [{ address: '169.254.169.254', family: 4 }],
          [
            { address: '127.0.0.1', family: 4 },
            { address: 'fe80::1', family: 6 },
          ],
          [{ address: '::ffff:169.254.169.254', family: 6 }],
        ];
        let answer: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
        let lookups = 0;
        const deliverer = new WebhookDeliverer(
          env.safekeep.storage.webhooks,
          await WebhookSigner.open(env.safekeep.storage.meta),
          {
            clock: env.clock.now,
            logger: silent,
            policy: new WebhookAddressPolicy(env.safekeep.config.webhookAllowedCidrs),
            resolve: (_host, _options, callback) => {
              lookups += 1;
              callback(null, answer);
            },
          },
        );
        await createBackup(env, rebound);
        await runJobs(env);
        assert.equal(await drain(deliverer), 2, 'delivered while the name resolved to loopback');
        assert.equal(receiver.requests, 2);
        let refusedAttempts = 0;
        const quiet = { info: () => undefined, error: () => undefined, warn: () => undefined };
        for (const [i, addresses] of bad.entries()) {
          // As at a restart: a name blocked at delivery is unblocked, to be checked again at its next one.
          if (i > 0) await env.safekeep.checkWebhooks(quiet);
          answer = addresses;
          const before = lookups;
          await createBackup(env, rebound);
          await runJobs(env);
          refusedAttempts += await drain(deliverer);
          assert.ok(lookups > before, 'the name was resolved again for this attempt');
          const [hook] = await env.safekeep.storage.webhooks.list([rebound.siteId]);
          assert.match(hook?.blockedReason ?? '', /resolves to a refused address/, 'blocked at delivery');
        }
        assert.equal(receiver.requests, 2, 'nothing reached the receiver once the name pointed elsewhere');
        env.clock.advance(48 * HOUR);
        answer = [{ address: '127.0.0.1', family: 4 }];
        const retried = await drain(deliverer);
        assert.equal(retried, 0, 'a blocked subscription is not retried');
        // Kept, not lost: after the start-up check, the name resolves to an allowed address and the events
        // held for the three rebound backups go.
        await env.safekeep.checkWebhooks(quiet);
        const held = await drain(deliverer);
        const outbox = [...(await outboxOf(env, [rebound])).values()].flat();
        assert.ok(held >= 6, `${held} held events delivered (two per backup at least)`);
        assert.deepEqual(
          receiver.accepted.map((e) => e.id).sort(),
          [...outbox].sort(),
          'every event of the site arrived, none lost',
        );
        assert.equal(receiver.requests, outbox.length, 'each once');
        reportFigures({
          test: '8. Webhooks: link-local and metadata receivers refused',
          proves:
            'no webhook is ever sent to 169.254/16, fe80::/10 or a metadata endpoint, however spelled or resolved',
          ciSize: `${refused.length} URL spellings, 3 rebinding answers`,
          ran: `${refused.length} URL spellings, 3 rebinding answers`,
          figures: `${refused.length}/${refused.length} spellings refused with INVALID_ARGUMENT; ${refusedAttempts} attempts to 3 rebound answers refused before connecting, ${retried} retried while blocked, ${held} held events delivered once allowed`,
        });
      } finally {
        await receiver.stop();
      }
    } finally {
      await env.close();
    }
  });
});
