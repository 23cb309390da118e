/**
 * The job-store contract: how every storage claims, leases and fences jobs (backups, restorations, schedule
 * slots, GC leases, webhook deliveries), written once. Each engine's test file calls `runJobStoreContract`
 * with a factory (see job-store-sqlite.test.ts). Every test gets a storage of its own: claims take the oldest
 * job of any site, so jobs left by another test would change what a claim finds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKUP_EVENT } from '../../src/contracts/backups-api.js';
import type { Storage } from '../../src/ports/storage.js';
import {
  claimBy,
  createSite,
  keepAll,
  LEASE_MS,
  newBackup,
  newRestoration,
  readyBackup,
  renewalBy,
  statusOf,
} from '../helpers/job-fixtures.js';

export interface JobStoreFactory {
  create(): Promise<{ storage: Storage; cleanup(): Promise<void> }>;
}

const T = 1_700_000_000_000;

export function runJobStoreContract(name: string, factory: JobStoreFactory): void {
  /** Runs `test` on a fresh storage, cleaned up whatever the outcome. */
  const fresh = (test: (storage: Storage) => Promise<void>) => async () => {
    const created = await factory.create();
    try {
      await test(created.storage);
    } finally {
      await created.cleanup();
    }
  };

  describe(`job-store contract: ${name}`, () => {
    describe('claim order', () => {
      it(
        'claims the oldest pending backup first (ties by id), never a safety backup on its own',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await storage.backups.createBackup(newBackup('s1', 'b-3', T + 3));
          await storage.backups.createBackup(newBackup('s1', 'b-2b', T + 2));
          await storage.backups.createBackup(newBackup('s1', 'b-1', T + 1));
          await storage.backups.createBackup(newBackup('s1', 'b-2a', T + 2));
          await storage.backups.createBackup(newBackup('s1', 'pre', T, 'PRE_RESTORE'));
          const order: string[] = [];
          for (let k = 0; k < 5; k++) {
            const claimed = await storage.backups.claimBackup(claimBy(`w${k}`, T + 10));
            if (claimed) {
              assert.equal(claimed.status, 'PENDING');
              assert.equal(claimed.startedAt, T + 10);
              order.push(claimed.id);
            }
          }
          assert.deepEqual(order, ['b-1', 'b-2a', 'b-2b', 'b-3']);
          assert.equal((await statusOf(storage, 's1', 'pre')).status, 'PENDING');
        }),
      );

      it(
        'claims the oldest pending restoration first, with the state to resume from',
        fresh(async (storage) => {
          for (const site of ['s1', 's2']) {
            await createSite(storage, site, T);
            await readyBackup(storage, site, `${site}-b`, T);
          }
          for (const [site, at] of [
            ['s2', T + 1],
            ['s1', T + 2],
          ] as const) {
            await storage.restorations.createRestoration(newRestoration(site, `${site}-r`, `${site}-b`, at));
          }
          const first = await storage.restorations.claimRestoration(claimBy('w1', T + 10));
          const second = await storage.restorations.claimRestoration(claimBy('w2', T + 10));
          assert.equal(first?.restoration.id, 's2-r');
          assert.equal(first.job.phase, 'QUEUED');
          assert.equal(second?.restoration.id, 's1-r');
          assert.equal(await storage.restorations.claimRestoration(claimBy('w3', T + 10)), undefined);
        }),
      );
    });

    describe('concurrent claims', () => {
      it(
        'gives concurrent claimers different jobs (row locks skip held rows; otherwise a compare-and-set)',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          const ids = Array.from({ length: 8 }, (_, k) => `b-${k}`);
          for (const id of ids) await storage.backups.createBackup(newBackup('s1', id, T));
          const workers = ids.map((_, k) => `w${k}`);
          const claimed = await Promise.all(
            workers.map((w) => storage.backups.claimBackup(claimBy(w, T + 10))),
          );
          assert.deepEqual(claimed.map((b) => b?.id).sort(), ids);
          // Each job's lease is held by the one worker that got it.
          for (const [k, backup] of claimed.entries()) {
            const id = backup?.id ?? '';
            assert.ok(await storage.backups.renewBackup(renewalBy(`w${k}`, id, T + 20)));
            const other = `w${(k + 1) % workers.length}`;
            assert.equal(await storage.backups.renewBackup(renewalBy(other, id, T + 20)), false);
          }
        }),
      );
    });

    describe('leases and fencing', () => {
      it(
        'passes over a job whose lease is held and takes it once the lease expired',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await storage.backups.createBackup(newBackup('s1', 'b', T));
          assert.equal((await storage.backups.claimBackup(claimBy('a', T)))?.id, 'b');
          assert.equal(await storage.backups.claimBackup(claimBy('b', T + LEASE_MS - 1)), undefined);
          // A renewal pushes the expiry out.
          assert.ok(await storage.backups.renewBackup(renewalBy('a', 'b', T + LEASE_MS - 1)));
          assert.equal(await storage.backups.claimBackup(claimBy('b', T + LEASE_MS + 1)), undefined);
          const taken = await storage.backups.claimBackup(claimBy('b', T + 2 * LEASE_MS));
          assert.equal(taken?.id, 'b');
          // The first start is kept across claims.
          assert.equal(taken.startedAt, T);
        }),
      );

      it(
        'refuses every backup write of a worker whose lease another worker took after it expired',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await storage.backups.createBackup(newBackup('s1', 'b', T));
          await storage.backups.claimBackup(claimBy('stale', T));
          const after = T + LEASE_MS + 1;
          assert.equal((await storage.backups.claimBackup(claimBy('fresh', after)))?.id, 'b');

          assert.equal(await storage.backups.renewBackup(renewalBy('stale', 'b', after)), false);
          const snapshot = { snapshotAt: after, collections: [], itemsTotal: 7 };
          assert.equal(await storage.backups.recordSnapshot('b', 'stale', snapshot), false);
          const written = {
            manifest: { key: 'm', sha256: 'a'.repeat(64), size: 1 },
            sizeBytes: 1,
            itemCount: 0,
            collectionStates: [],
          };
          assert.equal(await storage.backups.completeBackup('b', 'stale', written, after, keepAll), false);
          const error = { code: 'INTERNAL', message: 'stale' };
          assert.equal(await storage.backups.failBackup('b', 'stale', error, after), false);
          const untouched = await statusOf(storage, 's1', 'b');
          assert.equal(untouched.status, 'PENDING');
          assert.equal(untouched.progress, null);

          assert.ok(await storage.backups.recordSnapshot('b', 'fresh', snapshot));
          assert.ok(await storage.backups.completeBackup('b', 'fresh', written, after, keepAll));
          assert.equal((await statusOf(storage, 's1', 'b')).status, 'READY');
          // Once the job ended, its lease is gone: even its last holder cannot renew it.
          assert.equal(await storage.backups.renewBackup(renewalBy('fresh', 'b', after)), false);
        }),
      );

      it(
        'refuses every restoration write of a worker whose lease another worker took after it expired',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await readyBackup(storage, 's1', 'b', T);
          await storage.restorations.createRestoration(newRestoration('s1', 'r', 'b', T));
          await storage.restorations.claimRestoration(claimBy('stale', T));
          const after = T + LEASE_MS + 1;
          const taken = await storage.restorations.claimRestoration(claimBy('fresh', after));
          assert.equal(taken?.restoration.id, 'r');

          const staging = { ...taken.job, phase: 'STAGING' as const, staged: { c: 1 } };
          assert.equal(await storage.restorations.renewRestoration(renewalBy('stale', 'r', after)), false);
          assert.equal(await storage.restorations.saveRestorationJob('r', 'stale', staging), false);
          const error = { code: 'INTERNAL', message: 'stale' };
          assert.equal(await storage.restorations.failRestoration('r', 'stale', error, after), false);
          assert.equal(await storage.restorations.completeRestoration('r', 'stale', after), false);
          assert.equal((await storage.restorations.getRestoration('s1', 'r'))?.status, 'PENDING');

          assert.ok(await storage.restorations.renewRestoration(renewalBy('fresh', 'r', after)));
          assert.ok(await storage.restorations.saveRestorationJob('r', 'fresh', staging));
          assert.ok(await storage.restorations.failRestoration('r', 'fresh', error, after));
          const failed = await storage.restorations.getRestoration('s1', 'r');
          assert.equal(failed?.status, 'FAILED');
          assert.deepEqual(failed.error, error);
        }),
      );
    });

    describe('give-up', () => {
      it(
        'fails a backup claimed maxAttempts times with JOB_INTERRUPTED and claims the next job instead',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await storage.backups.createBackup(newBackup('s1', 'crashy', T));
          await storage.backups.createBackup(newBackup('s1', 'next', T + 1));
          const maxAttempts = 2;
          let now = T;
          for (let attempt = 1; attempt <= maxAttempts; attempt++) {
            const claimed = await storage.backups.claimBackup(claimBy(`w${attempt}`, now, maxAttempts));
            assert.equal(claimed?.id, 'crashy');
            now += LEASE_MS + 1;
          }
          assert.equal((await statusOf(storage, 's1', 'crashy')).status, 'PENDING');
          const claimed = await storage.backups.claimBackup(claimBy('w3', now, maxAttempts));
          assert.equal(claimed?.id, 'next');
          const given = await statusOf(storage, 's1', 'crashy');
          assert.equal(given.status, 'FAILED');
          assert.equal(given.error?.code, 'JOB_INTERRUPTED');
          assert.match(given.error.message, /interrupted 2 times/);
          assert.equal(given.finishedAt, now);
        }),
      );

      it(
        'fails a restoration claimed maxAttempts times before its switch with JOB_INTERRUPTED',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await readyBackup(storage, 's1', 'b', T);
          await storage.restorations.createRestoration(newRestoration('s1', 'r', 'b', T));
          let now = T;
          for (const worker of ['w1', 'w2']) {
            assert.ok(await storage.restorations.claimRestoration(claimBy(worker, now, 2)));
            now += LEASE_MS + 1;
          }
          assert.equal(await storage.restorations.claimRestoration(claimBy('w3', now, 2)), undefined);
          const given = await storage.restorations.getRestoration('s1', 'r');
          assert.equal(given?.status, 'FAILED');
          assert.equal(given.error?.code, 'JOB_INTERRUPTED');
        }),
      );
      it(
        'completes a restoration given up after its switch, failing only its safety backup',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await readyBackup(storage, 's1', 'b', T);
          await storage.restorations.createRestoration(newRestoration('s1', 'r', 'b', T));
          assert.ok(await storage.restorations.claimRestoration(claimBy('w1', T, 2)));
          const switched = await storage.staging.switchLive({
            restorationId: 'r',
            workerId: 'w1',
            siteId: 's1',
            at: T + 1,
            leaseMs: LEASE_MS,
            destinations: [],
            safetyBackup: { ...newBackup('s1', 'safety', T + 1, 'PRE_RESTORE'), restorationId: 'r' },
          });
          assert.equal(switched?.phase, 'SWITCHED');
          // The next claim resumes after the switch and takes the safety backup's lease along.
          let now = T + LEASE_MS + 2;
          const resumed = await storage.restorations.claimRestoration(claimBy('w2', now, 2));
          assert.equal(resumed?.job.phase, 'SWITCHED');
          assert.ok(await storage.backups.renewBackup(renewalBy('w2', 'safety', now)));
          assert.equal(await storage.backups.renewBackup(renewalBy('w1', 'safety', now)), false);

          now += 2 * LEASE_MS;
          assert.equal(await storage.restorations.claimRestoration(claimBy('w3', now, 2)), undefined);
          const given = await storage.restorations.getRestoration('s1', 'r');
          assert.equal(given?.status, 'COMPLETED');
          assert.equal(given.error?.code, 'JOB_INTERRUPTED');
          const safety = await statusOf(storage, 's1', 'safety');
          assert.equal(safety.status, 'FAILED');
          assert.equal(safety.error?.code, 'JOB_INTERRUPTED');
        }),
      );
    });

    describe('GC-lease exclusion', () => {
      it(
        'claims no job of a site under a GC lease, and other sites go on',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await createSite(storage, 's2', T);
          assert.ok(await storage.maintenance.acquireGcLease('s1', 'gc', T, 10 * LEASE_MS));
          await storage.backups.createBackup(newBackup('s1', 'held', T + 1));
          await storage.backups.createBackup(newBackup('s2', 'free', T + 2));
          assert.equal((await storage.backups.claimBackup(claimBy('w1', T + 3)))?.id, 'free');
          assert.equal(await storage.backups.claimBackup(claimBy('w2', T + 3)), undefined);
          await storage.maintenance.releaseGcLease('s1', 'gc');
          assert.equal((await storage.backups.claimBackup(claimBy('w2', T + 4)))?.id, 'held');
        }),
      );

      it(
        'claims the job once the GC lease expired',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          assert.ok(await storage.maintenance.acquireGcLease('s1', 'gc', T, LEASE_MS));
          await storage.backups.createBackup(newBackup('s1', 'b', T + 1));
          assert.equal(await storage.backups.claimBackup(claimBy('w', T + LEASE_MS - 1)), undefined);
          assert.equal((await storage.backups.claimBackup(claimBy('w', T + LEASE_MS)))?.id, 'b');
        }),
      );

      it(
        'claims no restoration of a site under a GC lease',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await readyBackup(storage, 's1', 'b', T);
          assert.ok(await storage.maintenance.acquireGcLease('s1', 'gc', T, 10 * LEASE_MS));
          await storage.restorations.createRestoration(newRestoration('s1', 'r', 'b', T + 1));
          assert.equal(await storage.restorations.claimRestoration(claimBy('w', T + 2)), undefined);
          await storage.maintenance.releaseGcLease('s1', 'gc');
          assert.equal(
            (await storage.restorations.claimRestoration(claimBy('w', T + 3)))?.restoration.id,
            'r',
          );
        }),
      );

      it(
        'gives no GC lease while a backup or a restoration of the site is pending',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          await storage.backups.createBackup(newBackup('s1', 'b', T, 'ON_DEMAND'));
          assert.equal(await storage.maintenance.acquireGcLease('s1', 'gc', T, LEASE_MS), false);
          await storage.backups.cancelBackup('s1', 'b', T + 1);
          await readyBackup(storage, 's1', 'ready', T + 2);
          await storage.restorations.createRestoration(newRestoration('s1', 'r', 'ready', T + 3));
          assert.equal(await storage.maintenance.acquireGcLease('s1', 'gc', T + 4, LEASE_MS), false);
          const error = { code: 'INTERNAL', message: 'given up' };
          assert.ok(await storage.restorations.failRestoration('r', null, error, T + 5));
          assert.ok(await storage.maintenance.acquireGcLease('s1', 'gc', T + 6, LEASE_MS));
          // Another collector waits for the lease to expire.
          assert.equal(await storage.maintenance.acquireGcLease('s1', 'gc-2', T + 7, LEASE_MS), false);
          assert.ok(await storage.maintenance.acquireGcLease('s1', 'gc-2', T + 7 + LEASE_MS, LEASE_MS));
        }),
      );
    });

    describe('schedule slots', () => {
      it(
        'lets exactly one of several concurrent schedulers take a slot',
        fresh(async (storage) => {
          await createSite(storage, 's1', T);
          const due = T + 100;
          await storage.schedule.setNextDue('s1', due);
          const day = 86_400_000;
          const results = await Promise.all(
            Array.from({ length: 6 }, (_, k) =>
              storage.schedule.takeSlot('s1', due, due + day, {
                ...newBackup('s1', `slot-${k}`, due),
                scheduleSlot: due,
              }),
            ),
          );
          assert.equal(results.filter(Boolean).length, 1);
          const listed = await storage.backups.listBackups('s1', { limit: 10, offset: 0 });
          assert.equal(listed.total, 1);
          assert.equal(listed.backups[0]?.trigger, 'SCHEDULE');
          // Taking it again, even with the due time put back, adds nothing.
          assert.equal(
            await storage.schedule.takeSlot('s1', due, due + day, {
              ...newBackup('s1', 'again', due),
              scheduleSlot: due,
            }),
            false,
          );
          await storage.schedule.setNextDue('s1', due);
          assert.equal(
            await storage.schedule.takeSlot('s1', due, due + day, {
              ...newBackup('s1', 'again', due),
              scheduleSlot: due,
            }),
            false,
          );
          assert.equal((await storage.backups.listBackups('s1', { limit: 10, offset: 0 })).total, 1);
        }),
      );
    });

    describe('webhook deliveries', () => {
      /** A site with a subscription to backup events. */
      async function subscribed(storage: Storage, siteId: string): Promise<void> {
        await createSite(storage, siteId, T);
        await storage.webhooks.create({
          id: `hook-${siteId}`,
          siteId,
          url: 'https://receiver.example/hook',
          eventTypes: [BACKUP_EVENT.eventType],
          createdAt: T,
        });
      }
      const deliveryClaim = (workerId: string, now: number, limit = 10) => ({
        workerId,
        now,
        leaseMs: LEASE_MS,
        limit,
      });

      it(
        "claims each entity's earliest undelivered event only, and a lost lease's writes change nothing",
        fresh(async (storage) => {
          await subscribed(storage, 's1');
          await storage.backups.createBackup(newBackup('s1', 'b', T, 'ON_DEMAND'));
          await storage.backups.cancelBackup('s1', 'b', T + 1);
          const [first, ...rest] = await storage.webhooks.claimDue(deliveryClaim('stale', T + 2));
          assert.equal(rest.length, 0);
          assert.ok(first);
          assert.equal(first.events[0]?.entityId, 'b');
          assert.equal(first.events[0]?.entitySequence, 1);
          assert.deepEqual(await storage.webhooks.claimDue(deliveryClaim('w', T + 3)), []);

          const after = T + 2 + LEASE_MS + 1;
          const [again] = await storage.webhooks.claimDue(deliveryClaim('fresh', after));
          assert.equal(again?.eventSeq, first.eventSeq);
          // The stale holder's writes are fenced out: had it marked the delivery done, nothing would be left.
          await storage.webhooks.markDelivered(first.eventSeq, first.webhookId, 'stale', after);
          await storage.webhooks.markFailed(first.eventSeq, first.webhookId, 'stale', 'x', null, after);
          await storage.webhooks.release(first.eventSeq, first.webhookId, 'fresh');
          const [retaken] = await storage.webhooks.claimDue(deliveryClaim('next', after));
          assert.equal(retaken?.eventSeq, first.eventSeq);
          assert.equal(retaken.attempts, 0);

          await storage.webhooks.markDelivered(retaken.eventSeq, retaken.webhookId, 'next', after);
          const [second] = await storage.webhooks.claimDue(deliveryClaim('next', after));
          assert.equal(second?.events[0]?.entitySequence, 2);
          await storage.webhooks.markFailed(
            second.eventSeq,
            second.webhookId,
            'next',
            'refused',
            after + 50,
            after,
          );
          assert.deepEqual(await storage.webhooks.claimDue(deliveryClaim('next', after + 49)), []);
          const [retry] = await storage.webhooks.claimDue(deliveryClaim('next', after + 50));
          assert.equal(retry?.eventSeq, second.eventSeq);
          assert.equal(retry.attempts, 1);
        }),
      );

      it(
        'gives concurrent claimers different deliveries',
        fresh(async (storage) => {
          await subscribed(storage, 's1');
          for (let k = 0; k < 6; k++) await storage.backups.createBackup(newBackup('s1', `b-${k}`, T + k));
          // Rounds of concurrent claims until none finds work: every delivery is claimed exactly once.
          const seqs: number[] = [];
          for (let round = 0; round < 10; round++) {
            const claims = await Promise.all(
              ['w1', 'w2', 'w3'].map((w) => storage.webhooks.claimDue(deliveryClaim(w, T + 10, 2))),
            );
            const found = claims.flat();
            if (found.length === 0) break;
            seqs.push(...found.map((d) => d.eventSeq));
          }
          assert.equal(seqs.length, 6);
          assert.equal(new Set(seqs).size, 6);
        }),
      );
    });
  });
}
