/**
 * Item restores (an extension of backups-api.md §6, README "Restoring only some items"): RESTORE_ITEMS and ONLY_MISSING put back exactly the chosen items
 * (with their links, §6.5) in place, leave every other item byte-identical, are undone exactly by their
 * safety backup, keep incremental backups right, fail on a damaged chunk without a live write, and leave live
 * data before or after when stopped at any step. Runs on the stack SAFEKEEP_TEST_STACK names (both in CI).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { cleanUpAfterCrash } from '../../src/app/composition-root.js';
import { SimulatedCrash, type FailpointName } from '../../src/engine/failpoints.js';
import {
  assertSameContent,
  assertSameSite,
  contentOf,
  runJobs,
  type CollectionContent,
} from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';
import { embeddedChildEnv } from '../faults/crash-scenario.js';

const P = '/wix-data/v2';
const LEASE_MS = 60_000;

type Content = Record<string, CollectionContent>;

interface Armed {
  point?: FailpointName;
  nth: number;
  hits: number;
}

interface Fixture {
  env: TestEnv;
  site: TestSite;
  call: (m: string, p: string, b?: unknown) => ReturnType<TestEnv['call']>;
  backupId: string;
  /** Live content when the backup was taken. */
  backedUp: Content;
  /** Live content after the edits made since. */
  before: Content;
}

const id = (n: number) => `a-${String(n).padStart(5, '0')}`;

/**
 * Collections A (links to A) and B (links to A), `count` items of ~1 KB in A (several chunks), a backup,
 * then edits: a-1 and a-5 changed, a-2 and a-7 removed (a-2's links with them), a-new inserted.
 */
async function setUp(
  count: number,
  armed: Armed = { nth: 0, hits: 0 },
  options: Parameters<typeof startTestEnv>[0] = {},
): Promise<Fixture> {
  const env = await startTestEnv({
    ...options,
    failpoint: (name) => {
      if (name === armed.point && ++armed.hits === armed.nth) return Promise.reject(new SimulatedCrash(name));
      return Promise.resolve();
    },
  });
  const site = await env.createSite();
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });
  const ok = async (method: string, path: string, body?: unknown) => {
    const res = await call(method, path, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  for (const c of ['A', 'B']) {
    await ok('POST', `${P}/collections`, {
      collection: {
        id: c,
        fields: [
          {
            key: 'refs',
            type: 'MULTI_REFERENCE',
            typeMetadata: { multiReference: { referencedCollectionId: 'A' } },
          },
        ],
      },
    });
  }
  for (let start = 0; start < count; start += 1000) {
    const dataItems = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
      id: id(start + i),
      data: { n: start + i, text: `${start + i} `.repeat(200).slice(0, 1000) },
    }));
    await ok('POST', `${P}/bulk/items/insert`, { dataCollectionId: 'A', dataItems });
  }
  await ok('POST', `${P}/bulk/items/insert`, {
    dataCollectionId: 'B',
    dataItems: [1, 2, 3].map((n) => ({ id: `b-${n}`, data: { n } })),
  });
  const refer = (collection: string, from: string, to: string) =>
    ok('POST', `${P}/bulk/items/insert-references`, {
      dataCollectionId: collection,
      dataItemReferences: [{ referringItemFieldName: 'refs', referringItemId: from, referencedItemId: to }],
    });
  await refer('B', 'b-1', id(1));
  await refer('B', 'b-2', id(2));
  await refer('A', id(2), id(3));
  await refer('A', id(10), id(2));
  const created = await ok('POST', `${P}/backups`, {});
  await runJobs(env);
  const backupId = created.backup.id as string;
  const backedUp = await contentOf(env, site.siteId);
  for (const n of [1, 5])
    await ok('POST', `${P}/items/update`, {
      dataCollectionId: 'A',
      dataItem: { id: id(n), data: { _id: id(n), n, text: 'changed since' } },
    });
  for (const n of [2, 7]) await ok('POST', `${P}/items/remove`, { dataCollectionId: 'A', dataItemId: id(n) });
  await ok('POST', `${P}/items`, { dataCollectionId: 'A', dataItem: { id: 'a-new', data: { n: -1 } } });
  const before = await contentOf(env, site.siteId);
  return { env, site, call, backupId, backedUp, before };
}

/**
 * What an item restore of `selected` ids of A must leave: those items as the backup holds them (absent where
 * it lacks them), every other item as before; links touching a selected item as backed up (where both ends
 * exist after), every other link as before.
 */
function expectedAfter(before: Content, backedUp: Content, selected: ReadonlySet<string>): Content {
  const items = [
    ...(before.A?.items ?? []).filter(([i]) => !selected.has(i)),
    ...(backedUp.A?.items ?? []).filter(([i]) => selected.has(i)),
  ].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const inA = new Set(items.map(([i]) => i));
  const exists = (collection: string, itemId: string) =>
    collection === 'A' ? inA.has(itemId) : (before[collection]?.items.some(([i]) => i === itemId) ?? false);
  const out: Content = {};
  for (const name of Object.keys(before)) {
    const touches = (link: string) => {
      const [fromId = '', , toCollection = '', toId = ''] = link.split('|');
      return (name === 'A' && selected.has(fromId)) || (toCollection === 'A' && selected.has(toId));
    };
    const links = [
      ...(before[name]?.links ?? []).filter((l) => !touches(l)),
      ...(backedUp[name]?.links ?? []).filter((l) => {
        const [fromId = '', , toCollection = '', toId = ''] = l.split('|');
        return touches(l) && exists(name, fromId) && exists(toCollection, toId);
      }),
    ].sort();
    out[name] = { items: name === 'A' ? items : (before[name]?.items ?? []), links };
  }
  return out;
}

async function restorationOf(f: Fixture, restorationId: string) {
  return (await f.call('GET', `${P}/backups/restorations/${restorationId}`)).body.restoration;
}

/** Restores the safety backup of a restoration (the undo) and checks live data is `expected` again. */
async function undo(f: Fixture, restoration: { safetyBackupId: string }, expected: Content): Promise<void> {
  const res = await f.call('POST', `${P}/backups/${restoration.safetyBackupId}/restore`, {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  await runJobs(f.env);
  const done = await restorationOf(f, res.body.restoration.id as string);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
  assertSameSite(await contentOf(f.env, f.site.siteId), expected, 'after the undo');
}

describe('item restores', () => {
  it('RESTORE_ITEMS puts back exactly the listed items, keeps everything else, and its safety backup undoes it', async () => {
    const f = await setUp(1200);
    try {
      const listed = [id(1), id(2), 'a-new', 'a-never'];
      const res = await f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
        restorationCollections: [{ dataCollectionId: 'A', restoreMode: 'RESTORE_ITEMS', itemIds: listed }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const entry = res.body.restoration.restorationCollections[0];
      assert.equal(entry.restoreMode, 'RESTORE_ITEMS');
      assert.deepEqual(entry.itemIds, listed);
      await runJobs(f.env);
      const done = await restorationOf(f, res.body.restoration.id as string);
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
      const after = await contentOf(f.env, f.site.siteId);
      assertSameSite(after, expectedAfter(f.before, f.backedUp, new Set(listed)), 'after the item restore');
      // a-2 came back with its links in both directions; a-new is gone.
      assert.ok(after.A?.links.includes(`${id(2)}|refs|A|${id(3)}`));
      assert.ok(after.A?.links.includes(`${id(10)}|refs|A|${id(2)}`));
      assert.ok(after.B?.links.includes(`b-2|refs|A|${id(2)}`));
      assert.ok(!after.A?.items.some(([i]) => i === 'a-new'));

      // The safety backup holds exactly what was replaced: the two listed items that existed.
      const safety = (await f.call('GET', `${P}/backups/${done.safetyBackupId}`)).body.backup;
      assert.equal(safety.status, 'READY');
      assert.equal(safety.itemCount, '2');
      // An undo of an item restore can never run as a whole-collection restore.
      const refused = await f.call('POST', `${P}/backups/${done.safetyBackupId}/partial-restore`, {
        restorationCollections: [{ dataCollectionId: 'A', restoreMode: 'REPLACE_COLLECTION' }],
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.details.applicationError.code, 'ITEM_RESTORE_MODE_FIXED');

      // The next (incremental) backup sees exactly these changes: restored elsewhere, it equals live A.
      const next = (await f.call('POST', `${P}/backups`, {})).body.backup.id as string;
      await runJobs(f.env);
      const copy = await f.call('POST', `${P}/backups/${next}/partial-restore`, {
        restorationCollections: [
          { dataCollectionId: 'A', restoreDestination: { dataCollectionId: 'ACopy' } },
        ],
      });
      assert.equal(copy.status, 200, JSON.stringify(copy.body));
      await runJobs(f.env);
      const copied = await contentOf(f.env, f.site.siteId);
      assert.deepEqual(copied.ACopy?.items, after.A?.items, 'the next backup holds the restored items');
      // Undo both: the copy's, then the item restore's (exactly the items it changed).
      const copyDone = await restorationOf(f, copy.body.restoration.id as string);
      await undo(f, copyDone, after);
      await undo(f, done, f.before);
    } finally {
      await f.env.close();
    }
  });

  it('ONLY_MISSING brings back the deleted items only, with and without ids, and is undone exactly', async () => {
    const f = await setUp(1200);
    try {
      const all = await f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
        restorationCollections: [{ dataCollectionId: 'A', restoreMode: 'ONLY_MISSING' }],
      });
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.equal(all.body.restoration.restorationCollections[0].restoreMode, 'ONLY_MISSING');
      assert.equal(all.body.restoration.restorationCollections[0].itemIds, undefined);
      await runJobs(f.env);
      const done = await restorationOf(f, all.body.restoration.id as string);
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
      const missing = new Set([id(2), id(7)]);
      const after = await contentOf(f.env, f.site.siteId);
      assertSameSite(after, expectedAfter(f.before, f.backedUp, missing), 'after ONLY_MISSING');
      // Changed and new items stay as they are.
      assert.equal(
        after.A?.items.find(([i]) => i === id(1))?.[1],
        f.before.A?.items.find(([i]) => i === id(1))?.[1],
      );
      assert.ok(after.A?.items.some(([i]) => i === 'a-new'));
      const safety = (await f.call('GET', `${P}/backups/${done.safetyBackupId}`)).body.backup;
      assert.equal(safety.itemCount, '0', 'nothing was replaced');
      await undo(f, done, f.before);

      // With ids: only the listed missing ones (a present one and one the backup lacks change nothing).
      const some = await f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
        restorationCollections: [
          { dataCollectionId: 'A', restoreMode: 'ONLY_MISSING', itemIds: [id(7), id(1), 'a-never'] },
        ],
      });
      assert.equal(some.status, 200, JSON.stringify(some.body));
      await runJobs(f.env);
      const someDone = await restorationOf(f, some.body.restoration.id as string);
      assert.equal(someDone.status, 'COMPLETED', JSON.stringify(someDone.error));
      assertSameSite(
        await contentOf(f.env, f.site.siteId),
        expectedAfter(f.before, f.backedUp, new Set([id(7)])),
        'after ONLY_MISSING of listed ids',
      );
      await undo(f, someDone, f.before);
    } finally {
      await f.env.close();
    }
  });

  it('the restore preview lists the items that would leave live data and those changed since', async () => {
    const f = await setUp(1200);
    try {
      const preview = async (body: unknown) => {
        const res = await f.call('POST', `/_api/safekeep/v1/backups/${f.backupId}/restore-preview`, body);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body.preview.collections as Record<string, any>[];
      };
      const whole = await preview({});
      const a = whole.find((c) => c.dataCollectionId === 'A');
      assert.deepEqual(a?.itemsNotInBackup, { count: 1, firstIds: ['a-new'] });
      assert.deepEqual(a?.itemsChanged, { count: 2, firstIds: [id(1), id(5)] });
      const b = whole.find((c) => c.dataCollectionId === 'B');
      assert.deepEqual(b?.itemsNotInBackup, { count: 0, firstIds: [] });
      assert.deepEqual(b?.itemsChanged, { count: 0, firstIds: [] });
      // A brute-force comparison of the two sides agrees.
      const backedUp = new Map(f.backedUp.A?.items);
      const live = new Map(f.before.A?.items);
      const lost = [...live.keys()].filter((k) => !backedUp.has(k));
      const changed = [...live.keys()].filter((k) => backedUp.has(k) && backedUp.get(k) !== live.get(k));
      assert.deepEqual([a?.itemsNotInBackup.count, a?.itemsChanged.count], [lost.length, changed.length]);

      const items = await preview({
        restorationCollections: [
          { dataCollectionId: 'A', restoreMode: 'RESTORE_ITEMS', itemIds: ['a-new', id(1), id(2), id(3)] },
        ],
      });
      assert.equal(items[0]?.restoreMode, 'RESTORE_ITEMS');
      assert.deepEqual(items[0]?.itemsNotInBackup, { count: 1, firstIds: ['a-new'] });
      assert.deepEqual(items[0]?.itemsChanged, { count: 1, firstIds: [id(1)] });
      assert.equal(items[0]?.definition?.created, false);
      const missing = await preview({
        restorationCollections: [{ dataCollectionId: 'A', restoreMode: 'ONLY_MISSING' }],
      });
      assert.deepEqual(missing[0]?.itemsNotInBackup, { count: 0, firstIds: [] });
      assert.deepEqual(missing[0]?.itemsChanged, { count: 0, firstIds: [] });
    } finally {
      await f.env.close();
    }
  });

  it('refuses bad item restore requests with 4xx and starts nothing', async () => {
    const f = await setUp(10);
    try {
      const partial = (entry: Record<string, unknown>) =>
        f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
          restorationCollections: [{ dataCollectionId: 'A', ...entry }],
        });
      const noIds = await partial({ restoreMode: 'RESTORE_ITEMS' });
      assert.equal(noIds.status, 400);
      assert.match(JSON.stringify(noIds.body), /itemIds/);
      const idsWhole = await partial({ itemIds: [id(1)] });
      assert.equal(idsWhole.status, 400);
      assert.equal((await partial({ restoreMode: 'SOME' })).status, 400);
      assert.equal((await partial({ restoreMode: 'RESTORE_ITEMS', itemIds: [] })).status, 400);
      const tooMany = Array.from({ length: 1001 }, (_, i) => `x${i}`);
      assert.equal((await partial({ restoreMode: 'RESTORE_ITEMS', itemIds: tooMany })).status, 400);
      const missing = await partial({
        restoreMode: 'ONLY_MISSING',
        restoreDestination: { dataCollectionId: 'Nowhere' },
      });
      assert.equal(missing.status, 409);
      assert.equal(missing.body.details.applicationError.code, 'ITEM_RESTORE_DESTINATION_MISSING');
      const listed = await f.call('GET', `${P}/backups/restorations`);
      assert.equal(listed.body.restorations.length, 0, 'no restoration was started');
      assertSameSite(await contentOf(f.env, f.site.siteId), f.before, 'live data untouched');
    } finally {
      await f.env.close();
    }
  });

  it('a corrupted chunk fails the item restore with an integrity error and no live write', async () => {
    const f = await setUp(600);
    try {
      const { blobs } = f.env.safekeep;
      for await (const info of blobs.list(`sites/${f.site.siteId}/chunks`)) {
        const bytes = await blobs.get(info.key, info.size);
        const at = Math.floor(bytes.length / 2);
        bytes[at] = (bytes[at] ?? 0) ^ 0x10;
        await blobs.put(info.key, bytes);
      }
      const res = await f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
        restorationCollections: [
          { dataCollectionId: 'A', restoreMode: 'RESTORE_ITEMS', itemIds: [id(2), 'a-new'] },
        ],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await runJobs(f.env);
      const done = await restorationOf(f, res.body.restoration.id as string);
      assert.equal(done.status, 'FAILED');
      assert.match(done.error.code, /^INTEGRITY_/);
      assertSameSite(await contentOf(f.env, f.site.siteId), f.before, 'live content untouched');
    } finally {
      await f.env.close();
    }
  });
});

const points: [FailpointName, number][] = [
  ['restore:claimed', 1],
  ['restore:manifest-read', 1],
  ['restore:generation-created', 1],
  ['restore:chunk-staged', 1],
  ['restore:links-staged', 1],
  ['restore:indexes-built', 1],
  // Inside the switch transaction, after the item writes.
  ['restore:definitions-applied', 1],
  ['restore:switched', 1],
  ['restore:safety-written', 1],
  ['restore:completed', 1],
];

describe('item restores stopped at every step', () => {
  for (const [point, nth] of points) {
    it(`${point} #${nth}: live data is before or after, never between; the next worker finishes`, async () => {
      const armed: Armed = { nth, hits: 0 };
      const f = await setUp(300, armed);
      try {
        const listed = [id(1), id(2), 'a-new'];
        const target = expectedAfter(f.before, f.backedUp, new Set(listed));
        armed.point = point;
        const res = await f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
          restorationCollections: [{ dataCollectionId: 'A', restoreMode: 'RESTORE_ITEMS', itemIds: listed }],
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        await runJobs(f.env, 1);
        assert.equal(armed.hits, nth, 'the failpoint was reached');
        const switched = ['restore:switched', 'restore:safety-written', 'restore:completed'].includes(point);
        assertSameSite(
          await contentOf(f.env, f.site.siteId),
          switched ? target : f.before,
          `right after ${point}`,
        );
        armed.point = undefined;
        f.env.clock.advance(LEASE_MS + 1000);
        await f.env.safekeep.storage.maintenance.retireOrphanGenerations();
        await runJobs(f.env);
        const done = await restorationOf(f, res.body.restoration.id as string);
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
        const after = await contentOf(f.env, f.site.siteId);
        assertSameSite(after, target, 'after the takeover');
        assertSameContent(after.B, target.B, 'B');
        await undo(f, done, f.before);
      } finally {
        await f.env.close();
      }
    });
  }
});

describe('an item restore whose worker process is killed inside its switch', () => {
  it('leaves live data as before (SIGKILL in the transaction), and the next worker finishes it', async () => {
    const clock = new TestClock();
    const f = await setUp(300, undefined, { stack: 'embedded', clock });
    const { dataDir } = f.env;
    const listed = [id(1), id(2), 'a-new'];
    const target = expectedAfter(f.before, f.backedUp, new Set(listed));
    const res = await f.call('POST', `${P}/backups/${f.backupId}/partial-restore`, {
      restorationCollections: [{ dataCollectionId: 'A', restoreMode: 'RESTORE_ITEMS', itemIds: listed }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await f.env.close(true);
    const clockFile = join(dataDir, 'clock');
    writeFileSync(clockFile, String(clock.current));
    const child = fileURLToPath(new URL('../faults/crash-child.js', import.meta.url));
    const proc = spawn(process.execPath, [child], {
      env: embeddedChildEnv({
        SAFEKEEP_DATA_DIR: dataDir,
        // Inside the switch transaction, after the item writes.
        SAFEKEEP_FAILPOINT: 'restore:definitions-applied:1',
        SAFEKEEP_TEST_CLOCK_FILE: clockFile,
        SAFEKEEP_WORKER_THREADS: '1',
        SAFEKEEP_LOG_LEVEL: 'warn',
      }),
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      proc.on('exit', (_c, s) => resolve(s)),
    );
    assert.equal(signal, 'SIGKILL', `the worker died in the switch:\n${output}`);
    clock.advance(11 * 60_000);
    const env = await startTestEnv({ dataDir, clock, stack: 'embedded' });
    try {
      await cleanUpAfterCrash(env.safekeep);
      assertSameSite(await contentOf(env, f.site.siteId), f.before, 'after the kill');
      await runJobs(env);
      const done = (
        await env.call('GET', `${P}/backups/restorations/${res.body.restoration.id}`, { key: f.site.apiKey })
      ).body.restoration;
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
      assertSameSite(await contentOf(env, f.site.siteId), target, 'after the takeover');
    } finally {
      await env.close();
    }
  });
});
