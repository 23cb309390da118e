/**
 * Job concurrency (SAFEKEEP_JOB_CONCURRENCY): the worker loop keeps that many jobs going at once and never
 * more, at most one of them a restoration; each job keeps its own lease, and every job still ends READY or
 * COMPLETED with the content it had to back up or restore.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { FailpointName } from '../../src/engine/failpoints.js';
import { assertSameSite, contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';

/**
 * Holds every job that reaches `point` until `open()` is called, counting how many wait there at once.
 * (Other failpoints pass.)
 */
class Gate {
  point: FailpointName | undefined;
  waiting = 0;
  peak = 0;
  private readonly arrivals: (() => void)[] = [];
  private release: Promise<void> | undefined;
  private opened: (() => void) | undefined;

  constructor() {
    this.close();
  }

  close(): void {
    this.release = new Promise((resolve) => {
      this.opened = resolve;
    });
  }

  open(): void {
    this.opened?.();
  }

  readonly failpoint = async (name: FailpointName): Promise<void> => {
    if (name !== this.point) return;
    this.waiting += 1;
    this.peak = Math.max(this.peak, this.waiting);
    for (const arrived of this.arrivals.splice(0)) arrived();
    await this.release;
    this.waiting -= 1;
  };

  /** Resolves once `count` jobs wait at the gate. */
  async reached(count: number): Promise<void> {
    while (this.waiting < count) await new Promise<void>((resolve) => this.arrivals.push(resolve));
  }
}

async function fillSite(env: TestEnv, site: TestSite, items: number): Promise<void> {
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });
  assert.equal(
    (await call('POST', `${P}/collections`, { collection: { id: 'Things', fields: [] } })).status,
    200,
  );
  const dataItems = Array.from({ length: items }, (_, i) => ({
    id: `t-${i}`,
    data: { n: i, site: site.siteId },
  }));
  assert.equal(
    (await call('POST', `${P}/bulk/items/insert`, { dataCollectionId: 'Things', dataItems })).status,
    200,
  );
}

function dbOf(env: TestEnv): Kysely<Database> {
  return (env.safekeep.storage as unknown as { db: Kysely<Database> }).db;
}

describe('job concurrency', () => {
  it('is read from SAFEKEEP_JOB_CONCURRENCY (default 4), and a value out of 1-64 is refused by name', () => {
    assert.equal(loadConfig({}, '/srv').jobConcurrency, 4);
    assert.equal(loadConfig({ SAFEKEEP_JOB_CONCURRENCY: '12' }, '/srv').jobConcurrency, 12);
    for (const bad of ['0', '65', '2.5', 'many']) {
      assert.throws(
        () => loadConfig({ SAFEKEEP_JOB_CONCURRENCY: bad }, '/srv'),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.some((p) => p.includes('SAFEKEEP_JOB_CONCURRENCY') && p.includes(`"${bad}"`)),
      );
    }
  });

  it('runs as many backups at once as configured, and never more', async () => {
    const gate = new Gate();
    gate.point = 'backup:snapshot-recorded';
    const env = await startTestEnv({ env: { SAFEKEEP_JOB_CONCURRENCY: '3' }, failpoint: gate.failpoint });
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      const sites: TestSite[] = [];
      for (let s = 0; s < 5; s++) {
        const site = await env.createSite(`site ${s}`);
        await fillSite(env, site, 20 + s);
        sites.push(site);
      }
      const ids: string[] = [];
      for (const site of sites) {
        const created = await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} });
        assert.equal(created.status, 200);
        ids.push(created.body.backup.id as string);
      }
      const { worker } = env.safekeep.background();
      running = worker.run(stop.signal);
      await gate.reached(3);
      // The loop claimed three and waits for one of them to end: the other two have no lease.
      const leased = await dbOf(env)
        .selectFrom('backups')
        .select('id')
        .where('status', '=', 'PENDING')
        .where('lease_owner', 'is not', null)
        .execute();
      assert.equal(leased.length, 3);
      assert.equal(worker.isIdle, false);
      gate.open();
      for (const [i, site] of sites.entries()) {
        for (;;) {
          const backup = (await env.call('GET', `${P}/backups/${ids[i]}`, { key: site.apiKey })).body.backup;
          if (backup.status !== 'PENDING') {
            assert.equal(backup.status, 'READY');
            assert.equal(Number(backup.itemCount), 20 + i);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      assert.equal(gate.peak, 3);
    } finally {
      gate.open();
      stop.abort();
      await running;
      await env.close();
    }
  });

  it('runs one restoration at a time, next to backups, and each restores its own site', async () => {
    const gate = new Gate();
    const env = await startTestEnv({ env: { SAFEKEEP_JOB_CONCURRENCY: '3' }, failpoint: gate.failpoint });
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      const sites: TestSite[] = [];
      const backupIds: string[] = [];
      for (let s = 0; s < 3; s++) {
        const site = await env.createSite(`site ${s}`);
        await fillSite(env, site, 30 + s);
        const created = await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} });
        backupIds.push(created.body.backup.id as string);
        sites.push(site);
      }
      assert.equal(await runJobs(env), 3);
      const before = await Promise.all(sites.map((site) => contentOf(env, site.siteId)));
      // Change every site, so that each restoration has something to undo.
      for (const site of sites) {
        const removed = await env.call('POST', `${P}/bulk/items/remove`, {
          key: site.apiKey,
          body: { dataCollectionId: 'Things', dataItemIds: ['t-0', 't-1'] },
        });
        assert.equal(removed.status, 200);
      }
      const restorations: string[] = [];
      for (const [i, site] of sites.entries()) {
        const restore = await env.call('POST', `${P}/backups/${backupIds[i]}/restore`, {
          key: site.apiKey,
          body: {},
        });
        assert.equal(restore.status, 200);
        restorations.push(restore.body.restoration.id as string);
      }
      gate.point = 'restore:claimed';
      const { worker } = env.safekeep.background();
      running = worker.run(stop.signal);
      await gate.reached(1);
      // A backup requested now still runs while the restoration holds its slot.
      const extra = await env.call('POST', `${P}/backups`, { key: sites[0]?.apiKey, body: {} });
      assert.equal(extra.status, 200);
      worker.nudge();
      for (;;) {
        const backup = (
          await env.call('GET', `${P}/backups/${extra.body.backup.id}`, { key: sites[0]?.apiKey })
        ).body.backup;
        if (backup.status === 'READY') break;
        assert.equal(backup.status, 'PENDING');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const claimed = await dbOf(env)
        .selectFrom('restorations')
        .select('id')
        .where('status', '=', 'PENDING')
        .where('lease_owner', 'is not', null)
        .execute();
      assert.equal(claimed.length, 1);
      assert.equal(gate.waiting, 1);
      gate.open();
      for (const [i, site] of sites.entries()) {
        for (;;) {
          const restoration = (
            await env.call('GET', `${P}/backups/restorations/${restorations[i]}`, { key: site.apiKey })
          ).body.restoration;
          if (restoration.status !== 'PENDING') {
            assert.equal(restoration.status, 'COMPLETED');
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assertSameSite(await contentOf(env, site.siteId), before[i] ?? {}, `site ${i} restored`);
      }
      assert.equal(gate.peak, 1);
    } finally {
      gate.open();
      stop.abort();
      await running;
      await env.close();
    }
  });
});
