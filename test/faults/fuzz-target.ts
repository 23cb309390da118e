/**
 * The fuzz test's target: a safekeep with a real site, keys, collections, items, a backup and a
 * restoration for the generated requests to hit, and the loop that sends them and judges the answers.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { siteScopes } from '../../src/contracts/scopes.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import type { TestEnv, TestSite } from '../helpers/harness.js';
import { limitProbes } from './fuzz-limits.js';
import {
  hostileRequests,
  operationsOf,
  type FuzzKeys,
  type FuzzOperation,
  type FuzzRequest,
  type OpenApiPaths,
  type ValuePools,
} from './fuzz-requests.js';

const P = '/wix-data/v2';

/** A full garbage collection, whether or not node runs with --expose-gc. */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** The heap in use after a full collection. */
export function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** What went wrong with one response, or undefined when it is acceptable. */
export function problemWith(method: string, status: number, text: string): string | undefined {
  if (status >= 500) return `status ${status}`;
  if (status < 400 || method === 'HEAD' || status === 304) return undefined;
  try {
    assertErrorShape(JSON.parse(text));
    return undefined;
  } catch (error) {
    return `error not in the spec's shape (${(error as Error).message.split('\n')[0]})`;
  }
}

/** Failures, kept distinct by what failed, with one example each. */
export class Failures {
  readonly examples = new Map<string, string>();
  count = 0;
  add(kind: string, example: string): void {
    this.count += 1;
    if (this.examples.size < 40 && !this.examples.has(kind)) this.examples.set(kind, example.slice(0, 600));
  }
  describe(): string {
    return [...this.examples].map(([k, e]) => `- ${k}\n  ${e}`).join('\n');
  }
}

/** What an in-process run measured. */
export interface FuzzRun {
  readonly sent: number;
  readonly operations: number;
  readonly routesHit: number;
  readonly statuses: ReadonlyMap<number, number>;
  readonly failures: Failures;
  readonly heapStart: number;
  readonly heapEnd: number;
}

/** A fuzzed safekeep: its fixture, and the means to fuzz it. */
export class FuzzTarget {
  private constructor(
    readonly env: TestEnv,
    readonly site: TestSite,
    readonly keys: FuzzKeys,
    readonly pools: ValuePools,
    private readonly siteKeyId: string,
    readonly operations: readonly FuzzOperation[],
  ) {}

  /** Builds the fixture on `env`: collections with items and references, a backup, a restoration, a webhook, a spare key. */
  static async open(env: TestEnv): Promise<FuzzTarget> {
    const site = await env.createSite('Fuzzed site');
    const as = { key: site.apiKey };
    const created = await env.call('POST', `${P}/collections`, {
      ...as,
      body: {
        collection: {
          id: 'Books',
          fields: [
            { key: 'title', type: 'TEXT' },
            {
              key: 'refs',
              type: 'MULTI_REFERENCE',
              typeMetadata: { multiReference: { referencedCollectionId: 'Books' } },
            },
          ],
        },
      },
    });
    assert.equal(created.status, 200, created.text);
    await seedItems(env, site);
    const backup = await env.call('POST', `${P}/backups`, { ...as, body: {} });
    assert.equal(backup.status, 200, backup.text);
    await runJobs(env);
    const restoration = await env.call('POST', `${P}/backups/${backup.body.backup.id}/restore`, {
      ...as,
      body: {},
    });
    assert.equal(restoration.status, 200, restoration.text);
    await runJobs(env);
    const spare = await env.call('POST', '/_api/safekeep/v1/api-keys', {
      ...as,
      body: { name: 'spare', siteIds: [site.siteId], scopes: ['data.read'] },
    });
    const hook = await env.call('POST', '/_api/safekeep/v1/webhooks', {
      ...as,
      body: {
        siteId: site.siteId,
        url: 'http://127.0.0.1:9/hook',
        eventTypes: ['wix.data.v2.backup_backup_state_changed'],
      },
    });
    const session = await env.call('GET', '/_api/safekeep/v1/session', as);
    const itemIds = ['book-1', 'book-2', 'author-1'];
    const pools: ValuePools = {
      dataCollectionId: ['Books', 'Authors'],
      referencedCollectionId: ['Books'],
      id: [...itemIds, spare.body.apiKey.id as string, hook.body.webhook.id as string, site.siteId],
      dataItemId: itemIds,
      dataItemIds: itemIds,
      referringItemId: itemIds,
      referencedItemId: itemIds,
      newReferencedItemIds: itemIds,
      referringItemFieldName: ['refs'],
      fieldName: ['title', 'refs', '_id', '_createdDate'],
      field: ['refs'],
      backupId: [backup.body.backup.id as string],
      restorationId: [restoration.body.restoration.id as string],
      siteId: [site.siteId],
      siteIds: [site.siteId],
      scopes: [...siteScopes, 'admin'],
      eventTypes: [
        'wix.data.v2.backup_backup_state_changed',
        'wix.data.v2.backup_restoration_state_changed',
        'nope',
      ],
      url: ['http://127.0.0.1:9/hook', 'http://169.254.169.254/latest', 'file:///etc/passwd'],
      status: ['PENDING', 'READY', 'FAILED'],
    };
    // The routes and their schemas, from the document the server serves.
    const operations = operationsOf((await env.call('GET', '/openapi.json')).body as OpenApiPaths);
    assert.ok(operations.length >= 59, `${operations.length} operations in the document`);
    const keys = { site: site.apiKey, admin: env.adminKey, siteId: site.siteId };
    return new FuzzTarget(env, site, keys, pools, session.body.apiKey.id as string, operations);
  }

  /** Every kind of hostile request, for this target. */
  requests(): fc.Arbitrary<FuzzRequest> {
    return hostileRequests(this.operations, this.pools, this.keys).map((r) => this.spareTheGround(r));
  }

  /**
   * The fuzzer may do anything the keys allow except remove the ground it stands on: deleting the fuzzed
   * site or revoking the fuzzing key would turn every later request into a shallow 401/404.
   */
  private spareTheGround(req: FuzzRequest): FuzzRequest {
    const path = req.url.split('?')[0] ?? '';
    const destroys =
      req.method === 'DELETE' &&
      (path.endsWith(`/sites/${this.site.siteId}`) || path.endsWith(`/api-keys/${this.siteKeyId}`));
    return destroys ? { ...req, method: 'GET' } : req;
  }

  /**
   * Sends `total` generated requests in-process (seeded, so a run replays), putting the fixture's items
   * back every 1,000; measures the heap after GC once `warmUp` requests have run and at the end.
   */
  async fuzzInProcess(total: number, seed: number, warmUp: number): Promise<FuzzRun> {
    const { env } = this;
    const failures = new Failures();
    const statuses = new Map<number, number>();
    const routesHit = new Set<string>();
    let sent = 0;
    let heapStart = 0;
    await fc.assert(
      fc.asyncProperty(this.requests(), async (req) => {
        // The harness logs every request's URL: that log is the test's memory, not the server's.
        if (sent % 1000 === 0) env.requests.length = 0;
        if (sent === warmUp) heapStart = heapAfterGc();
        if (sent % 1000 === 999) await seedItems(env, this.site);
        sent += 1;
        let res;
        try {
          res = await env.app.inject({
            method: req.method as 'GET',
            url: req.url,
            headers: req.headers,
            ...(req.payload !== undefined && { payload: req.payload }),
          });
        } catch (error) {
          failures.add(`inject threw: ${(error as Error).message}`, `${req.method} ${req.url.slice(0, 200)}`);
          return;
        }
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (req.operation && !res.body.includes('ROUTE_NOT_FOUND')) routesHit.add(req.operation);
        const problem = problemWith(req.method, res.statusCode, res.body);
        if (problem)
          failures.add(
            `${problem}: ${req.mutation}`,
            `${req.method} ${req.url.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 200)} ` +
              `body=${req.payload?.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`,
          );
      }),
      { seed, numRuns: total, endOnFailure: true },
    );
    env.requests.length = 0;
    const heapEnd = heapAfterGc();
    return {
      sent,
      operations: this.operations.length,
      routesHit: routesHit.size,
      statuses,
      failures,
      heapStart,
      heapEnd,
    };
  }
}

/** What the probes of the integer and Unicode rules found. */
export interface LimitRun {
  readonly sent: number;
  /** Operations of the document that carry an integer or a string to probe. */
  readonly operations: number;
  readonly refusalsExpected: number;
  readonly failures: Failures;
}

/**
 * Sends every probe of the integer and Unicode rules (`fuzz-limits.ts`) in-process: none may answer 5xx,
 * and a probe past a limit must be refused with 400 INVALID_ARGUMENT naming the probed field and rule.
 */
export async function probeLimits(target: FuzzTarget): Promise<LimitRun> {
  const failures = new Failures();
  const probes = limitProbes(target.operations, target.pools, target.keys);
  for (const { request, refusal } of probes) {
    const res = await target.env.app.inject({
      method: request.method as 'GET',
      url: request.url,
      headers: request.headers,
      ...(request.payload !== undefined && { payload: request.payload }),
    });
    const example = `${request.method} ${request.url.slice(0, 160)} body=${request.payload?.slice(0, 160)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
    const problem = problemWith(request.method, res.statusCode, res.body);
    if (problem) {
      failures.add(`${problem}: ${request.mutation}`, example);
      continue;
    }
    if (!refusal) continue;
    const violations = (
      JSON.parse(res.body || '{}') as {
        details?: { validationError?: { fieldViolations?: { field: string; violatedRule: string }[] } };
      }
    ).details?.validationError?.fieldViolations;
    const named = violations?.some(
      (v) => v.field === refusal.field && refusal.rules.includes(v.violatedRule),
    );
    if (res.statusCode !== 400 || !named)
      failures.add(
        `not refused as ${refusal.field} ${refusal.rules.join('/')}: ${request.mutation}`,
        example,
      );
  }
  return {
    sent: probes.length,
    operations: new Set(probes.map((p) => p.request.operation)).size,
    refusalsExpected: probes.filter((p) => p.refusal).length,
    failures,
  };
}

/** The fixture's collections and items, put back as they were (fuzzing removes and changes them). */
async function seedItems(env: TestEnv, site: TestSite): Promise<void> {
  for (const id of ['Books', 'Authors'])
    await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id } } });
  await env.call('POST', `${P}/bulk/items/save`, {
    key: site.apiKey,
    body: {
      dataCollectionId: 'Books',
      dataItems: [
        { id: 'book-1', data: { title: 'One', refs: [] } },
        { id: 'book-2', data: { title: 'Two' } },
      ],
    },
  });
  await env.call('POST', `${P}/items/save`, {
    key: site.apiKey,
    body: { dataCollectionId: 'Authors', dataItem: { id: 'author-1', data: { name: 'A' } } },
  });
}
