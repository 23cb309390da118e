/**
 * `node dist/bench/many-collections.js [collections...]`: a full restore of a site of many empty collections
 * on SQLite (issue 14): total time and the longest event-loop block (monitorEventLoopDelay max) while it runs,
 * against the loop's delay at rest in the same process. Default sizes: 1,000 and 2,000 collections.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestEnv, type TestEnv, type TestSite } from '../test/helpers/harness.js';

const P = '/wix-data/v2';

async function call(env: TestEnv, site: TestSite, method: string, path: string, body?: unknown) {
  const res = await env.call(method, path, { key: site.apiKey, site: site.siteId, body });
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.body;
}

async function runJobs(env: TestEnv): Promise<void> {
  const { worker } = env.safekeep.background();
  while (await worker.runOne(new AbortController().signal));
}

async function measure(collections: number): Promise<string> {
  const env = await startTestEnv({ stack: 'embedded', env: { SAFEKEEP_QUOTA_MAX_COLLECTIONS: '100000' } });
  try {
    const site = await env.createSite('many collections');
    for (let i = 0; i < collections; i++)
      await call(env, site, 'POST', `${P}/collections`, { collection: { id: `c${i}` } });
    const { backup } = await call(env, site, 'POST', `${P}/backups`, {});
    await runJobs(env);
    const idle = monitorEventLoopDelay({ resolution: 1 });
    idle.enable();
    await sleep(500);
    idle.disable();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const started = performance.now();
    const { restoration } = await call(env, site, 'POST', `${P}/backups/${backup.id}/restore`, {});
    await runJobs(env);
    const seconds = (performance.now() - started) / 1000;
    loop.disable();
    const done = await call(env, site, 'GET', `${P}/backups/restorations/${restoration.id}`);
    if (done.restoration.status !== 'COMPLETED') throw new Error(JSON.stringify(done.restoration));
    return (
      `${collections} collections: restore ${seconds.toFixed(2)} s; event-loop delay max ` +
      `${(loop.max / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms ` +
      `(at rest: max ${(idle.max / 1e6).toFixed(0)} ms)`
    );
  } finally {
    await env.close();
  }
}

const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length > 0 ? sizes : [1000, 2000]) console.log(await measure(n));
