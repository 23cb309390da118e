/**
 * Data API benchmarks (issue 2): bulk insert throughput through HTTP against the same insert straight
 * into the storage layer, bulk insert with an item-event subscription against without (issue 15), and query
 * latency by indexed system fields on 10k and 1M items.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBootstrapAdminKey, openSafekeep, type Safekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { itemEventTypes } from '../src/contracts/item-events.js';
import { siteScopes } from '../src/contracts/scopes.js';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import { newItemId } from '../src/services/ids.js';
import { createBenchDatabase } from './bench-database.js';
import { latencies, percentile, sampleItem, timed, type BenchResult } from './bench-kit.js';

export interface DataApiBenchOptions {
  /** Items inserted through HTTP (and again directly). */
  readonly insertItems: number;
  /** Size of the big collection for the query benchmark. */
  readonly bigItems: number;
  readonly smallItems: number;
  readonly queries: number;
}

/**
 * What item events cost a bulk insert: the same 1,000-item batches over HTTP into a site whose
 * subscription names the item events (each item also writes an event and a delivery) and into a site with
 * no subscription, alternating batch by batch so both see the same machine; one request in flight.
 */
export async function itemEventCost(
  safekeep: Safekeep,
  address: string,
  items: number,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const insertInto = async (name: string, eventTypes?: string[]) => {
    const site = await safekeep.services.admin.createSite(name);
    const principal = { keyId: 'bench', siteIds: [site.id], scopes: ['admin' as const] };
    const { secret } = await safekeep.services.admin.createApiKey({
      name,
      siteIds: [site.id],
      scopes: [...siteScopes],
    });
    await safekeep.services.collections.create({ siteId: site.id, principal }, { id: 'Books' });
    if (eventTypes)
      await safekeep.services.webhooks.create(
        { siteId: site.id, url: 'https://receiver.example/hooks', eventTypes },
        principal,
      );
    return async (body: string): Promise<number> => {
      const { ms } = await timed(async () => {
        const res = await fetch(`${address}/wix-data/v2/bulk/items/insert`, {
          method: 'POST',
          headers: { authorization: secret, 'wix-site-id': site.id, 'content-type': 'application/json' },
          body,
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`bulk insert: ${res.status} ${text.slice(0, 200)}`);
      });
      return ms;
    };
  };
  const quiet = await insertInto('bench-no-events');
  const subscribed = await insertInto('bench-item-events', [...itemEventTypes]);
  const batches = Math.max(4, Math.ceil(Math.min(items, 100_000) / 1000));
  log(`  bulk insert with and without an item-event subscription: ${batches} batches of 1,000 each`);
  let quietMs = 0;
  let subscribedMs = 0;
  for (let b = 0; b < batches; b++) {
    const body = JSON.stringify({
      dataCollectionId: 'Books',
      dataItems: Array.from({ length: 1000 }, (_, i) => ({ data: sampleItem(b * 1000 + i) })),
    });
    // Alternate which goes first, so neither always follows the other's checkpoint.
    if (b % 2 === 0) {
      quietMs += await quiet(body);
      subscribedMs += await subscribed(body);
    } else {
      subscribedMs += await subscribed(body);
      quietMs += await quiet(body);
    }
  }
  const ratio = quietMs / subscribedMs;
  return [
    {
      name: 'bulk insert with item events',
      value: Math.round((batches * 1000) / (subscribedMs / 1000)),
      unit: 'items/s',
    },
    {
      name: 'bulk insert without a subscription',
      value: Math.round((batches * 1000) / (quietMs / 1000)),
      unit: 'items/s',
    },
    {
      name: 'bulk insert with item events / without',
      value: ratio,
      unit: '×',
      goal: '≥ 0.8',
      pass: ratio >= 0.8,
    },
  ];
}

/**
 * Only `itemEventCost`, on SQLite or on PostgreSQL (a scratch database), for comparing the engines in one run
 * without the rest of the data suite.
 */
export async function runItemEventBench(
  engine: 'sqlite' | 'postgres',
  items: number,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-events-'));
  const database = engine === 'postgres' ? await createBenchDatabase('events') : undefined;
  const safekeep = await openSafekeep(
    loadConfig({
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'silent',
      ...(database ? { DATABASE_URL: database.url } : {}),
    }),
  );
  const app = safekeep.createHttpApp(false);
  try {
    await ensureBootstrapAdminKey(safekeep);
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    log(`  engine ${engine}`);
    return await itemEventCost(safekeep, address, items, log);
  } finally {
    await app.close();
    await safekeep.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runDataApiBench(
  options: DataApiBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-'));
  const safekeep = await openSafekeep(
    // Throughput of one key, measured without the per-key rate limit.
    loadConfig({
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'silent',
      SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
    }),
  );
  const app = safekeep.createHttpApp(false);
  const results: BenchResult[] = [];
  try {
    await ensureBootstrapAdminKey(safekeep);
    const site = await safekeep.services.admin.createSite('bench');
    const { secret } = await safekeep.services.admin.createApiKey({
      name: 'bench',
      siteIds: [site.id],
      scopes: [...siteScopes],
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: secret, 'wix-site-id': site.id, 'content-type': 'application/json' };
    const call = async (path: string, body: unknown) => {
      const res = await fetch(`${address}/wix-data/v2${path}`, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
      return text;
    };
    for (const id of ['ViaHttp', 'Direct', 'Big', 'Small'])
      await safekeep.services.collections.create(
        { siteId: site.id, principal: { keyId: 'bench', siteIds: [site.id], scopes: ['admin'] } },
        { id },
      );

    // 1. Bulk insert through HTTP: 1,000-item batches of ~1 KB items, two requests in flight.
    const batches = Math.ceil(options.insertItems / 1000);
    const bodies = Array.from({ length: batches }, (_, b) =>
      JSON.stringify({
        dataCollectionId: 'ViaHttp',
        dataItems: Array.from({ length: 1000 }, (_, i) => ({ data: sampleItem(b * 1000 + i) })),
      }),
    );
    log(
      `  bulk insert: ${batches} batches of 1,000 items (${(Buffer.byteLength(bodies[0] ?? '') / 1024).toFixed(0)} KiB each) over HTTP`,
    );
    let next = 0;
    const http = await timed(() =>
      Promise.all(
        [0, 1].map(async () => {
          while (next < bodies.length) await call('/bulk/items/insert', bodies[next++] ?? '');
        }),
      ),
    );
    const httpRate = (batches * 1000) / (http.ms / 1000);
    results.push({
      name: 'bulk insert through HTTP',
      value: Math.round(httpRate),
      unit: 'items/s',
      goal: '≥ 25000',
      pass: httpRate >= 25000,
    });

    // The same items straight into the storage layer (items composed beforehand, as the service does).
    const target = { siteId: site.id, collectionId: 'Direct', environment: 'LIVE' as const };
    const now = Date.now();
    const composed: StoredItem[][] = Array.from({ length: batches }, (_, b) =>
      Array.from({ length: 1000 }, (_, i) =>
        composeItem({
          id: newItemId(now),
          owner: 'bench',
          createdAt: now,
          updatedAt: now,
          fields: sampleItem(b * 1000 + i),
        }),
      ),
    );
    const direct = await timed(async () => {
      for (const batch of composed) await safekeep.storage.items.write(target, (tx) => tx.insert(batch));
    });
    const directRate = (batches * 1000) / (direct.ms / 1000);
    results.push({
      name: 'bulk insert straight into storage',
      value: Math.round(directRate),
      unit: 'items/s',
    });
    results.push({
      name: 'bulk insert HTTP / direct',
      value: httpRate / directRate,
      unit: '×',
      note: 'share of storage speed kept through HTTP',
    });

    results.push(...(await itemEventCost(safekeep, address, options.insertItems, log)));

    // 2. Query latency by _id, _createdDate and _updatedDate on 10k and 1M items.
    const fill = async (collectionId: string, count: number) => {
      const base = Date.UTC(2024, 0, 1);
      const ids: string[] = [];
      for (let start = 0; start < count; start += 5000) {
        const batch: StoredItem[] = [];
        for (let i = start; i < Math.min(count, start + 5000); i++) {
          const at = base + i * 1000;
          const id = newItemId(at);
          ids.push(id);
          batch.push(
            composeItem({
              id,
              owner: 'bench',
              createdAt: at,
              updatedAt: at + (i % 97) * 1000,
              fields: sampleItem(i),
            }),
          );
        }
        await safekeep.storage.items.write({ ...target, collectionId }, (tx) => tx.insert(batch));
      }
      return { ids, base };
    };
    log(`  filling ${options.smallItems} and ${options.bigItems} items for the query benchmark`);
    const small = await fill('Small', options.smallItems);
    const big = await timed(() => fill('Big', options.bigItems));
    log(`  filled ${options.bigItems} items in ${(big.ms / 1000).toFixed(1)} s`);

    const measure = async (collectionId: string, data: { ids: string[]; base: number }, count: number) => {
      let seed = 7;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const byId = await latencies(options.queries, () =>
        call('/items/query', {
          dataCollectionId: collectionId,
          query: { filter: { _id: data.ids[rand(data.ids.length)] } },
        }),
      );
      const byCreated = await latencies(options.queries, () =>
        call('/items/query', {
          dataCollectionId: collectionId,
          query: {
            filter: {
              _createdDate: { $gte: { $date: new Date(data.base + rand(count) * 1000).toISOString() } },
            },
            sort: [{ fieldName: '_createdDate', order: 'ASC' }],
            paging: { limit: 10 },
          },
        }),
      );
      const byUpdated = await latencies(options.queries, () =>
        call('/items/query', {
          dataCollectionId: collectionId,
          query: {
            filter: {
              _updatedDate: { $lt: { $date: new Date(data.base + rand(count) * 1000).toISOString() } },
            },
            sort: [{ fieldName: '_updatedDate', order: 'DESC' }],
            paging: { limit: 10 },
          },
        }),
      );
      return { byId, byCreated, byUpdated };
    };
    const smallLat = await measure('Small', small, options.smallItems);
    const bigLat = await measure('Big', big.result, options.bigItems);
    for (const [key, label] of [
      ['byId', '_id'],
      ['byCreated', '_createdDate'],
      ['byUpdated', '_updatedDate'],
    ] as const) {
      for (const [size, lat] of [
        [options.smallItems, smallLat[key]],
        [options.bigItems, bigLat[key]],
      ] as const) {
        results.push({
          name: `query by ${label}, ${size} items, p50`,
          value: percentile(lat, 50),
          unit: 'ms',
        });
        results.push({
          name: `query by ${label}, ${size} items, p99`,
          value: percentile(lat, 99),
          unit: 'ms',
        });
      }
      const ratio = percentile(bigLat[key], 99) / percentile(smallLat[key], 99);
      results.push({
        name: `query by ${label}: p99 ${options.bigItems} / p99 ${options.smallItems}`,
        value: ratio,
        unit: '×',
        goal: '< 3',
        pass: ratio < 3,
      });
    }
    return results;
  } finally {
    await app.close();
    await safekeep.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
