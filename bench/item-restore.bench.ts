/**
 * Item restores (issue 16): restoring 100 chosen items of a large collection ÷ restoring the whole
 * collection, both from the same backup in the same process, each timed from the request to COMPLETED
 * (staging, the switch and the safety backup included). Embedded stack (SQLite + local folder).
 */
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import { newItemId } from '../src/services/ids.js';
import { type BenchResult, benchSite, openBenchSafekeep, sampleItem, timed } from './bench-kit.js';

export interface ItemRestoreBenchOptions {
  readonly items: number;
  /** Items restored by the item restore. */
  readonly chosen: number;
  /** Runs of each kind (alternating); the median is reported. */
  readonly runs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

export async function runItemRestoreBench(
  options: ItemRestoreBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const { safekeep, app, close } = await openBenchSafekeep('item-restore');
  await app.ready();
  try {
    const { siteId, secret } = await benchSite(safekeep, 'bench');
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await app.inject({
        method: method as 'POST',
        url,
        headers: { authorization: secret, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      if (res.statusCode !== 200) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return JSON.parse(res.body);
    };
    const { worker } = safekeep.background();
    const drain = async () => {
      while (await worker.runOne(new AbortController().signal));
    };
    log(`  filling one collection with ${options.items} items of ~1 KB`);
    await call('POST', '/wix-data/v2/collections', { collection: { id: 'Big' } });
    const ids: string[] = [];
    const at = Date.UTC(2024, 0, 1);
    for (let start = 0; start < options.items; start += 5000) {
      const batch: StoredItem[] = [];
      for (let i = start; i < Math.min(options.items, start + 5000); i++) {
        const id = newItemId(at + i);
        ids.push(id);
        batch.push(
          composeItem({ id, owner: 'bench', createdAt: at + i, updatedAt: at + i, fields: sampleItem(i) }),
        );
      }
      await safekeep.storage.items.write({ siteId: siteId, collectionId: 'Big', environment: 'LIVE' }, (tx) =>
        tx.insert(batch),
      );
    }
    const backupId = (await call('POST', '/wix-data/v2/backups', {})).backup.id as string;
    await drain();
    const restore = async (entry: Record<string, unknown>) =>
      timed(async () => {
        const started = await call('POST', `/wix-data/v2/backups/${backupId}/partial-restore`, {
          restorationCollections: [{ dataCollectionId: 'Big', ...entry }],
        });
        await drain();
        const done = await call('GET', `/wix-data/v2/backups/restorations/${started.restoration.id}`);
        if (done.restoration.status !== 'COMPLETED') throw new Error(JSON.stringify(done.restoration.error));
      });
    let seed = 12345;
    const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const wholeMs: number[] = [];
    const scatteredMs: number[] = [];
    const clusteredMs: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      // Scattered: chosen at random over the collection, each likely in a chunk of its own (the worst case:
      // a chunk holds about a thousand ~1 KB items, so 100 ids read up to 100 chunks).
      const scattered = Array.from(
        { length: options.chosen },
        () => ids[Math.floor(random() * ids.length)] as string,
      );
      // Clustered: consecutive ids (items created about the same time, as a day's lost bookings are).
      const from = Math.floor(random() * (ids.length - options.chosen));
      const clustered = ids.slice(from, from + options.chosen);
      scatteredMs.push((await restore({ restoreMode: 'RESTORE_ITEMS', itemIds: scattered })).ms);
      clusteredMs.push((await restore({ restoreMode: 'RESTORE_ITEMS', itemIds: clustered })).ms);
      wholeMs.push((await restore({})).ms);
      log(
        `  run ${run + 1}: ${options.chosen} scattered items ${scatteredMs.at(-1)?.toFixed(0)} ms, ` +
          `clustered ${clusteredMs.at(-1)?.toFixed(0)} ms, whole ${wholeMs.at(-1)?.toFixed(0)} ms`,
      );
    }
    const whole = median(wholeMs);
    const figure = (kind: string, times: number[]): BenchResult => {
      const ratio = median(times) / whole;
      return {
        name: `restore ${options.chosen} ${kind} items ÷ whole collection, ${options.items} items`,
        value: ratio,
        unit: '×',
        goal: '≤ 0.01',
        pass: ratio <= 0.01,
        note: `medians of ${options.runs}: ${median(times).toFixed(0)} ms vs ${whole.toFixed(0)} ms`,
      };
    };
    return [figure('clustered', clusteredMs), figure('scattered', scatteredMs)];
  } finally {
    await close();
  }
}
