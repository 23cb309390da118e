/**
 * The storage error boundary (issue 13, item 3) on real engines: driver failures leave both SQL adapters as
 * a StorageError of the right kind, and a request and a job give each kind one meaning. SQLite's busy
 * writer lock was INTERNAL in a job while a request answered 503; both now mean "retry".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openSqlite } from '../../src/adapters/storage/sqlite/sqlite-connection.js';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { jobErrorOf } from '../../src/engine/job-failure.js';
import { toAppError } from '../../src/http/error-response.js';
import { StorageError, type StorageErrorKind } from '../../src/ports/storage-error.js';
import { createTestDatabase } from '../helpers/postgres.js';

async function failureOf(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => assert.fail('the operation should have failed'),
    (error: unknown) => error,
  );
}

function assertKind(error: unknown, kind: StorageErrorKind): asserts error is StorageError {
  assert.ok(error instanceof StorageError, `a StorageError, not ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
}

describe('storage errors on SQLite', () => {
  let dir: string;
  let storage: SqliteStorage;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'safekeep-storage-errors-'));
    storage = await SqliteStorage.open({ path: join(dir, 'safekeep.db') });
  });
  after(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a writer lock held past busy_timeout is BUSY: 503 in a request, STORAGE_UNAVAILABLE in a job', async () => {
    const other = openSqlite(join(dir, 'safekeep.db'));
    storage.raw.pragma('busy_timeout = 0');
    try {
      other.exec('BEGIN IMMEDIATE');
      const error = await failureOf(
        storage.db.insertInto('meta').values({ key: 'busy', value: 'x' }).execute(),
      );
      assertKind(error, 'BUSY');
      assert.equal(toAppError(error).code, 'STORAGE_UNAVAILABLE');
      assert.equal(jobErrorOf(error).code, 'STORAGE_UNAVAILABLE');
      // Inside a transaction too: BEGIN itself meets the lock.
      const inTransaction = await failureOf(
        storage.db
          .transaction()
          .execute((trx) => trx.insertInto('meta').values({ key: 'b', value: 'x' }).execute()),
      );
      assertKind(inTransaction, 'BUSY');
    } finally {
      other.exec('ROLLBACK');
      other.close();
      storage.raw.pragma('busy_timeout = 5000');
    }
    await storage.db.insertInto('meta').values({ key: 'busy', value: 'x' }).execute();
  });

  it('a taken unique key is CONFLICT; a bug (a missing table) passes unchanged and reads INTERNAL', async () => {
    const conflict = await failureOf(
      storage.db.insertInto('meta').values({ key: 'busy', value: 'y' }).execute(),
    );
    assertKind(conflict, 'CONFLICT');
    assert.equal(toAppError(conflict).code, 'STORAGE_UNAVAILABLE');
    const bug = await failureOf(sql`SELECT * FROM no_such_table`.execute(storage.db));
    assert.ok(!(bug instanceof StorageError), String(bug));
    assert.equal(toAppError(bug).code, 'INTERNAL');
    assert.equal(jobErrorOf(bug).code, 'INTERNAL');
  });
});

describe('storage errors on PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let storage: PostgresStorage;

  before(async () => {
    database = await createTestDatabase('storage-errors');
    storage = await PostgresStorage.open({ url: database.url, poolSize: 2 });
  });
  after(async () => {
    await storage?.close();
    await database?.drop();
  });

  it('a taken unique key is CONFLICT, and a NUL in text is UNSTORABLE_VALUE (400 in a request)', async () => {
    await storage.db.insertInto('meta').values({ key: 'k', value: 'x' }).execute();
    assertKind(
      await failureOf(storage.db.insertInto('meta').values({ key: 'k', value: 'y' }).execute()),
      'CONFLICT',
    );
    const nul = await failureOf(
      storage.db.insertInto('meta').values({ key: 'n', value: 'a\u0000b' }).execute(),
    );
    assertKind(nul, 'UNSTORABLE_VALUE');
    assert.equal(toAppError(nul).code, 'INVALID_ARGUMENT');
  });

  it('a lock not granted at once is BUSY, as on SQLite', async () => {
    await storage.db.transaction().execute(async (holder) => {
      await sql`SELECT * FROM meta WHERE key = 'k' FOR UPDATE`.execute(holder);
      const error = await failureOf(
        storage.db
          .transaction()
          .execute((trx) => sql`SELECT * FROM meta WHERE key = 'k' FOR UPDATE NOWAIT`.execute(trx)),
      );
      assertKind(error, 'BUSY');
      assert.equal(toAppError(error).code, 'STORAGE_UNAVAILABLE');
      assert.equal(jobErrorOf(error).code, 'STORAGE_UNAVAILABLE');
    });
  });
});
