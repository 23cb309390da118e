/**
 * The blob-store contract: every promise of src/ports/blob-store.ts, written once. Each store's test file
 * calls `runBlobStoreContract` with a factory (see fs-blob-store.test.ts, s3-blob-store.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobStoreError, type BlobErrorKind, type BlobStore } from '../../src/ports/blob-store.js';

export interface BlobStoreHandle {
  readonly store: BlobStore;
  /** Another handle on the same objects, as a second process would have. */
  open(): BlobStore;
  /** Leaves what an interrupted write leaves behind (a temp file, an unfinished multipart upload). */
  leaveLeftover(): Promise<void>;
  /** How many such leftovers there are. */
  leftovers(): Promise<number>;
  /** A store on the same objects whose cleanUp treats every leftover as abandoned (a later start). */
  later(): BlobStore;
  cleanup(): Promise<void>;
}

export interface BlobStoreFactory {
  create(): Promise<BlobStoreHandle>;
  /** An object size that takes the store's large-object path (multipart for S3). */
  readonly largeBytes: number;
}

async function kindOf(promise: Promise<unknown>): Promise<BlobErrorKind | 'NO_ERROR'> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BlobStoreError) return error.kind;
    throw error;
  }
  return 'NO_ERROR';
}

async function keys(store: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out.sort();
}

const filled = (size: number, byte: number) => Buffer.alloc(size, byte);

export function runBlobStoreContract(name: string, factory: BlobStoreFactory): void {
  describe(`blob-store contract: ${name}`, () => {
    let handle: BlobStoreHandle;
    let store: BlobStore;

    before(async () => {
      handle = await factory.create();
      store = handle.store;
    });
    after(() => handle.cleanup());

    it('stores and reads back objects, empty ones included; head tells size and time', async () => {
      const data = Buffer.from('{"hello":"world"}');
      await store.put('rt/a/one', data);
      await store.put('rt/a/empty', new Uint8Array(0));
      assert.deepEqual(await store.get('rt/a/one', data.length), data);
      assert.equal((await store.get('rt/a/empty', 0)).length, 0);
      const info = await store.head('rt/a/one');
      assert.equal(info?.key, 'rt/a/one');
      assert.equal(info?.size, data.length);
      assert.ok((info?.modifiedAt ?? 0) > Date.UTC(2020, 0, 1), `modifiedAt ${info?.modifiedAt} is a time`);
      assert.equal((await store.head('rt/a/empty'))?.size, 0);
    });

    it('reports a missing object as NOT_FOUND on get and as undefined on head', async () => {
      assert.equal(await kindOf(store.get('missing/x', 100)), 'NOT_FOUND');
      assert.equal(await store.head('missing/x'), undefined);
    });

    it('put replaces an existing object, small or large', async () => {
      await store.put('replace/k', filled(10, 1));
      await store.put('replace/k', filled(20, 2));
      assert.deepEqual(await store.get('replace/k', 20), filled(20, 2));
      await store.put('replace/k', filled(factory.largeBytes, 3));
      assert.deepEqual(await store.get('replace/k', factory.largeBytes), filled(factory.largeBytes, 3));
      await store.put('replace/k', filled(5, 4));
      assert.deepEqual(await store.get('replace/k', factory.largeBytes), filled(5, 4));
    });

    it('makes a write visible whole or not at all, to readers racing the writer', async () => {
      const sizes = [
        [3000, 5000],
        [factory.largeBytes, factory.largeBytes + 4096],
      ] as const;
      for (const [a, b] of sizes) {
        const key = `atomic/${a}`;
        await store.put(key, filled(a, 0x61));
        const reader = handle.open();
        let writing = true;
        const seen = new Set<string>();
        const writer = (async () => {
          try {
            for (let i = 0; i < (a > 100_000 ? 3 : 12); i++)
              await store.put(key, i % 2 ? filled(a, 0x61) : filled(b, 0x62));
          } finally {
            writing = false;
          }
        })();
        const readers = [0, 1].map(async () => {
          while (writing) {
            const got = await reader.get(key, b);
            const byte = got[0];
            const whole = (got.length === a && byte === 0x61) || (got.length === b && byte === 0x62);
            assert.ok(
              whole && got.every((x) => x === byte),
              `a read saw ${got.length} bytes of mixed content`,
            );
            seen.add(`${got.length}`);
          }
        });
        await Promise.all([writer, ...readers]);
        assert.ok(seen.size >= 1, 'the readers read');
      }
    });

    it('putIfAbsent creates once and never replaces', async () => {
      assert.equal(await store.putIfAbsent('once/m.json', Buffer.from('first')), true);
      assert.equal(await store.putIfAbsent('once/m.json', Buffer.from('second, longer')), false);
      assert.equal((await store.get('once/m.json', 100)).toString(), 'first');
      await store.put('once/other', Buffer.from('x'));
      assert.equal(await store.putIfAbsent('once/other', Buffer.from('y')), false);
      assert.equal((await store.get('once/other', 10)).toString(), 'x');
      assert.equal(await store.putIfAbsent('once/large', filled(factory.largeBytes, 7)), true);
      assert.equal(await store.putIfAbsent('once/large', filled(factory.largeBytes, 8)), false);
      assert.deepEqual(await store.get('once/large', factory.largeBytes), filled(factory.largeBytes, 7));
    });

    it('putIfAbsent between two writers on the same key: exactly one wins, and its bytes are stored', async () => {
      const other = handle.open();
      for (let round = 0; round < 8; round++) {
        const key = `race/${round}.json`;
        const mine = Buffer.from(`writer one, round ${round}`);
        const theirs = Buffer.from(`writer two, round ${round}, longer`);
        const [one, two] = await Promise.all([store.putIfAbsent(key, mine), other.putIfAbsent(key, theirs)]);
        assert.equal(Number(one) + Number(two), 1, `round ${round}: one=${one} two=${two}`);
        assert.deepEqual(await store.get(key, 100), one ? mine : theirs);
      }
    });

    it('refuses an object larger than maxBytes with FAILED, saying both sizes', async () => {
      await store.put('max/k', filled(1000, 9));
      assert.equal((await store.get('max/k', 1000)).length, 1000);
      assert.equal((await store.get('max/k', 5000)).length, 1000);
      try {
        await store.get('max/k', 999);
        assert.fail('an oversized object was read');
      } catch (error) {
        assert.ok(error instanceof BlobStoreError);
        assert.equal(error.kind, 'FAILED');
        assert.match(error.message, /1000/);
        assert.match(error.message, /999/);
      }
      await store.put('max/large', filled(factory.largeBytes, 1));
      assert.equal(await kindOf(store.get('max/large', 1024)), 'FAILED');
    });

    it('lists whole path segments under a prefix, with sizes', async () => {
      const sizes: Record<string, number> = {
        'ls/a/1': 1,
        'ls/a/2': 2,
        'ls/ab/3': 3,
        'ls/a/sub/4': 4,
        'lt/5': 5,
      };
      for (const [key, size] of Object.entries(sizes)) await store.put(key, filled(size, 0));
      assert.deepEqual(await keys(store, 'ls/a'), ['ls/a/1', 'ls/a/2', 'ls/a/sub/4']);
      assert.deepEqual(await keys(store, 'ls/a/'), ['ls/a/1', 'ls/a/2', 'ls/a/sub/4']);
      assert.deepEqual(await keys(store, 'ls'), ['ls/a/1', 'ls/a/2', 'ls/a/sub/4', 'ls/ab/3']);
      assert.deepEqual(await keys(store, 'ls/a/1'), [], 'an object is no folder');
      assert.deepEqual(await keys(store, 'nothing/here'), []);
      const all = await keys(store, '');
      for (const key of Object.keys(sizes)) assert.ok(all.includes(key), `list('') has ${key}`);
      for await (const info of store.list('ls')) assert.equal(info.size, sizes[info.key]);
    });

    it('lists many objects (past one page)', async () => {
      const want = Array.from({ length: 23 }, (_, i) => `many/${String(i).padStart(3, '0')}`);
      await Promise.all(want.map((key) => store.put(key, Buffer.from(key))));
      assert.deepEqual(await keys(store, 'many'), want);
    });

    it('delete removes an object and is idempotent', async () => {
      await store.put('del/k', Buffer.from('x'));
      await store.delete('del/k');
      assert.equal(await store.head('del/k'), undefined);
      await store.delete('del/k');
      await store.delete('del/never-was');
      assert.equal(await kindOf(store.get('del/k', 10)), 'NOT_FOUND');
    });

    it('refuses keys that are not safe relative paths, with FAILED', async () => {
      for (const bad of ['../x', 'a/../b', '/abs', 'a//b', 'a b', 'a/./b', '', 'a\\b']) {
        assert.equal(await kindOf(store.put(bad, Buffer.from('x'))), 'FAILED', `put ${JSON.stringify(bad)}`);
        assert.equal(await kindOf(store.putIfAbsent(bad, Buffer.from('x'))), 'FAILED', `putIfAbsent ${bad}`);
        assert.equal(await kindOf(store.get(bad, 10)), 'FAILED', `get ${JSON.stringify(bad)}`);
        assert.equal(await kindOf(store.head(bad)), 'FAILED', `head ${JSON.stringify(bad)}`);
        assert.equal(await kindOf(store.delete(bad)), 'FAILED', `delete ${JSON.stringify(bad)}`);
      }
    });

    it('cleanUp removes the leftovers of interrupted writes, and only those', async () => {
      await store.put('keep/k', Buffer.from('kept'));
      await handle.leaveLeftover();
      await handle.leaveLeftover();
      assert.equal(await handle.leftovers(), 2);
      const later = handle.later();
      assert.ok((await later.cleanUp()) >= 2);
      assert.equal(await handle.leftovers(), 0);
      assert.equal(await later.cleanUp(), 0);
      assert.equal((await store.get('keep/k', 10)).toString(), 'kept');
      assert.ok(!(await keys(store, '')).some((k) => k.startsWith('.')), 'no internal object is listed');
    });
  });
}
