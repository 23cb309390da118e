/**
 * Snapshot consistency: while writers insert, update and delete across several collections, backups run;
 * every restored state must equal the state after some prefix of the committed writes (no torn backups).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv } from '../helpers/harness.js';
import { seededRandom } from '../helpers/seeded-random.js';

const P = '/wix-data/v2';
const COLLECTIONS = ['Red', 'Green', 'Blue'];
const seed = Number(process.env.TEST_SEED ?? 7331);

type Op =
  | { kind: 'insert'; collection: string; id: string; value: number }
  | { kind: 'update'; collection: string; id: string; value: number }
  | { kind: 'remove'; collection: string; id: string };

/** The writes, decided up front from the seed; each is one transaction on one collection. */
function plan(count: number, random: () => number): Op[] {
  const ops: Op[] = [];
  const alive = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const roll = random();
    const existing = [...alive.keys()];
    if (roll < 0.55 || existing.length === 0) {
      const collection = COLLECTIONS[Math.floor(random() * COLLECTIONS.length)] ?? 'Red';
      const id = `w${i}`;
      alive.set(id, collection);
      ops.push({ kind: 'insert', collection, id, value: i });
    } else {
      const id = existing[Math.floor(random() * existing.length)] ?? '';
      const collection = alive.get(id) ?? 'Red';
      if (roll < 0.8) ops.push({ kind: 'update', collection, id, value: i });
      else {
        alive.delete(id);
        ops.push({ kind: 'remove', collection, id });
      }
    }
  }
  return ops;
}

/** Collection → sorted "id=value" after the first `k` writes. */
function stateAfter(ops: readonly Op[], k: number): Record<string, string[]> {
  const state = new Map<string, Map<string, number>>(COLLECTIONS.map((c) => [c, new Map()]));
  for (const op of ops.slice(0, k)) {
    const items = state.get(op.collection);
    if (op.kind === 'remove') items?.delete(op.id);
    else items?.set(op.id, op.value);
  }
  return Object.fromEntries(
    [...state].map(([c, items]) => [c, [...items].map(([id, v]) => `${id}=${v}`).sort()]),
  );
}

describe(`snapshot consistency under concurrent writes (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  it('restores a state that some prefix of the committed writes produced, for every backup', async () => {
    const env = await startTestEnv();
    try {
      const site = await env.createSite();
      const call = (method: string, path: string, body?: unknown) =>
        env.call(method, path, { key: site.apiKey, body });
      for (const id of COLLECTIONS) await call('POST', `${P}/collections`, { collection: { id } });
      // Padding makes each backup read for a while, so writes land while it runs.
      for (const id of COLLECTIONS) {
        for (let k = 0; k < 3; k++) {
          await call('POST', `${P}/bulk/items/insert`, {
            dataCollectionId: id,
            dataItems: Array.from({ length: 1000 }, (_, i) => ({
              id: `pad-${k}-${i}`,
              data: { pad: 'x'.repeat(800) },
            })),
          });
        }
      }
      const ops = plan(600, seededRandom(seed));
      let committed = 0;
      const writer = (async () => {
        for (const op of ops) {
          const res =
            op.kind === 'insert'
              ? await call('POST', `${P}/items`, {
                  dataCollectionId: op.collection,
                  dataItem: { id: op.id, data: { v: op.value } },
                })
              : op.kind === 'update'
                ? await call('POST', `${P}/items/update`, {
                    dataCollectionId: op.collection,
                    dataItem: { id: op.id, data: { v: op.value } },
                  })
                : await call('POST', `${P}/items/remove`, {
                    dataCollectionId: op.collection,
                    dataItemId: op.id,
                  });
          assert.equal(res.status, 200, JSON.stringify(res.body));
          committed += 1;
        }
      })();
      // Three backups while the writer runs (three, so that the on-demand limit deletes none of them).
      const backupIds: { id: string; committedWhenRequested: number }[] = [];
      for (const threshold of [120, 300, 480]) {
        while (committed < threshold) await new Promise((r) => setImmediate(r));
        const created = await call('POST', '/wix-data/v2/backups', {});
        assert.equal(created.status, 200, JSON.stringify(created.body));
        backupIds.push({ id: created.body.backup.id as string, committedWhenRequested: committed });
        await runJobs(env);
      }
      await writer;

      const prefixes: number[] = [];
      for (const { id } of backupIds) {
        const restore = await call('POST', `/wix-data/v2/backups/${id}/restore`, {});
        assert.equal(restore.status, 200, JSON.stringify(restore.body));
        await runJobs(env);
        const content = await contentOf(env, site.siteId);
        const restored = Object.fromEntries(
          COLLECTIONS.map((c) => [
            c,
            (content[c]?.items ?? [])
              .filter(([itemId]) => !itemId.startsWith('pad-'))
              .map(([itemId, json]) => `${itemId}=${(JSON.parse(json) as { v: number }).v}`)
              .sort(),
          ]),
        );
        let prefix = -1;
        for (let k = 0; k <= ops.length && prefix < 0; k++) {
          const expected = stateAfter(ops, k);
          if (COLLECTIONS.every((c) => JSON.stringify(expected[c]) === JSON.stringify(restored[c])))
            prefix = k;
        }
        assert.ok(
          prefix >= 0,
          `backup ${id} is not the state after any prefix of the writes (a torn snapshot)`,
        );
        prefixes.push(prefix);
      }
      // The test means something only if snapshots fell between writes, at different points.
      assert.ok(
        prefixes.some((k) => k > 0 && k < ops.length),
        `snapshot points: ${prefixes.join(', ')}`,
      );
      assert.ok(new Set(prefixes).size >= 2, `snapshot points: ${prefixes.join(', ')}`);
    } finally {
      await env.close();
    }
  });
});
