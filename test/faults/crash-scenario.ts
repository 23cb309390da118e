/**
 * The scenario the crash-point tests stop at every failpoint: a site with four collections (two linked),
 * three on-demand backups (so the next one makes retention delete the oldest, whose two dropped
 * collections become garbage), then a fourth backup, a restoration of it over changed live data (one
 * collection deleted since, so the restoration creates it), the undo of that restoration (which deletes
 * it again), and a garbage collection. Also what every restart is checked for: READY backups that verify, live content
 * equal to the phase's before or target state, no temp files, no orphan generations.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { chunkKey, type ChunkList, type ChunkRef } from '../../src/domain/manifest.js';
import { readManifest } from '../../src/engine/manifest-io.js';
import { contentOf } from '../helpers/backup-helpers.js';
import type { TestEnv, TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';

/**
 * The environment of a child process on the embedded stack: this process's, without anything that would
 * point the child at PostgreSQL or S3 or arm a failpoint, plus `extra`.
 */
export function embeddedChildEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env))
    if (name === 'DATABASE_URL' || name.startsWith('SAFEKEEP_S3_') || name === 'SAFEKEEP_FAILPOINT')
      delete env[name];
  return { ...env, ...extra };
}

/** The phases of the scenario, in order; each failpoint belongs to one. */
export const phases = ['backup', 'restore', 'undo', 'gc'] as const;
export type Phase = (typeof phases)[number];

export function phaseOf(point: string): Phase {
  // Only undoing a restoration that created a collection deletes one.
  if (point === 'restore:created-collection-deleted') return 'undo';
  if (point.startsWith('restore:')) return 'restore';
  if (point.startsWith('gc:')) return 'gc';
  return 'backup';
}

/** A hash of a site's live content (every item's JSON and every link, in every collection). */
export async function contentHash(env: TestEnv, siteId: string): Promise<string> {
  return createHash('sha256')
    .update(JSON.stringify(await contentOf(env, siteId)))
    .digest('hex');
}

function caller(env: TestEnv, site: TestSite) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await env.call(method, path, { key: site.apiKey, body });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
    return res;
  };
}

async function createCollection(call: ReturnType<typeof caller>, id: string): Promise<void> {
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
}

async function insert(call: ReturnType<typeof caller>, collection: string, from: number, n: number) {
  const dataItems = Array.from({ length: n }, (_, i) => ({
    id: `${collection}-${from + i}`,
    data: { n: from + i, text: `${collection}:${from + i}`.repeat(20) },
  }));
  await call('POST', `${P}/bulk/items/insert`, { dataCollectionId: collection, dataItems });
}

async function backUp(env: TestEnv, call: ReturnType<typeof caller>, run: () => Promise<void>) {
  const id = (await call('POST', `${P}/backups`, {})).body.backup.id as string;
  await run();
  const backup = (await call('GET', `${P}/backups/${id}`)).body.backup;
  assert.equal(backup.status, 'READY', JSON.stringify(backup.error));
  return id;
}

/**
 * Builds the starting state: collections A, B (linked to A), C and D; backup 1 of all four; C and D
 * dropped; A changed, backup 2; B changed, backup 3.
 */
export async function buildStart(env: TestEnv, site: TestSite, run: () => Promise<void>): Promise<void> {
  const call = caller(env, site);
  for (const id of ['A', 'B', 'C', 'D']) {
    await createCollection(call, id);
    await insert(call, id, 0, 40);
  }
  await call('POST', `${P}/bulk/items/insert-references`, {
    dataCollectionId: 'B',
    dataItemReferences: [1, 2, 3].map((i) => ({
      referringItemFieldName: 'refs',
      referringItemId: `B-${i}`,
      referencedItemId: `A-${i}`,
    })),
  });
  await backUp(env, call, run);
  await call('DELETE', `${P}/collections/C`);
  await call('DELETE', `${P}/collections/D`);
  await insert(call, 'A', 100, 5);
  env.clock.advance(60_000);
  await backUp(env, call, run);
  await call('POST', `${P}/items/remove`, { dataCollectionId: 'B', dataItemId: 'B-7' });
  env.clock.advance(60_000);
  await backUp(env, call, run);
  env.clock.advance(60_000);
}

/** What the scenario recorded before its phases, to check a restart against. */
export interface Expectations {
  /** Live content hash before the phase's work, and after it completes, per phase. */
  readonly states: Partial<Record<Phase, { before: string; target: string }>>;
  backupId?: string;
  restorationId?: string;
}

/**
 * Prepares a phase (requests its job) with the failpoint disarmed, so that `work` (jobs then GC) hits the
 * phase's failpoints. Earlier phases are run to completion first.
 */
export async function prepare(
  env: TestEnv,
  site: TestSite,
  phase: Phase,
  run: () => Promise<void>,
): Promise<Expectations> {
  const call = caller(env, site);
  const expect: Expectations = { states: {} };
  await insert(call, 'B', 200, 3);
  const current = await contentHash(env, site.siteId);
  expect.states.backup = { before: current, target: current };
  expect.backupId = (await call('POST', `${P}/backups`, {})).body.backup.id as string;
  if (phase === 'backup') return expect;
  await run();
  // A is deleted, so the restoration creates it again from its backed-up definition (and its undo deletes it).
  await call('DELETE', `${P}/collections/A`);
  await call('POST', `${P}/items`, { dataCollectionId: 'B', dataItem: { id: 'late', data: { n: -1 } } });
  const beforeRestore = await contentHash(env, site.siteId);
  expect.states.restore = { before: beforeRestore, target: current };
  env.clock.advance(60_000);
  expect.restorationId = (await call('POST', `${P}/backups/${expect.backupId}/restore`, {})).body.restoration
    .id as string;
  if (phase === 'restore') return expect;
  await run();
  // The undo: restoring the safety backup deletes A again and puts B back as it was before the restore.
  const safetyBackupId = (await call('GET', `${P}/backups/restorations/${expect.restorationId}`)).body
    .restoration.safetyBackupId as string;
  expect.states.undo = { before: current, target: beforeRestore };
  env.clock.advance(60_000);
  expect.restorationId = (await call('POST', `${P}/backups/${safetyBackupId}/restore`, {})).body.restoration
    .id as string;
  if (phase === 'undo') return expect;
  await run();
  expect.states.gc = { before: beforeRestore, target: beforeRestore };
  return expect;
}

function db(env: TestEnv): Kysely<Database> {
  // Both SQL adapters expose their Kysely instance.
  return (env.safekeep.storage as unknown as { db: Kysely<Database> }).db;
}

/** Generations being built or frozen with no pending restoration that owns or waits for them. */
export async function orphanGenerations(env: TestEnv): Promise<number> {
  const gens = await db(env)
    .selectFrom('generations')
    .select(['id', 'state', 'site_id', 'owner_restoration'])
    .where('state', 'in', ['BUILDING', 'RETIRING'])
    .execute();
  const pending = await db(env)
    .selectFrom('restorations')
    .select(['id', 'site_id'])
    .where('status', '=', 'PENDING')
    .execute();
  return gens.filter((g) =>
    g.state === 'BUILDING'
      ? !pending.some((r) => r.id === g.owner_restoration)
      : !pending.some((r) => r.site_id === g.site_id),
  ).length;
}

/** Generations still BUILDING or RETIRING (none may be left once every job ended). */
export async function unsettledGenerations(env: TestEnv): Promise<number> {
  const rows = await db(env)
    .selectFrom('generations')
    .select('id')
    .where('state', 'in', ['BUILDING', 'RETIRING'])
    .execute();
  return rows.length;
}

/** Temp files of the local blob store (its `.tmp` folder) left in the data directory. */
export function tempFiles(dataDir: string): string[] {
  const tmp = join(dataDir, 'blobs', '.tmp');
  return existsSync(tmp) ? readdirSync(tmp) : [];
}

/**
 * Reads every READY backup's manifest and every chunk it names through the blob store and the engine's
 * codec (which checks each chunk's SHA-256 and size); with `dead`, also that every other backup row that
 * still names a manifest names one that exists (true once a collection has run). Returns the problems.
 */
export async function unverifiableBackups(env: TestEnv, dead = false): Promise<string[]> {
  const rows = await db(env)
    .selectFrom('backups')
    .select(['id', 'site_id', 'status', 'manifest_key', 'manifest_sha256', 'manifest_size'])
    .where('manifest_key', 'is not', null)
    .execute();
  const { blobs } = env.safekeep;
  const { codec } = env.safekeep.background().engine;
  const problems: string[] = [];
  for (const row of rows) {
    const ref = {
      key: row.manifest_key ?? '',
      sha256: row.manifest_sha256 ?? '',
      size: Number(row.manifest_size),
    };
    try {
      if (row.status !== 'READY') {
        if (dead) await blobs.get(ref.key, ref.size + 1);
        continue;
      }
      const manifest = await readManifest(blobs, ref, { backupId: row.id, siteId: row.site_id });
      const read = async (
        list: ChunkList | undefined,
        open: (b: Uint8Array, r: ChunkRef) => Promise<unknown>,
      ) => {
        for (const chunk of list?.chunks ?? [])
          await open(await blobs.get(chunkKey(row.site_id, chunk.hash), chunk.storedSize + 1), chunk);
      };
      for (const c of manifest.collections) {
        for (const layer of c.layers) {
          await read(layer.upserts, (b, r) => codec.openItems(b, r));
          await read(layer.deletes, (b, r) => codec.openIds(b, r));
        }
        await read(c.links, (b, r) => codec.openLinks(b, r));
      }
      await read(manifest.incomingLinks, (b, r) => codec.openLinks(b, r));
    } catch (error) {
      problems.push(`${row.status} backup ${row.id}: ${(error as Error).message}`);
    }
  }
  return problems;
}
