/**
 * Automatic backups with an injected clock: a 7-day cadence in the phase of the site's creation, exactly one
 * catch-up after an outage, retention of the newest scheduled backups, and no double booking when several
 * schedulers tick at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Scheduler } from '../../src/jobs/scheduler.js';
import { newGuid } from '../../src/services/ids.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const DAY = 24 * 60 * 60 * 1000;
const silent = { info: () => undefined, error: () => undefined };

describe('automatic backups', () => {
  let env: TestEnv;
  let site: TestSite;
  let created: number;

  const scheduled = async () => {
    const res = await env.call('GET', '/wix-data/v2/backups?type=AUTO&paging.limit=100', {
      key: site.apiKey,
    });
    return (res.body.backups as { status: string; requestedDate: string; trigger: string }[]).filter(
      (b) => b.trigger === 'SCHEDULE',
    );
  };
  const tick = () => env.safekeep.background().scheduler.tick();

  before(async () => {
    env = await startTestEnv();
    created = env.clock.now();
    site = await env.createSite();
    await env.call('POST', '/wix-data/v2/collections', {
      key: site.apiKey,
      body: { collection: { id: 'Things' } },
    });
    await env.call('POST', '/wix-data/v2/items', {
      key: site.apiKey,
      body: { dataCollectionId: 'Things', dataItem: { data: { a: 1 } } },
    });
  });
  after(() => env.close());

  it('takes the first backup 7 days after the site was created, then every 7 days', async () => {
    assert.equal(await tick(), 0);
    env.clock.advance(6 * DAY);
    assert.equal(await tick(), 0);
    env.clock.advance(DAY);
    assert.equal(await tick(), 1);
    assert.equal(await tick(), 0, 'a slot is taken once');
    await runJobs(env);
    env.clock.advance(3 * DAY);
    assert.equal(await tick(), 0);
    env.clock.advance(4 * DAY + 60_000);
    assert.equal(await tick(), 1);
    await runJobs(env);
    const list = await scheduled();
    assert.equal(list.length, 2);
    assert.ok(list.every((b) => b.status === 'READY'));
  });

  it('takes exactly one catch-up backup after a 30-day outage, and keeps the original phase', async () => {
    env.clock.advance(30 * DAY);
    assert.equal(await tick(), 1);
    assert.equal(await tick(), 0);
    await runJobs(env);
    // The next one falls on the creation phase, not 7 days after the catch-up.
    const phase = (env.clock.now() - created) % (7 * DAY);
    env.clock.advance(7 * DAY - phase - 1000);
    assert.equal(await tick(), 0);
    env.clock.advance(2000);
    assert.equal(await tick(), 1);
    await runJobs(env);
  });

  it('keeps the newest 4 scheduled backups READY (configurable per site), deleting older ones', async () => {
    for (let i = 0; i < 3; i++) {
      env.clock.advance(7 * DAY);
      await tick();
      await runJobs(env);
    }
    const list = await scheduled();
    assert.deepEqual(
      list.map((b) => b.status),
      ['READY', 'READY', 'READY', 'READY', 'DELETED', 'DELETED', 'DELETED'],
    );
    const patched = await env.call('PATCH', `/_api/safekeep/v1/sites/${site.siteId}/settings`, {
      key: site.apiKey,
      body: { autoBackupRetention: 2 },
    });
    assert.equal(patched.status, 200);
    env.clock.advance(7 * DAY);
    await tick();
    await runJobs(env);
    assert.equal((await scheduled()).filter((b) => b.status === 'READY').length, 2);
    const onDemand = await env.call('GET', '/wix-data/v2/backups?type=ON_DEMAND', { key: site.apiKey });
    assert.equal(onDemand.body.backups.length, 0, 'automatic backups never count as on-demand');
  });

  it('never double-books a slot when several schedulers tick at once', async () => {
    const schedulers = Array.from(
      { length: 4 },
      () =>
        new Scheduler(env.safekeep.storage, {
          clock: env.clock.now,
          defaultIntervalDays: 7,
          newId: newGuid,
          logger: silent,
        }),
    );
    const extra = await Promise.all(Array.from({ length: 20 }, () => env.createSite()));
    void extra;
    await Promise.all(schedulers.map((s) => s.tick()));
    env.clock.advance(7 * DAY + 1000);
    const before = (await scheduled()).length;
    const made = await Promise.all(schedulers.map((s) => s.tick()));
    assert.equal(
      made.reduce((a, b) => a + b, 0),
      21,
      'one backup per site, whichever scheduler took it',
    );
    assert.equal((await scheduled()).length, before + 1);
  });

  it('moves the next due time into the new phase when the interval changes', async () => {
    const patched = await env.call('PATCH', `/_api/safekeep/v1/sites/${site.siteId}/settings`, {
      key: site.apiKey,
      body: { autoBackupIntervalDays: 1 },
    });
    assert.equal(patched.body.settings.autoBackupIntervalDays, 1);
    env.clock.advance(DAY + 1000);
    assert.ok((await tick()) >= 1);
  });
});
