/**
 * Backup and restore benchmarks (issue 3), each figure a ratio against a baseline run in the same process:
 * SQLite's VACUUM INTO and ATTACH + INSERT … SELECT of the same rows, and idle latencies.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import type { SqliteStorage } from '../src/adapters/storage/sqlite/sqlite-storage.js';
import { openSafekeep, type Safekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { siteScopes } from '../src/contracts/scopes.js';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import type { FailpointName } from '../src/engine/failpoints.js';
import { itemRelation } from '../src/adapters/storage/sql/item-relation.js';
import { newItemId } from '../src/services/ids.js';
import { percentile, sampleItem, timed, type BenchResult } from './bench-kit.js';

export interface BackupBenchOptions {
  readonly items: number;
  readonly collections: number;
  /** Smaller run whose peak RSS the big one is compared with. */
  readonly smallItems: number;
  readonly weeks: number;
}

const DAY = 24 * 60 * 60 * 1000;

interface Harness {
  safekeep: Safekeep;
  dataDir: string;
  siteId: string;
  key: string;
  clock: { now: number };
  switchedAt: number[];
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

async function open(): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-backup-'));
  const clock = { now: Date.now() };
  const switchedAt: number[] = [];
  const safekeep = await openSafekeep(
    // Throughput of one key, measured without the per-key rate limit.
    loadConfig({
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'silent',
      SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
    }),
    {
      clock: () => clock.now,
      failpoint: (name: FailpointName) => {
        if (name === 'restore:switched') switchedAt.push(performance.now());
        return Promise.resolve();
      },
    },
  );
  const app = safekeep.createHttpApp(false);
  await app.ready();
  const site = await safekeep.services.admin.createSite('bench');
  const { secret } = await safekeep.services.admin.createApiKey({
    name: 'bench',
    siteIds: [site.id],
    scopes: [...siteScopes],
  });
  return {
    safekeep,
    dataDir,
    siteId: site.id,
    key: secret,
    clock,
    switchedAt,
    async call(method, path, body) {
      const res = await app.inject({
        method: method as 'GET',
        url: path,
        headers: { authorization: secret, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
    },
    async close() {
      await app.close();
      await safekeep.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function fill(h: Harness, items: number, collections: number): Promise<Map<string, string[]>> {
  const ids = new Map<string, string[]>();
  const at = Date.UTC(2024, 0, 1);
  for (let c = 0; c < collections; c++) {
    const collectionId = `Collection${c}`;
    await h.call('POST', '/wix-data/v2/collections', { collection: { id: collectionId } });
    const list: string[] = [];
    const count = Math.floor(items / collections);
    for (let start = 0; start < count; start += 5000) {
      const batch: StoredItem[] = [];
      for (let i = start; i < Math.min(count, start + 5000); i++) {
        const id = newItemId(at + i);
        list.push(id);
        batch.push(
          composeItem({
            id,
            owner: 'bench',
            createdAt: at + i * 1000,
            updatedAt: at + i * 1000,
            fields: sampleItem(i),
          }),
        );
      }
      await h.safekeep.storage.items.write({ siteId: h.siteId, collectionId, environment: 'LIVE' }, (tx) =>
        tx.insert(batch),
      );
    }
    ids.set(collectionId, list);
  }
  await h.call('POST', '/wix-data/v2/collections', { collection: { id: 'Writes' } });
  return ids;
}

/** Runs bench/load-client.js as a child process against `url` and returns its latencies. */
async function loadFromAnotherProcess(
  url: string,
  keys: string[],
  rounds: number,
  thinkMs: number,
): Promise<{ createLat: number[]; listLat: number[] }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./load-client.js', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.end(JSON.stringify({ url, keys, rounds, thinkMs }));
  const out = await text(child.stdout);
  const { create, list } = JSON.parse(out) as { create: number[]; list: number[] };
  return { createLat: create, listLat: list };
}

async function runAll(h: Harness): Promise<void> {
  const { worker } = h.safekeep.background();
  while (await worker.runOne(new AbortController().signal));
}

/** Live single-item writes every few milliseconds while `work` runs: latencies and event-loop delay. */
async function underLoad<T>(
  h: Harness,
  work: () => Promise<T>,
): Promise<{ result: T; writes: { start: number; ms: number }[]; loopP99: number }> {
  const writes: { start: number; ms: number }[] = [];
  let stop = false;
  let n = 0;
  const writer = (async () => {
    while (!stop) {
      const start = performance.now();
      await h.call('POST', '/wix-data/v2/items', {
        dataCollectionId: 'Writes',
        dataItem: { data: { n: n++ } },
      });
      writes.push({ start, ms: performance.now() - start });
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  try {
    const result = await work();
    return { result, writes, loopP99: loop.percentile(99) / 1e6 };
  } finally {
    loop.disable();
    stop = true;
    await writer;
  }
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    total += name.isDirectory() ? bytesUnder(path) : statSync(path).size;
  }
  return total;
}

async function backupOnce(h: Harness): Promise<{ ms: number; id: string; size: number }> {
  h.clock.now += 1000;
  const created = await h.call('POST', '/wix-data/v2/backups', {});
  if (created.status !== 200) throw new Error(`create: ${JSON.stringify(created.body)}`);
  const { ms } = await timed(() => runAll(h));
  const backup = (await h.call('GET', `/wix-data/v2/backups/${created.body.backup.id}`)).body.backup;
  if (backup.status !== 'READY') throw new Error(`backup ${backup.status}: ${JSON.stringify(backup.error)}`);
  return { ms, id: backup.id, size: Number(backup.sizeInBytes) };
}

async function changeShare(
  h: Harness,
  ids: Map<string, string[]>,
  share: number,
  round: number,
): Promise<void> {
  for (const [collectionId, list] of ids) {
    const count = Math.floor(list.length * share);
    const step = Math.max(1, Math.floor(list.length / count));
    const batch: StoredItem[] = [];
    for (let i = round % step; i < list.length && batch.length < count; i += step) {
      batch.push(
        composeItem({
          id: list[i] ?? '',
          owner: 'bench',
          createdAt: 0,
          updatedAt: h.clock.now,
          fields: { ...sampleItem(i), round },
        }),
      );
    }
    for (let i = 0; i < batch.length; i += 5000) {
      await h.safekeep.storage.items.write({ siteId: h.siteId, collectionId, environment: 'LIVE' }, (tx) =>
        tx.update(batch.slice(i, i + 5000)),
      );
    }
  }
}

async function sqliteBaselines(h: Harness): Promise<{ vacuumMs: number; copyMs: number }> {
  const raw = (h.safekeep.storage as SqliteStorage).raw;
  raw.pragma('wal_checkpoint(TRUNCATE)');
  const vacuumFile = join(h.dataDir, 'vacuum-copy.db');
  const vacuum = await timed(() => Promise.resolve(raw.exec(`VACUUM INTO '${vacuumFile}'`)));
  rmSync(vacuumFile, { force: true });
  const copyFile = join(h.dataDir, 'attach-copy.db');
  const gens = raw
    .prepare(`SELECT live_gen AS gen FROM collections WHERE site_id = ? AND id LIKE 'Collection%'`)
    .all(h.siteId) as { gen: number }[];
  const copy = await timed(() => {
    raw.exec(`ATTACH '${copyFile}' AS copy`);
    raw.exec('PRAGMA copy.page_size = 16384');
    raw.exec('PRAGMA copy.journal_mode = WAL');
    for (const { gen } of gens) {
      const t = `copy_${gen}`;
      raw.exec(
        `CREATE TABLE copy.${t} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0)`,
      );
      raw.exec(`CREATE UNIQUE INDEX copy.${t}_id ON ${t} (id)`);
      raw.exec(`CREATE INDEX copy.${t}_c ON ${t} (created_at)`);
      raw.exec(`CREATE INDEX copy.${t}_u ON ${t} (updated_at)`);
      raw.exec(`CREATE INDEX copy.${t}_s ON ${t} (seq)`);
    }
    raw.exec('BEGIN');
    for (const { gen } of gens) {
      const { table, scopeSql } = itemRelation(gen);
      raw.exec(
        `INSERT INTO copy.copy_${gen} SELECT rid, id, created_at, updated_at, data, seq FROM main.${table}
         WHERE ${scopeSql} ORDER BY id`,
      );
    }
    raw.exec('COMMIT');
    raw.exec('DETACH copy');
    return Promise.resolve();
  });
  rmSync(copyFile, { force: true });
  rmSync(`${copyFile}-wal`, { force: true });
  rmSync(`${copyFile}-shm`, { force: true });
  return { vacuumMs: vacuum.ms, copyMs: copy.ms };
}

/** Runs the pending jobs of the harness's data directory in a fresh process (bench/job-probe.js). */
async function probe(h: Harness): Promise<{ ms: number; peakRss: number; startRss: number }> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./job-probe.js', import.meta.url)), h.dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(await text(child.stdout)) as { ms: number; peakRss: number; startRss: number };
}

/** Peak RSS of a process running a full backup, then a full restore, of `items` items. */
async function rssAt(items: number, collections: number): Promise<{ backup: number; restore: number }> {
  const h = await open();
  try {
    await fill(h, items, collections);
    const created = await h.call('POST', '/wix-data/v2/backups', {});
    const backup = await probe(h);
    for (let c = 0; c < collections; c++)
      await h.call('POST', '/wix-data/v2/items/truncate', { dataCollectionId: `Collection${c}` });
    await h.call('POST', `/wix-data/v2/backups/${created.body.backup.id}/restore`, {});
    const restore = await probe(h);
    return { backup: backup.peakRss, restore: restore.peakRss };
  } finally {
    await h.close();
  }
}

export async function runBackupBench(
  options: BackupBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

  log(`  peak RSS of a backup and a restore process at ${options.smallItems} and ${options.items} items`);
  const small = await rssAt(options.smallItems, options.collections);
  const big = await rssAt(options.items, options.collections);
  results.push({
    name: `backup process peak RSS, ${options.items} items`,
    value: mb(big.backup),
    unit: 'MiB',
    goal: '≤ 256',
    pass: big.backup <= 256 * 1024 * 1024,
  });
  results.push({
    name: `backup peak RSS ${options.items} / ${options.smallItems} items`,
    value: big.backup / small.backup,
    unit: '×',
    goal: '≤ 1.1',
    pass: big.backup / small.backup <= 1.1,
  });
  results.push({
    name: `restore process peak RSS, ${options.items} items`,
    value: mb(big.restore),
    unit: 'MiB',
    goal: '≤ 256',
    pass: big.restore <= 256 * 1024 * 1024,
  });
  results.push({
    name: `restore peak RSS ${options.items} / ${options.smallItems} items`,
    value: big.restore / small.restore,
    unit: '×',
    goal: '≤ 1.1',
    pass: big.restore / small.restore <= 1.1,
  });

  const h = await open();
  try {
    log(`  filling ${options.items} items in ${options.collections} collections`);
    const ids = await fill(h, options.items, options.collections);
    const base = await sqliteBaselines(h);
    log(
      `  VACUUM INTO ${(base.vacuumMs / 1000).toFixed(2)} s, ATTACH + INSERT … SELECT ${(base.copyMs / 1000).toFixed(2)} s`,
    );

    const idleWrites = await underLoad(h, () => new Promise((r) => setTimeout(r, 3000)));
    const idleP99 = percentile(
      idleWrites.writes.map((w) => w.ms).sort((a, b) => a - b),
      99,
    );

    const first = await underLoad(h, () => backupOnce(h));
    const full = first.result;
    const backupWrites = first.writes.map((w) => w.ms).sort((a, b) => a - b);
    log(`  full backup ${(full.ms / 1000).toFixed(2)} s, ${mb(full.size)} MiB stored`);
    results.push({
      name: 'full backup / VACUUM INTO',
      value: full.ms / base.vacuumMs,
      unit: '×',
      goal: '≤ 1.0',
      pass: full.ms / base.vacuumMs <= 1,
      note: `${(full.ms / 1000).toFixed(2)} s vs ${(base.vacuumMs / 1000).toFixed(2)} s`,
    });
    results.push({
      name: 'live write p99 during backup / idle',
      value: percentile(backupWrites, 99) / idleP99,
      unit: '×',
      goal: '≤ 2',
      pass: percentile(backupWrites, 99) / idleP99 <= 2,
      note: `${percentile(backupWrites, 99).toFixed(1)} ms vs ${idleP99.toFixed(1)} ms idle`,
    });
    results.push({
      name: 'event-loop delay p99 during backup',
      value: first.loopP99,
      unit: 'ms',
      goal: '< 20',
      pass: first.loopP99 < 20,
    });

    const unchanged = await backupOnce(h);
    results.push({
      name: 'second backup, nothing changed / first',
      value: unchanged.ms / full.ms,
      unit: '×',
      goal: '≤ 0.05',
      pass: unchanged.ms / full.ms <= 0.05,
      note: `${unchanged.ms.toFixed(0)} ms`,
    });

    await changeShare(h, ids, 0.01, 1);
    const onePercent = await backupOnce(h);
    results.push({
      name: 'backup with 1% changed / first',
      value: onePercent.ms / full.ms,
      unit: '×',
      goal: '≤ 0.2',
      pass: onePercent.ms / full.ms <= 0.2,
      note: `${onePercent.ms.toFixed(0)} ms`,
    });

    // Ten weekly scheduled backups of a site changing 1% a week, all kept: stored bytes ÷ one full backup.
    await h.call('PATCH', `/_api/safekeep/v1/sites/${h.siteId}/settings`, { autoBackupRetention: 100 });
    for (const backupId of [unchanged.id, onePercent.id])
      await h.call('DELETE', `/wix-data/v2/backups/${backupId}`);
    const { scheduler, gc } = h.safekeep.background();
    for (let week = 0; week < options.weeks; week++) {
      await changeShare(h, ids, 0.01, week + 2);
      h.clock.now += 7 * DAY;
      await scheduler.tick();
      await runAll(h);
    }
    await gc.collectAll();
    const stored = bytesUnder(join(h.dataDir, 'blobs', 'sites', h.siteId));
    results.push({
      name: `stored bytes after ${options.weeks} weekly 1% backups / one full`,
      value: stored / full.size,
      unit: '×',
      goal: '≤ 1.3',
      pass: stored / full.size <= 1.3,
      note: `${mb(stored)} MiB vs ${mb(full.size)} MiB`,
    });

    // Full restore of the first backup, with a live writer on another collection.
    for (let c = 0; c < options.collections; c++)
      await h.call('POST', '/wix-data/v2/items/truncate', { dataCollectionId: `Collection${c}` });
    const restore = await underLoad(h, async () => {
      const started = await h.call('POST', `/wix-data/v2/backups/${full.id}/partial-restore`, {
        restorationCollections: Array.from({ length: options.collections }, (_, c) => ({
          dataCollectionId: `Collection${c}`,
        })),
      });
      if (started.status !== 200) throw new Error(JSON.stringify(started.body));
      return timed(() => runAll(h));
    });
    const restoreMs = restore.result.ms;
    const restoreWrites = restore.writes.map((w) => w.ms).sort((a, b) => a - b);
    const switchAt = h.switchedAt[h.switchedAt.length - 1] ?? 0;
    const aroundSwitch = restore.writes.filter((w) => w.start <= switchAt && w.start + w.ms >= switchAt - 50);
    const switchWait = Math.max(0, ...aroundSwitch.map((w) => w.ms));
    log(`  full restore ${(restoreMs / 1000).toFixed(2)} s`);
    results.push({
      name: 'full restore / VACUUM INTO',
      value: restoreMs / base.vacuumMs,
      unit: '×',
      goal: '≤ 2.0',
      pass: restoreMs / base.vacuumMs <= 2,
      note: `${(restoreMs / 1000).toFixed(2)} s`,
    });
    results.push({
      name: 'full restore / ATTACH + INSERT … SELECT',
      value: restoreMs / base.copyMs,
      unit: '×',
      goal: '≤ 1.0 (floor)',
      pass: restoreMs / base.copyMs <= 1,
      note: `${(base.copyMs / 1000).toFixed(2)} s`,
    });
    results.push({
      name: 'live write p99 during restore / idle',
      value: percentile(restoreWrites, 99) / idleP99,
      unit: '×',
      goal: '≤ 2',
      pass: percentile(restoreWrites, 99) / idleP99 <= 2,
      note: `${percentile(restoreWrites, 99).toFixed(1)} ms; max ${restoreWrites[restoreWrites.length - 1]?.toFixed(0)} ms`,
    });
    results.push({
      name: 'event-loop delay p99 during restore',
      value: restore.loopP99,
      unit: 'ms',
      goal: '< 20',
      pass: restore.loopP99 < 20,
    });
    results.push({
      name: 'longest live write wait at the switch',
      value: switchWait,
      unit: 'ms',
      goal: '≤ 100',
      pass: switchWait <= 100,
    });

    // Create Backup and List Backups under 50 concurrent clients (each on its own site; no worker running).
    const clients = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const site = await h.safekeep.services.admin.createSite(`client-${i}`);
        const { secret } = await h.safekeep.services.admin.createApiKey({
          name: 'c',
          siteIds: [site.id],
          scopes: [...siteScopes],
        });
        return secret;
      }),
    );
    const app = h.safekeep.createHttpApp(false);
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    for (const [label, thinkMs] of [
      ['back to back', 0],
      ['each pausing ~100 ms', 100],
    ] as const) {
      const { createLat, listLat } = await loadFromAnotherProcess(address, clients, 20, thinkMs);
      createLat.sort((a, b) => a - b);
      listLat.sort((a, b) => a - b);
      const create = percentile(createLat, 99);
      const list = percentile(listLat, 99);
      results.push({
        name: `Create Backup p99, 50 clients ${label}`,
        value: create,
        unit: 'ms',
        goal: '< 20',
        pass: create < 20,
      });
      results.push({
        name: `List Backups p99, 50 clients ${label}`,
        value: list,
        unit: 'ms',
        goal: '< 20',
        pass: list < 20,
      });
    }
    await app.close();
    return results;
  } finally {
    await h.close();
  }
}
