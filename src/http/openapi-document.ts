/**
 * The OpenAPI 3.1 document, generated from the app's route table: every registered route appears, with
 * the very schemas the server validates its requests with, so the document cannot drift from the code.
 */
import type { DeclaredRoute } from './app.js';
import { documentedPath, operations, tags, type OperationInfo } from './openapi-operations.js';
import { componentSchemas, responses } from './openapi-schemas.js';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: Json;
  readonly tags: readonly Json[];
  readonly paths: Record<string, Record<string, Json>>;
  readonly components: Json;
}

/** A schema as plain JSON (TypeBox keeps its bookkeeping in non-enumerable properties). */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

/** The OpenAPI form of a Fastify path: `:id` → `{id}`, `*` → `{name}`. */
export function openApiPath(url: string, wildcard: string | undefined): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, `{${wildcard ?? 'path'}}`);
}

const errorResponse = {
  description:
    'Refused: the body says what was wrong (codes in docs/ERRORS.md). 429 QUOTA_EXCEEDED: the request would ' +
    "take the site over one of its quotas; data names the quota, its limit and the site's current usage.",
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
};

const unsupportedResponse = {
  description: 'Always: UNSUPPORTED_OPERATION, the operation is out of scope (docs/WIX-COMPATIBILITY.md).',
  content: errorResponse.content,
};

function successResponse(info: OperationInfo | undefined): Json {
  if (!info) return { description: 'OK' };
  if (info.response === 'html')
    return { description: 'An HTML page', content: { 'text/html': { schema: { type: 'string' } } } };
  if (info.response === 'unsupported') return unsupportedResponse;
  if (info.response === 'metrics') {
    return {
      description: 'Metrics in the Prometheus text format (version 0.0.4)',
      content: { 'text/plain': { schema: { type: 'string' } } },
    };
  }
  if (info.response === 'archive') {
    return {
      description: 'A portable archive (docs/ARCHIVE-FORMAT.md)',
      content: { 'application/zstd': { schema: { type: 'string', format: 'binary' } } },
    };
  }
  if (info.response === 'file') {
    return {
      description: 'A file of the dashboard (JavaScript, CSS, HTML or an image)',
      content: { '*/*': { schema: { type: 'string' } } },
    };
  }
  return { description: 'OK', content: { 'application/json': { schema: plain(responses[info.response]) } } };
}

interface SchemaObject {
  readonly type?: string;
  readonly properties?: Record<string, SchemaObject & { description?: string }>;
  readonly required?: readonly string[];
  readonly description?: string;
}

/**
 * The query parameters of a querystring schema, named as the server reads them: nested objects with
 * dotted names (`paging.limit`), arrays by repeating the name (`status=READY&status=FAILED`).
 */
function queryParameters(schema: SchemaObject, prefix = '', required = true): Json[] {
  const out: Json[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const isRequired = required && (schema.required ?? []).includes(name);
    if (property.type === 'object' && property.properties) {
      out.push(...queryParameters(property, `${prefix}${name}.`, isRequired));
      continue;
    }
    out.push({
      name: `${prefix}${name}`,
      in: 'query',
      required: isRequired,
      schema: plain(property),
      ...(property.type === 'array' && { style: 'form', explode: true }),
      ...(property.description && { description: property.description }),
    });
  }
  return out;
}

function pathParameters(
  path: string,
  params: SchemaObject | undefined,
  wildcard: string | undefined,
): Json[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name = '']) => ({
    name,
    in: 'path',
    required: true,
    schema: params?.properties?.[name] ? plain(params.properties[name]) : { type: 'string', minLength: 1 },
    ...(name === wildcard && {
      description: 'The rest of the path, URL-encoded; it may contain `/` (app collections, ids).',
    }),
  }));
}

function operationOf(route: DeclaredRoute, info: OperationInfo | undefined, alias: string | undefined): Json {
  const schema = (route.schema ?? {}) as {
    body?: SchemaObject;
    querystring?: SchemaObject;
    params?: SchemaObject;
  };
  const parameters: Json[] = [];
  const path = openApiPath(documentedPath(route.url).path, info?.wildcard);
  parameters.push(...pathParameters(path, schema.params, info?.wildcard));
  if (schema.querystring) {
    parameters.push(...queryParameters(schema.querystring));
    if (route.method === 'GET' || route.method === 'DELETE') {
      parameters.push({
        name: '.r',
        in: 'query',
        required: false,
        description:
          'The whole request as base64url (unpadded) JSON, as the Wix SDK sends requests with nested ' +
          'fields; explicit parameters win over it.',
        schema: { type: 'string' },
      });
    }
  }
  if (route.auth.kind === 'site') {
    parameters.push({
      name: 'wix-site-id',
      in: 'header',
      required: false,
      description: 'The site to act on; a key bound to exactly one site may leave it out.',
      schema: { type: 'string' },
    });
  }
  if (info?.idempotent) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'The same key from the same site within 24 h returns the first answer (extension).',
      schema: { type: 'string', maxLength: 200 },
    });
  }
  const aliasNote = alias
    ? `The same operation as on \`${documentedPath(route.url).path}\`, under the prefix the Wix SDK uses on a non-Wix host.`
    : undefined;
  const operation: Json = {
    operationId: `${info?.operationId ?? `${route.method.toLowerCase()}${route.url}`}${alias ? `_${aliasId(alias)}` : ''}`,
    tags: [info?.tag ?? 'Service'],
    summary: info?.summary ?? `${route.method} ${route.url}`,
    ...((info?.description ?? aliasNote) !== undefined && {
      description: [info?.description, aliasNote].filter(Boolean).join('\n\n'),
    }),
    ...(parameters.length > 0 && { parameters }),
    responses:
      info?.response === 'unsupported'
        ? { '400': unsupportedResponse, default: errorResponse }
        : { '200': successResponse(info), default: errorResponse },
  };
  if (info?.archiveBody) {
    operation.requestBody = {
      required: true,
      content: {
        'application/zstd': { schema: { type: 'string', format: 'binary' } },
        'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      },
    };
  } else if (schema.body) {
    operation.requestBody = {
      // Fastify takes a missing body as `{}`: a body is needed only when something in it is.
      required: (schema.body.required ?? []).length > 0,
      content: { 'application/json': { schema: plain(schema.body) } },
    };
  }
  if (route.auth.kind === 'public') operation.security = [];
  else {
    operation.security = [{ apiKey: [] }];
    if (route.auth.scope !== 'none') operation['x-safekeep-scope'] = route.auth.scope;
  }
  return operation;
}

function aliasId(alias: string): string {
  return alias.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/**
 * Builds the document from the routes the app registered. HEAD routes, which Fastify adds for every GET,
 * are left out: they answer as their GET does, without a body.
 */
export function buildOpenApiDocument(routes: readonly DeclaredRoute[], version: string): OpenApiDocument {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    if (route.method === 'HEAD') continue;
    const { path, alias } = documentedPath(route.url);
    const info = operations[`${route.method} ${path}`];
    const openPath = openApiPath(route.url, info?.wildcard);
    (paths[openPath] ??= {})[route.method.toLowerCase()] = operationOf(route, info, alias);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'safekeep',
      version,
      summary: 'A collections store with a Backups API, compatible with the Wix Data REST APIs.',
      description:
        'Authenticate with `Authorization: <api key>` (or `Bearer <api key>`). Successes are HTTP 200 with ' +
        'a JSON body; every refusal has the body `ErrorResponse`. Paths under `/_api/cloud-data/v2` and ' +
        '`/data/v2/backups` are the same operations as under `/wix-data/v2`, for the Wix SDK. A key over ' +
        'its rate limit, or a request over what the server holds at once (bytes of bodies, bulk requests ' +
        'of one site), is answered 429 `RATE_LIMITED` with `Retry-After` in seconds: retry after it.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: tags.map((t) => ({ ...t })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(componentSchemas).map(([name, s]) => [name, plain(s)])),
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'An API key (`sk_…`), raw or as `Bearer sk_…`.',
        },
      },
    },
  };
}
