/**
 * The OpenAPI document: valid OpenAPI 3.1, generated from the route table (every route, nothing else,
 * with the very schemas the server validates with), and its readable page at /docs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import Type from 'typebox';
import { RequestInteger } from '../../src/contracts/request-integer.js';
import { buildHttpApp } from '../../src/http/app.js';
import { openApiPath } from '../../src/http/openapi-document.js';
import { documentedPath, operations } from '../../src/http/openapi-operations.js';
import { registerOpenApiRoutes } from '../../src/http/routes/openapi-routes.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';

describe('OpenAPI document', () => {
  let env: TestEnv;
  let doc: any;

  before(async () => {
    env = await startTestEnv();
    const res = await env.call('GET', '/openapi.json');
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.body;
  });
  after(() => env.close());

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
    assert.equal(doc.openapi, '3.1.0');
  });

  it('lists every route of the route table, and nothing else', () => {
    const routes = env.app.declaredRoutes.filter((r) => r.method !== 'HEAD');
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const expected = routes.map((r) => {
      const wildcard = operations[`${r.method} ${documentedPath(r.url).path}`]?.wildcard;
      return `${r.method} ${openApiPath(r.url, wildcard)}`;
    });
    assert.deepEqual([...listed].sort(), [...expected].sort());
    assert.ok(routes.length >= 88, `${routes.length} routes`);
  });

  it('describes every route: a summary, an answer, and a unique operation id', () => {
    const undocumented = env.app.declaredRoutes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${documentedPath(r.url).path}`)
      .filter((key) => !operations[key]);
    assert.deepEqual(undocumented, [], 'add these to src/http/openapi-operations.ts');
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
      (m) => Object.values(m).map((o) => o.operationId),
    );
    assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
    const known = new Set(Object.keys(operations));
    const stale = [...known].filter(
      (key) => !env.app.declaredRoutes.some((r) => `${r.method} ${documentedPath(r.url).path}` === key),
    );
    assert.deepEqual(stale, [], 'descriptions of routes that no longer exist');
  });

  it('uses the very schemas the server validates requests with', () => {
    let bodies = 0;
    let queries = 0;
    for (const route of env.app.declaredRoutes) {
      if (route.method === 'HEAD') continue;
      const wildcard = operations[`${route.method} ${documentedPath(route.url).path}`]?.wildcard;
      const operation = doc.paths[openApiPath(route.url, wildcard)][route.method.toLowerCase()];
      const schema = route.schema as {
        body?: unknown;
        querystring?: { properties: Record<string, unknown> };
      };
      if (schema?.body) {
        bodies += 1;
        assert.deepEqual(
          operation.requestBody.content['application/json'].schema,
          JSON.parse(JSON.stringify(schema.body)),
          `${route.method} ${route.url}`,
        );
      }
      if (schema?.querystring) {
        queries += 1;
        const names = operation.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name);
        for (const name of Object.keys(schema.querystring.properties)) {
          assert.ok(
            names.includes(name) || names.some((n: string) => n.startsWith(`${name}.`)),
            `${route.method} ${route.url} documents ${name}`,
          );
        }
      }
    }
    assert.ok(bodies > 40 && queries > 10, `${bodies} bodies, ${queries} query strings`);
    const listBackups = doc.paths['/wix-data/v2/backups'].get;
    assert.deepEqual(
      listBackups.parameters.map((p: any) => p.name),
      ['status', 'type', 'paging.limit', 'paging.offset', '.r', 'wix-site-id'],
    );
    assert.equal(listBackups['x-safekeep-scope'], 'backups.read');
    // Writes that take a `condition` (the Wix SDK sends one on remove and bulk remove, too).
    for (const write of ['update', 'save', 'patch', 'remove']) {
      const body =
        doc.paths[`/wix-data/v2/items/${write}`].post.requestBody.content['application/json'].schema;
      assert.deepEqual(Object.keys(body.properties.condition.properties), ['filter'], write);
    }
    for (const write of ['update', 'patch', 'remove']) {
      const body =
        doc.paths[`/wix-data/v2/bulk/items/${write}`].post.requestBody.content['application/json'].schema;
      assert.deepEqual(Object.keys(body.properties.condition.properties), ['filter'], `bulk ${write}`);
    }
    assert.deepEqual(doc.paths['/healthz'].get.security, []);
  });

  it('is built from the route table, so a route added anywhere appears in it', async () => {
    const app = buildHttpApp({
      auth: env.safekeep.services.auth,
      bodyLimit: 1024,
      logger: false,
      routes: (routes) => {
        registerOpenApiRoutes(routes);
        // Registered after the document's own routes, and undescribed: listed all the same.
        routes.post(
          '/late/:id',
          {
            config: { auth: { kind: 'key', scope: 'admin' } },
            schema: { body: Type.Object({ n: RequestInteger({ minimum: 0 }) }) },
          },
          () => ({}),
        );
      },
    });
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    const late = res.json().paths['/late/{id}'].post;
    assert.deepEqual(late.requestBody.content['application/json'].schema.properties.n, {
      type: 'integer',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
    });
    assert.deepEqual(late.parameters[0], {
      name: 'id',
      in: 'path',
      required: true,
      schema: { type: 'string', minLength: 1 },
    });
    await app.close();
  });

  it('renders a readable page at /docs, self-contained, listing every documented operation', async () => {
    const res = await env.call('GET', '/docs');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(res.text, /<script/i, 'no script');
    assert.doesNotMatch(res.text, /(src|href)="https?:/i, 'nothing from another origin');
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      if (documentedPath(path).alias) continue;
      for (const operation of Object.values(methods)) {
        assert.ok(
          res.text.includes(`id="op-${String(operation.operationId)}"`),
          `${path} ${operation.operationId}`,
        );
      }
    }
    assert.ok(res.text.includes('id="schema-Backup"'));
    // A name with markup is shown, not interpreted.
    assert.ok(!res.text.includes('<api key>') && res.text.includes('&#60;api key&#62;'));
  });
});
