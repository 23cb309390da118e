/**
 * Issue 5, item 3 (and the decompression bomb of item 6): bytes changed in the real blob store (the folder,
 * or S3 on the scale-out stack) are detected before the first live write, each structural class with its
 * own code; random bit flips and byte overwrites are all detected; clean backups never fail verification.
 *
 * Class → code (asserted exactly, for the verifier and for a restoration through the API):
 * - chunk truncated → INTEGRITY_OBJECT_TRUNCATED; emptied → INTEGRITY_OBJECT_EMPTY; one byte appended →
 *   INTEGRITY_SIZE_MISMATCH; replaced by a valid frame of the same length → INTEGRITY_CHECKSUM_MISMATCH;
 *   missing → INTEGRITY_OBJECT_MISSING; a directory in its place → INTEGRITY_OBJECT_UNREADABLE (folder
 *   only: S3 has no unreadable object);
 * - manifest edited → INTEGRITY_MANIFEST_CHECKSUM_MISMATCH; rewritten with the catalog's recorded checksum
 *   → INTEGRITY_MANIFEST_MISMATCH (it no longer agrees with the catalog's counts and sizes), or
 *   INTEGRITY_MANIFEST_INVALID when what was written is not a manifest at all; replaced by
 *   another backup's or another site's manifest → INTEGRITY_OBJECT_SWAPPED;
 * - an extra object is no alarm: verification passes, the restoration never reads it, and garbage
 *   collection finds it unreferenced and removes it;
 * - a decompression bomb → INTEGRITY_DECOMPRESSED_TOO_LARGE.
 * Random mutations may end in any INTEGRITY_* code (a flip inside a manifest's backup id reads as a swap).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { resourceUsage } from 'node:process';
import { after, before, describe, it } from 'node:test';
import { verifyBackup } from '../../src/engine/backup-verifier.js';
import { assertSameSite, contentOf, runJobs } from '../helpers/backup-helpers.js';
import { reportFigures, seedFor, size } from '../helpers/fault-run.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { seededRandom } from '../helpers/seeded-random.js';
import {
  decompressionBomb,
  rewriteRecordedChecksum,
  sameLengthForgery,
  storedBackup,
  type StoredBackup,
} from './corruption-objects.js';

const P = '/wix-data/v2';

interface Fixture {
  env: TestEnv;
  site: TestSite;
  other: TestSite;
  /** The backup every case damages, an older one of the same site, and one of the other site. */
  target: StoredBackup;
  older: StoredBackup;
  foreign: StoredBackup;
}

async function backUp(env: TestEnv, site: TestSite): Promise<string> {
  const created = await env.call('POST', '/wix-data/v2/backups', { key: site.apiKey, body: {} });
  assert.equal(created.status, 200, created.text);
  await runJobs(env);
  return created.body.backup.id as string;
}

async function fill(env: TestEnv, site: TestSite, prefix: string, n: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const hex = (k: number) => Array.from({ length: k }, () => Math.floor(random() * 16).toString(16)).join('');
  for (let start = 0; start < n; start += 1000) {
    const dataItems = Array.from({ length: Math.min(1000, n - start) }, (_, i) => ({
      id: `${prefix}-${start + i}`,
      data: { text: hex(150), ref: `${prefix}-${(start + i) % 7}` },
    }));
    const res = await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: { dataCollectionId: 'A', dataItems },
    });
    assert.equal(res.status, 200, res.text);
  }
}

async function setUp(
  stack: 'embedded' | 'scaleout',
  seed: number,
  env0: Record<string, string> = {},
): Promise<Fixture> {
  const env = await startTestEnv({ stack, env: env0 });
  const site = await env.createSite('Target');
  const other = await env.createSite('Other');
  for (const s of [site, other]) {
    const made = await env.call('POST', `${P}/collections`, {
      key: s.apiKey,
      body: {
        collection: {
          id: 'A',
          fields: [
            {
              key: 'refs',
              type: 'MULTI_REFERENCE',
              typeMetadata: { multiReference: { referencedCollectionId: 'A' } },
            },
          ],
        },
      },
    });
    assert.equal(made.status, 200, made.text);
  }
  await fill(env, site, 'a', 800, seed);
  const olderId = await backUp(env, site);
  await fill(env, site, 'b', 800, seed + 1);
  await env.call('POST', `${P}/bulk/items/insert-references`, {
    key: site.apiKey,
    body: {
      dataCollectionId: 'A',
      dataItemReferences: [
        { referringItemFieldName: 'refs', referringItemId: 'a-1', referencedItemId: 'b-2' },
      ],
    },
  });
  const targetId = await backUp(env, site);
  await fill(env, other, 'o', 200, seed + 2);
  const foreignId = await backUp(env, other);
  // Live content differs from the target backup, so that any live write would show.
  await env.call('POST', `${P}/items`, {
    key: site.apiKey,
    body: { dataCollectionId: 'A', dataItem: { id: 'after', data: {} } },
  });
  return {
    env,
    site,
    other,
    target: await storedBackup(env, site.siteId, targetId),
    older: await storedBackup(env, site.siteId, olderId),
    foreign: await storedBackup(env, other.siteId, foreignId),
  };
}

/** The largest chunk of a backup (an item chunk: the links are few). */
function largestChunk(b: StoredBackup): StoredBackup['chunks'][number] {
  const chunk = [...b.chunks].sort((x, y) => y.ref.storedSize - x.ref.storedSize)[0];
  assert.ok(chunk, 'the backup stored chunks');
  return chunk;
}

/** Restores a backup through the API and returns the restoration as the API reports it at the end. */
async function restore(f: Fixture, backupId: string): Promise<{ status: string; error?: { code: string } }> {
  const res = await f.env.call('POST', `/wix-data/v2/backups/${backupId}/restore`, {
    key: f.site.apiKey,
    body: {},
  });
  assert.equal(res.status, 200, res.text);
  await runJobs(f.env);
  const got = await f.env.call('GET', `/wix-data/v2/backups/restorations/${res.body.restoration.id}`, {
    key: f.site.apiKey,
  });
  return got.body.restoration;
}

interface StructuralCase {
  readonly name: string;
  readonly code: string;
  /** Only where the stack can express the damage (a directory in place of a file needs a folder). */
  readonly embeddedOnly?: boolean;
  /** Damages the target backup's objects; returns how to undo it. */
  damage(f: Fixture): Promise<() => Promise<void>>;
}

/** Replaces one stored object, returning how to put the original back. */
async function replace(f: Fixture, key: string, bytes: Uint8Array): Promise<() => Promise<void>> {
  const original = await f.env.safekeep.blobs.get(key, 1 << 30);
  await f.env.safekeep.blobs.put(key, bytes);
  return () => f.env.safekeep.blobs.put(key, original);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const structural: StructuralCase[] = [
  {
    name: 'chunk truncated',
    code: 'INTEGRITY_OBJECT_TRUNCATED',
    async damage(f) {
      const c = largestChunk(f.target);
      const bytes = await f.env.safekeep.blobs.get(c.key, c.ref.storedSize);
      return replace(f, c.key, bytes.subarray(0, bytes.length - 100));
    },
  },
  {
    name: 'chunk emptied',
    code: 'INTEGRITY_OBJECT_EMPTY',
    damage: (f) => replace(f, largestChunk(f.target).key, new Uint8Array(0)),
  },
  {
    name: 'chunk with one byte appended',
    code: 'INTEGRITY_SIZE_MISMATCH',
    async damage(f) {
      const c = largestChunk(f.target);
      const bytes = await f.env.safekeep.blobs.get(c.key, c.ref.storedSize);
      return replace(f, c.key, Buffer.concat([bytes, Buffer.from([0])]));
    },
  },
  {
    name: 'chunk replaced, same length (a valid frame of other content)',
    code: 'INTEGRITY_CHECKSUM_MISMATCH',
    async damage(f) {
      const c = largestChunk(f.target);
      const bytes = await f.env.safekeep.blobs.get(c.key, c.ref.storedSize);
      const level = f.env.safekeep.background().engine.compressionLevel;
      return replace(f, c.key, sameLengthForgery(bytes, c.ref.rawSize, level));
    },
  },
  {
    name: 'chunk missing',
    code: 'INTEGRITY_OBJECT_MISSING',
    async damage(f) {
      const c = largestChunk(f.target);
      const original = await f.env.safekeep.blobs.get(c.key, c.ref.storedSize);
      await f.env.safekeep.blobs.delete(c.key);
      return () => f.env.safekeep.blobs.put(c.key, original);
    },
  },
  {
    name: 'chunk unreadable (a directory in its place)',
    code: 'INTEGRITY_OBJECT_UNREADABLE',
    embeddedOnly: true,
    async damage(f) {
      const c = largestChunk(f.target);
      const original = await f.env.safekeep.blobs.get(c.key, c.ref.storedSize);
      await f.env.safekeep.blobs.delete(c.key);
      const path = join(f.env.dataDir, 'blobs', ...c.key.split('/'));
      mkdirSync(path);
      return async () => {
        rmSync(path, { recursive: true });
        await f.env.safekeep.blobs.put(c.key, original);
      };
    },
  },
  {
    name: 'manifest edited (same length)',
    code: 'INTEGRITY_MANIFEST_CHECKSUM_MISMATCH',
    damage(f) {
      const text = f.target.manifestBytes.toString('utf8');
      const at = text.indexOf('"itemCount":') + '"itemCount":'.length;
      const digit = text[at] === '1' ? '2' : '1';
      return replace(f, f.target.manifestKey, Buffer.from(text.slice(0, at) + digit + text.slice(at + 1)));
    },
  },
  {
    name: 'manifest and its recorded checksum both rewritten',
    code: 'INTEGRITY_MANIFEST_MISMATCH',
    async damage(f) {
      // A consistent forgery: the first collection loses its last item chunk, counts adjusted to match.
      const forged = JSON.parse(f.target.manifestBytes.toString('utf8'));
      const list = forged.collections[0].layers[0].upserts;
      const dropped = list.chunks.pop();
      list.count -= dropped.count;
      forged.collections[0].itemCount -= dropped.count;
      const bytes = Buffer.from(JSON.stringify(forged));
      const undo = await replace(f, f.target.manifestKey, bytes);
      const recorded = f.target.record.manifest;
      assert.ok(recorded);
      await rewriteRecordedChecksum(f.env, f.target.record.id, { sha256: sha256(bytes), size: bytes.length });
      return async () => {
        await rewriteRecordedChecksum(f.env, f.target.record.id, recorded);
        await undo();
      };
    },
  },
  {
    name: 'manifest and its recorded checksum rewritten, not a manifest',
    code: 'INTEGRITY_MANIFEST_INVALID',
    async damage(f) {
      const bytes = Buffer.from(JSON.stringify({ format: 'something else' }));
      const undo = await replace(f, f.target.manifestKey, bytes);
      const recorded = f.target.record.manifest;
      assert.ok(recorded);
      await rewriteRecordedChecksum(f.env, f.target.record.id, { sha256: sha256(bytes), size: bytes.length });
      return async () => {
        await rewriteRecordedChecksum(f.env, f.target.record.id, recorded);
        await undo();
      };
    },
  },
  {
    name: "manifest swapped with another backup's",
    code: 'INTEGRITY_OBJECT_SWAPPED',
    damage: (f) => replace(f, f.target.manifestKey, f.older.manifestBytes),
  },
  {
    name: "manifest swapped with another site's",
    code: 'INTEGRITY_OBJECT_SWAPPED',
    damage: (f) => replace(f, f.target.manifestKey, f.foreign.manifestBytes),
  },
];

/** The classes each stack detected as asserted, for the one report row of both. */
const seenBy = new Map<string, string[]>();

for (const stack of ['embedded', 'scaleout'] as const) {
  describe(`corruption, structural classes (${stack})`, () => {
    let f: Fixture;
    const seen: string[] = [];
    seenBy.set(stack, seen);
    before(async () => {
      f = await setUp(stack, seedFor(`corruption structural ${stack}`));
    });
    after(async () => {
      await f.env.close();
      if (stack === 'scaleout') {
        const ran = [...seenBy].map(([name, list]) => `${list.length} on ${name}`).join(', ');
        reportFigures({
          test: '3. Corruption: structural classes',
          proves:
            'each structural class of damage fails the restoration before any live write, with its own code',
          ciSize: `${structural.length} classes + extra object, on both stacks (unreadable: folder only)`,
          ran: `${ran} (cases passed)`,
          figures: (seenBy.get('embedded') ?? []).join('; '),
        });
      }
    });

    for (const c of structural) {
      if (c.embeddedOnly && stack === 'scaleout') continue;
      it(`${c.name} → ${c.code}, live content untouched`, async () => {
        const beforeContent = await contentOf(f.env, f.site.siteId);
        const undo = await c.damage(f);
        try {
          // As the catalog now says (a case may have rewritten the recorded checksum).
          const record = await f.env.safekeep
            .background()
            .engine.backups.getBackup(f.site.siteId, f.target.record.id);
          assert.ok(record);
          const direct = await verifyBackup(f.env.safekeep.background().engine, record);
          assert.deepEqual(direct.ok ? 'ok' : direct.error.code, c.code, 'the verifier');
          const restoration = await restore(f, f.target.record.id);
          assert.equal(restoration.status, 'FAILED');
          assert.equal(restoration.error?.code, c.code, 'the restoration');
          assertSameSite(await contentOf(f.env, f.site.siteId), beforeContent, 'live content untouched');
          seen.push(`${c.name} → ${c.code}`);
        } finally {
          await undo();
        }
        const clean = await verifyBackup(f.env.safekeep.background().engine, f.target.record);
        assert.ok(clean.ok, 'undone: the backup verifies again');
      });
    }

    it('an extra object is neither an alarm nor used', async () => {
      const { blobs } = f.env.safekeep;
      const c = largestChunk(f.target);
      const extraChunk = c.key.replace(/[0-9a-f]{64}$/, 'f'.repeat(64));
      const extraManifest = f.target.manifestKey.replace(/[^/]+\.json$/, 'extra.json');
      await blobs.put(extraChunk, Buffer.from('not a chunk'));
      await blobs.put(extraManifest, f.older.manifestBytes);
      const verified = await verifyBackup(f.env.safekeep.background().engine, f.target.record);
      assert.ok(verified.ok, 'no false alarm');
      const restoration = await restore(f, f.target.record.id);
      assert.equal(restoration.status, 'COMPLETED');
      const restored = await contentOf(f.env, f.site.siteId);
      assert.equal(restored.A?.items.length, 1600, 'the backup, and only it, was restored');
      assert.ok(!restored.A?.items.some(([id]) => id === 'after'));
      // What detection means for an extra object: garbage collection finds it unreferenced and removes it.
      const gc = await f.env.safekeep.background().gc.collectAll();
      assert.equal(await blobs.head(extraChunk), undefined, 'the collector removed the extra chunk');
      assert.equal(await blobs.head(extraManifest), undefined, 'the collector removed the extra manifest');
      assert.ok(gc.chunksDeleted >= 1 && gc.manifestsDeleted >= 1);
      seen.push(
        `extra object → no code: verification ok, restoration COMPLETED without reading it, GC removed it (${gc.chunksDeleted} chunks, ${gc.manifestsDeleted} manifests)`,
      );
    });
  });
}

describe('corruption, random mutations and clean verifications (embedded)', () => {
  let f: Fixture;
  before(async () => {
    // Thousands of objects are put back after each mutation: fsync would only make that slower.
    f = await setUp('embedded', seedFor('corruption fixture'), { SAFEKEEP_FSYNC: 'false' });
  });
  after(() => f.env.close());

  it('detects every random bit flip and byte overwrite in chunks and manifests', async () => {
    const seed = seedFor('corruption random mutations');
    const random = seededRandom(seed);
    const n = size(1000, 1_000_000);
    const throughRestore = size(5, 1000);
    const { blobs } = f.env.safekeep;
    const engine = f.env.safekeep.background().engine;
    const objects = [
      { key: f.target.manifestKey, bytes: f.target.manifestBytes },
      ...(await Promise.all(
        f.target.chunks.map(async (c) => ({ key: c.key, bytes: await blobs.get(c.key, c.ref.storedSize) })),
      )),
    ];
    const codes = new Map<string, number>();
    let detected = 0;
    let flips = 0;
    const started = Date.now();
    for (let i = 0; i < n; i++) {
      // Half the mutations hit the manifest, half the chunks.
      const target = random() < 0.5 ? objects[0] : objects[1 + Math.floor(random() * (objects.length - 1))];
      assert.ok(target);
      const mutated = Buffer.from(target.bytes);
      const at = Math.floor(random() * mutated.length);
      if (random() < 0.5) {
        mutated[at] = (mutated[at] ?? 0) ^ (1 << Math.floor(random() * 8));
        flips += 1;
      } else {
        const length = 1 + Math.floor(random() * 8);
        for (let k = at; k < Math.min(at + length, mutated.length); k++)
          mutated[k] = Math.floor(random() * 256);
        if (mutated.equals(target.bytes)) mutated[at] = (mutated[at] ?? 0) ^ 0xff;
      }
      await blobs.put(target.key, mutated);
      const result = await verifyBackup(engine, f.target.record);
      if (i < throughRestore) {
        // The restore path applies the same checks: these fail with no live write.
        const beforeContent = await contentOf(f.env, f.site.siteId);
        const restoration = await restore(f, f.target.record.id);
        assert.equal(restoration.status, 'FAILED');
        assert.equal(restoration.error?.code, result.ok ? 'ok' : result.error.code);
        assertSameSite(await contentOf(f.env, f.site.siteId), beforeContent, 'live content untouched');
      }
      await blobs.put(target.key, target.bytes);
      assert.ok(!result.ok, `mutation ${i} (seed ${seed}) of ${target.key} at ${at} went undetected`);
      assert.match(result.error.code, /^INTEGRITY_/);
      codes.set(result.error.code, (codes.get(result.error.code) ?? 0) + 1);
      detected += 1;
    }
    const ms = Date.now() - started;
    const byCode = [...codes].map(([c, k]) => `${c} ${k}`).join(', ');
    console.log(`# ${detected}/${n} detected (${flips} bit flips) in ${ms} ms: ${byCode}`);
    reportFigures({
      test: '3. Corruption: random mutations',
      proves: 'every random bit flip or byte overwrite of a chunk or manifest is detected by verification',
      ciSize: '1,000 mutations',
      ran: `${n} mutations (${flips} bit flips, ${n - flips} overwrites of 1–8 bytes), the first ${throughRestore} also through a restoration`,
      figures: `${detected}/${n} detected (100%): ${byCode}`,
      seed,
    });
  });

  it('never fails a clean backup', async () => {
    const n = size(1000, 10_000);
    const engine = f.env.safekeep.background().engine;
    const backups = [f.target, f.older];
    let alarms = 0;
    for (let i = 0; i < n; i++) {
      const b = backups[i % backups.length];
      assert.ok(b);
      const result = await verifyBackup(engine, b.record);
      if (!result.ok) alarms += 1;
    }
    assert.equal(alarms, 0);
    reportFigures({
      test: '3. Corruption: clean verifications',
      proves: 'verification raises no false alarm on clean backups',
      ciSize: '1,000 verifications',
      ran: `${n} verifications of 2 clean backups (${f.target.chunks.length + f.older.chunks.length} chunks)`,
      figures: `${alarms} false alarms`,
    });
  });

  it('refuses a decompression bomb within the recorded size', async () => {
    const { blobs } = f.env.safekeep;
    const engine = f.env.safekeep.background().engine;
    const c = largestChunk(f.target);
    const original = await blobs.get(c.key, c.ref.storedSize);
    const figures: string[] = [];
    const expandsTo = 1 << 30;
    for (const lie of [false, true]) {
      const bomb = decompressionBomb(expandsTo, c.ref.storedSize, lie ? c.ref.rawSize : undefined);
      await blobs.put(c.key, bomb);
      const beforeContent = await contentOf(f.env, f.site.siteId);
      const maxBefore = resourceUsage().maxRSS;
      const start = process.memoryUsage().rss;
      let peak = start;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
      try {
        const direct = await verifyBackup(engine, f.target.record);
        assert.deepEqual(direct.ok ? 'ok' : direct.error.code, 'INTEGRITY_DECOMPRESSED_TOO_LARGE');
        const restoration = await restore(f, f.target.record.id);
        assert.equal(restoration.status, 'FAILED');
        assert.equal(restoration.error?.code, 'INTEGRITY_DECOMPRESSED_TOO_LARGE');
        assertSameSite(await contentOf(f.env, f.site.siteId), beforeContent, 'live content untouched');
      } finally {
        clearInterval(sampler);
        await blobs.put(c.key, original);
      }
      // Worker threads share the process: its RSS includes theirs. A decoder that allocated the expansion
      // would add 1 GiB; the process high-water mark must not move by a quarter of that.
      const maxGrewKb = resourceUsage().maxRSS - maxBefore;
      const sampledGrew = peak - start;
      assert.ok(maxGrewKb * 1024 < expandsTo / 4, `peak RSS grew by ${maxGrewKb} KiB`);
      assert.ok(sampledGrew < expandsTo / 4, `sampled RSS grew by ${sampledGrew} bytes`);
      figures.push(
        `${lie ? 'header lies (says the recorded size)' : 'header says 1 GiB'}: refused; RSS ${Math.round(start / 2 ** 20)} MiB → sampled peak ${Math.round(peak / 2 ** 20)} MiB (+${Math.round(sampledGrew / 2 ** 20)} MiB), high-water mark +${Math.round(maxGrewKb / 1024)} MiB, recorded raw size ${Math.round(c.ref.rawSize / 1024)} KiB`,
      );
    }
    console.log(`# bomb: ${figures.join('; ')}`);
    reportFigures({
      test: '6. Hostile input: decompression bomb',
      proves:
        'a stored chunk expanding to 1 GiB is refused (INTEGRITY_DECOMPRESSED_TOO_LARGE) without allocating it',
      ciSize: '2 bombs of 1 GiB of zeros',
      ran: `2 bombs, ${c.ref.storedSize} bytes stored each, recorded raw size ${c.ref.rawSize}`,
      figures: figures.join('; '),
    });
  });
});
