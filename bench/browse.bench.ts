/**
 * Browsing and comparing backups (issue 16), embedded stack, blob store on the local folder, over one
 * collection of N items: the first page of a browse (50 items, the default order) warm (p50/p99 of
 * repeated requests) ÷ the same query on live data, and cold (the first request after the backup); a diff
 * against live data with 1% of the items changed in the same generation ÷ the full backup's time; the peak
 * RSS of the process during that diff, and during a full comparison (after the collection was replaced).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import { newItemId } from '../src/services/ids.js';
import { type BenchResult, benchSite, latencies, openBenchSafekeep, percentile, timed } from './bench-kit.js';

export interface BrowseBenchOptions {
  readonly items: number;
  /** Warm requests of each side. */
  readonly requests: number;
}

const MiB = 1024 * 1024;

interface ProbeResult {
  readonly ms: number;
  readonly peakRss: number;
  readonly startRss: number;
  readonly diff: { method: string; itemsAdded: number; itemsRemoved: number; itemsChanged: number };
}

export async function runBrowseBench(
  options: BrowseBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const { safekeep, app, dataDir, close } = await openBenchSafekeep('browse');
  await app.ready();
  try {
    const { siteId, secret } = await benchSite(safekeep, 'bench');
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
    const target = { siteId: siteId, collectionId: 'Big', environment: 'LIVE' as const };
    const at = Date.UTC(2024, 0, 1);
    // Only the ids to change later are kept: the bench's own memory counts in the RSS it reports.
    const changed = Math.max(1, Math.floor(options.items / 100));
    const step = Math.floor(options.items / changed);
    const ids: string[] = [];
    const block: string[] = [];
    const blockStart = Math.floor(options.items / 2);
    const { ms: fillMs } = await timed(async () => {
      for (let start = 0; start < options.items; start += 5000) {
        const batch: StoredItem[] = [];
        for (let i = start; i < Math.min(options.items, start + 5000); i++) {
          const id = newItemId(at + i);
          if (i % step === 0 && ids.length < changed) ids.push(id);
          else if (i >= blockStart && block.length < changed) block.push(id);
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

    // Each diff runs in a fresh process (bench/diff-probe.js), so that its peak RSS is the diff's own.
    const probe = async (id: string) => {
      const child = spawn(
        process.execPath,
        [fileURLToPath(new URL('./diff-probe.js', import.meta.url)), dataDir, siteId, id, 'Big'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      for await (const chunk of child.stdout) out += String(chunk);
      return JSON.parse(out) as ProbeResult;
    };
    const describe = (what: string, r: ProbeResult) =>
      log(
        `  diff, ${what}: ${r.ms.toFixed(0)} ms, ${r.diff.method}, +${r.diff.itemsAdded} -${r.diff.itemsRemoved} ~${r.diff.itemsChanged}; RSS ${(r.startRss / MiB).toFixed(0)} → peak ${(r.peakRss / MiB).toFixed(0)} MiB`,
      );
    const change = async (chosen: readonly string[]) => {
      const updates: StoredItem[] = [];
      const deletes: string[] = [];
      chosen.forEach((id, k) => {
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
      });
      for (let i = 0; i < updates.length; i += 5000)
        await safekeep.storage.items.write(target, (tx) => tx.update(updates.slice(i, i + 5000)));
      for (let i = 0; i < deletes.length; i += 5000)
        await safekeep.storage.items.write(target, (tx) => tx.remove(deletes.slice(i, i + 5000)));
    };
    // 1% of the items changed in one id range (recent items, say): few chunks hold them.
    await change(block);
    const clustered = await probe(backupId);
    describe('1% changed in one range', clustered);
    // 1% changed across the whole id range (updates and deletes), after a new (incremental) backup: every
    // chunk of ~1,000 items holds some of them.
    const { backup: second } = await call('POST', '/wix-data/v2/backups', {});
    await runJobs();
    await change(ids);
    const spread = await probe(second.id as string);
    describe('1% changed across all ids', spread);
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
    const full = await probe(second.id as string);
    describe('after a truncate', full);
    const note = `${options.items} items`;
    const ratio = (r: ProbeResult) => r.ms / backupMs;
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
        name: 'diff vs live, 1% changed in one range ÷ full backup',
        value: ratio(clustered),
        unit: '×',
        goal: '≤ 0.2',
        pass: ratio(clustered) <= 0.2,
        note: `${note}; ${clustered.diff.method}`,
      },
      {
        name: 'diff vs live, 1% changed across all ids ÷ full backup',
        value: ratio(spread),
        unit: '×',
        goal: '≤ 0.2',
        pass: ratio(spread) <= 0.2,
        note: `${note}; ${spread.diff.method}`,
      },
      {
        name: 'full diff (after truncate) ÷ full backup',
        value: ratio(full),
        unit: '×',
        note: `${note}; ${full.diff.method}`,
      },
      ...[clustered, spread, full].map((r, i) => ({
        name: `peak RSS of a diff process (${['one range', 'across all ids', 'full'][i]})`,
        value: r.peakRss / MiB,
        unit: 'MiB',
        goal: '≤ 256',
        pass: r.peakRss / MiB <= 256,
        note: `${note}; ${(r.startRss / MiB).toFixed(0)} MiB at start`,
      })),
    ];
  } finally {
    await close();
  }
}
