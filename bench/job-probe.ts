/**
 * Runs the pending jobs of a data directory in a fresh process and reports its peak RSS: the memory a
 * server needs for a backup or a restore, without what the benchmark itself used to build the data.
 * Usage: node dist/bench/job-probe.js <dataDir>  → prints { ms, peakRss, startRss } as JSON.
 */
import { openSafekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: job-probe <dataDir>');
const safekeep = await openSafekeep(loadConfig({ SAFEKEEP_DATA_DIR: dataDir, SAFEKEEP_LOG_LEVEL: 'silent' }));
const { worker } = safekeep.background();
const startRss = process.memoryUsage.rss();
let peakRss = startRss;
const timer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);
const started = performance.now();
while (await worker.runOne(new AbortController().signal));
const ms = performance.now() - started;
clearInterval(timer);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
await safekeep.close();
process.stdout.write(JSON.stringify({ ms, peakRss, startRss }));
