/**
 * Fresh PostgreSQL databases for tests: one per test file (or per test that needs its own), dropped when
 * done. The server is the one at `postgres://postgres@127.0.0.1:5432/postgres` unless `SAFEKEEP_TEST_PG_URL`
 * names another. A server that cannot be reached FAILS the test (never skips it): the scale-out suites
 * must not pass by not running.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance database tests create theirs from. Tests read the environment directly (not src/). */
export const testServerUrl =
  process.env.SAFEKEEP_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

const PREFIX = 'safekeep_test_';
const STALE_SECONDS = 60 * 60;
let swept: Promise<void> | undefined;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testServerUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${testServerUrl} (${(error as Error).message}). Start it ` +
        '(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set SAFEKEEP_TEST_PG_URL.',
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Drops test databases left behind by runs that died more than an hour ago (their names hold their birth). */
async function sweepStale(): Promise<void> {
  await admin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'safekeep\\_test\\_%'`,
    );
    const cutoff = Math.floor(Date.now() / 1000) - STALE_SECONDS;
    for (const { datname } of rows) {
      const born = Number(/^safekeep_test_(\d+)_/.exec(datname)?.[1]);
      if (Number.isInteger(born) && born < cutoff) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
      }
    }
  });
}

function urlOf(database: string): string {
  const url = new URL(testServerUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates an empty database; `drop` removes it (closing whatever is still connected to it). */
export async function createTestDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  swept ??= sweepStale();
  await swept;
  const safeLabel = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 20);
  const name = `${PREFIX}${Math.floor(Date.now() / 1000)}_${safeLabel}_${randomBytes(4).toString('hex')}`;
  // template0: nothing a local template1 may hold leaks into the test.
  await admin((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`));
  let dropped = false;
  return {
    url: urlOf(name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
