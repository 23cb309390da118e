/**
 * Comparing backups: over random edit histories (inserts, updates, deletes, re-inserts of the same id),
 * the counts and the paged ids of a backup's differences from live data and from another backup equal a
 * brute-force comparison of the exact contents; a barely changed collection is compared from its change
 * numbers and tombstones, and after a truncate in full. The CLI prints the same. Through the HTTP API, the
 * SDK and `safekeep backup diff|items`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backupCommand } from '../../src/cli/commands/backup-commands.js';
import { compareCodePoints } from '../../src/domain/query/order.js';
import { SafekeepClient } from '../../src/sdk/index.js';
import { contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { seededRandom } from '../helpers/seeded-random.js';

const seed = Number(process.env.TEST_SEED ?? 20261204);
const D = '/wix-data/v2';
const A = '/_api/safekeep/v1';

type Content = Map<string, string>;
type Kind = 'ADDED' | 'REMOVED' | 'CHANGED';

/** The brute-force comparison: every id of either side, in code point order, with its kind of change. */
function bruteForce(from: Content, to: Content): { id: string; kind: Kind }[] {
  const ids = [...new Set([...from.keys(), ...to.keys()])].sort(compareCodePoints);
  return ids.flatMap((id): { id: string; kind: Kind }[] => {
    const a = from.get(id);
    const b = to.get(id);
    if (a === undefined) return [{ id, kind: 'ADDED' }];
    if (b === undefined) return [{ id, kind: 'REMOVED' }];
    return a === b ? [] : [{ id, kind: 'CHANGED' }];
  });
}

function tally(list: readonly { kind: Kind }[]) {
  return {
    itemsAdded: list.filter((c) => c.kind === 'ADDED').length,
    itemsRemoved: list.filter((c) => c.kind === 'REMOVED').length,
    itemsChanged: list.filter((c) => c.kind === 'CHANGED').length,
  };
}

describe(`comparing backups (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  let env: TestEnv;
  let site: TestSite;
  let client: SafekeepClient;
  let port: number;
  const random = seededRandom(seed);
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });

  const live = new Set<string>();
  const deleted: string[] = [];
  let next = 0;

  /** Random edits through the API: inserts, updates, deletes and re-inserts of deleted ids. */
  async function edit(steps: number): Promise<void> {
    for (let s = 0; s < steps; s++) {
      const roll = random();
      if (random() < 0.5) env.clock.advance(1000);
      const ids = [...live];
      if (roll < 0.35 || ids.length === 0) {
        const reinsert = deleted.length > 0 && random() < 0.4;
        const id = reinsert
          ? (deleted.splice(Math.floor(random() * deleted.length), 1)[0] as string)
          : `it-${next++}`;
        const res = await call('POST', `${D}/items`, {
          dataCollectionId: 'Log',
          dataItem: { id, data: { v: Math.floor(random() * 5), tag: random() < 0.5 ? 'x' : 'y' } },
        });
        assert.equal(res.status, 200, res.text);
        live.add(id);
      } else if (roll < 0.75) {
        const id = ids[Math.floor(random() * ids.length)] as string;
        // Half the updates write the same fields again: only the update date may differ then.
        const data =
          random() < 0.5
            ? { v: Math.floor(random() * 5), tag: 'x' }
            : { v: 1, tag: 'x', extra: { n: random() } };
        const res = await call('PUT', `${D}/items/${id}`, {
          dataCollectionId: 'Log',
          dataItem: { id, data },
        });
        assert.equal(res.status, 200, res.text);
      } else {
        const id = ids[Math.floor(random() * ids.length)] as string;
        const res = await call('DELETE', `${D}/items/${id}?dataCollectionId=Log`);
        assert.equal(res.status, 200, res.text);
        live.delete(id);
        deleted.push(id);
      }
    }
  }

  async function content(): Promise<Content> {
    return new Map((await contentOf(env, site.siteId))['Log']?.items ?? []);
  }

  async function backup(): Promise<string> {
    const res = await call('POST', `${D}/backups`, {});
    assert.equal(res.status, 200, res.text);
    await runJobs(env);
    const done = await call('GET', `${D}/backups/${res.body.backup.id}`);
    assert.equal(done.body.backup.status, 'READY');
    return res.body.backup.id;
  }

  /** Every page of the changed ids, `limit` at a time. */
  async function allChanges(backupId: string, against: string, limit: number) {
    const out: { id: string; kind: Kind }[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await client.backupContents.diffItems(backupId, 'Log', {
        against,
        limit,
        ...(cursor && { cursor }),
      });
      assert.ok(res.changes.length <= limit);
      out.push(...res.changes.map((c) => ({ id: c.dataItemId, kind: c.change })));
      if (!res.nextCursor) return out;
      cursor = res.nextCursor;
    }
    throw new Error('too many pages');
  }

  async function check(backupId: string, against: string, from: Content, to: Content, method?: string) {
    const expected = bruteForce(from, to);
    const diff = await client.backupContents.diff(backupId, { against, collectionId: 'Log' });
    const [log] = diff.collections;
    assert.deepEqual(
      { itemsAdded: log?.itemsAdded, itemsRemoved: log?.itemsRemoved, itemsChanged: log?.itemsChanged },
      tally(expected),
      `${backupId} against ${against}`,
    );
    if (method) assert.equal(log?.method, method);
    assert.deepEqual(await allChanges(backupId, against, 1 + Math.floor(random() * 9)), expected);
    return expected;
  }

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    port = await env.listen();
    client = new SafekeepClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: site.apiKey,
      siteId: site.siteId,
    });
    assert.equal((await call('POST', `${D}/collections`, { collection: { id: 'Log' } })).status, 200);
  });

  after(async () => {
    await env.close();
  });

  it('counts and lists what changed, against live data and between backups, as a brute-force comparison does', async () => {
    const initial = Array.from({ length: 300 }, (_, i) => ({
      id: `seed-${i}`,
      data: { v: i % 5, tag: 'x' },
    }));
    const bulk = await call('POST', `${D}/bulk/items/insert`, {
      dataCollectionId: 'Log',
      dataItems: initial,
    });
    assert.equal(bulk.status, 200, bulk.text);
    initial.forEach((i) => live.add(i.id));
    await edit(100);
    let first = '';
    let atFirst: Content = new Map();
    // A site keeps 3 on-demand backups: each round compares two new ones (each a delta layer over the
    // previous backup, so later rounds merge longer chains of layers).
    for (let round = 0; round < 4; round++) {
      first = await backup();
      atFirst = await content();
      await edit(40 + Math.floor(random() * 40));
      const second = await backup();
      const atSecond = await content();
      await edit(30);
      const now = await content();
      await check(first, 'live', atFirst, now, 'CHANGES_SINCE');
      await check(second, 'live', atSecond, now, 'CHANGES_SINCE');
      await check(first, second, atFirst, atSecond);
      await check(second, first, atSecond, atFirst);
      await check(second, second, atSecond, atSecond);
    }
    // One item on both sides: one the backup holds, changed since.
    const id = [...atFirst.keys()].find((k) => live.has(k)) as string;
    env.clock.advance(1000);
    const put = await call('PUT', `${D}/items/${id}`, {
      dataCollectionId: 'Log',
      dataItem: { id, data: { v: 99, tag: 'x', extra: { deep: [1, 2] } } },
    });
    assert.equal(put.status, 200, put.text);
    const item = await client.backupContents.diffItem(first, 'Log', id);
    assert.equal(item.change, 'CHANGED');
    assert.deepEqual(item.backupItem, JSON.parse(atFirst.get(id) ?? 'null'));
    assert.deepEqual(item.otherItem, JSON.parse((await content()).get(id) ?? 'null'));
    const before = item.backupItem ?? {};
    const expectedPaths = ['_updatedDate', 'v', 'extra']
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify((item.otherItem ?? {})[k]))
      .map((k) => (k === 'extra' && typeof before.extra === 'object' ? 'extra.deep' : k));
    for (const path of expectedPaths)
      assert.ok(
        item.differingPaths.some((p) => p.startsWith(path)),
        path,
      );
    const removed = bruteForce(atFirst, await content()).find((c) => c.kind === 'REMOVED');
    if (removed) {
      const gone = await client.backupContents.diffItem(first, 'Log', removed.id);
      assert.equal(gone.change, 'REMOVED');
      assert.equal(gone.otherItem, null);
    }
  });

  it('compares in full after a truncate, and reports collections and fields on one side only', async () => {
    const before = await backup();
    const atBefore = await content();
    assert.equal((await call('POST', `${D}/items/truncate`, { dataCollectionId: 'Log' })).status, 200);
    live.clear();
    await edit(25);
    const now = await content();
    await check(before, 'live', atBefore, now, 'FULL');
    // A collection created since, and a field added since.
    assert.equal((await call('POST', `${D}/collections`, { collection: { id: 'Fresh' } })).status, 200);
    await call('POST', `${D}/items`, { dataCollectionId: 'Fresh', dataItem: { id: 'f1', data: {} } });
    const field = await call('POST', `${D}/collections/create-field`, {
      dataCollectionId: 'Log',
      field: { key: 'title', type: 'TEXT' },
    });
    assert.equal(field.status, 200, field.text);
    const diff = await client.backupContents.diff(before);
    const fresh = diff.collections.find((c) => c.dataCollectionId === 'Fresh');
    assert.deepEqual(
      { presence: fresh?.presence, itemsAdded: fresh?.itemsAdded },
      { presence: 'OTHER_ONLY', itemsAdded: 1 },
    );
    const log = diff.collections.find((c) => c.dataCollectionId === 'Log');
    assert.deepEqual(log?.definitionChanges?.fieldsAdded, ['title']);
  });

  it('answers bad input with clear 4xx errors', async () => {
    const id = await backup();
    const unknown = await call('POST', `${A}/backups/${id}/diff`, {
      against: '00000000-0000-4000-8000-000000000000',
    });
    assert.equal(unknown.status, 404);
    const noCollection = await call('POST', `${A}/backups/${id}/diff`, { dataCollectionId: 'Nope' });
    assert.equal(noCollection.status, 400);
    const badCursor = await call('POST', `${A}/backups/${id}/diff/items`, {
      dataCollectionId: 'Log',
      cursor: '!!',
    });
    assert.equal(badCursor.status, 400);
    const noItem = await call('POST', `${A}/backups/${id}/diff/item`, {
      dataCollectionId: 'Log',
      dataItemId: 'nope',
    });
    assert.equal(noItem.status, 404);
    const extra = await call('POST', `${A}/backups/${id}/diff`, { bogus: 1 });
    assert.equal(extra.status, 400);
  });

  it('safekeep backup diff and safekeep backup items print what the API answers', async () => {
    const id = await backup();
    await edit(10);
    const env2 = {
      SAFEKEEP_URL: `http://127.0.0.1:${port}`,
      SAFEKEEP_API_KEY: site.apiKey,
      SAFEKEEP_SITE_ID: site.siteId,
    };
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await backupCommand(
        args,
        { out: (l) => out.push(l), err: (l) => err.push(l) },
        { env: env2 },
      );
      return { code, out, err };
    };
    const expected = await client.backupContents.diff(id, { collectionId: 'Log' });
    const json = await run('diff', id, '--collection', 'Log', '--json');
    assert.equal(json.code, 0, json.err.join('\n'));
    assert.deepEqual(JSON.parse(json.out.join('')), expected);
    const text = await run('diff', id.slice(0, 8));
    assert.equal(text.code, 0, text.err.join('\n'));
    const [log] = expected.collections;
    assert.ok(
      text.out.some((l) =>
        l.includes(
          `Log: +${log?.itemsAdded} added, -${log?.itemsRemoved} removed, ~${log?.itemsChanged} changed`,
        ),
      ),
      text.out.join('\n'),
    );
    const ids = await run('diff', id, '--collection', 'Log', '--items', '--json', '--limit', '1000');
    assert.deepEqual(
      JSON.parse(ids.out.join('')),
      await client.backupContents.diffItems(id, 'Log', { limit: 1000 }),
    );
    const items = await run(
      'items',
      id,
      '--collection',
      'Log',
      '--filter',
      '{"tag":"x"}',
      '--json',
      '--limit',
      '1000',
    );
    assert.equal(items.code, 0, items.err.join('\n'));
    const page = JSON.parse(items.out.join(''));
    const expectedIds = (
      await client.backupContents.query(id, 'Log', { filter: { tag: 'x' }, paging: { limit: 1000 } })
    ).dataItems.map((d) => d.id);
    assert.deepEqual(
      page.dataItems.map((d: { id: string }) => d.id),
      expectedIds,
    );
    assert.ok(expectedIds.length > 0);
    const bad = await run('items', id, '--collection', 'Log', '--filter', '{"tag":{"$bogus":1}}');
    assert.equal(bad.code, 1);
    const unknownCollection = await run('items', id, '--collection', 'Nope');
    assert.equal(unknownCollection.code, 1);
    await assert.rejects(run('items', id), /--collection/);
  });
});
