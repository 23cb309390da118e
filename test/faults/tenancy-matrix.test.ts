/**
 * Issue 5, item 7 — tenancy and authority, exhaustively (test/http/tenancy.test.ts has the readable
 * examples; this is the matrix):
 * - every route × id position × encoding, site B's ids with site A's key: always 404 (403 where A's key
 *   lacks the route's scope), and nothing of B in any body or header;
 * - every route × single-scope key: 403 exactly when the key lacks the route's declared scope;
 * - every route Fastify registered declares who may call it, and a scope unless it is declared public.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { siteScopes, grants, type Scope } from '../../src/contracts/scopes.js';
import { buildHttpApp, type DeclaredRoute } from '../../src/http/app.js';
import { contentOf, runJobs } from '../helpers/backup-helpers.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { reportFigures } from '../helpers/fault-run.js';
import {
  loopbackHooks,
  startTestEnv,
  type ApiResponse,
  type TestEnv,
  type TestSite,
} from '../helpers/harness.js';
import { percentEncodeAll } from './fuzz-requests.js';
import {
  aliasOf,
  listingsFor,
  probesFor,
  variantsOf,
  type ForeignSite,
  type ProbeRequest,
} from './tenancy-probes.js';

const D = '/wix-data/v2';
const A = '/_api/safekeep/v1';

/** The route as documented: alias prefixes replaced by the documented ones. */
function documented(route: DeclaredRoute): string {
  const url = route.url
    .replace(/^\/data\/v2\/backups/, '/wix-data/v2/backups')
    .replace(/^\/_api\/cloud-data\/v2/, '/wix-data/v2');
  return `${route.method} ${url}`;
}

/** Non-public routes, HEAD left out (Fastify adds one per GET; it answers as the GET does). */
function guardedRoutes(env: TestEnv): DeclaredRoute[] {
  return env.app.declaredRoutes.filter((r) => r.method !== 'HEAD' && r.auth.kind !== 'public');
}

/** A request path for a route, its parameters filled with `fill`. */
function pathOf(route: DeclaredRoute, fill: string): string {
  return route.url.replace(/:[A-Za-z]+/g, fill).replace(/\*$/, fill);
}

/** The same character, moved one step within its class (hex digits stay hex), so shapes stay valid. */
function ghostChar(c: string): string {
  const rings = ['0123456789abcdef', 'ghijklmnopqrstuvwxyz', '0123456789ABCDEF', 'GHIJKLMNOPQRSTUVWXYZ'];
  for (const ring of rings) {
    const at = ring.indexOf(c);
    if (at >= 0) return ring[(at + 1) % ring.length] ?? c;
  }
  return c;
}

/** A value of the same shape as `value` that names nothing. */
function ghostKey(value: string): string {
  return value
    .replace(/^sk_/, '')
    .split('')
    .map(ghostChar)
    .join('')
    .replace(/^/, value.startsWith('sk_') ? 'sk_' : '');
}

function ghostOf(site: ForeignSite): ForeignSite {
  return Object.fromEntries(Object.entries(site).map(([k, v]) => [k, ghostKey(v)])) as unknown as ForeignSite;
}

describe('tenancy matrix: site B seen with site A keys', () => {
  let env: TestEnv;
  let siteA: TestSite;
  let siteB: TestSite;
  let b: ForeignSite;
  const own = 'MineOfA';

  before(async () => {
    env = await startTestEnv({ env: loopbackHooks });
    siteA = await env.createSite('Site A');
    const bName = 'Site B 5e1d-name';
    siteB = await env.createSite(bName);
    const asB = { key: siteB.apiKey };
    const collection = 'SecretOrdersOfB_7f3a';
    const item = 'b-item-7f3a-0001';
    const content = 'B-only-content-91c2';
    const ok = (res: ApiResponse) => {
      assert.equal(res.status, 200, res.text);
      return res.body;
    };
    // B's bin holds a deleted copy of the same id: restoring it with A's key must find nothing.
    ok(await env.call('POST', `${D}/collections`, { ...asB, body: { collection: { id: collection } } }));
    ok(await env.call('DELETE', `${D}/collections/${collection}`, { ...asB }));
    ok(
      await env.call('POST', `${D}/collections`, {
        ...asB,
        body: {
          collection: {
            id: collection,
            fields: [
              {
                key: 'refs',
                type: 'MULTI_REFERENCE',
                typeMetadata: { multiReference: { referencedCollectionId: collection } },
              },
            ],
          },
        },
      }),
    );
    ok(
      await env.call('POST', `${D}/items`, {
        ...asB,
        body: {
          dataCollectionId: collection,
          dataItem: { id: item, data: { secret: content, refs: [item] } },
        },
      }),
    );
    const backup = ok(await env.call('POST', `${D}/backups`, { ...asB, body: {} })).backup.id as string;
    await runJobs(env);
    const restoration = ok(await env.call('POST', `${D}/backups/${backup}/restore`, { ...asB, body: {} }))
      .restoration.id as string;
    await runJobs(env);
    // A job by filter that keeps nothing: B's items stay for the other probes.
    const asyncJob = ok(
      await env.call('POST', `${D}/bulk/items/async-remove-by-filter`, {
        ...asB,
        body: { dataCollectionId: collection, filter: { secret: 'matches-nothing' } },
      }),
    ).jobId as string;
    const verification = ok(await env.call('POST', `${D}/backups/${backup}/verify`, { ...asB, body: {} }))
      .verification.id as string;
    await runJobs(env);
    const webhookUrl = 'http://127.0.0.1:9/b-secret-hook-3d7c';
    const webhook = ok(
      await env.call('POST', `${A}/webhooks`, {
        ...asB,
        body: {
          siteId: siteB.siteId,
          url: webhookUrl,
          eventTypes: ['wix.data.v2.backup_backup_state_changed'],
        },
      }),
    ).webhook.id as string;
    const keyName = 'b-key-name-0c4e';
    const key = ok(
      await env.call('POST', `${A}/api-keys`, {
        ...asB,
        body: { name: keyName, siteIds: [siteB.siteId], scopes: ['data.read'] },
      }),
    );
    b = {
      siteId: siteB.siteId,
      siteName: bName,
      collection,
      item,
      content,
      backup,
      restoration,
      asyncJob,
      verification,
      webhook,
      webhookUrl,
      keyId: key.apiKey.id as string,
      keyName,
    };
    ok(
      await env.call('POST', `${D}/collections`, {
        key: siteA.apiKey,
        body: {
          collection: {
            id: own,
            fields: [
              {
                key: 'refs',
                type: 'MULTI_REFERENCE',
                typeMetadata: { multiReference: { referencedCollectionId: own } },
              },
            ],
          },
        },
      }),
    );
    ok(
      await env.call('POST', `${D}/items`, {
        key: siteA.apiKey,
        body: { dataCollectionId: own, dataItem: { id: 'a-item', data: { mine: true } } },
      }),
    );
  });

  after(() => env.close());

  /** The B values (lower-cased) that a request carries itself, in its URL (decoded), body or header. */
  function carriedBy(req: ProbeRequest, values: readonly string[]): string[] {
    let url = req.url;
    for (let i = 0; i < 3; i++) {
      try {
        url = decodeURIComponent(url);
      } catch {
        break;
      }
    }
    const r = /[?&]\.r=([^&]*)/.exec(req.url)?.[1];
    const envelope = r ? Buffer.from(r, 'base64url').toString('utf8') : '';
    const sent = `${url}\n${envelope}\n${JSON.stringify(req.body ?? null)}\n${req.site ?? ''}`.toLowerCase();
    return values.map((v) => v.toLowerCase()).filter((v) => sent.includes(v));
  }

  /** A response's text with the given values (any case) replaced by their position, for comparing twins. */
  function normalised(res: ApiResponse, values: readonly string[]): string {
    let text = `${res.status} ${res.text}`.toLowerCase();
    values.forEach((v, i) => {
      for (const form of [v, percentEncodeAll(v)]) text = text.split(form.toLowerCase()).join(`<${i}>`);
    });
    return text;
  }

  it('answers 404 for every id of B in every position, encoding and route family, and leaks nothing', async () => {
    const before = JSON.stringify(await contentOf(env, b.siteId));
    const secrets = [...Object.values(b), siteB.apiKey];
    // Each request has a twin that names ids which never existed, with the same shape: a response may
    // echo the id its caller sent, but must not differ from its twin's (which would tell that B's exists).
    const ghost = ghostOf(b);
    const ghostSecrets = [...Object.values(ghost), ghostKey(siteB.apiKey)];
    const pairs = (site: ForeignSite) => {
      const list: ProbeRequest[] = probesFor(site, own).flatMap((p) => variantsOf(p, Object.values(site)));
      for (const route of guardedRoutes(env).filter((r) => r.auth.kind === 'site')) {
        for (const [variant, header] of [
          ['plain', site.siteId],
          ['upper-case', site.siteId.toUpperCase()],
          ['padded', ` ${site.siteId} `],
          ['percent-encoded', percentEncodeAll(site.siteId)],
        ] as const) {
          list.push({
            probe: {
              route: documented(route),
              position: 'header.wix-site-id',
              method: route.method,
              path: route.url,
              expect: 404,
            },
            variant,
            method: route.method,
            url: pathOf(route, own),
            body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
            site: header,
          });
        }
      }
      return list;
    };
    const requests = pairs(b);
    const twins = pairs(ghost);
    assert.equal(twins.length, requests.length);

    const wrongStatus: string[] = [];
    const leaks: string[] = [];
    let echoes = 0;
    let doubleEncodedRefused = 0;
    for (const [i, req] of requests.entries()) {
      const twin = twins[i] as ProbeRequest;
      const res = await env.call(req.method, req.url, { key: siteA.apiKey, site: req.site, body: req.body });
      const twinRes = await env.call(twin.method, twin.url, {
        key: siteA.apiKey,
        site: twin.site,
        body: twin.body,
      });
      const what = `${req.method} ${req.url.slice(0, 160)} [${req.probe.position}; ${req.variant}]`;
      // A double-encoded GUID decodes once to `%39%32…`, which is no id at all: refused as malformed, as
      // its twin is (the twin comparison below holds either way).
      // An upper-cased route is no route at all (routes are case-sensitive): 404 before any auth check.
      const expected = req.variant.endsWith('route in upper case') ? 404 : req.probe.expect;
      const malformed =
        req.variant.endsWith('double-encoded') && res.status === 400 && twinRes.status === 400;
      if (malformed) doubleEncodedRefused += 1;
      if (res.status !== expected && !malformed)
        wrongStatus.push(`${what} → ${res.status} ${res.text.slice(0, 200)}`);
      else if (res.status >= 400) assertErrorShape(res.body);
      const carried = carriedBy(req, secrets);
      const everything = `${res.text}\n${JSON.stringify(res.headers)}`.toLowerCase();
      const shown = secrets.filter((s) => everything.includes(s.toLowerCase()));
      const unsent = shown.filter((s) => !carried.includes(s.toLowerCase()));
      if (unsent.length > 0) leaks.push(`${what} shows ${unsent.join(', ')}: ${res.text.slice(0, 200)}`);
      if (shown.length > 0) echoes += 1;
      if (normalised(res, secrets) !== normalised(twinRes, ghostSecrets))
        leaks.push(
          `${what} answers unlike for an id that never existed: ${res.text.slice(0, 160)} vs ${twinRes.text.slice(0, 160)}`,
        );
    }

    // Routes with no id position: lists and own views show nothing of B either.
    let listings = 0;
    for (const listing of listingsFor()) {
      for (const path of [listing.path, aliasOf(listing.path)].filter((p): p is string => p !== undefined)) {
        listings += 1;
        const method = listing.route.split(' ')[0] ?? 'GET';
        // A fresh collection id per call, so the second family's create is not a conflict.
        const body = JSON.parse(
          JSON.stringify(listing.body ?? null).replace('"Fresh"', `"Fresh${listings}"`),
        ) as unknown;
        const res = await env.call(method, path, { key: siteA.apiKey, body: body ?? undefined });
        if (res.status !== listing.expect)
          wrongStatus.push(`${method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
        const everything = `${res.text}\n${JSON.stringify(res.headers)}`.toLowerCase();
        const shown = secrets.filter((s) => everything.includes(s.toLowerCase()));
        if (shown.length > 0) leaks.push(`${method} ${path} shows ${shown.join(', ')}`);
      }
    }

    // Every guarded route has a place in the matrix: an id position, or a listing.
    const idRoutes = new Set(
      requests.filter((r) => r.probe.position !== 'header.wix-site-id').map((r) => r.probe.route),
    );
    const covered = new Set([...idRoutes, ...listingsFor().map((l) => l.route)]);
    const uncovered = [...new Set(guardedRoutes(env).map(documented))].filter((r) => !covered.has(r));

    const figures =
      `${requests.length + listings} requests over ${new Set(guardedRoutes(env).map((r) => `${r.method} ${r.url}`)).size} ` +
      `routes (${idRoutes.size} with id positions, both families, 6 path variants); ` +
      `${leaks.length} leaks (B values not sent, or answers unlike a never-existing id's), ` +
      `${wrongStatus.length} unexpected answers (all 404; 403 where A lacks the scope; empty 200 for reference ` +
      `queries in A's own collection; ${doubleEncodedRefused} ` +
      `double-encoded GUIDs refused as malformed with 400, like their twins); ` +
      `${echoes} answers echo the id their caller sent, as for any unknown id`;
    console.log(`# ${figures}`);
    reportFigures({
      test: '7. Tenancy: cross-site matrix',
      proves:
        "Site B's ids with site A's key, on every route, id position, encoding and route family: always 404, " +
        'nothing of B in any body, header or error text.',
      ciSize: `${requests.length + listings} requests`,
      ran: `${requests.length + listings} requests`,
      figures,
    });
    assert.deepEqual(uncovered, [], 'routes with no place in the matrix');
    assert.deepEqual(leaks, []);
    assert.deepEqual(wrongStatus, []);
    assert.equal(JSON.stringify(await contentOf(env, b.siteId)), before, "B's data is untouched");
    const stillThere = await env.call('GET', `${D}/backups/${b.backup}`, { key: siteB.apiKey });
    assert.equal(stillThere.status, 200, "B's backup is still there");
    const hooks = await env.call('GET', `${A}/webhooks`, { key: siteB.apiKey });
    assert.equal(hooks.body.webhooks.length, 1, "B's webhook is still there");
    const keys = await env.call('GET', `${A}/api-keys`, { key: siteB.apiKey });
    assert.ok(
      keys.body.apiKeys.some((k: { id: string; revokedDate: unknown }) => k.id === b.keyId && !k.revokedDate),
    );
  });
});

describe('scope matrix: each single-scope key on every route', () => {
  let env: TestEnv;
  let site: TestSite;
  const keys = new Map<Scope, string>();

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite('Scoped site');
    for (const scope of siteScopes) {
      const key = await env.safekeep.services.admin.createApiKey({
        name: scope,
        siteIds: [site.siteId],
        scopes: [scope],
      });
      keys.set(scope, key.secret);
    }
    keys.set('admin', env.adminKey);
    await env.call('POST', `${D}/collections`, { key: site.apiKey, body: { collection: { id: 'Kept' } } });
  });

  after(() => env.close());

  it('answers 403 exactly when the key lacks the route declared scope', async () => {
    const routes = guardedRoutes(env);
    const wrong: string[] = [];
    let requests = 0;
    let denied = 0;
    const createOnly: string[] = [];
    for (const route of routes) {
      const needed = route.auth.kind === 'public' ? 'none' : route.auth.scope;
      for (const [scope, key] of keys) {
        requests += 1;
        // Ids that exist nowhere: a granted DELETE finds nothing to delete, so the matrix changes nothing.
        const res = await env.call(route.method, pathOf(route, 'no-such-id-4c1b'), {
          key,
          site: scope === 'admin' ? site.siteId : undefined,
          body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
        });
        const allowed = needed === 'none' || grants([scope], needed);
        const what = `${scope} key, ${route.method} ${route.url} (needs ${needed}) → ${res.status}`;
        if (allowed && (res.status === 403 || res.status === 401))
          wrong.push(`${what} ${res.text.slice(0, 160)}`);
        if (!allowed) {
          denied += 1;
          if (res.status !== 403 || assertErrorShape(res.body) !== 'PERMISSION_DENIED')
            wrong.push(`${what} ${res.text.slice(0, 160)}`);
          else assert.equal(res.body.details.applicationError.data.requiredScope, needed);
        }
        if (scope === 'backups.create' && res.status !== 403) createOnly.push(`${route.method} ${route.url}`);
      }
    }
    // A create-only key: nothing that deletes, restores, or changes settings, keys, webhooks or data.
    const destructive = createOnly.filter(
      (r) =>
        r.startsWith('DELETE') ||
        r.startsWith('PATCH') ||
        r.startsWith('PUT') ||
        /restore|settings|api-keys|webhooks|items|collections/.test(r),
    );
    const figures =
      `${requests} requests (${routes.length} routes × ${keys.size} single-scope keys); ` +
      `${denied} denied as declared, ${wrong.length} wrong; create-only key reached ${createOnly.length} routes ` +
      `(${[...new Set(createOnly)].join(', ')}; ${destructive.length} destructive)`;
    console.log(`# ${figures}`);
    reportFigures({
      test: '7. Tenancy: scope matrix',
      proves:
        'Every route with every single-scope key: 403 exactly when the route declared scope is missing; a ' +
        'create-only key can never delete, restore or change settings.',
      ciSize: `${requests} requests`,
      ran: `${requests} requests`,
      figures,
    });
    assert.deepEqual(wrong, []);
    assert.deepEqual(destructive, [], 'a create-only key reached a destructive route');
    const kept = await env.call('GET', `${D}/collections/Kept`, { key: site.apiKey });
    assert.equal(kept.status, 200, 'the matrix changed nothing');
  });

  it('finds a declared auth and scope on every route Fastify registered', () => {
    // The router's own table (printRoutes prints a wildcard's static prefix lossily, so paths are matched
    // through hasRoute and the router's method count, not the printed text). Counted one method's tree at a
    // time: the all-methods tree leaves out a wildcard under a static segment under another wildcard's
    // parent (`collections/restore/*` beside `collections/*`).
    const inRouter = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].reduce(
      (n, method) => n + methodsInTree(env.app.printRoutes({ method })),
      0,
    );
    const declared = env.app.declaredRoutes;
    assert.ok(inRouter >= 100, `${inRouter} routes in the router`);
    assert.equal(inRouter, declared.length, 'the router holds exactly the declared routes');
    // GET /metrics checks its own credentials (an admin key or the metrics token, which is not a key).
    const publicRoutes = [
      'GET /',
      'GET /docs',
      'GET /healthz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /ui/*',
    ];
    const problems: string[] = [];
    for (const route of declared) {
      const name = `${route.method} ${route.url}`;
      if (!env.app.hasRoute({ method: route.method, url: route.url }))
        problems.push(`${name}: not in the router`);
      if (route.auth.kind === 'public') {
        if (!publicRoutes.includes(name.replace(/^HEAD /, 'GET ')))
          problems.push(`${name}: public but not listed as such`);
      } else if (!route.auth.scope) problems.push(`${name}: no scope`);
    }
    assert.deepEqual(problems, []);
    // And the app refuses to start with a route that leaves the scope out.
    for (const auth of [{ kind: 'key' }, { kind: 'site' }]) {
      assert.throws(
        () =>
          buildHttpApp({
            auth: env.safekeep.services.auth,
            bodyLimit: 1024,
            logger: false,
            routes: (app) => {
              app.get('/unscoped', { config: { auth: auth as never } }, () => ({}));
            },
          }),
        /declares no scope/,
      );
    }
  });
});

/** How many method entries a `printRoutes` tree holds: one per registered route. */
function methodsInTree(tree: string): number {
  let count = 0;
  for (const line of tree.split('\n')) {
    const methods = /\(([A-Z, ]+)\)$/.exec(line)?.[1];
    if (methods) count += methods.split(', ').length;
  }
  return count;
}
