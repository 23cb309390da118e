/**
 * Issue 13, item 3: the database's failures cross the adapter boundary as one StorageError, and a request
 * and a job read the same kind the same way. A PostgreSQL outage (a TCP proxy in front of the real server
 * drops and refuses connections) answers a request 503 STORAGE_UNAVAILABLE and fails a backup with
 * STORAGE_UNAVAILABLE; a full SQLite disk (a real size-limited tmpfs) answers a request 503
 * STORAGE_UNAVAILABLE and fails a restoration with STORAGE_FULL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FailpointName } from '../../src/engine/failpoints.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { mountTmpfs, type Tmpfs } from './disk-tmpfs.js';

const P = '/wix-data/v2';

type Call = (method: string, path: string, body?: unknown) => ReturnType<TestEnv['call']>;

/** A TCP proxy to PostgreSQL that can drop every open connection and refuse new ones. */
interface PostgresProxy {
  readonly port: number;
  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void;
  /** Drops every open connection and refuses only the next `n` new ones. */
  drop(n: number): void;
  restore(): void;
  /** Connections refused so far. */
  readonly refused: number;
  close(): Promise<void>;
}

async function startProxy(upstreamPort: number): Promise<PostgresProxy> {
  const open = new Set<Socket>();
  let refuse = 0;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (refuse > 0) {
      refuse -= 1;
      refused += 1;
      client.destroy();
      return;
    }
    const upstream = connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const dropAll = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    port: address.port,
    cut() {
      refuse = Infinity;
      dropAll();
    },
    drop(n) {
      dropAll();
      refuse = n;
    },
    restore() {
      refuse = 0;
    },
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}

function assertUnavailable(response: Awaited<ReturnType<Call>>, what: string): void {
  assert.equal(response.status, 503, `${what}: ${response.text}`);
  assert.equal(response.body?.details?.applicationError?.code, 'STORAGE_UNAVAILABLE', what);
  assert.equal(response.headers['retry-after'], '5', `${what}: says when to retry`);
}

describe('a PostgreSQL outage reads as STORAGE_UNAVAILABLE in a request and in a job', () => {
  let database: { url: string; drop(): Promise<void> };
  let proxy: PostgresProxy;
  let env: TestEnv;
  let call: Call;
  let armed: FailpointName | undefined;

  before(async () => {
    database = await createTestDatabase('storage-errors');
    const url = new URL(database.url);
    proxy = await startProxy(Number(url.port || 5432));
    url.host = `127.0.0.1:${proxy.port}`;
    env = await startTestEnv({
      stack: 'scaleout',
      env: { DATABASE_URL: url.toString() },
      failpoint: async (name) => {
        if (name !== armed) return;
        armed = undefined;
        // Every pooled connection dies, and the pool is given time to drop them: the step's next query
        // must connect, and that connection is refused; the one that records the failure gets through.
        proxy.cut();
        await new Promise((resolve) => setTimeout(resolve, 100));
        proxy.drop(1);
      },
    });
    const site = await env.createSite();
    call = (method, path, body) => env.call(method, path, { key: site.apiKey, body });
    assert.equal(
      (await call('POST', `${P}/collections`, { collection: { id: 'A', fields: [] } })).status,
      200,
    );
    const items = Array.from({ length: 50 }, (_, i) => ({ id: `a${i}`, data: { n: i } }));
    const res = await call('POST', `${P}/bulk/items/insert`, { dataCollectionId: 'A', dataItems: items });
    assert.equal(res.status, 200, res.text);
  });
  after(async () => {
    proxy?.restore();
    await env?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('answers a request 503 STORAGE_UNAVAILABLE while the database is unreachable, then serves again', async () => {
    proxy.cut();
    assertUnavailable(
      await call('POST', `${P}/items/query`, { dataCollectionId: 'A', query: {} }),
      'a query during the outage',
    );
    assertUnavailable(
      await call('POST', `${P}/items`, { dataCollectionId: 'A', dataItem: { id: 'x', data: {} } }),
      'a write during the outage',
    );
    assert.ok(proxy.refused > 0, 'connections were refused');
    proxy.restore();
    const back = await call('POST', `${P}/items/query`, { dataCollectionId: 'A', query: {} });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.dataItems.length, 50);
  });

  it('fails a backup whose step loses the database with STORAGE_UNAVAILABLE, not INTERNAL', async () => {
    const refusedBefore = proxy.refused;
    armed = 'backup:manifest-published';
    const created = await call('POST', `${P}/backups`, {});
    assert.equal(created.status, 200, created.text);
    await runJobs(env);
    assert.equal(armed, undefined, 'the failpoint was reached');
    assert.equal(proxy.refused, refusedBefore + 1, 'one connection was refused');
    const backup = (await call('GET', `${P}/backups/${created.body.backup.id}`)).body.backup;
    assert.equal(backup.status, 'FAILED', JSON.stringify(backup));
    assert.equal(backup.error?.code, 'STORAGE_UNAVAILABLE', JSON.stringify(backup.error));
  });
});

describe('a full SQLite disk reads as the storage kind FULL in a request and in a job', () => {
  const MiB = 1024 * 1024;
  let dataDir: string;
  let disk: Tmpfs;
  let env: TestEnv;
  let call: Call;

  /** Poorly compressible items, so that sizes on disk are predictable. */
  function items(prefix: string, count: number): { id: string; data: Record<string, unknown> }[] {
    let state = 7;
    const next = () => (state = (state * 48271) % 2147483647);
    return Array.from({ length: count }, (_, i) => ({
      id: `${prefix}${i}`,
      data: { n: i, text: Array.from({ length: 1500 }, () => (next() % 36).toString(36)).join('') },
    }));
  }

  /** Writes the WAL into the database and empties it. */
  function checkpoint(): void {
    const { raw } = env.safekeep.storage as unknown as { raw: { pragma(p: string): unknown } };
    raw.pragma('wal_checkpoint(TRUNCATE)');
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'safekeep-storage-errors-'));
    disk = mountTmpfs(dataDir, 40 * MiB);
    env = await startTestEnv({ dataDir, stack: 'embedded' });
    const site = await env.createSite();
    call = (method, path, body) => env.call(method, path, { key: site.apiKey, body });
    assert.equal(
      (await call('POST', `${P}/collections`, { collection: { id: 'A', fields: [] } })).status,
      200,
    );
    const res = await call('POST', `${P}/bulk/items/insert`, {
      dataCollectionId: 'A',
      dataItems: items('a', 800),
    });
    assert.equal(res.status, 200, res.text);
  });
  after(async () => {
    try {
      await env?.close(true);
    } finally {
      disk?.unmount();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers a write 503 STORAGE_UNAVAILABLE while the disk is full, then accepts it once freed', async () => {
    // The checkpoint thread has nothing left to write (it would race the filler for the last pages).
    checkpoint();
    disk.leaveFree(64 * 1024);
    const body = { dataCollectionId: 'A', dataItems: items('full', 400) };
    assertUnavailable(await call('POST', `${P}/bulk/items/insert`, body), 'a write on a full disk');
    disk.unfill();
    const res = await call('POST', `${P}/bulk/items/insert`, body);
    assert.equal(res.status, 200, res.text);
  });

  it('fails a restoration whose staging fills the disk with STORAGE_FULL, not INTERNAL', async () => {
    const created = await call('POST', `${P}/backups`, {});
    await runJobs(env);
    const backupId = created.body.backup.id as string;
    assert.equal((await call('GET', `${P}/backups/${backupId}`)).body.backup.status, 'READY');
    const started = await call('POST', `${P}/backups/${backupId}/restore`, {});
    assert.equal(started.status, 200, started.text);
    // An empty WAL, so that staging needs new space (a WAL keeps its size and would be written over), and
    // room for the claim (a few pages), not for staging 1,200 items of 1.5 KB.
    checkpoint();
    disk.leaveFree(256 * 1024);
    await runJobs(env);
    disk.unfill();
    const restoration = (await call('GET', `${P}/backups/restorations/${started.body.restoration.id}`)).body
      .restoration;
    assert.equal(restoration.status, 'FAILED', JSON.stringify(restoration));
    assert.equal(restoration.error?.code, 'STORAGE_FULL', JSON.stringify(restoration.error));
  });
});
