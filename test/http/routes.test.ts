/** Meta-tests over the route table: every route declares who may call it. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Type from 'typebox';
import { RequestInteger } from '../../src/contracts/request-integer.js';
import { buildHttpApp } from '../../src/http/app.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';

describe('route table', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
  });
  after(() => env.close());

  it('declares auth on every route, and a scope on every route that needs a key', () => {
    const routes = env.app.declaredRoutes.filter((r) => r.method !== 'HEAD');
    assert.ok(routes.length >= 59, `${routes.length} routes`);
    const publicRoutes = routes.filter((r) => r.auth.kind === 'public').map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(publicRoutes.sort(), [
      'GET /',
      'GET /docs',
      'GET /healthz',
      // Checks its own credentials: an admin key or the metrics token (test/metrics/metrics.test.ts).
      'GET /metrics',
      'GET /openapi.json',
      'GET /ui/*',
    ]);
    // Reading one's own key needs no scope: any valid key may ask who it is.
    const scopeless = new Set(['GET /_api/safekeep/v1/session']);
    for (const route of routes) {
      if (route.auth.kind !== 'public' && !scopeless.has(`${route.method} ${route.url}`))
        assert.ok(route.auth.scope, `${route.method} ${route.url} has no scope`);
    }
  });

  it('serves both Data API prefixes with the same routes', () => {
    const paths = (prefix: string) =>
      env.app.declaredRoutes
        .filter((r) => r.url.startsWith(prefix) && !r.url.startsWith('/wix-data/v2/backups'))
        .map((r) => `${r.method} ${r.url.slice(prefix.length)} ${JSON.stringify(r.auth)}`)
        .sort();
    assert.deepEqual(paths('/_api/cloud-data/v2'), paths('/wix-data/v2'));
  });

  it('refuses to build an app with a route that declares no auth', () => {
    assert.throws(
      () =>
        buildHttpApp({
          auth: env.safekeep.services.auth,
          bodyLimit: 1024,
          logger: false,
          routes: (app) => {
            app.get('/undeclared', () => ({}));
          },
        }),
      /declares no auth/,
    );
  });

  it('refuses to build an app with a route whose integers are not bounded within ±(2^53 − 1)', () => {
    const build = (n: ReturnType<typeof Type.Integer>) =>
      buildHttpApp({
        auth: env.safekeep.services.auth,
        bodyLimit: 1024,
        logger: false,
        routes: (app) => {
          app.post(
            '/numbers',
            {
              config: { auth: { kind: 'public' } },
              schema: { body: Type.Object({ page: Type.Object({ n: Type.Union([n, Type.Null()]) }) }) },
            },
            () => ({}),
          );
        },
      });
    assert.throws(() => build(Type.Integer()), /body \/page\/n is a number without bounds/);
    assert.throws(() => build(Type.Integer({ minimum: 0, maximum: 2 ** 63 })), /without bounds/);
    assert.doesNotThrow(() => build(RequestInteger({ minimum: 0 })));
  });

  it('bounds every integer of every route within ±(2^53 − 1) (RequestInteger)', () => {
    for (const route of env.app.declaredRoutes) {
      for (const part of ['body', 'querystring', 'params'] as const) {
        const text = JSON.stringify(route.schema?.[part] ?? {});
        for (const match of text.matchAll(/"type":"integer"[^}]*/g)) {
          assert.match(match[0], /"maximum":\d+/, `${route.method} ${route.url} ${part}: ${match[0]}`);
        }
      }
    }
  });
});
