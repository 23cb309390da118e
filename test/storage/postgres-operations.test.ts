/**
 * What the PostgreSQL adapter must do beyond the storage contract: migrate safely when several processes
 * start at once, and survive lost connections (the request fails as STORAGE_UNAVAILABLE, the process goes
 * on, the next request works).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { postgresMigrations } from '../../src/adapters/storage/postgres/postgres-migrations.js';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { toAppError } from '../../src/http/error-response.js';
import { StorageError } from '../../src/ports/storage-error.js';

/** A lost connection crosses the adapter boundary as UNAVAILABLE, which a request answers with 503. */
function isStorageUnavailable(error: unknown): boolean {
  return (
    error instanceof StorageError &&
    error.kind === 'UNAVAILABLE' &&
    toAppError(error).code === 'STORAGE_UNAVAILABLE'
  );
}
import { createTestDatabase } from '../helpers/postgres.js';

describe('PostgreSQL storage operations', () => {
  let database: { url: string; drop(): Promise<void> };

  before(async () => {
    database = await createTestDatabase('pg-operations');
  });
  after(() => database.drop());

  it('migrates once when four processes start at once', async () => {
    const schema = 'concurrent_start';
    const module = new URL('../../src/adapters/storage/postgres/postgres-storage.js', import.meta.url).href;
    const script = `
      const { PostgresStorage } = await import(${JSON.stringify(module)});
      const storage = await PostgresStorage.open({ url: process.argv[1], poolSize: 1, schema: ${JSON.stringify(schema)} });
      await storage.sites.create({ id: 'site-' + process.pid, name: 'p', createdAt: 1,
        settings: { autoBackupIntervalDays: null, autoBackupRetention: null } });
      await storage.close();`;
    const starts = [1, 2, 3, 4].map(
      () =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script, database.url]);
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('exit', (code) => resolve({ code, stderr }));
        }),
    );
    for (const { code, stderr } of await Promise.all(starts)) assert.equal(code, 0, stderr);
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 1, schema });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(
        `SELECT name FROM ${schema}.kysely_migration ORDER BY name`,
      );
      // Each migration recorded exactly once, however many processes raced to run it.
      assert.deepEqual(
        rows.map((r) => r.name),
        Object.keys(postgresMigrations).sort(),
        'every migration ran exactly once',
      );
      // Each process wrote to the one migrated schema.
      assert.equal((await storage.sites.list()).length, 4);
    } finally {
      await client.end();
      await storage.close();
    }
  });

  it('fails a query on a killed connection as unavailable, and works again on the next', async () => {
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 2, schema: 'lost_connection' });
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await storage.healthCheck();
      const killAll = () =>
        admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'safekeep' AND pid <> pg_backend_pid()`,
        );
      // Killed while idle in the pool: the pool's error event is handled (the process would exit otherwise).
      await killAll();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Killed in the middle of a query.
      const slow = storage.db
        .selectNoFrom((eb) => eb.fn<number>('pg_sleep', [eb.val(5)]).as('x'))
        .execute()
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await killAll();
      const failure = await slow;
      assert.ok(failure instanceof Error, 'the query in flight fails');
      assert.ok(isStorageUnavailable(failure), `translated to UNAVAILABLE: ${String(failure)}`);
      // Killed inside a transaction, between two statements.
      const trxFailure = await storage.db
        .transaction()
        .execute(async (trx) => {
          await trx.selectFrom('sites').selectAll().execute();
          await killAll();
          await new Promise((resolve) => setTimeout(resolve, 100));
          await trx.selectFrom('sites').selectAll().execute();
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      assert.ok(
        isStorageUnavailable(trxFailure),
        `transaction translated to UNAVAILABLE: ${String(trxFailure)}`,
      );
      // The pool opens fresh connections for what comes next.
      await storage.healthCheck();
      assert.deepEqual(await storage.sites.list(), []);
    } finally {
      await admin.end();
      await storage.close();
    }
  });
});
