/**
 * Issue 14: one site can never freeze or starve the others. A second site's reads and writes run, over real
 * HTTP, while a site of many collections is restored and while a large site is backed up and restored; its
 * latency (p99 against its own idle p99, maximum) and the server's event-loop delay are recorded. Sixteen
 * maximum-size bodies sent at once to a `safekeep serve` child process are each answered 200 or a clear 429,
 * its peak RSS under the figure. A key over its rate limit is answered 429 RATE_LIMITED with Retry-After and
 * served again once that time has passed, on both stacks.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { assertErrorShape } from '../helpers/error-shape.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { reportFigures, size } from '../helpers/fault-run.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { embeddedChildEnv } from './crash-scenario.js';

const P = '/wix-data/v2';
const COLLECTIONS = size(200, 2000);
const ITEMS = size(20_000, 1_000_000);
const stacks = ['embedded', 'scaleout'] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile of latencies in ms. */
function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

async function call(env: TestEnv, site: TestSite, method: string, path: string, body?: unknown) {
  const res = await env.call(method, path, { key: site.apiKey, site: site.siteId, body });
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.body;
}

/** The other site: one collection with a few items, read and written in turn, one request at a time. */
class OtherSite {
  readonly samples: number[] = [];
  private n = 0;

  constructor(
    private readonly port: number,
    private readonly site: TestSite,
  ) {}

  static async start(env: TestEnv, port: number): Promise<OtherSite> {
    const site = await env.createSite('other');
    await call(env, site, 'POST', `${P}/collections`, { collection: { id: 'notes' } });
    const dataItems = Array.from({ length: 100 }, (_, i) => ({
      id: `n${i}`,
      data: { i, text: 'x'.repeat(200) },
    }));
    await call(env, site, 'POST', `${P}/bulk/items/insert`, { dataCollectionId: 'notes', dataItems });
    return new OtherSite(port, site);
  }

  /** One request (a query or a save, in turn); its latency is recorded. */
  private async once(): Promise<void> {
    const n = this.n++;
    const [path, body] =
      n % 2 === 0
        ? [`${P}/items/query`, { dataCollectionId: 'notes', query: { paging: { limit: 20 } } }]
        : [`${P}/items/save`, { dataCollectionId: 'notes', dataItem: { id: `n${n % 100}`, data: { n } } }];
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method: 'POST',
      headers: {
        authorization: this.site.apiKey,
        'wix-site-id': this.site.siteId,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    this.samples.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`other site: ${path} answered ${res.status}`);
  }

  /** Latencies of `count` requests with nothing else running. */
  async idle(count: number): Promise<number[]> {
    this.samples.length = 0;
    for (let i = 0; i < count; i++) await this.once();
    return [...this.samples];
  }

  /** Latencies of requests made while `work` runs (and at least `min` of them). */
  async during(work: Promise<unknown>, min: number): Promise<number[]> {
    this.samples.length = 0;
    let done = false;
    const finished = work.finally(() => {
      done = true;
    });
    while (!done || this.samples.length < min) await this.once();
    await finished;
    return [...this.samples];
  }
}

interface Latency {
  readonly idleP99: number;
  readonly busyP99: number;
  readonly busyMax: number;
  readonly requests: number;
  readonly idleLoopP99: number;
  readonly loopP99: number;
  readonly loopMax: number;
  readonly seconds: number;
}

/** The other site's latency while `work` runs, against its idle latency, and the event loop's delay. */
async function latencyDuring(other: OtherSite, work: () => Promise<unknown>): Promise<Latency> {
  await other.idle(50); // warm: connections, compiled queries
  // The histogram records the time between ticks of a `resolution` timer, the resolution included: at 1 ms
  // its figures are the loop's delay to within a millisecond (at 10 ms an idle loop reads 10 ms).
  const idleLoop = monitorEventLoopDelay({ resolution: 1 });
  idleLoop.enable();
  const idle = await other.idle(400);
  idleLoop.disable();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  const busy = await other.during(work(), 50);
  const seconds = (performance.now() - started) / 1000;
  loop.disable();
  return {
    idleP99: quantile(idle, 0.99),
    busyP99: quantile(busy, 0.99),
    busyMax: Math.max(...busy),
    requests: busy.length,
    idleLoopP99: idleLoop.percentile(99) / 1e6,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    seconds,
  };
}

function describeLatency(l: Latency): string {
  return (
    `other site p99 ${l.busyP99.toFixed(1)} ms vs idle ${l.idleP99.toFixed(1)} ms (ratio ` +
    `${(l.busyP99 / l.idleP99).toFixed(2)}), max ${l.busyMax.toFixed(0)} ms over ${l.requests} requests in ` +
    `${l.seconds.toFixed(1)} s; event-loop delay p99 ${l.loopP99.toFixed(1)} ms (idle ${l.idleLoopP99.toFixed(1)} ms), ` +
    `max ${l.loopMax.toFixed(0)} ms`
  );
}

/**
 * Bounds a real stall breaks (the issue measured 12–56 s of silence) but a busy, shared 2-core machine
 * does not: the figures themselves are printed and recorded against the goals (p99 ratio ≤ 2, max ≤ 100 ms,
 * event-loop p99 < 20 ms).
 */
function assertNoStall(l: Latency, what: string): void {
  assert.ok(l.busyP99 / l.idleP99 <= 25, `${what}: other site's p99 ${describeLatency(l)}`);
  assert.ok(l.busyMax / l.idleP99 <= 400, `${what}: other site's maximum ${describeLatency(l)}`);
  // The loop's delay at rest is a millisecond or two on a quiet machine, more on a busy one.
  assert.ok(l.loopP99 / Math.max(l.idleLoopP99, 10) <= 50, `${what}: event-loop delay ${describeLatency(l)}`);
}

async function backupAndWait(env: TestEnv, site: TestSite): Promise<string> {
  const { backup } = await call(env, site, 'POST', `${P}/backups`, {});
  await runJobs(env);
  const { backup: done } = await call(env, site, 'GET', `${P}/backups/${backup.id}`);
  assert.equal(done.status, 'READY', JSON.stringify(done.error));
  return backup.id as string;
}

/** A full restore of `backupId`, run to its end while the other site's latency is measured. */
async function restoreDuring(
  env: TestEnv,
  other: OtherSite,
  site: TestSite,
  backupId: string,
): Promise<Latency> {
  let restorationId = '';
  const latency = await latencyDuring(other, async () => {
    const { restoration } = await call(env, site, 'POST', `${P}/backups/${backupId}/restore`, {});
    restorationId = restoration.id as string;
    await runJobs(env);
  });
  const { restoration } = await call(env, site, 'GET', `${P}/backups/restorations/${restorationId}`);
  assert.equal(restoration.status, 'COMPLETED', JSON.stringify(restoration.error));
  return latency;
}

describe('fairness: one site never stalls or starves the others (issue 14)', () => {
  for (const stack of stacks) {
    it(`a full restore of a site with ${COLLECTIONS} collections, another site running (${stack})`, async () => {
      // The soak size is over the default collections quota (1,000): this deployment allows it.
      const env = await startTestEnv({
        stack,
        env: { SAFEKEEP_QUOTA_MAX_COLLECTIONS: String(COLLECTIONS) },
      });
      try {
        const port = await env.listen();
        const big = await env.createSite('many collections');
        for (let i = 0; i < COLLECTIONS; i++)
          await call(env, big, 'POST', `${P}/collections`, { collection: { id: `c${i}` } });
        const backupId = await backupAndWait(env, big);
        const other = await OtherSite.start(env, port);

        const latency = await restoreDuring(env, other, big, backupId);
        const figures = describeLatency(latency);
        console.log(`# ${stack}, restore of ${COLLECTIONS} collections: ${figures}`);
        reportFigures({
          test: `10. Fairness: restore of many collections, another site running (${stack})`,
          proves: "a full restore of a site of many empty collections does not stall another site's requests",
          ciSize: '200 collections',
          ran: `${COLLECTIONS} collections`,
          figures,
        });
        assertNoStall(latency, `restore of ${COLLECTIONS} collections`);
      } finally {
        await env.close();
      }
    });

    it(`a backup and a restore of a site of ${ITEMS} items, another site running (${stack})`, async () => {
      const env = await startTestEnv({ stack });
      try {
        const port = await env.listen();
        const big = await env.createSite('large');
        await call(env, big, 'POST', `${P}/collections`, { collection: { id: 'large' } });
        for (let from = 0; from < ITEMS; from += 1000) {
          const dataItems = Array.from({ length: Math.min(1000, ITEMS - from) }, (_, i) => ({
            id: `i${from + i}`,
            data: { n: from + i, text: `item ${from + i} `.padEnd(120, '.') },
          }));
          await call(env, big, 'POST', `${P}/bulk/items/insert`, { dataCollectionId: 'large', dataItems });
        }
        const other = await OtherSite.start(env, port);

        let backupId = '';
        const backup = await latencyDuring(other, async () => {
          backupId = await backupAndWait(env, big);
        });
        const restore = await restoreDuring(env, other, big, backupId);
        const figures = `backup: ${describeLatency(backup)}; restore: ${describeLatency(restore)}`;
        console.log(`# ${stack}, ${ITEMS} items: ${figures}`);
        reportFigures({
          test: `10. Fairness: backup and restore of a large site, another site running (${stack})`,
          proves: "a large site's backup and restore do not stall another site's requests",
          ciSize: '20,000 items',
          ran: `${ITEMS} items`,
          figures,
        });
        assertNoStall(backup, `backup of ${ITEMS} items`);
        assertNoStall(restore, `restore of ${ITEMS} items`);
      } finally {
        await env.close();
      }
    });

    it(`a key over its rate limit is answered 429 with Retry-After, then served again (${stack})`, async () => {
      const env = await startTestEnv({
        stack,
        env: { SAFEKEEP_RATE_LIMIT_PER_SECOND: '2', SAFEKEEP_RATE_LIMIT_BURST: '5' },
      });
      try {
        const site = await env.createSite('limited');
        const neighbour = await env.createSite('neighbour');
        const list = (who: TestSite) =>
          env.call('GET', `${P}/collections`, { key: who.apiKey, site: who.siteId });
        const answers: number[] = [];
        let limited: Awaited<ReturnType<typeof list>> | undefined;
        for (let i = 0; i < 20 && !limited; i++) {
          const res = await list(site);
          answers.push(res.status);
          if (res.status === 429) limited = res;
        }
        assert.ok(limited, `never limited: ${answers.join(' ')}`);
        // The burst, then perhaps one more token refilled while they ran.
        assert.ok(answers.length >= 6 && answers.slice(0, -1).every((s) => s === 200), answers.join(' '));
        assert.equal(assertErrorShape(limited.body), 'RATE_LIMITED');
        const retryAfter = String(limited.headers['retry-after']);
        assert.match(retryAfter, /^[1-9]\d*$/);
        assert.equal(limited.body.details.applicationError.data.limit, 'REQUESTS_PER_SECOND');
        assert.equal(limited.body.details.applicationError.data.retryAfterSeconds, Number(retryAfter));
        // Another key, health and the dashboard's files are not held back by it.
        assert.equal((await list(neighbour)).status, 200);
        assert.equal((await env.call('GET', '/healthz')).status, 200);
        for (let i = 0; i < 10; i++) assert.equal((await env.call('GET', '/')).status, 200);

        await sleep(Number(retryAfter) * 1000);
        const again = await list(site);
        assert.equal(again.status, 200, again.text);
        reportFigures({
          test: `10. Fairness: rate limit hit and recovered from (${stack})`,
          proves:
            'a key over its rate limit gets 429 RATE_LIMITED with Retry-After and is served again after it',
          ciSize: '2 requests/s, burst 5',
          ran: '2 requests/s, burst 5',
          figures: `${answers.length - 1} requests served, then 429 with Retry-After ${retryAfter} s; another key, /healthz and / served; 200 after waiting ${retryAfter} s`,
        });
      } finally {
        await env.close();
      }
    });
  }

  it('16 maximum-size bodies at once: each answered 200 or 429, peak RSS bounded (embedded)', async () => {
    await sixteenBodies();
  });
});

/** The peak and current RSS of a process, in MB (Linux). */
function rssOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** Sends `body` as a POST over its own connection; resolves with the status, headers and body text. */
function post(port: number, path: string, headers: Record<string, string>, body: Buffer) {
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
    (resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent: false,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

const MEMORY_FIGURE_MB = 512;

async function sixteenBodies(): Promise<void> {
  const setup = await startTestEnv({ stack: 'embedded' });
  const site = await setup.createSite('bodies');
  await call(setup, site, 'POST', `${P}/collections`, { collection: { id: 'big' } });
  await setup.close(true);

  const serve = spawn(
    process.execPath,
    [fileURLToPath(new URL('../../../bin/safekeep.js', import.meta.url)), 'serve'],
    {
      env: embeddedChildEnv({
        SAFEKEEP_DATA_DIR: setup.dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        SAFEKEEP_LOG_LEVEL: 'warn',
        SAFEKEEP_WORKER_THREADS: '1',
        SAFEKEEP_RUN_WORKER: 'false',
      }),
    },
  );
  let output = '';
  serve.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  serve.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => serve.once('exit', resolve));
  try {
    let port = 0;
    for (let i = 0; i < 300 && !port; i++) {
      port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1] ?? 0);
      if (!port) await sleep(100);
    }
    assert.ok(port, `the server did not start: ${output}`);

    // The largest body under the 64 MB limit: items of ~490 KB, each under the 500 KB item limit.
    const limit = 64 * 1024 * 1024;
    const text = 'a'.repeat(490 * 1024);
    const dataItems: unknown[] = [];
    for (let size = 100; size + text.length + 64 < limit; size += text.length + 64)
      dataItems.push({ data: { n: dataItems.length, text } });
    const body = Buffer.from(JSON.stringify({ dataCollectionId: 'big', dataItems }));
    assert.ok(body.length <= limit && body.length > limit - 1024 * 1024, String(body.length));

    const before = rssOf(serve.pid ?? 0);
    const headers = { authorization: site.apiKey, 'wix-site-id': site.siteId };
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 16 }, () => post(port, `${P}/bulk/items/insert`, headers, body)),
    );
    const seconds = (performance.now() - started) / 1000;
    const after = rssOf(serve.pid ?? 0);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);

    const byStatus = new Map<number, number>();
    for (const answer of answers) {
      byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
      if (answer.status === 200) continue;
      assert.equal(answer.status, 429, answer.text.slice(0, 300));
      const parsed = JSON.parse(answer.text);
      assert.equal(assertErrorShape(parsed), 'RATE_LIMITED');
      assert.match(String(answer.headers['retry-after']), /^[1-9]\d*$/);
    }
    assert.ok((byStatus.get(200) ?? 0) >= 1, 'at least one body was taken');
    const statuses = [...byStatus].map(([status, count]) => `${count} × ${status}`).join(', ');
    const figures =
      `16 bodies of ${(body.length / 1024 / 1024).toFixed(1)} MB at once: ${statuses} in ${seconds.toFixed(1)} s; ` +
      `server RSS ${before.now.toFixed(0)} MB before, peak ${after.peak.toFixed(0)} MB (figure ${MEMORY_FIGURE_MB} MB)`;
    console.log(`# ${figures}`);
    reportFigures({
      test: '10. Fairness: 16 concurrent maximum-size bodies',
      proves:
        'sixteen maximum-size bodies sent at once are each answered 200 or 429 with Retry-After, the server under its memory figure',
      ciSize: '16 bodies of 64 MB',
      ran: '16 bodies of 64 MB',
      figures,
    });
    assert.ok(after.peak <= MEMORY_FIGURE_MB, figures);
  } finally {
    serve.kill('SIGTERM');
    await exited;
    await (await import('node:fs/promises')).rm(setup.dataDir, { recursive: true, force: true });
  }
}
