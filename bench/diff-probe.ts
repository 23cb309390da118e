/**
 * Compares a backup with live data in a fresh process and reports its time and peak RSS: the memory a
 * server needs for a diff, without what the benchmark itself used to build the data.
 * Usage: node dist/bench/diff-probe.js <dataDir> <siteId> <backupId> <collectionId>
 *   → prints { ms, peakRss, startRss, diff } as JSON.
 */
import { openSafekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { defaultChunkPolicy } from '../src/domain/chunking.js';
import type { SiteContext } from '../src/services/auth-service.js';

const [dataDir, siteId, backupId, collectionId] = process.argv.slice(2);
if (!dataDir || !siteId || !backupId || !collectionId)
  throw new Error('usage: diff-probe <dataDir> <siteId> <backupId> <collectionId>');
const safekeep = await openSafekeep(loadConfig({ SAFEKEEP_DATA_DIR: dataDir, SAFEKEEP_LOG_LEVEL: 'silent' }));
// The diff reads only the site from its context; the key was checked by the HTTP layer, absent here.
const ctx = {
  siteId,
  principal: { keyId: 'bench', scopes: ['admin'], siteIds: [] },
} as unknown as SiteContext;
// The threads a server has running already (codec workers, snapshot reader) are started before timing.
await safekeep.background().engine.codec.compress(new Uint8Array(16), 1);
await (await safekeep.storage.snapshots.openLive(siteId, [], defaultChunkPolicy, Date.now())).close();
const startRss = process.memoryUsage.rss();
let peakRss = startRss;
const timer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 5);
const started = performance.now();
const diff = await safekeep.services.browse.diff(ctx, backupId, { dataCollectionId: collectionId });
const ms = performance.now() - started;
clearInterval(timer);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
await safekeep.close();
process.stdout.write(JSON.stringify({ ms, peakRss, startRss, diff: diff.collections[0] }));
