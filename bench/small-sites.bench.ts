/**
 * `npm run bench -- --engine postgres --only small-sites`: backups per second of many small sites (one
 * collection of a few items each) by `safekeep worker` processes on PostgreSQL, the catch-up after an
 * outage (issue 12: goal ≥ 100/s by one process, so that 100,000 sites take under 20 minutes).
 * Backup content goes to an S3 endpoint: the s3rver-based server of the tests (test/helpers/s3.ts, in this
 * process), or the server SAFEKEEP_TEST_S3_ENDPOINT names; a second figure keeps it in a folder store.
 * The PostgreSQL server is `postgres://postgres@127.0.0.1:5432/postgres` unless SAFEKEEP_BENCH_PG_URL
 * names another; the bench creates its database there and drops it at the end.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openSafekeep, type Safekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { composeItem } from '../src/domain/item-codec.js';
import { startTestS3 } from '../test/helpers/s3.js';
import { createBenchDatabase } from './bench-database.js';
import { sampleItem, type BenchResult } from './bench-kit.js';

export interface SmallSitesBenchOptions {
  /** Sites, each one collection of `items` items. */
  readonly sites: number;
  readonly items: number;
  /** Extra environment for the worker processes (SAFEKEEP_JOB_CONCURRENCY, for instance). */
  readonly workerEnv?: Record<string, string>;
}

const bin = join(process.cwd(), 'bin', 'safekeep.js');
/**
 * A checkout of an earlier build (its bin/safekeep.js and dist/), measured in the same run on the same data
 * for a before/after ratio; the current build otherwise stands alone.
 */
const baselineBin = process.env.SAFEKEEP_BENCH_BASELINE_DIR
  ? join(process.env.SAFEKEEP_BENCH_BASELINE_DIR, 'bin', 'safekeep.js')
  : undefined;

/** Creates `count` sites of one collection `c0` holding `items` ~1 KB items each, through the storage port. */
async function createSmallSites(safekeep: Safekeep, count: number, items: number): Promise<string[]> {
  const now = Date.now();
  const sites: string[] = [];
  for (let s = 0; s < count; s++) {
    const site = await safekeep.services.admin.createSite(`small-${s}`);
    await safekeep.storage.collections.create(
      site.id,
      {
        id: 'c0',
        displayName: 'c0',
        collectionType: 'NATIVE',
        fields: [],
        permissions: null,
        views: [],
        extra: {},
      },
      now,
    );
    const batch = Array.from({ length: items }, (_, k) =>
      composeItem({
        id: `item-${String(k).padStart(8, '0')}`,
        owner: 'bench',
        createdAt: now,
        updatedAt: now,
        fields: sampleItem(s * items + k),
      }),
    );
    await safekeep.storage.items.write({ siteId: site.id, collectionId: 'c0', environment: 'LIVE' }, (tx) =>
      tx.insert(batch),
    );
    sites.push(site.id);
  }
  return sites;
}

async function requestBackups(safekeep: Safekeep, sites: readonly string[]): Promise<void> {
  for (const siteId of sites) {
    await safekeep.storage.backups.createBackup({
      id: randomUUID(),
      siteId,
      trigger: 'ON_DEMAND',
      requestedAt: Date.now(),
      requestedCollections: null,
      collections: [{ id: 'c0', displayName: 'c0' }],
    });
  }
}

/** CPU time a process used so far (user + system, all its threads), where /proc tells it (Linux). */
function cpuMsOf(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 a second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Requests one backup per site, then starts `processes` worker processes and waits until none is PENDING or
 * RUNNING. Returns backups/s from the first claim to the last completion (as the database recorded them),
 * so that the processes' start-up is not counted.
 */
async function throughput(
  build: string,
  safekeep: Safekeep,
  db: pg.Client,
  env: Record<string, string>,
  sites: readonly string[],
  processes: number,
): Promise<{ perSecond: number; cpuMs: number | undefined }> {
  await requestBackups(safekeep, sites);
  const count = async (where: string) =>
    Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM backups WHERE ${where}`)).rows[0]?.n);
  const nodeArgs = process.env.SAFEKEEP_BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, [...nodeArgs, build, 'worker'], {
      env: {
        ...process.env,
        SAFEKEEP_LOG_LEVEL: 'error',
        SAFEKEEP_WORKER_THREADS: '1',
        SAFEKEEP_SCHEDULER_TICK_SECONDS: '3600',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  try {
    const exited = children.map(
      (child) =>
        new Promise<never>((_, reject) =>
          child.on('exit', (code) => reject(new Error(`a worker exited (${code}) before the work was done`))),
        ),
    );
    const done = (async () => {
      while ((await count(`status IN ('PENDING', 'RUNNING')`)) > 0)
        await new Promise((resolve) => setTimeout(resolve, 50));
    })();
    await Promise.race([done, ...exited]);
    for (const e of exited) e.catch(() => undefined);
    const failed = await count(`status <> 'READY'`);
    if (failed > 0) throw new Error(`${failed} backups did not end READY`);
    const { rows } = await db.query<{ first: string; last: string }>(
      'SELECT min(started_at) AS first, max(finished_at) AS last FROM backups',
    );
    const ms = Number(rows[0]?.last) - Number(rows[0]?.first);
    const cpu = children.map((child) => cpuMsOf(child.pid));
    const cpuMs = cpu.every((c) => c !== undefined) ? cpu.reduce((a, b) => a + b, 0) : undefined;
    return { perSecond: sites.length / (ms / 1000), cpuMs: cpuMs && cpuMs / sites.length };
  } finally {
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise((resolve) => child.on('exit', resolve).kill('SIGTERM')),
      ),
    );
  }
}

export async function runSmallSitesBench(
  options: SmallSitesBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const database = await createBenchDatabase('small');
  const { url } = database;
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-small-'));
  const s3 = await startTestS3();
  const safekeep = await openSafekeep(
    loadConfig({ DATABASE_URL: url, SAFEKEEP_DATA_DIR: dataDir, SAFEKEEP_LOG_LEVEL: 'silent' }),
  );
  try {
    log(`creating ${options.sites} small sites of ${options.items} items…`);
    const sites = await createSmallSites(safekeep, options.sites, options.items);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query('VACUUM ANALYZE');
    const run = async (label: string, env: Record<string, string>, processes: number, build = bin) => {
      // Each round backs up every site once, from the same state (the earlier rounds' backups removed).
      await db.query('DELETE FROM backup_collections');
      await db.query('DELETE FROM backups');
      const { perSecond, cpuMs } = await throughput(
        build,
        safekeep,
        db,
        { DATABASE_URL: url, ...env, ...options.workerEnv },
        sites,
        processes,
      );
      const cpu = cpuMs === undefined ? '' : `, ${cpuMs.toFixed(1)} ms of worker CPU a backup`;
      log(`  ${label}: ${perSecond.toFixed(1)} backups/s${cpu}`);
      return perSecond;
    };
    const folder = { SAFEKEEP_DATA_DIR: dataDir };
    const onS3 = { SAFEKEEP_DATA_DIR: dataDir, ...s3.env };
    let before: number | undefined;
    if (baselineBin) {
      // The baseline build refuses a database that ran migrations it does not know: take the schema back
      // (the next current worker runs them again). Keep this in step with migrations newer than the baseline.
      await db.query('DROP INDEX IF EXISTS backups_claim_order');
      await db.query(`DELETE FROM kysely_migration WHERE name >= '0008-backup-queue'`);
      before = await run('1 worker process, S3, baseline build', onS3, 1, baselineBin);
    }
    const s3One = await run('1 worker process, S3 (s3rver)', onS3, 1);
    const folderOne = await run('1 worker process, folder store', folder, 1);
    const s3Two = await run('2 worker processes, S3 (s3rver)', onS3, 2);
    await db.end();
    results.push({
      name: `small-site backups/s, 1 worker process, PostgreSQL + S3 (${options.sites} sites)`,
      value: s3One,
      unit: '/s',
      goal: '≥ 100',
      pass: s3One >= 100,
      note: `S3 is ${process.env.SAFEKEEP_TEST_S3_ENDPOINT ? 'SAFEKEEP_TEST_S3_ENDPOINT' : 's3rver in the bench process'}; 2 cores shared with PostgreSQL`,
    });
    if (before) {
      results.push({
        name: `small-site backups/s on S3, this build ÷ the baseline build (${options.sites} sites)`,
        value: s3One / before,
        unit: 'x',
        note: `${s3One.toFixed(1)} vs ${before.toFixed(1)} backups/s (${process.env.SAFEKEEP_BENCH_BASELINE_DIR})`,
      });
    }
    results.push({
      name: `small-site backups/s, 1 worker process, PostgreSQL + folder store (${options.sites} sites)`,
      value: folderOne,
      unit: '/s',
    });
    results.push({
      name: `small-site backups/s on S3, 2 worker processes ÷ 1 (${options.sites} sites)`,
      value: s3Two / s3One,
      unit: 'x',
      note: `${s3Two.toFixed(0)} vs ${s3One.toFixed(0)} backups/s; the machine has 2 cores, PostgreSQL and S3 share them`,
    });
  } finally {
    await safekeep.close();
    await s3.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
