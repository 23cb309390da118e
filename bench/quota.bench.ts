/**
 * The cost of the per-site quotas on bulk insert (README, "Quotas"): the same 1,000-item bulk inserts through
 * the item service with its quota checks (the site's limit read before the write, its item count summed in
 * the write's transaction) and without them, interleaved in one process so that the machine's noise falls
 * on both alike. Both keep the per-generation item counters (they are part of every write).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { CursorCodec } from '../src/services/cursor-codec.js';
import { ItemService } from '../src/services/item-service.js';
import { createBenchDatabase } from './bench-database.js';
import { percentile, sampleItem, timed, type BenchResult } from './bench-kit.js';

export interface QuotaBenchOptions {
  readonly engine: 'sqlite' | 'postgres';
  /** Bulk inserts of 1,000 items per arm. */
  readonly batches: number;
}

export async function runQuotaBench(
  options: QuotaBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-'));
  const database = options.engine === 'postgres' ? await createBenchDatabase('quota') : undefined;
  const safekeep = await openSafekeep(
    loadConfig({
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'silent',
      ...(database && { DATABASE_URL: database.url }),
    }),
  );
  try {
    const site = await safekeep.services.admin.createSite('bench');
    const key = await safekeep.services.admin.createApiKey({
      name: 'bench',
      siteIds: [site.id],
      scopes: ['admin'],
    });
    const ctx = {
      siteId: site.id,
      principal: { keyId: key.apiKey.id, siteIds: [site.id], scopes: ['admin' as const] },
    };
    for (const id of ['Checked', 'Unchecked'])
      await safekeep.services.collections.create(ctx, { id, fields: [] });
    const checked = safekeep.services.items;
    const unchecked = new ItemService(
      safekeep.storage,
      safekeep.clock,
      new CursorCodec('bench-secret-bench-secret'),
    );
    const batch = (collection: string, b: number) => ({
      dataCollectionId: collection,
      dataItems: Array.from({ length: 1000 }, (_, i) => ({ data: sampleItem(b * 1000 + i) })),
    });
    const times = { Checked: [] as number[], Unchecked: [] as number[] };
    log(`  ${options.batches} bulk inserts of 1,000 items per arm, interleaved (${options.engine})`);
    for (let b = 0; b < options.batches; b++) {
      const arms = b % 2 === 0 ? (['Checked', 'Unchecked'] as const) : (['Unchecked', 'Checked'] as const);
      for (const arm of arms) {
        const service = arm === 'Checked' ? checked : unchecked;
        const { ms } = await timed(() => service.bulkWrite(ctx, 'insert', batch(arm, b)));
        times[arm].push(ms);
      }
    }
    const median = (values: number[]) =>
      percentile(
        [...values].sort((x, y) => x - y),
        50,
      );
    const ratio = median(times.Checked) / median(times.Unchecked);
    log(
      `  median ${median(times.Checked).toFixed(1)} ms with quota checks, ${median(times.Unchecked).toFixed(1)} ms without`,
    );
    return [
      {
        name: `bulk insert with ÷ without quota checks (${options.engine})`,
        value: Number(ratio.toFixed(3)),
        unit: '×',
        goal: '≤ 1.1',
        pass: ratio <= 1.1,
      },
    ];
  } finally {
    await safekeep.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
