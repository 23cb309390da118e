/**
 * `npm run bench [-- --quick] [-- --only data|item-events|quota|metrics|aggregate|archive|verify|search|browse|item-restore [--items N]] [-- --engine postgres [--only small-sites|item-events|aggregate|search] [--sites N]]`: runs the benchmarks and prints each figure with its goal.
 * Figures are ratios against baselines measured in the same run wherever the goal is a ratio, because
 * these machines are noisy. Results are also written to bench-results/.
 */
import { parseArgs } from 'node:util';
import { report, saveResults, type BenchResult } from './bench-kit.js';
import { runAggregateBench } from './aggregate.bench.js';
import { runArchiveBench } from './archive.bench.js';
import { runBackupBench } from './backup.bench.js';
import { runBrowseBench } from './browse.bench.js';
import { runDataApiBench, runItemEventBench } from './data-api.bench.js';
import { runItemRestoreBench } from './item-restore.bench.js';
import { runLayoutBench } from './layout.bench.js';
import { runMetricsBench } from './metrics.bench.js';
import { runPostgresBench } from './postgres.bench.js';
import { runQuotaBench } from './quota.bench.js';
import { runSearchBench } from './search.bench.js';
import { runSmallSitesBench } from './small-sites.bench.js';
import { runVerifyBench } from './verify.bench.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    engine: { type: 'string', default: 'sqlite' },
    /** Sites of the small-sites suite (default 2,000; 500 with --quick). */
    sites: { type: 'string' },
    /** Items of the aggregate, search and item-restore suites (default 1,000,000; 100,000 with --quick). */
    items: { type: 'string' },
  },
});

const log = (line: string) => console.log(line);
const aggregateSize = () => ({
  items: values.items ? Number(values.items) : values.quick ? 100_000 : 1_000_000,
  runs: values.quick ? 5 : 9,
});
const searchSize = () => ({
  ...aggregateSize(),
  insertItems: Math.min(aggregateSize().items, values.quick ? 20_000 : 100_000),
});
const suites: Record<string, () => Promise<BenchResult[]>> = {
  data: () =>
    runDataApiBench(
      values.quick
        ? { insertItems: 10_000, bigItems: 100_000, smallItems: 10_000, queries: 300 }
        : { insertItems: 200_000, bigItems: 1_000_000, smallItems: 10_000, queries: 2000 },
      log,
    ),
  backup: () =>
    runBackupBench(
      values.quick
        ? { items: 100_000, collections: 4, smallItems: 10_000, weeks: 10 }
        : { items: 1_000_000, collections: 4, smallItems: 100_000, weeks: 10 },
      log,
    ),
  archive: () =>
    runArchiveBench(
      {
        items: values.items ? Number(values.items) : values.quick ? 100_000 : 1_000_000,
        collections: 4,
      },
      log,
    ),
  'item-events': () => runItemEventBench('sqlite', values.quick ? 10_000 : 40_000, log),
  layout: () =>
    runLayoutBench(
      values.quick
        ? { engine: 'sqlite', few: 10, many: 2_000, samples: 100 }
        : { engine: 'sqlite', few: 10, many: 10_000, samples: 200 },
      log,
    ),
  quota: () => runQuotaBench({ engine: 'sqlite', batches: values.quick ? 20 : 100 }, log),
  metrics: () =>
    runMetricsBench(values.quick ? { requests: 2000, rounds: 7 } : { requests: 5000, rounds: 15 }, log),
  aggregate: () => runAggregateBench({ engine: 'sqlite', ...aggregateSize() }, log),
  // Verification ÷ backup of the same items (1,000,000 in the full run; --items N for another size).
  verify: () =>
    runVerifyBench(
      { items: values.items ? Number(values.items) : values.quick ? 100_000 : 1_000_000, collections: 4 },
      log,
    ),
  search: () => runSearchBench({ engine: 'sqlite', ...searchSize() }, log),
  browse: () =>
    runBrowseBench(
      {
        items: values.items ? Number(values.items) : values.quick ? 100_000 : 1_000_000,
        requests: values.quick ? 50 : 200,
      },
      log,
    ),
  'item-restore': () =>
    runItemRestoreBench(
      {
        items: values.items ? Number(values.items) : values.quick ? 100_000 : 1_000_000,
        chosen: 100,
        runs: 3,
      },
      log,
    ),
};

// On PostgreSQL the backup suite is the scale-out one: against pg_dump/pg_restore, and worker processes.
const postgresSuites: Record<string, () => Promise<BenchResult[]>> = {
  backup: () =>
    runPostgresBench(
      values.quick ? { items: 100_000, collections: 4 } : { items: 1_000_000, collections: 4 },
      log,
    ),
  'item-events': () => runItemEventBench('postgres', values.quick ? 10_000 : 40_000, log),
  'small-sites': () =>
    runSmallSitesBench(
      { sites: values.sites ? Number(values.sites) : values.quick ? 500 : 2000, items: 5 },
      log,
    ),
  layout: () =>
    runLayoutBench(
      values.quick
        ? { engine: 'postgres', few: 100, many: 10_000, samples: 100 }
        : { engine: 'postgres', few: 100, many: 100_000, samples: 200 },
      log,
    ),
  quota: () => runQuotaBench({ engine: 'postgres', batches: values.quick ? 20 : 100 }, log),
  aggregate: () => runAggregateBench({ engine: 'postgres', ...aggregateSize() }, log),
  search: () => runSearchBench({ engine: 'postgres', ...searchSize() }, log),
};
if (values.engine !== 'sqlite' && values.engine !== 'postgres') {
  console.error(`--engine ${values.engine}: use sqlite or postgres`);
  process.exit(2);
}
for (const [name, run] of Object.entries(values.engine === 'postgres' ? postgresSuites : suites)) {
  if (values.only && values.only !== name) continue;
  console.log(`\n== ${name} (${values.quick ? 'quick' : 'full'}, engine ${values.engine}) ==`);
  const results = await run();
  report(results);
  const file = saveResults(name, results, {
    quick: values.quick,
    engine: values.engine,
    node: process.version,
  });
  console.log(`(saved to ${file})`);
}
