/**
 * Scratch PostgreSQL databases for the benchmarks: created on the server at
 * `postgres://postgres@127.0.0.1:5432/postgres` unless SAFEKEEP_BENCH_PG_URL names another, dropped at the end.
 */
import pg from 'pg';

export const benchServerUrl =
  process.env.SAFEKEEP_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function urlOf(database: string): string {
  const url = new URL(benchServerUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: benchServerUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A new empty database named after `label`; `drop` removes it, closing whatever is still connected. */
export async function createBenchDatabase(
  label: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `safekeep_bench_${label}_${Date.now()}`;
  await admin(`CREATE DATABASE "${name}" TEMPLATE template0`);
  return { name, url: urlOf(name), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
