/**
 * Atomicity: a restoration (or backup) stopped at every durable step, as by a crash, leaves live content
 * exactly as before or exactly as the backup; the next worker to claim the job finishes it; nothing staged
 * is left behind. A corrupted chunk fails a restoration with no live write at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database, GenerationState } from '../../src/adapters/storage/sql/schema.js';
import { SimulatedCrash, type FailpointName } from '../../src/engine/failpoints.js';
import { assertSameSite, contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';
const LEASE_MS = 60_000;

interface Armed {
  point?: FailpointName;
  nth: number;
  hits: number;
}

async function setUp(armed: Armed): Promise<{
  env: TestEnv;
  site: TestSite;
  call: (m: string, p: string, b?: unknown) => ReturnType<TestEnv['call']>;
}> {
  const env = await startTestEnv({
    failpoint: (name) => {
      if (name === armed.point && ++armed.hits === armed.nth) return Promise.reject(new SimulatedCrash(name));
      return Promise.resolve();
    },
  });
  const site = await env.createSite();
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });
  for (const id of ['A', 'B']) {
    await call('POST', `${P}/collections`, {
      collection: {
        id,
        fields: [
          {
            key: 'refs',
            type: 'MULTI_REFERENCE',
            typeMetadata: { multiReference: { referencedCollectionId: 'A' } },
          },
        ],
      },
    });
    for (let k = 0; k < 3; k++) {
      const items = Array.from({ length: 1000 }, (_, i) => ({
        id: `${id}-${k}-${i}`,
        data: { n: i, text: `${id}`.repeat(900) },
      }));
      assert.equal(
        (await call('POST', `${P}/bulk/items/insert`, { dataCollectionId: id, dataItems: items })).status,
        200,
      );
    }
  }
  await call('POST', `${P}/bulk/items/insert-references`, {
    dataCollectionId: 'B',
    dataItemReferences: [
      { referringItemFieldName: 'refs', referringItemId: 'B-0-1', referencedItemId: 'A-0-1' },
    ],
  });
  return { env, site, call };
}

/** Generations a crash could leave behind: being built, or frozen with no restoration pending. */
async function leftovers(env: TestEnv): Promise<{ building: number; retiring: number }> {
  // Both SQL adapters expose their Kysely instance.
  const { db } = env.safekeep.storage as unknown as { db: Kysely<Database> };
  const count = async (state: GenerationState) =>
    Number(
      (
        await db
          .selectFrom('generations')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('state', '=', state)
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { building: await count('BUILDING'), retiring: await count('RETIRING') };
}

const restorePoints: [FailpointName, number][] = [
  ['restore:claimed', 1],
  ['restore:staging-discarded', 1],
  ['restore:manifest-read', 1],
  ['restore:generation-created', 1],
  ['restore:chunk-staged', 1],
  ['restore:chunk-staged', 4],
  ['restore:generation-created', 2],
  ['restore:links-staged', 1],
  ['restore:indexes-built', 1],
  ['restore:definitions-applied', 1],
  ['restore:switched', 1],
  ['restore:safety-written', 1],
  ['restore:completed', 1],
];

describe('restorations stopped at every step', () => {
  for (const [point, nth] of restorePoints) {
    it(`${point} #${nth}: live data is before or after, never between; the next worker finishes`, async () => {
      const armed: Armed = { nth, hits: 0 };
      const { env, site, call } = await setUp(armed);
      try {
        const created = await call('POST', '/wix-data/v2/backups', {});
        await runJobs(env);
        const backupId = created.body.backup.id as string;
        const backedUp = await contentOf(env, site.siteId);
        await call('POST', `${P}/items/truncate`, { dataCollectionId: 'A' });
        await call('POST', `${P}/items`, { dataCollectionId: 'B', dataItem: { id: 'late', data: {} } });
        const before = await contentOf(env, site.siteId);

        armed.point = point;
        const restore = await call('POST', `/wix-data/v2/backups/${backupId}/restore`, {});
        await runJobs(env, 1);
        assert.equal(armed.hits, nth, 'the failpoint was reached');
        const afterCrash = await contentOf(env, site.siteId);
        const switched = ['restore:switched', 'restore:safety-written', 'restore:completed'].includes(point);
        assertSameSite(afterCrash, switched ? backedUp : before, `right after the crash at ${point}`);

        // Another worker takes over once the lease lapses (and start-up cleanup has run).
        armed.point = undefined;
        env.clock.advance(LEASE_MS + 1000);
        await env.safekeep.storage.maintenance.retireOrphanGenerations();
        await runJobs(env);
        const restoration = (
          await call('GET', `/wix-data/v2/backups/restorations/${restore.body.restoration.id}`)
        ).body.restoration;
        assert.equal(restoration.status, 'COMPLETED', JSON.stringify(restoration.error));
        assertSameSite(await contentOf(env, site.siteId), backedUp, 'after the takeover');
        assert.deepEqual(await leftovers(env), { building: 0, retiring: 0 });
        const safety = (await call('GET', `/wix-data/v2/backups/${restoration.safetyBackupId}`)).body.backup;
        assert.equal(safety.status, 'READY', 'the safety backup was written');
      } finally {
        await env.close();
      }
    });
  }
});

const backupPoints: [FailpointName, number][] = [
  ['backup:snapshot-opened', 1],
  ['backup:snapshot-recorded', 1],
  ['backup:chunk-stored', 2],
  ['backup:manifest-published', 1],
  ['backup:completed', 1],
];

describe('backups stopped at every step', () => {
  for (const [point, nth] of backupPoints) {
    it(`${point} #${nth}: the backup ends READY after a takeover and restores exactly`, async () => {
      const armed: Armed = { nth, hits: 0, point };
      const { env, site, call } = await setUp(armed);
      try {
        const expected = await contentOf(env, site.siteId);
        const created = await call('POST', '/wix-data/v2/backups', {});
        await runJobs(env, 1);
        assert.equal(armed.hits, nth);
        armed.point = undefined;
        env.clock.advance(LEASE_MS + 1000);
        await runJobs(env);
        const backup = (await call('GET', `/wix-data/v2/backups/${created.body.backup.id}`)).body.backup;
        assert.equal(backup.status, 'READY', JSON.stringify(backup.error));
        await call('POST', `${P}/items/truncate`, { dataCollectionId: 'B' });
        await call('POST', `/wix-data/v2/backups/${backup.id}/restore`, {});
        await runJobs(env);
        assertSameSite(await contentOf(env, site.siteId), expected, 'restored from the resumed backup');
      } finally {
        await env.close();
      }
    });
  }
});

describe('a corrupted chunk', () => {
  it('fails the restoration with an integrity error and no live write', async () => {
    const { env, site, call } = await setUp({ nth: 0, hits: 0 });
    try {
      const created = await call('POST', '/wix-data/v2/backups', {});
      await runJobs(env);
      await call('POST', `${P}/items`, { dataCollectionId: 'A', dataItem: { id: 'after', data: {} } });
      const before = await contentOf(env, site.siteId);
      const versions = await env.safekeep.storage.collections.list(site.siteId, { limit: 10, offset: 0 });
      // Flip one bit in the middle of the largest chunk (through the blob store: folder or S3).
      const { blobs } = env.safekeep;
      const chunks = [];
      for await (const info of blobs.list(`sites/${site.siteId}/chunks`)) chunks.push(info);
      const victim = chunks.sort((a, b) => b.size - a.size)[0];
      assert.ok(victim, 'the backup stored chunks');
      const bytes = await blobs.get(victim.key, victim.size);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0x10;
      await blobs.put(victim.key, bytes);

      const restore = await call('POST', `/wix-data/v2/backups/${created.body.backup.id}/restore`, {});
      await runJobs(env);
      const restoration = (
        await call('GET', `/wix-data/v2/backups/restorations/${restore.body.restoration.id}`)
      ).body.restoration;
      assert.equal(restoration.status, 'FAILED');
      assert.match(restoration.error.code, /^INTEGRITY_(CHECKSUM_MISMATCH|DECOMPRESSION_FAILED)$/);
      assertSameSite(await contentOf(env, site.siteId), before, 'live content untouched');
      const after = await env.safekeep.storage.collections.list(site.siteId, { limit: 10, offset: 0 });
      assert.deepEqual(after, versions, 'not even a collection row changed');
      assert.deepEqual(await leftovers(env), { building: 0, retiring: 0 });
    } finally {
      await env.close();
    }
  });
});
