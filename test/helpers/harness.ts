import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, ApiKeyStrategy } from '@wix/sdk';
import * as items from '@wix/wix-data-items-sdk';
import * as collections from '@wix/auto_sdk_data_collections';
import type { FastifyInstance } from 'fastify';
import { ensureBootstrapAdminKey, openSafekeep, type Safekeep } from '../../src/app/composition-root.js';
import { loadConfig } from '../../src/config.js';
import { siteScopes } from '../../src/contracts/scopes.js';
import { injectFetch, loopbackFetch } from './inject-fetch.js';
import { TestClock } from './test-clock.js';
import type { Failpoints } from '../../src/engine/failpoints.js';

export interface TestSite {
  readonly siteId: string;
  readonly apiKey: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
  readonly text: string;
  readonly headers: Record<string, unknown>;
}

/** A safekeep on a fresh temporary data directory, with its HTTP app and an admin key. */
export interface TestEnv {
  readonly safekeep: Safekeep;
  readonly app: FastifyInstance;
  readonly clock: TestClock;
  readonly dataDir: string;
  readonly adminKey: string;
  /** Method and URL of every request the app received, in order. */
  readonly requests: string[];
  /** Creates a site and a key with every site scope (as `safekeep site create` does). */
  createSite(name?: string): Promise<TestSite>;
  /** Calls the API in-process. */
  call(
    method: string,
    path: string,
    options?: {
      key?: string;
      site?: string;
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
    },
  ): Promise<ApiResponse>;
  /** Listens on an ephemeral loopback port (for real-HTTP tests). */
  listen(): Promise<number>;
  /** Stops everything; removes the data directory unless `keepData` (to reopen it, as after a restart). */
  close(keepData?: boolean): Promise<void>;
}

/**
 * The stack test environments run on, from SAFEKEEP_TEST_STACK: `embedded` (SQLite and a local folder, the
 * default) or `scaleout` (a fresh PostgreSQL database and S3 prefix per environment). `npm test` runs the
 * backup suite on both (scripts/run-tests.js). On `scaleout`, unreachable servers fail the tests.
 */
export const testStack: 'embedded' | 'scaleout' = (() => {
  const raw = process.env.SAFEKEEP_TEST_STACK ?? 'embedded';
  if (raw !== 'embedded' && raw !== 'scaleout')
    throw new Error(`SAFEKEEP_TEST_STACK must be embedded or scaleout, not "${raw}"`);
  return raw;
})();

/**
 * The environment setting that lets webhooks reach receivers on 127.0.0.1 (refused by default, like every
 * loopback and private address): for tests whose receivers run in the test process.
 */
export const loopbackHooks = { SAFEKEEP_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' } as const;

/** Scale-out servers of each environment, by data directory, so that a restarted environment finds its data. */
const scaleout = new Map<string, { env: Record<string, string>; close(): Promise<void> }>();

async function scaleoutFor(dataDir: string): Promise<Record<string, string>> {
  let stack = scaleout.get(dataDir);
  if (!stack) {
    // Loaded only here, so that embedded runs never load the PostgreSQL driver or the AWS SDK.
    const [{ createTestDatabase }, { startTestS3 }] = await Promise.all([
      import('./postgres.js'),
      import('./s3.js'),
    ]);
    const [database, s3] = await Promise.all([createTestDatabase('env'), startTestS3()]);
    stack = {
      env: { ...s3.env, DATABASE_URL: database.url, SAFEKEEP_DB_POOL_SIZE: '4' },
      async close() {
        await database.drop();
        await s3.close();
      },
    };
    scaleout.set(dataDir, stack);
  }
  return stack.env;
}

export async function startTestEnv(
  options: {
    env?: Record<string, string>;
    failpoint?: Failpoints;
    dataDir?: string;
    clock?: TestClock;
    /** The stack to run on; `testStack` unless a test needs a particular one (fault tests run both). */
    stack?: 'embedded' | 'scaleout';
    /** Restored collections from this many items get a table of their own (the engine's default otherwise). */
    largeGenerationItems?: number;
    /** Items a job by filter handles per transaction (the engine's default otherwise). */
    itemJobBatch?: number;
  } = {},
): Promise<TestEnv> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'safekeep-test-'));
  const clock = options.clock ?? new TestClock();
  const stackEnv = (options.stack ?? testStack) === 'scaleout' ? await scaleoutFor(dataDir) : {};
  const config = loadConfig({
    SAFEKEEP_DATA_DIR: dataDir,
    SAFEKEEP_WORKER_THREADS: '1',
    // Tests drive one key far faster than a client should; the rate-limit tests set their own limit.
    SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
    ...stackEnv,
    ...options.env,
  });
  const safekeep = await openSafekeep(config, {
    clock: clock.now,
    failpoint: options.failpoint,
    largeGenerationItems: options.largeGenerationItems,
    itemJobBatch: options.itemJobBatch,
  });
  const app = safekeep.createHttpApp(false);
  const requests: string[] = [];
  app.addHook('onRequest', (req, _reply, done) => {
    requests.push(`${req.method} ${req.url}`);
    done();
  });
  await app.ready();
  const adminKey = (await ensureBootstrapAdminKey(safekeep)) ?? '';
  if (!adminKey && !options.dataDir) throw new Error('bootstrap admin key was not created');
  return {
    safekeep,
    app,
    clock,
    dataDir,
    adminKey,
    requests,
    async createSite(name = 'Test site') {
      const site = await safekeep.services.admin.createSite(name);
      const key = await safekeep.services.admin.createApiKey({
        name: 'all',
        siteIds: [site.id],
        scopes: [...siteScopes],
      });
      return { siteId: site.id, apiKey: key.secret };
    },
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.key) headers.authorization = opts.key;
      if (opts.site) headers['wix-site-id'] = opts.site;
      let payload: string | undefined = opts.rawBody;
      if (opts.body !== undefined) {
        payload = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await app.inject({
        method: method as 'GET',
        url: path,
        headers,
        ...(payload !== undefined && { payload }),
      });
      let body: unknown;
      try {
        body = res.body.length > 0 ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, body, text: res.body, headers: res.headers };
    },
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      return address.port;
    },
    async close(keepData = false) {
      await app.close();
      await safekeep.close();
      if (keepData) return;
      rmSync(dataDir, { recursive: true, force: true });
      await scaleout.get(dataDir)?.close();
      scaleout.delete(dataDir);
    },
  };
}

/** A Wix SDK client for the data and collections modules, on the in-process app or a loopback port. */
export function wixDataClient(target: FastifyInstance | number, site: TestSite) {
  const port = typeof target === 'number' ? target : 1;
  return createClient({
    modules: { items, collections },
    auth: ApiKeyStrategy({ apiKey: site.apiKey, siteId: site.siteId }),
    host: { apiBaseUrl: `localhost:${port}` },
    fetch: typeof target === 'number' ? loopbackFetch(target) : injectFetch(target),
  });
}
