/**
 * Hostile HTTP requests for the fuzz test, generated from the OpenAPI document the server serves (the
 * document is built from the very schemas the routes validate with): a valid-ish request per operation,
 * then mutated — wrong types, missing and extra fields, huge strings, deep nesting, invalid JSON, path
 * tricks, random methods, long and duplicate headers, bad content types.
 */
import fc from 'fast-check';

/** The slice of JSON Schema the route schemas use. */
export interface JsonSchema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly items?: JsonSchema;
  readonly format?: string;
}

interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required?: boolean;
  readonly schema?: JsonSchema;
}

interface Operation {
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: { content?: { 'application/json'?: { schema?: JsonSchema } } };
}

/** The part of `GET /openapi.json` the fuzzer reads. */
export interface OpenApiPaths {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
}

/** One operation of the document: where it is, and what it takes. */
export interface FuzzOperation {
  readonly method: string;
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly query: readonly Parameter[];
  readonly body: JsonSchema | undefined;
}

/** Known values by property or parameter name, so that some requests hit real sites, collections and items. */
export type ValuePools = Readonly<Record<string, readonly string[]>>;

/** Credentials the fuzzer picks from. */
export interface FuzzKeys {
  readonly site: string;
  readonly admin: string;
  readonly siteId: string;
}

/** A request as the fuzzer sends it: the raw URL, raw headers and raw body text. */
export interface FuzzRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[]>;
  readonly payload: string | undefined;
  /** What was done to it, for failure reports. */
  readonly mutation: string;
  /** The documented operation it was made from (`POST /path`); undefined for stray paths. */
  readonly operation?: string;
}

/** Every operation of the document. */
export function operationsOf(document: OpenApiPaths): FuzzOperation[] {
  const out: FuzzOperation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const parameters = op.parameters ?? [];
      out.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query'),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return out;
}

/**
 * Path segments that try to escape, truncate or smuggle: dot-segments encoded once and twice, NUL bytes,
 * overlong UTF-8, broken escapes, backslashes, and lengths past every limit.
 */
export const pathTricks: readonly string[] = [
  '..%2f..%2f..%2fetc%2fpasswd',
  '..%2F..%2Fsafekeep.db',
  '%2e%2e%2f%2e%2e%2f',
  '%252e%252e%252f',
  '..%252f..%252f',
  '%00',
  'id%00.json',
  '%2500',
  '%c0%ae%c0%ae%c0%af',
  '%E0%A4%A',
  '%',
  '%zz',
  '..',
  '.',
  '..\\..\\windows',
  '%5c..%5c',
  'a%2fb',
  '%20',
  '%F0%9F%92%A9',
  '%ED%A0%80',
  '__proto__',
  'constructor',
  'x'.repeat(300),
  'y'.repeat(5000),
  '%41'.repeat(400),
];

const jsonLeaf = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

const smallJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });

function stringOf(schema: JsonSchema, pool: readonly string[] | undefined): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? 24, 40));
  const random =
    schema.format === 'date-time'
      ? fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
      : fc.oneof(
          { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'grapheme' }) },
          // Control characters and NUL, which some databases refuse in text.
          { weight: 1, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'binary-ascii' }) },
          // A lone UTF-16 surrogate, which JSON can spell and storage cannot keep (issue 10, item 3).
          {
            weight: 1,
            arbitrary: fc
              .tuple(fc.string({ maxLength: max }), fc.integer({ min: 0xd800, max: 0xdfff }))
              .map(
                ([text, unit]) =>
                  `${text.slice(0, Math.floor(text.length / 2))}${String.fromCharCode(unit)}${text.slice(Math.floor(text.length / 2))}`,
              ),
          },
        );
  return pool && pool.length > 0
    ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, random)
    : random;
}

/** A value that satisfies (or nearly satisfies) a schema; `name` picks known values from the pools. */
export function valueOf(schema: JsonSchema, pools: ValuePools, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return fc.oneof(...branches.map((b) => valueOf(b, pools, name, depth)));
  if (depth > 6) return smallJson;
  switch (schema.type) {
    case 'string':
      return stringOf(schema, pools[name]);
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(valueOf(schema.items ?? {}, pools, name, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, 4)),
      });
    case 'object': {
      const properties = schema.properties ?? {};
      if (Object.keys(properties).length === 0)
        return fc.dictionary(fc.string({ maxLength: 8 }), depth > 3 ? jsonLeaf : smallJson, { maxKeys: 4 });
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, property] of Object.entries(properties))
        model[key] = valueOf(property, pools, key, depth + 1);
      return fc.record(model, { requiredKeys: [...(schema.required ?? [])] });
    }
    case undefined:
    default:
      return smallJson;
  }
}

/** The JSON paths of every value inside `value` (objects and arrays), the root included. */
function pathsIn(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsIn(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) pathsIn(v, [...prefix, k], out);
  return out;
}

/** A copy of `root` with the value at `path` replaced (or removed when `replacement` is `remove`). */
function replaceAt(root: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  if (rest.length === 0 && replacement === remove) {
    if (Array.isArray(copy)) copy.splice(head as number, 1);
    else delete copy[head as string];
  } else copy[head as string] = replaceAt(copy[head as string], rest, replacement);
  return copy;
}
const remove = Symbol('remove');

/** Stands in for a value whose JSON text is spliced in after serialising (deep nesting, huge strings). */
const PLACEHOLDER = '\u0000splice\u0000';

type BodyMutation =
  | { kind: 'valid' }
  | { kind: 'wrong-type'; at: number; value: unknown }
  | { kind: 'missing-field'; at: number }
  | { kind: 'extra-field'; at: number; key: string; value: unknown }
  | { kind: 'huge-string'; at: number; length: number }
  | { kind: 'deep-nesting'; at: number; depth: number; shape: 'array' | 'object' | 'filter' }
  | { kind: 'invalid-json'; how: number; cut: number }
  | { kind: 'not-an-object'; text: string }
  | { kind: 'empty' };

const bodyMutation: fc.Arbitrary<BodyMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'valid' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('wrong-type' as const), at: fc.nat(), value: jsonLeaf }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('missing-field' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('extra-field' as const),
      at: fc.nat(),
      key: fc.oneof(fc.constantFrom('__proto__', 'constructor', '$where', '_id', '', 'x.y'), fc.string()),
      value: smallJson,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge-string' as const),
      at: fc.nat(),
      length: fc.constantFrom(100_000, 600_000, 2_500_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deep-nesting' as const),
      at: fc.nat(),
      depth: fc.constantFrom(50, 200, 1_000, 20_000),
      shape: fc.constantFrom('array' as const, 'object' as const, 'filter' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('invalid-json' as const), how: fc.nat(7), cut: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('not-an-object' as const),
      text: fc.constantFrom('null', '[]', '[{}]', '"text"', '42', 'true', '{}', '\ufeff{}', '1e999'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
);

function nested(depth: number, shape: 'array' | 'object' | 'filter'): string {
  if (shape === 'array') return '['.repeat(depth) + '1' + ']'.repeat(depth);
  if (shape === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  return '{"$and":['.repeat(depth) + '{"a":1}' + ']}'.repeat(depth);
}

/** The body text of a request: the valid value, mutated. */
function bodyText(value: unknown, mutation: BodyMutation): string | undefined {
  const paths = pathsIn(value);
  const pick = (at: number) => paths[at % paths.length] ?? [];
  switch (mutation.kind) {
    case 'valid':
      return JSON.stringify(value);
    case 'wrong-type':
      return JSON.stringify(replaceAt(value, pick(mutation.at), mutation.value));
    case 'missing-field': {
      const path = pick(mutation.at);
      return JSON.stringify(path.length === 0 ? {} : replaceAt(value, path, remove));
    }
    case 'extra-field': {
      const objects = paths.filter((p) => {
        let node: any = value;
        for (const k of p) node = node?.[k];
        return node !== null && typeof node === 'object' && !Array.isArray(node);
      });
      const path = objects[mutation.at % Math.max(1, objects.length)] ?? [];
      const text = JSON.stringify(replaceAt(value, [...path, 'extra\u0001'], mutation.value));
      // JSON.stringify would drop a `__proto__` key set by assignment, so the key is renamed in the text.
      return text.replace('"extra\\u0001"', JSON.stringify(mutation.key));
    }
    case 'huge-string':
      return JSON.stringify(replaceAt(value, pick(mutation.at), PLACEHOLDER)).replace(
        JSON.stringify(PLACEHOLDER),
        `"${'x'.repeat(mutation.length)}"`,
      );
    case 'deep-nesting':
      return JSON.stringify(replaceAt(value, pick(mutation.at), PLACEHOLDER)).replace(
        JSON.stringify(PLACEHOLDER),
        nested(mutation.depth, mutation.shape),
      );
    case 'invalid-json': {
      const text = JSON.stringify(value) ?? '{}';
      const cut = mutation.cut % Math.max(1, text.length);
      switch (mutation.how) {
        case 0:
          return text.slice(0, cut);
        case 1:
          return text.slice(0, cut) + '\u0000' + text.slice(cut);
        case 2:
          return text.replace(/}$/, ',}');
        case 3:
          return `{"a":1,"a":2,${text.slice(1)}`;
        case 4:
          return '{"a": NaN, "b": undefined}';
        case 5:
          return `/* comment */ ${text}`;
        case 6:
          return "{'single': 'quotes'}";
        default:
          return text + text;
      }
    }
    case 'not-an-object':
      return mutation.text;
    case 'empty':
      return '';
  }
}

const contentTypes = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'Application/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/vnd.api+json',
      'application/json, text/plain',
      '',
      ';;;',
      'application/json; charset=utf-16',
    ),
  },
);

/** A segment for a path parameter: a known id, a random string, or a trick; encoded or raw. */
function segmentFor(name: string, pools: ValuePools): fc.Arbitrary<string> {
  const known = pools[name] ?? [];
  return fc.oneof(
    ...(known.length > 0
      ? [{ weight: 5, arbitrary: fc.constantFrom(...known).map(encodeURIComponent) }]
      : []),
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).map(encodeURIComponent) },
    { weight: 2, arbitrary: fc.constantFrom(...pathTricks) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...(known.length > 0 ? known : ['id']))
        .chain((v) =>
          fc.constantFrom(
            encodeURIComponent(encodeURIComponent(v)),
            encodeURIComponent(v.toUpperCase()),
            percentEncodeAll(v),
            `${encodeURIComponent(v)}/`,
          ),
        ),
    },
  );
}

/**
 * `encodeURIComponent`, except that a lone surrogate (which it refuses) is written as the percent-encoded
 * bytes of its WTF-8 form, as a careless client would send it.
 */
export function encodeLoosely(value: string): string {
  return value.replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[^\ud800-\udfff]+|[\ud800-\udbff][\udc00-\udfff]/g,
    (part) => {
      const unit = part.charCodeAt(0);
      if (part.length === 1 && unit >= 0xd800 && unit <= 0xdfff)
        return `%${(0xe0 | (unit >> 12)).toString(16)}%${(0x80 | ((unit >> 6) & 0x3f)).toString(16)}%${(0x80 | (unit & 0x3f)).toString(16)}`.toUpperCase();
      return encodeURIComponent(part);
    },
  );
}

/** Every byte as a `%XX` escape, even where no escape is needed. */
export function percentEncodeAll(value: string): string {
  return [...Buffer.from(value)].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

function fillPath(op: FuzzOperation, pools: ValuePools): fc.Arbitrary<string> {
  if (op.pathParams.length === 0) return fc.constant(op.path);
  return fc.tuple(...op.pathParams.map((p) => segmentFor(p, pools))).map((segments) => {
    let path = op.path;
    op.pathParams.forEach((p, i) => {
      path = path.replace(`{${p}}`, segments[i] ?? '');
    });
    return path;
  });
}

/** Query-string pairs: the operation's parameters with valid-ish values, `.r`, and hostile extras. */
function queryFor(op: FuzzOperation, pools: ValuePools): fc.Arbitrary<string> {
  const own = op.query.filter((p) => p.name !== '.r');
  const pairs = fc.array(
    fc.oneof(
      ...(own.length > 0
        ? [
            {
              weight: 6,
              arbitrary: fc
                .constantFrom(...own)
                .chain((p) =>
                  valueOf(p.schema ?? {}, pools, p.name.split('.').pop()).map(
                    (v) =>
                      `${encodeURIComponent(p.name)}=${encodeLoosely(typeof v === 'string' ? v : JSON.stringify(v))}`,
                  ),
                ),
            },
          ]
        : []),
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '__proto__.admin=1',
          'constructor.prototype.x=1',
          'a..b=1',
          '.=1',
          'paging.limit=abc',
          'paging.limit=-1',
          'paging=1&paging.limit=2',
          '%zz=1',
          'x=%00',
          '.r=%%%',
          '.r=W10',
          '.r=bnVsbA',
          `.r=${'A'.repeat(20000)}`,
        ),
      },
      {
        weight: 1,
        arbitrary: (op.body ? valueOf(op.body, pools) : smallJson).map(
          (v) => `.r=${Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')}`,
        ),
      },
    ),
    { maxLength: 4 },
  );
  return pairs.map((p) => (p.length > 0 ? `?${p.join('&')}` : ''));
}

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

function headersFor(
  keys: FuzzKeys,
): fc.Arbitrary<{ headers: Record<string, string | string[]>; tag: string }> {
  const authorization = fc.oneof(
    { weight: 14, arbitrary: fc.constant(keys.site) },
    { weight: 2, arbitrary: fc.constant(keys.admin) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${keys.site}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'garbage',
        'Bearer ',
        'sk_',
        `sk_${'a'.repeat(10_000)}`,
        `Basic ${'Zm9v'.repeat(3)}`,
      ),
    },
    { weight: 1, arbitrary: fc.constant([keys.site, keys.admin] as string[]) },
  );
  const siteHeader = fc.oneof(
    { weight: 10, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constant(keys.siteId) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'no-such-site',
        ' ',
        'x'.repeat(8000),
        '../../',
        '%00',
        keys.siteId.toUpperCase(),
      ),
    },
    { weight: 1, arbitrary: fc.constant([keys.siteId, keys.siteId] as string[]) },
  );
  const extra = fc.oneof(
    { weight: 10, arbitrary: fc.constant({}) },
    { weight: 1, arbitrary: fc.constant({ 'idempotency-key': 'k'.repeat(5000) }) },
    { weight: 1, arbitrary: fc.constant({ 'idempotency-key': ['a', 'b'] as string[] }) },
    { weight: 1, arbitrary: fc.nat(60_000).map((n) => ({ 'x-junk': 'j'.repeat(n) })) },
    { weight: 1, arbitrary: fc.constant({ 'if-none-match': '*', 'accept-encoding': 'gzip, br, zstd' }) },
    { weight: 1, arbitrary: fc.constant({ 'content-length': '5' }) },
  );
  return fc.tuple(authorization, siteHeader, extra).map(([auth, site, more]) => {
    const headers: Record<string, string | string[]> = { ...more };
    if (auth !== undefined) headers.authorization = auth;
    if (site !== undefined) headers['wix-site-id'] = site;
    return { headers, tag: auth === keys.admin ? 'admin' : 'site' };
  });
}

/** A request for one documented operation, mutated. */
function operationRequest(op: FuzzOperation, pools: ValuePools, keys: FuzzKeys): fc.Arbitrary<FuzzRequest> {
  const bodyValue = op.body ? valueOf(op.body, pools) : fc.oneof(fc.constant(undefined), smallJson);
  return fc
    .record({
      path: fillPath(op, pools),
      query: queryFor(op, pools),
      value: bodyValue,
      mutation: bodyMutation,
      contentType: contentTypes,
      auth: headersFor(keys),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(op.method) },
        { weight: 1, arbitrary: fc.constantFrom(...methods) },
      ),
    })
    .map(({ path, query, value, mutation, contentType, auth, method }) => {
      const hasBody = method !== 'GET' && method !== 'HEAD' && (op.body !== undefined || value !== undefined);
      const payload = hasBody ? bodyText(value, mutation) : undefined;
      const headers = { ...auth.headers };
      if (payload !== undefined && contentType !== '') headers['content-type'] = contentType;
      return {
        method,
        url: path + query,
        headers,
        payload,
        mutation: `${op.method} ${op.path} as ${method}, body ${mutation.kind}, ${auth.tag} key`,
        operation: `${op.method} ${op.path}`,
      };
    });
}

/** A request for no documented route: random segments under the real prefixes. */
function strayRequest(keys: FuzzKeys): fc.Arbitrary<FuzzRequest> {
  const prefix = fc.constantFrom(
    '',
    '/wix-data/v2',
    '/_api/cloud-data/v2',
    '/wix-data/v2/backups',
    '/data/v2/backups',
    '/_api/safekeep/v1',
    '/ui',
    '//wix-data//v2',
    '/WIX-DATA/V2',
  );
  const segment = fc.oneof(
    fc.constantFrom(...pathTricks),
    fc.webSegment(),
    fc.constantFrom('items', 'query', 'sites', 'api-keys', 'settings', 'restore'),
  );
  return fc
    .record({
      prefix,
      segments: fc.array(segment, { minLength: 1, maxLength: 5 }),
      method: fc.constantFrom(...methods),
      auth: headersFor(keys),
      body: fc.option(smallJson.map((v) => JSON.stringify(v))),
    })
    .map(({ prefix: p, segments, method, auth, body }) => ({
      method,
      url: `${p}/${segments.join('/')}`,
      headers: body === null ? auth.headers : { ...auth.headers, 'content-type': 'application/json' },
      payload: body === null || method === 'GET' || method === 'HEAD' ? undefined : body,
      mutation: `stray ${method}, ${auth.tag} key`,
    }));
}

/** Every kind of hostile request, over every operation of the document. */
export function hostileRequests(
  operations: readonly FuzzOperation[],
  pools: ValuePools,
  keys: FuzzKeys,
): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...operations).chain((op) => operationRequest(op, pools, keys)) },
    { weight: 1, arbitrary: strayRequest(keys) },
  );
}
