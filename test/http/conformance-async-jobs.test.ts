/**
 * Conformance: `asyncRemoveByFilter`, `asyncPatchByFilter` and `getAsyncJobStatus` through Wix's own SDK
 * (@wix/sdk + @wix/wix-data-items-sdk) over real HTTP on loopback, checked against Wix's documentation:
 * - asyncRemoveByFilter: https://dev.wix.com/docs/sdk/backend-modules/data/items/async-remove-by-filter
 * - asyncPatchByFilter: https://dev.wix.com/docs/sdk/backend-modules/data/items/async-patch-by-filter
 * - getAsyncJobStatus: https://dev.wix.com/docs/sdk/backend-modules/data/items/get-async-job-status
 *   (`status`: INITIALIZED, PROCESSING, SUCCEEDED, FAILED; `successCount`: items processed so far)
 * The SDK posts to `/v2/bulk/items/async-remove-by-filter` and `/async-patch-by-filter` and reads
 * `GET /v2/async-jobs/{jobId}/status`; those are the routes served. The jobs run on the job worker's lease:
 * here the test runs them (runJobs), stops one mid-way as a crash would and lets a new process finish it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { embeddedChildEnv } from '../faults/crash-scenario.js';
import { Environment, FieldModificationsBuilder } from '@wix/wix-data-items-sdk';
import { SimulatedCrash, type FailpointName } from '../../src/engine/failpoints.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { rejectionCode } from '../helpers/wix-rejection.js';
import { TestClock } from '../helpers/test-clock.js';

type Client = ReturnType<typeof wixDataClient>;
type Row = Record<string, unknown>;

const BATCH = 25;

/** Every item of a collection (both environments read the same way), by id. */
async function allItems(client: Client, collection: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  let page = await client.items.query(collection).ascending('_id').limit(1000).find();
  for (;;) {
    for (const item of page.items as Row[]) out.set(item._id as string, item);
    if (!page.hasNext()) return out;
    page = await page.next();
  }
}

describe('jobs by filter through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;
  let port: number;
  /** What the failpoint after each committed batch saw of the job, through the SDK. */
  const seen: { status: string; successCount: number }[] = [];
  let watch: string | undefined;

  before(async () => {
    env = await startTestEnv({
      itemJobBatch: BATCH,
      failpoint: async (name: FailpointName) => {
        if (name !== 'item-job:batch-committed' || watch === undefined) return;
        const status = await client.items.getAsyncJobStatus(watch);
        seen.push({ status: String(status.status), successCount: Number(status.successCount) });
      },
    });
    port = await env.listen();
    site = await env.createSite();
    client = wixDataClient(port, site);
    await client.collections.createDataCollection({ _id: 'Tasks', displayName: 'Tasks', fields: [] });
    await client.collections.createDataCollection({ _id: 'Notes', displayName: 'Notes', fields: [] });
  });

  after(() => env.close());

  it('asyncRemoveByFilter removes exactly the matching items; the status goes INITIALIZED, PROCESSING, SUCCEEDED', async () => {
    const tasks = Array.from({ length: 120 }, (_, n) => ({
      _id: `t${String(n).padStart(3, '0')}`,
      n,
      even: n % 2 === 0,
    }));
    await client.items.bulkInsert('Tasks', tasks);
    const { jobId } = await client.items.asyncRemoveByFilter('Tasks', client.items.filter().eq('even', true));
    assert.equal(typeof jobId, 'string');
    // Queued: no worker has claimed it yet.
    assert.deepEqual(await client.items.getAsyncJobStatus(jobId), { status: 'INITIALIZED', successCount: 0 });
    watch = jobId;
    seen.length = 0;
    assert.equal(await runJobs(env), 1);
    watch = undefined;
    // After each committed batch of 25 the job is PROCESSING with the items removed so far.
    assert.deepEqual(
      seen,
      [25, 50, 60].map((successCount) => ({ status: 'PROCESSING', successCount })),
    );
    const done = await client.items.getAsyncJobStatus(jobId);
    assert.deepEqual(done, { status: 'SUCCEEDED', successCount: 60 });
    assert.equal(typeof done.successCount, 'number');
    const left = await allItems(client, 'Tasks');
    assert.deepEqual(
      [...left.keys()],
      tasks.filter((t) => !t.even).map((t) => t._id),
    );
  });

  it('asyncPatchByFilter applies the modifications to the matching items only, once each', async () => {
    await client.items.truncate('Notes');
    const notes = Array.from({ length: 90 }, (_, n) => ({
      _id: `n${String(n).padStart(3, '0')}`,
      n,
      tags: ['a'],
      kind: n < 60 ? 'open' : 'closed',
    }));
    await client.items.bulkInsert('Notes', notes);
    const before = await allItems(client, 'Notes');
    const { jobId } = await client.items.asyncPatchByFilter(
      'Notes',
      client.items.filter().eq('kind', 'open'),
      FieldModificationsBuilder()
        .incrementField('n', 1000)
        .setField('state', 'done')
        .appendToArray('tags', 'patched')
        .build(),
    );
    assert.equal(await runJobs(env), 1);
    assert.deepEqual(await client.items.getAsyncJobStatus(jobId), { status: 'SUCCEEDED', successCount: 60 });
    const after = await allItems(client, 'Notes');
    for (const note of notes) {
      const now = after.get(note._id)!;
      const was = before.get(note._id)!;
      if (note.kind === 'open') {
        assert.equal(now.n, note.n + 1000, note._id);
        assert.equal(now.state, 'done');
        assert.deepEqual(now.tags, ['a', 'patched']);
        // Dates come back as Dates, the creation date and owner are kept, the update date moves on.
        assert.ok(now._createdDate instanceof Date);
        assert.equal(now._createdDate.getTime(), (was._createdDate as Date).getTime());
        assert.equal(now._owner, was._owner);
      } else {
        assert.deepEqual(now, was, `${note._id} is not open and stays as it was`);
      }
    }
  });

  it('stops FAILED at an item a modification does not fit; the items before it stay patched', async () => {
    // Wix: "If any item fails to be patched, the async job stops and its status becomes FAILED. Some items
    // may already have been patched before the failure."
    // https://dev.wix.com/docs/rest/business-solutions/cms/data-items/async-patch-data-items-by-filter
    await client.items.truncate('Notes');
    await client.items.bulkInsert('Notes', [
      { _id: 'a', n: 1 },
      { _id: 'b', n: 'text' },
      { _id: 'c', n: 3 },
    ]);
    const { jobId } = await client.items.asyncPatchByFilter('Notes', {}, [
      { fieldPath: 'n', action: 'INCREMENT_FIELD', value: 1 },
    ]);
    await runJobs(env);
    assert.deepEqual(await client.items.getAsyncJobStatus(jobId), { status: 'FAILED', successCount: 1 });
    // safekeep's answer adds the error, which the Wix SDK does not pass on.
    const raw = await env.call('GET', `/wix-data/v2/async-jobs/${jobId}/status`, {
      key: site.apiKey,
      site: site.siteId,
    });
    assert.equal(raw.status, 200);
    assert.equal(raw.body.error.code, 'INVALID_ARGUMENT');
    assert.match(raw.body.error.message, /Item b could not be patched/);
    const items = await allItems(client, 'Notes');
    assert.deepEqual(
      [...items.values()].map((i) => i.n),
      [2, 'text', 3],
    );
  });

  it('works on the SANDBOX environment without touching LIVE', async () => {
    await client.items.truncate('Notes');
    const sandbox = client.items.withEnvironment(Environment.SANDBOX);
    await client.items.insert('Notes', { _id: 'live', k: 1 });
    await sandbox.insert('Notes', { _id: 'sb', k: 1 });
    const { jobId } = await sandbox.asyncRemoveByFilter('Notes', { k: 1 });
    await runJobs(env);
    assert.deepEqual(await sandbox.getAsyncJobStatus(jobId), { status: 'SUCCEEDED', successCount: 1 });
    assert.deepEqual([...(await allItems(client, 'Notes')).keys()], ['live']);
    assert.equal(await sandbox.count('Notes'), 0);
  });

  it('refuses a bad filter, a bad modification and a missing collection before any job exists', async () => {
    assert.equal(
      await rejectionCode(client.items.asyncRemoveByFilter('Nope', {})),
      'WDE0025',
      'a missing collection is 404 WDE0025',
    );
    const badFilter = await env.call('POST', '/wix-data/v2/bulk/items/async-remove-by-filter', {
      key: site.apiKey,
      site: site.siteId,
      body: { dataCollectionId: 'Notes', filter: { n: { $nope: 1 } } },
    });
    assert.equal(badFilter.status, 400, badFilter.text);
    const badPatch = await env.call('POST', '/wix-data/v2/bulk/items/async-patch-by-filter', {
      key: site.apiKey,
      site: site.siteId,
      body: {
        dataCollectionId: 'Notes',
        filter: {},
        fieldModifications: [{ fieldPath: '_id', action: 'REMOVE_FIELD' }],
      },
    });
    assert.equal(badPatch.status, 400, badPatch.text);
    assert.equal(await runJobs(env), 0, 'no job was created');
  });

  it('answers 404 ASYNC_JOB_NOT_FOUND for an unknown job and for another site’s job', async () => {
    assert.equal(await rejectionCode(client.items.getAsyncJobStatus('no-such-job')), 'ASYNC_JOB_NOT_FOUND');
    const other = await env.createSite('Other');
    const { jobId } = await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    const foreign = await env.call('GET', `/_api/cloud-data/v2/async-jobs/${jobId}/status`, {
      key: other.apiKey,
      site: other.siteId,
    });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.details.applicationError.code, 'ASYNC_JOB_NOT_FOUND');
    await runJobs(env);
  });

  it('ends FAILED with the error when its collection is deleted before it runs', async () => {
    await client.collections.createDataCollection({ _id: 'Gone', displayName: 'Gone', fields: [] });
    await client.items.insert('Gone', { _id: 'g1', k: 1 });
    const { jobId } = await client.items.asyncRemoveByFilter('Gone', {});
    await client.collections.deleteDataCollection('Gone');
    assert.equal(await runJobs(env), 1);
    assert.deepEqual(await client.items.getAsyncJobStatus(jobId), { status: 'FAILED', successCount: 0 });
    const raw = await env.call('GET', `/_api/cloud-data/v2/async-jobs/${jobId}/status`, {
      key: site.apiKey,
      site: site.siteId,
    });
    assert.equal(raw.body.status, 'FAILED');
    assert.equal(raw.body.error.code, 'WDE0025');
  });

  it('runs a batch per transaction, serving other sites between batches', async () => {
    const other = await env.createSite('Neighbour');
    const neighbour = wixDataClient(port, other);
    await neighbour.collections.createDataCollection({ _id: 'Mine', displayName: 'Mine', fields: [] });
    await client.items.truncate('Tasks');
    const rows = Array.from({ length: 1000 }, (_, n) => ({ _id: `f${String(n).padStart(4, '0')}`, n }));
    for (let i = 0; i < rows.length; i += 500) await client.items.bulkInsert('Tasks', rows.slice(i, i + 500));
    const { jobId } = await client.items.asyncRemoveByFilter('Tasks', {});
    // The worker loop of this process runs the job (40 batches of 25) while another site makes requests.
    const stop = new AbortController();
    const running = env.safekeep.background().worker.run(stop.signal);
    const progress: number[] = [];
    try {
      for (;;) {
        assert.equal(await neighbour.items.count('Mine'), 0);
        const status = await client.items.getAsyncJobStatus(jobId);
        if (status.status === 'SUCCEEDED') break;
        assert.notEqual(status.status, 'FAILED');
        if (status.status === 'PROCESSING') progress.push(Number(status.successCount));
      }
    } finally {
      stop.abort();
      await running;
    }
    // Requests were answered while the job was half done: it yields between its batches.
    assert.ok(
      progress.some((done) => done > 0 && done < rows.length),
      `progress seen between batches: ${progress.join(', ')}`,
    );
    assert.deepEqual(await client.items.getAsyncJobStatus(jobId), {
      status: 'SUCCEEDED',
      successCount: 1000,
    });
    assert.equal(await client.items.count('Tasks'), 0);
  });

  it('on the job lease: fenced writes, and a job claimed three times is given up (JOB_INTERRUPTED)', async () => {
    const store = env.safekeep.storage.itemJobs;
    const t = env.clock.now();
    await store.create(
      {
        id: 'lease-job',
        siteId: site.siteId,
        collectionId: 'Notes',
        environment: 'LIVE',
        kind: 'REMOVE',
        filter: { k: 'none' },
        modifications: null,
        ownerKeyId: 'key',
        requestedAt: t,
      },
      10,
    );
    const claim = (workerId: string, now: number) =>
      store.claim({ workerId, now, leaseMs: 1000, maxAttempts: 3 });
    assert.equal((await claim('w1', t))?.id, 'lease-job');
    assert.equal(await claim('w2', t + 500), undefined, 'the lease holds it');
    assert.equal((await claim('w2', t + 2000))?.id, 'lease-job', 'claimed again once the lease expired');
    assert.equal(await store.complete('lease-job', 'w1', t + 2100), false, 'the first worker lost its lease');
    assert.equal(await store.renew({ id: 'lease-job', workerId: 'w1', now: t + 2100, leaseMs: 1000 }), false);
    assert.equal((await claim('w3', t + 4000))?.id, 'lease-job');
    assert.equal(await claim('w4', t + 6000), undefined, 'a fourth claim gives it up instead');
    const job = await store.get(site.siteId, 'lease-job');
    assert.equal(job?.status, 'FAILED');
    assert.equal(job?.error?.code, 'JOB_INTERRUPTED');
    assert.equal((await client.items.getAsyncJobStatus('lease-job')).status, 'FAILED');
  });

  it('limits a site to SAFEKEEP_SITE_BULK_REQUESTS jobs waiting at once (429 RATE_LIMITED)', async () => {
    const first = await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    const second = await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    assert.equal(
      await rejectionCode(client.items.asyncRemoveByFilter('Notes', { k: 'none' })),
      'RATE_LIMITED',
    );
    assert.equal(await runJobs(env), 2);
    for (const { jobId } of [first, second])
      assert.equal((await client.items.getAsyncJobStatus(jobId)).status, 'SUCCEEDED');
    await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    await runJobs(env);
  });

  it('keeps a finished job’s status 30 days, as Wix keeps job records', async () => {
    const { jobId } = await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    await runJobs(env);
    env.clock.advance(29 * 24 * 3600 * 1000);
    await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    assert.equal((await client.items.getAsyncJobStatus(jobId)).status, 'SUCCEEDED');
    env.clock.advance(2 * 24 * 3600 * 1000);
    await client.items.asyncRemoveByFilter('Notes', { k: 'none' });
    assert.equal(await rejectionCode(client.items.getAsyncJobStatus(jobId)), 'ASYNC_JOB_NOT_FOUND');
    await runJobs(env);
  });
});

describe('a job by filter survives a restart', () => {
  it('stopped after some batches, it is finished by a new process on the same storage: each item patched once', async () => {
    const clock = new TestClock();
    let crashAfter = 3;
    const first = await startTestEnv({
      clock,
      itemJobBatch: 40,
      failpoint: (name) => {
        if (name === 'item-job:batch-committed' && --crashAfter === 0)
          return Promise.reject(new SimulatedCrash(name));
        return Promise.resolve();
      },
    });
    let second: TestEnv | undefined;
    try {
      const site = await first.createSite();
      const client = wixDataClient(await first.listen(), site);
      await client.collections.createDataCollection({ _id: 'Counters', displayName: 'Counters', fields: [] });
      const rows = Array.from({ length: 300 }, (_, n) => ({
        _id: `k${String(n).padStart(4, '0')}`,
        n,
        big: n >= 100,
      }));
      await client.items.bulkInsert('Counters', rows);
      const { jobId } = await client.items.asyncPatchByFilter(
        'Counters',
        client.items.filter().eq('big', true),
        [{ fieldPath: 'n', action: 'INCREMENT_FIELD', value: 1 }],
      );
      // The worker stops after its third batch, as a crash would: nothing more is recorded, the lease stays.
      await runJobs(first);
      const stopped = await client.items.getAsyncJobStatus(jobId);
      assert.deepEqual(stopped, { status: 'PROCESSING', successCount: 120 });
      await first.close(true);

      second = await startTestEnv({ clock, dataDir: first.dataDir, itemJobBatch: 40 });
      const again = wixDataClient(await second.listen(), site);
      // Its lease must run out before another worker takes it.
      assert.equal(await runJobs(second), 0, 'the lease of the stopped worker still holds the job');
      clock.advance(second.safekeep.config.jobLeaseMs + 1);
      assert.equal(await runJobs(second), 1);
      assert.deepEqual(await again.items.getAsyncJobStatus(jobId), {
        status: 'SUCCEEDED',
        successCount: 200,
      });
      const items = await allItems(again, 'Counters');
      assert.equal(items.size, 300);
      for (const row of rows) assert.equal(items.get(row._id)?.n, row.big ? row.n + 1 : row.n, row._id);
    } finally {
      if (second) await second.close();
      else await first.close();
    }
  });

  it('a worker process SIGKILLed after a committed batch: a restarted one finishes the job (embedded)', async () => {
    const clock = new TestClock();
    const first = await startTestEnv({ clock, stack: 'embedded' });
    const dir = first.dataDir;
    let restarted: TestEnv | undefined;
    try {
      const site = await first.createSite();
      const client = wixDataClient(await first.listen(), site);
      await client.collections.createDataCollection({ _id: 'Big', displayName: 'Big', fields: [] });
      // Three batches of the default 500: the worker dies after committing the second.
      const rows = Array.from({ length: 1300 }, (_, n) => ({ _id: `b${String(n).padStart(5, '0')}`, n }));
      for (let i = 0; i < rows.length; i += 650) await client.items.bulkInsert('Big', rows.slice(i, i + 650));
      const { jobId } = await client.items.asyncPatchByFilter('Big', {}, [
        { fieldPath: 'n', action: 'INCREMENT_FIELD', value: 10_000 },
      ]);
      await first.close(true);
      const clockFile = join(dir, 'clock');
      writeFileSync(clockFile, String(clock.current));
      const proc = spawn(
        process.execPath,
        [fileURLToPath(new URL('../faults/crash-child.js', import.meta.url))],
        {
          env: embeddedChildEnv({
            SAFEKEEP_DATA_DIR: dir,
            SAFEKEEP_FAILPOINT: 'item-job:batch-committed:2',
            SAFEKEEP_TEST_CLOCK_FILE: clockFile,
            SAFEKEEP_WORKER_THREADS: '1',
            SAFEKEEP_LOG_LEVEL: 'warn',
          }),
        },
      );
      let output = '';
      proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        proc.on('exit', (_c, s) => resolve(s)),
      );
      assert.equal(signal, 'SIGKILL', `the worker died after its second batch:\n${output}`);

      restarted = await startTestEnv({ clock, dataDir: dir, stack: 'embedded' });
      const again = wixDataClient(await restarted.listen(), site);
      assert.deepEqual(await again.items.getAsyncJobStatus(jobId), {
        status: 'PROCESSING',
        successCount: 1000,
      });
      clock.advance(restarted.safekeep.config.jobLeaseMs + 1);
      assert.equal(await runJobs(restarted), 1);
      assert.deepEqual(await again.items.getAsyncJobStatus(jobId), {
        status: 'SUCCEEDED',
        successCount: 1300,
      });
      const items = await allItems(again, 'Big');
      assert.equal(items.size, rows.length);
      for (const row of rows) assert.equal(items.get(row._id)?.n, row.n + 10_000, row._id);
    } finally {
      if (restarted) await restarted.close();
      else rmSync(dir, { recursive: true, force: true });
    }
  });
});
