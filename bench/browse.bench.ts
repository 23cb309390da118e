/**
 * Browsing and comparing backups (issue 16), embedded stack, blob store on the local folder, over one
 * collection of N items: the first page of a browse (50 items, the default order) warm (p50/p99 of
 * repeated requests) ÷ the same query on live data, and cold (the first request after the backup); a diff
 * against live data with 1% of the items changed in the same generation ÷ the full backup's time; the peak
 * RSS of the process during that diff, and during a full comparison (after the collection was replaced).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { siteScopes } from '../src/contracts/scopes.js';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import { newItemId } from '../src/services/ids.js';
import { latencies, percentile, timed, type BenchResult } from './bench-kit.js';

export interface BrowseBenchOptions {
  readonly items: number;
  /** Warm requests of each side. */
  readonly requests: number;
}

const MiB = 1024 * 1024;

/** The largest RSS seen every 5 ms while `work` runs. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

export async function runBrowseBench(
  options: BrowseBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-browse-'));
  const safekeep = await openSafekeep(
    loadConfig({
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'silent',
      SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
    }),
  );
  const app = safekeep.createHttpApp(false);
  await app.ready();
  try {
    const site = await safekeep.services.admin.createSite('bench');
    const { secret } = await safekeep.services.admin.createApiKey({
      name: 'bench',
      siteIds: [site.id],
      scopes: [...siteScopes],
    });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await app.inject({
        method: method as 'POST',
        url: path,
        headers: { authorization: secret, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      if (res.statusCode !== 200) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
      return JSON.parse(res.body) as Record<string, any>;
    };
    await call('POST', '/wix-data/v2/collections', { collection: { id: 'Big' } });
    const target = { siteId: site.id, collectionId: 'Big', environment: 'LIVE' as const };
    const at = Date.UTC(2024, 0, 1);
    // Only the ids to change later are kept: the bench's own memory counts in the RSS it reports.
    const changed = Math.max(1, Math.floor(options.items / 100));
    const step = Math.floor(options.items / changed);
    const ids: string[] = [];
    const { ms: fillMs } = await timed(async () => {
      for (let start = 0; start < options.items; start += 5000) {
        const batch: StoredItem[] = [];
        for (let i = start; i < Math.min(options.items, start + 5000); i++) {
          const id = newItemId(at + i);
          if (i % step === 0 && ids.length < changed) ids.push(id);
          batch.push(
            composeItem({
              id,
              owner: 'bench',
              createdAt: at + i,
              updatedAt: at + i,
              fields: { title: `item ${i}`, n: i % 1000, body: 'x'.repeat(800 + (i % 200)) },
            }),
          );
        }
        await safekeep.storage.items.write(target, (tx) => tx.insert(batch));
      }
    });
    log(`  filled ${options.items} items in ${(fillMs / 1000).toFixed(1)} s`);
    const { worker } = safekeep.background();
    const runJobs = async () => {
      while (await worker.runOne(new AbortController().signal));
    };
    const { ms: backupMs, result: backupId } = await timed(async () => {
      const { backup } = await call('POST', '/wix-data/v2/backups', {});
      await runJobs();
      return backup.id as string;
    });
    log(`  full backup in ${(backupMs / 1000).toFixed(1)} s`);

    const browse = () =>
      call('POST', `/_api/safekeep/v1/backups/${backupId}/items/query`, {
        dataCollectionId: 'Big',
        query: { paging: { limit: 50 } },
      });
    const liveQuery = () =>
      call('POST', '/wix-data/v2/items/query', { dataCollectionId: 'Big', query: { paging: { limit: 50 } } });
    const { ms: coldMs } = await timed(browse);
    // Alternating sides, so both see the same machine.
    const warm: number[] = [];
    const live: number[] = [];
    for (let r = 0; r < options.requests; r++) {
      warm.push(...(await latencies(1, browse)));
      live.push(...(await latencies(1, liveQuery)));
    }
    warm.sort((a, b) => a - b);
    live.sort((a, b) => a - b);
    const [w50, w99, l50, l99] = [
      percentile(warm, 50),
      percentile(warm, 99),
      percentile(live, 50),
      percentile(live, 99),
    ];
    log(
      `  browse first page: cold ${coldMs.toFixed(1)} ms; warm p50 ${w50.toFixed(2)} / p99 ${w99.toFixed(2)} ms; live p50 ${l50.toFixed(2)} / p99 ${l99.toFixed(2)} ms`,
    );

    // 1% of the items changed in the same generation (updates and deletes), then a diff against live data.
    const updates: StoredItem[] = [];
    const deletes: string[] = [];
    for (let k = 0; k < changed; k++) {
      const id = ids[k] as string;
      if (k % 4 === 3) deletes.push(id);
      else
        updates.push(
          composeItem({
            id,
            owner: 'bench',
            createdAt: at,
            updatedAt: at + 1e9,
            fields: { title: 'changed', n: k },
          }),
        );
    }
    for (let i = 0; i < updates.length; i += 5000)
      await safekeep.storage.items.write(target, (tx) => tx.update(updates.slice(i, i + 5000)));
    for (let i = 0; i < deletes.length; i += 5000)
      await safekeep.storage.items.write(target, (tx) => tx.remove(deletes.slice(i, i + 5000)));
    const rssBefore = process.memoryUsage().rss;
    const { peak, result: timedDiff } = await peakRss(() =>
      timed(() => call('POST', `/_api/safekeep/v1/backups/${backupId}/diff`, { dataCollectionId: 'Big' })),
    );
    const diff = timedDiff.result.diff.collections[0];
    log(
      `  diff (1% changed): ${timedDiff.ms.toFixed(0)} ms, ${diff.method}, +${diff.itemsAdded} -${diff.itemsRemoved} ~${diff.itemsChanged}; RSS ${(rssBefore / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB`,
    );
    // After a truncate and a refill (new ids) the collection is another generation: a full comparison.
    await safekeep.storage.items.write(target, (tx) => tx.truncate());
    for (let start = 0; start < options.items; start += 5000) {
      const batch: StoredItem[] = [];
      for (let i = start; i < Math.min(options.items, start + 5000); i++)
        batch.push(
          composeItem({
            id: newItemId(at + i),
            owner: 'bench',
            createdAt: at + i,
            updatedAt: at + i,
            fields: { title: `item ${i}`, n: i % 1000, body: 'x'.repeat(800 + (i % 200)) },
          }),
        );
      await safekeep.storage.items.write(target, (tx) => tx.insert(batch));
    }
    const full = await peakRss(() =>
      timed(() => call('POST', `/_api/safekeep/v1/backups/${backupId}/diff`, { dataCollectionId: 'Big' })),
    );
    const fullDiff = full.result.result.diff.collections[0];
    log(
      `  diff after a truncate: ${full.result.ms.toFixed(0)} ms, ${fullDiff.method}, +${fullDiff.itemsAdded} -${fullDiff.itemsRemoved} ~${fullDiff.itemsChanged}; peak RSS ${(full.peak / MiB).toFixed(0)} MiB`,
    );
    const note = `${options.items} items`;
    return [
      {
        name: 'browse first page warm p50 ÷ live',
        value: w50 / l50,
        unit: '×',
        goal: '≤ 5',
        pass: w50 / l50 <= 5,
        note,
      },
      {
        name: 'browse first page warm p99 ÷ live',
        value: w99 / l99,
        unit: '×',
        goal: '≤ 5',
        pass: w99 / l99 <= 5,
        note,
      },
      { name: 'browse first page cold', value: coldMs, unit: 'ms', note },
      {
        name: 'diff vs live, 1% changed ÷ full backup',
        value: timedDiff.ms / backupMs,
        unit: '×',
        goal: '≤ 0.2',
        pass: timedDiff.ms / backupMs <= 0.2,
        note: `${note}; ${diff.method}`,
      },
      {
        name: 'peak RSS during the diff',
        value: peak / MiB,
        unit: 'MiB',
        goal: '≤ 256',
        pass: peak / MiB <= 256,
        note,
      },
      {
        name: 'full diff (after truncate) ÷ full backup',
        value: full.result.ms / backupMs,
        unit: '×',
        note: `${note}; ${fullDiff.method}`,
      },
      {
        name: 'peak RSS during the full diff',
        value: full.peak / MiB,
        unit: 'MiB',
        goal: '≤ 256',
        pass: full.peak / MiB <= 256,
        note,
      },
    ];
  } finally {
    await app.close();
    await safekeep.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
