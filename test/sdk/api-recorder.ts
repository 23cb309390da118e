/**
 * Records what the SDK sends and receives, so its tests can check two promises: every route is reached
 * by some SDK method, and every answer has exactly the shape the OpenAPI document gives it.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv, type ValidateFunction } from 'ajv';
import type { DeclaredRoute } from '../../src/http/app.js';
import { openApiPath } from '../../src/http/openapi-document.js';
import { documentedPath, operations } from '../../src/http/openapi-operations.js';
import type { TestEnv } from '../helpers/harness.js';

export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly body: unknown;
}

/** A `fetch` that passes everything to `inner` and logs each exchange with its parsed JSON body. */
export function recordingFetch(inner: typeof fetch, log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const text = await response.clone().text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    log.push({ method: init?.method ?? 'GET', path: url.pathname, status: response.status, body });
    return response;
  };
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split(/(:[A-Za-z0-9_]+|\*$)/)
    .map((part) =>
      part.startsWith(':') ? '[^/]+' : part === '*' ? '.+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${escaped}$`);
}

/** The route a request reached: like the router, a static route wins over a parametric one. */
export function routeOf(
  routes: readonly DeclaredRoute[],
  method: string,
  path: string,
): DeclaredRoute | undefined {
  const candidates = routes.filter((r) => r.method === method && patternOf(r.url).test(path));
  const dynamic = (r: DeclaredRoute) => (r.url.match(/:|\*/g) ?? []).length;
  return candidates.sort((a, b) => dynamic(a) - dynamic(b))[0];
}

/** Routes (on the given prefixes, without the listed ones) that no exchange reached. */
export function unreached(
  routes: readonly DeclaredRoute[],
  log: readonly Exchange[],
  prefixes: readonly string[],
  exceptions: readonly string[] = [],
): string[] {
  const reached = new Set(
    log.map((e) => routeOf(routes, e.method, e.path)).map((r) => r && `${r.method} ${r.url}`),
  );
  return routes
    .filter((r) => r.method !== 'HEAD' && prefixes.some((p) => r.url === p || r.url.startsWith(`${p}/`)))
    .map((r) => `${r.method} ${r.url}`)
    .filter((name) => !reached.has(name) && !exceptions.includes(name));
}

/**
 * Checks every exchange's body against the document: a 200 against the route's answer schema, anything
 * else against `ErrorResponse`. Returns one line per mismatch (empty when all agree).
 */
export async function mismatches(env: TestEnv, log: readonly Exchange[]): Promise<string[]> {
  const document = (await env.call('GET', '/openapi.json')).body;
  const validator = new Validator();
  const result = await validator.validate(document);
  if (!result.valid) return [`the document is not valid OpenAPI: ${JSON.stringify(result.errors)}`];
  const resolved = validator.resolveRefs() as any;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const compiled = new Map<string, ValidateFunction>();
  const compile = (key: string, schema: object) => {
    let validate = compiled.get(key);
    if (!validate) compiled.set(key, (validate = ajv.compile(schema)));
    return validate;
  };
  const errorSchema = resolved.components.schemas.ErrorResponse;
  const problems: string[] = [];
  for (const exchange of log) {
    const route = routeOf(env.app.declaredRoutes, exchange.method, exchange.path);
    if (!route) {
      if (exchange.status !== 404)
        problems.push(`${exchange.method} ${exchange.path}: no route, yet ${exchange.status}`);
      continue;
    }
    const wildcard = operations[`${route.method} ${documentedPath(route.url).path}`]?.wildcard;
    const operation = resolved.paths[openApiPath(route.url, wildcard)]?.[route.method.toLowerCase()];
    // A 200 that is not JSON (an archive) is described by its content type alone.
    const content = operation?.responses?.['200']?.content;
    if (exchange.status === 200 && content && !content['application/json']) continue;
    const schema =
      exchange.status === 200
        ? operation?.responses?.['200']?.content?.['application/json']?.schema
        : errorSchema;
    if (!schema) {
      problems.push(`${route.method} ${route.url}: the document describes no JSON answer`);
      continue;
    }
    const validate = compile(`${route.method} ${route.url} ${exchange.status === 200}`, schema);
    if (!validate(exchange.body)) {
      problems.push(
        `${exchange.method} ${exchange.path} (${exchange.status}): ${ajv.errorsText(validate.errors)}; body ${JSON.stringify(exchange.body)?.slice(0, 300)}`,
      );
    }
  }
  return problems;
}
