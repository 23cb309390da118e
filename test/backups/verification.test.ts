/**
 * Backup verification, the scrub, backup health and the storage view (README, "Verification and backup
 * health"), on the stack SAFEKEEP_TEST_STACK names: a verification finds a corrupted chunk and a missing
 * one and passes a healthy backup (with and without a trial restore); the scrub verifies every due backup
 * of a site reading each shared chunk once; overdue detection with the injected clock records each
 * transition once, also with two watchers; the storage view agrees with figures computed by hand.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { chunksOf } from '../../src/domain/manifest.js';
import { BackupHealthWatch } from '../../src/jobs/backup-health-watch.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { storedBackup } from '../faults/corruption-objects.js';

const P = '/wix-data/v2';
const A = '/_api/safekeep/v1';
const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
const silent = { info: () => undefined, error: () => undefined };

function dbOf(env: TestEnv): Kysely<Database> {
  return (env.safekeep.storage as unknown as { db: Kysely<Database> }).db;
}

async function addItems(env: TestEnv, site: TestSite, collection: string, from: number, n: number) {
  const dataItems = Array.from({ length: n }, (_, i) => ({
    id: `${collection}-${String(from + i).padStart(5, '0')}`,
    data: { n: from + i, text: `item ${from + i} of ${collection} `.repeat(8) },
  }));
  const res = await env.call('POST', `${P}/bulk/items/save`, {
    key: site.apiKey,
    body: { dataCollectionId: collection, dataItems },
  });
  assert.equal(res.status, 200, res.text);
}

async function newCollection(env: TestEnv, site: TestSite, id: string) {
  const res = await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id } } });
  assert.equal(res.status, 200, res.text);
}

async function backUp(env: TestEnv, site: TestSite, body: unknown = {}): Promise<string> {
  const res = await env.call('POST', `${P}/backups`, { key: site.apiKey, body });
  assert.equal(res.status, 200, res.text);
  await runJobs(env);
  const id = res.body.backup.id as string;
  const got = await env.call('GET', `${P}/backups/${id}`, { key: site.apiKey });
  assert.equal(got.body.backup.status, 'READY');
  return id;
}

async function verify(env: TestEnv, site: TestSite, backupId: string, body: unknown = {}) {
  const res = await env.call('POST', `${P}/backups/${backupId}/verify`, { key: site.apiKey, body });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.verification.status, 'PENDING');
  await runJobs(env);
  const done = await env.call('GET', `${P}/backups/verifications/${res.body.verification.id}`, {
    key: site.apiKey,
  });
  assert.equal(done.status, 200, done.text);
  const backup = await env.call('GET', `${P}/backups/${backupId}`, { key: site.apiKey });
  return { verification: done.body.verification, backup: backup.body.backup };
}

async function eventsOfType(env: TestEnv, type: string, entityId?: string) {
  let q = dbOf(env).selectFrom('events').selectAll().where('event_type', '=', type);
  if (entityId) q = q.where('entity_id', '=', entityId);
  return q.orderBy('seq').execute();
}

describe('backup verification', () => {
  let env: TestEnv;
  let site: TestSite;
  let backupId: string;

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    await newCollection(env, site, 'Books');
    await newCollection(env, site, 'Notes');
    await addItems(env, site, 'Books', 0, 400);
    await addItems(env, site, 'Notes', 0, 50);
    backupId = await backUp(env, site);
  });
  after(() => env.close());

  it('passes a healthy backup and shows the result on it', async () => {
    const before = await env.call('GET', `${P}/backups/${backupId}`, { key: site.apiKey });
    assert.equal(before.body.backup.lastVerifiedDate, null);
    assert.equal(before.body.backup.lastVerification, null);
    env.clock.advance(60_000);
    const { verification, backup } = await verify(env, site, backupId);
    assert.equal(verification.status, 'PASSED');
    assert.equal(verification.error, null);
    assert.equal(verification.backupsVerified, 1);
    const stored = await storedBackup(env, site.siteId, backupId);
    assert.equal(verification.chunksRead, stored.chunks.length, 'every chunk read');
    const chunkBytes = stored.chunks.reduce((n, c) => n + c.ref.storedSize, 0);
    assert.equal(Number(verification.bytesRead), chunkBytes + stored.manifestBytes.length);
    assert.equal(backup.lastVerifiedDate, new Date(env.clock.now()).toISOString());
    assert.deepEqual(backup.lastVerification, { result: 'PASSED', error: null });
  });

  it('passes a trial restore, and throws its scratch item sets away', async () => {
    const generations = (state: 'RETIRED' | 'BUILDING') =>
      dbOf(env)
        .selectFrom('generations')
        .select('id')
        .where('site_id', '=', site.siteId)
        .where('state', '=', state)
        .execute();
    const retiredBefore = (await generations('RETIRED')).length;
    const liveItems = await env.safekeep.storage.usage.items(site.siteId);
    const { verification, backup } = await verify(env, site, backupId, { trialRestore: true });
    assert.equal(verification.status, 'PASSED', JSON.stringify(verification));
    assert.equal(verification.trialRestore, true);
    assert.equal(backup.lastVerification.result, 'PASSED');
    assert.equal((await generations('RETIRED')).length, retiredBefore + 2, 'one per collection, thrown away');
    assert.equal((await generations('BUILDING')).length, 0);
    assert.equal(await env.safekeep.storage.usage.items(site.siteId), liveItems, 'live items untouched');
  });

  it('finds a corrupted chunk: FAILED with its code, on the backup, with a webhook event', async () => {
    const stored = await storedBackup(env, site.siteId, backupId);
    const victim = stored.chunks[0];
    assert.ok(victim);
    const original = await env.safekeep.blobs.get(victim.key, victim.ref.storedSize + 1);
    const damaged = Buffer.from(original);
    const at = Math.floor(damaged.length / 2);
    damaged[at] = (damaged[at] ?? 0) ^ 0x01;
    await env.safekeep.blobs.put(victim.key, damaged);
    try {
      const { verification, backup } = await verify(env, site, backupId);
      assert.equal(verification.status, 'FAILED');
      assert.match(verification.error.code, /^INTEGRITY_/);
      assert.equal(backup.lastVerification.result, 'FAILED');
      assert.equal(backup.lastVerification.error.code, verification.error.code);
      const events = await eventsOfType(env, 'safekeep.backup_verification_failed', backupId);
      assert.equal(events.length, 1, 'one event for the failure');
      const body = JSON.parse(events[0]?.body ?? '{}');
      assert.equal(body.backup.lastVerification.error.code, verification.error.code);
    } finally {
      await env.safekeep.blobs.put(victim.key, original);
    }
  });

  it('finds a missing chunk: INTEGRITY_OBJECT_MISSING', async () => {
    const stored = await storedBackup(env, site.siteId, backupId);
    const victim = stored.chunks[stored.chunks.length - 1];
    assert.ok(victim);
    const original = await env.safekeep.blobs.get(victim.key, victim.ref.storedSize + 1);
    await env.safekeep.blobs.delete(victim.key);
    try {
      const { verification, backup } = await verify(env, site, backupId);
      assert.equal(verification.status, 'FAILED');
      assert.equal(verification.error.code, 'INTEGRITY_OBJECT_MISSING');
      assert.equal(backup.lastVerification.error.code, 'INTEGRITY_OBJECT_MISSING');
      assert.equal((await eventsOfType(env, 'safekeep.backup_verification_failed', backupId)).length, 2);
    } finally {
      await env.safekeep.blobs.put(victim.key, original);
    }
    const again = await verify(env, site, backupId);
    assert.equal(again.verification.status, 'PASSED', 'repaired: passes again');
    assert.equal(again.backup.lastVerification.result, 'PASSED');
  });

  it('refuses what cannot be verified, with clear errors', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const missing = await env.call('POST', `${P}/backups/${unknown}/verify`, { key: site.apiKey, body: {} });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.details.applicationError.code, 'BACKUP_NOT_FOUND');
    const bad = await env.call('POST', `${P}/backups/not-a-guid/verify`, { key: site.apiKey, body: {} });
    assert.equal(bad.status, 400);
    const extra = await env.call('POST', `${P}/backups/${backupId}/verify`, {
      key: site.apiKey,
      body: { trialRestore: 'yes' },
    });
    assert.equal(extra.status, 400);
    const noVerification = await env.call('GET', `${P}/backups/verifications/${unknown}`, {
      key: site.apiKey,
    });
    assert.equal(noVerification.status, 404);
    assert.equal(noVerification.body.details.applicationError.code, 'VERIFICATION_NOT_FOUND');
    const doomed = await backUp(env, site);
    assert.equal((await env.call('DELETE', `${P}/backups/${doomed}`, { key: site.apiKey })).status, 200);
    const deleted = await env.call('POST', `${P}/backups/${doomed}/verify`, { key: site.apiKey, body: {} });
    assert.equal(deleted.status, 428);
    assert.equal(deleted.body.details.applicationError.code, 'BACKUP_NOT_VERIFIABLE');
  });

  it('asks twice, queues once', async () => {
    const first = await env.call('POST', `${P}/backups/${backupId}/verify`, { key: site.apiKey, body: {} });
    const second = await env.call('POST', `${P}/backups/${backupId}/verify`, { key: site.apiKey, body: {} });
    assert.equal(second.body.verification.id, first.body.verification.id);
    await runJobs(env);
  });
});

describe('the scrub', () => {
  let env: TestEnv;
  let site: TestSite;

  before(async () => {
    env = await startTestEnv({ env: { SAFEKEEP_VERIFY_EVERY_DAYS: '30' } });
    site = await env.createSite();
  });
  after(() => env.close());

  it('verifies every backup within the period, reading each shared chunk once', async () => {
    await newCollection(env, site, 'Big');
    await newCollection(env, site, 'Small');
    await addItems(env, site, 'Big', 0, 600);
    await addItems(env, site, 'Small', 0, 20);
    const first = await backUp(env, site);
    await addItems(env, site, 'Small', 20, 5);
    const second = await backUp(env, site);
    const a = await storedBackup(env, site.siteId, first);
    const b = await storedBackup(env, site.siteId, second);
    const union = new Set([...a.chunks, ...b.chunks].map((c) => c.ref.hash));
    const shared = a.chunks.filter((c) => b.chunks.some((d) => d.ref.hash === c.ref.hash));
    assert.ok(shared.length > 0, 'the backups share chunks (the unchanged collection)');

    const { scrub } = env.safekeep.background();
    // The first pass gives each backup its due time, within the period after it became READY.
    assert.equal(await scrub.tick(), 0, 'nothing due yet');
    const due = await dbOf(env)
      .selectFrom('backups')
      .select(['id', 'verify_due_at', 'finished_at'])
      .where('site_id', '=', site.siteId)
      .execute();
    for (const row of due) {
      assert.ok(row.verify_due_at !== null);
      const lag = Number(row.verify_due_at) - Number(row.finished_at);
      assert.ok(lag >= 0 && lag < 30 * DAY, `due within the period (${lag} ms)`);
    }
    env.clock.advance(30 * DAY);
    // Two schedulers at once: one scrub for the site.
    const queued = await Promise.all([scrub.tick(), scrub.tick()]);
    assert.equal(queued[0] + queued[1], 1, 'one scrub queued');
    assert.equal(await scrub.tick(), 0, 'one pending scrub per site');
    await runJobs(env);
    const scrubs = await dbOf(env)
      .selectFrom('verifications')
      .selectAll()
      .where('site_id', '=', site.siteId)
      .where('trigger', '=', 'SCRUB')
      .execute();
    assert.equal(scrubs.length, 1);
    const run = scrubs[0];
    assert.ok(run);
    assert.equal(run.status, 'PASSED', run.error_message ?? '');
    assert.equal(Number(run.backups_verified), 2);
    assert.equal(Number(run.chunks_read), union.size, 'each distinct chunk read once');
    assert.ok(Number(run.chunks_read) < a.chunks.length + b.chunks.length);
    for (const id of [first, second]) {
      const got = await env.call('GET', `${P}/backups/${id}`, { key: site.apiKey });
      assert.equal(got.body.backup.lastVerifiedDate, new Date(env.clock.now()).toISOString());
      assert.equal(got.body.backup.lastVerification.result, 'PASSED');
    }
    // Not due again for most of a period; due again before a whole one has passed.
    env.clock.advance(20 * DAY);
    assert.equal(await scrub.tick(), 0);
    env.clock.advance(10 * DAY);
    assert.equal(await scrub.tick(), 1);
    await runJobs(env);
    assert.equal(chunksOf(a.manifest).length, a.chunks.length);
  });
});

describe('backup health', () => {
  let env: TestEnv;
  let site: TestSite;

  before(async () => {
    env = await startTestEnv({
      env: { SAFEKEEP_AUTO_BACKUP_INTERVAL_DAYS: '7', SAFEKEEP_OVERDUE_GRACE_HOURS: '24' },
    });
    site = await env.createSite();
    await newCollection(env, site, 'Things');
    await newCollection(env, site, 'Others');
    await addItems(env, site, 'Things', 0, 10);
  });
  after(() => env.close());

  const watchers = () =>
    [0, 1].map(
      () =>
        new BackupHealthWatch(env.safekeep.storage.health, {
          clock: env.clock.now,
          defaultIntervalDays: 7,
          graceMs: 24 * HOUR,
          logger: silent,
        }),
    );
  const health = async () =>
    (await env.call('GET', `${A}/backup-health`, { key: site.apiKey })).body.health as {
      state: string;
      lastGoodBackupDate: string | null;
    };
  const overdue = () => eventsOfType(env, 'safekeep.site_backup_overdue', site.siteId);
  const recovered = () => eventsOfType(env, 'safekeep.site_backup_recovered', site.siteId);

  it('turns OVERDUE once after the interval plus the grace, however many watch', async () => {
    const [w1, w2] = watchers();
    assert.ok(w1 && w2);
    await Promise.all([w1.tick(), w2.tick()]);
    assert.equal((await health()).state, 'OK');
    env.clock.advance(8 * DAY);
    await Promise.all([w1.tick(), w2.tick()]);
    assert.equal((await health()).state, 'OK', 'at the end of the grace period, still OK');
    env.clock.advance(1);
    const changes = await Promise.all([w1.tick(), w2.tick()]);
    assert.equal(changes[0].overdue + changes[1].overdue, 1, 'one watcher recorded it');
    await Promise.all([w1.tick(), w2.tick()]);
    assert.equal((await overdue()).length, 1, 'exactly one event');
    assert.equal((await health()).state, 'OVERDUE');
    const body = JSON.parse((await overdue())[0]?.body ?? '{}');
    assert.equal(body.site.state, 'OVERDUE');
    assert.equal(body.site.siteId, site.siteId);
  });

  it('shows in /healthz?detail=1 for an admin key only, and in the metrics', async () => {
    const open = await env.call('GET', '/healthz');
    assert.equal(open.status, 200);
    assert.equal(open.body.backupHealth, undefined);
    const anonymous = await env.call('GET', '/healthz?detail=1');
    assert.equal(anonymous.status, 401);
    const siteKey = await env.call('GET', '/healthz?detail=1', { key: site.apiKey });
    assert.equal(siteKey.status, 403);
    const admin = await env.call('GET', '/healthz?detail=1', { key: env.adminKey });
    assert.equal(admin.status, 200, admin.text);
    assert.equal(admin.body.backupHealth.overdueSites, 1);
    assert.deepEqual(
      admin.body.backupHealth.overdue.map((s: { siteId: string }) => s.siteId),
      [site.siteId],
    );
    const metrics = await env.call('GET', '/metrics', { key: env.adminKey });
    assert.match(metrics.text, /^safekeep_sites_backup_overdue 1$/m);
  });

  it('a partial backup does not count; a full one recovers it, once', async () => {
    const [w1, w2] = watchers();
    assert.ok(w1 && w2);
    await backUp(env, site, { backup: { collections: [{ id: 'Things' }] } });
    await Promise.all([w1.tick(), w2.tick()]);
    assert.equal((await health()).state, 'OVERDUE', 'a partial backup does not count');
    await backUp(env, site);
    const changes = await Promise.all([w1.tick(), w2.tick()]);
    assert.equal(changes[0].recovered + changes[1].recovered, 1);
    await Promise.all([w1.tick(), w2.tick()]);
    assert.equal((await recovered()).length, 1, 'exactly one event');
    const now = await health();
    assert.equal(now.state, 'OK');
    assert.equal(now.lastGoodBackupDate, new Date(env.clock.now()).toISOString());
    // The next transition comes a full interval plus grace after that backup.
    env.clock.advance(8 * DAY + 1);
    await Promise.all([w1.tick(), w2.tick()]);
    assert.equal((await overdue()).length, 2);
    const metrics = await env.call('GET', '/metrics', { key: env.adminKey });
    assert.match(metrics.text, /^safekeep_sites_backup_overdue 1$/m);
  });
});

describe('storage view', () => {
  let env: TestEnv;
  let site: TestSite;

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
  });
  after(() => env.close());

  it('matches a hand computation: stored objects, and what deleting a backup frees', async () => {
    await newCollection(env, site, 'Kept');
    await newCollection(env, site, 'Changing');
    await addItems(env, site, 'Kept', 0, 300);
    await newCollection(env, site, 'Gone');
    await addItems(env, site, 'Changing', 0, 30);
    await addItems(env, site, 'Gone', 0, 40);
    const first = await backUp(env, site);
    await addItems(env, site, 'Changing', 30, 30);
    // Only the first backup holds this one's chunks.
    assert.equal((await env.call('DELETE', `${P}/collections/Gone`, { key: site.apiKey })).status, 200);
    const second = await backUp(env, site);
    const res = await env.call('GET', `${A}/backup-storage`, { key: site.apiKey });
    assert.equal(res.status, 200, res.text);
    const view = res.body.storage;
    const byId = new Map(
      (view.backups as { backupId: string }[]).map((b) => [b.backupId, b as Record<string, string>]),
    );
    // By hand, from the stored manifests.
    const stored = [
      await storedBackup(env, site.siteId, first),
      await storedBackup(env, site.siteId, second),
    ];
    for (const s of stored) {
      const mine = byId.get(s.record.id);
      assert.ok(mine);
      const logical = s.chunks.reduce((n, c) => n + c.ref.rawSize, 0) + s.manifestBytes.length;
      const bytes = s.chunks.reduce((n, c) => n + c.ref.storedSize, 0) + s.manifestBytes.length;
      assert.equal(Number(mine.logicalBytes), logical, 'logical bytes');
      assert.equal(Number(mine.storedBytes), bytes, 'stored bytes');
      assert.equal(Number(mine.storedBytes), s.record.sizeBytes, 'the size the backup shows');
    }
    // The site's stored bytes: every object the blob store holds for it.
    let objects = 0;
    for await (const blob of env.safekeep.blobs.list(`sites/${site.siteId}`)) objects += blob.size;
    assert.equal(Number(view.storedBytes), objects, 'what the blob store holds');
    assert.ok(Number(view.deduplicatedBytes) > 0, 'the backups share chunks');
    assert.equal(
      Number(view.deduplicatedBytes),
      Number(byId.get(first)?.storedBytes) + Number(byId.get(second)?.storedBytes) - objects,
    );
    // What deleting the first frees: exactly what garbage collection then deletes.
    const freesFirst = Number(byId.get(first)?.exclusiveBytes);
    assert.ok(freesFirst < Number(byId.get(first)?.storedBytes), 'shared chunks are not counted');
    assert.equal((await env.call('DELETE', `${P}/backups/${first}`, { key: site.apiKey })).status, 200);
    const { gc } = env.safekeep.background();
    const report = await gc.collectSite(site.siteId);
    assert.ok(report);
    assert.ok(report.chunksDeleted > 0, 'the first backup held chunks of its own');
    assert.equal(report.bytesFreed, freesFirst, 'exclusive bytes = what GC freed (chunks and manifest)');
    let left = 0;
    for await (const blob of env.safekeep.blobs.list(`sites/${site.siteId}`)) left += blob.size;
    const after = (await env.call('GET', `${A}/backup-storage`, { key: site.apiKey })).body.storage;
    assert.equal(Number(after.storedBytes), left);
    assert.equal(after.backups.length, 1);
    assert.equal(after.backups[0].exclusiveBytes, after.backups[0].storedBytes, 'alone, it holds all');
  });
});
