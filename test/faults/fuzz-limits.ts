/**
 * Issue 10, item 3 — the integer and Unicode rules, probed on every operation of the OpenAPI document:
 * every integer a request can carry (body, query string, `.r`) at and past every limit, and a lone UTF-16
 * surrogate in every string and free-form object (body, `.r`, property names included). Each probe is a
 * request that is valid but for the probed value, so a refusal must name the probed field.
 */
import type { FuzzKeys, FuzzOperation, FuzzRequest, JsonSchema, ValuePools } from './fuzz-requests.js';

/** A probe: the request, and what the answer must say (undefined: anything but a 5xx). */
export interface LimitProbe {
  readonly request: FuzzRequest;
  readonly refusal: { readonly field: string; readonly rules: readonly string[] } | undefined;
}

type Path = readonly (string | number)[];

/** Integers at and past every limit, as JSON text (2^53 + 1 and beyond are not doubles). */
function integerCases(schema: JsonSchema): string[] {
  const cases = new Set(['0', '-1', '9007199254740992', '9007199254740993', '9223372036854775808']);
  for (const more of ['18446744073709551616', '1e308']) cases.add(more);
  if (schema.maximum !== undefined) {
    cases.add(String(schema.maximum));
    cases.add(String(BigInt(schema.maximum) + 1n));
  }
  if (schema.minimum !== undefined) {
    cases.add(String(schema.minimum));
    cases.add(String(BigInt(schema.minimum) - 1n));
  }
  return [...cases];
}

/** The rule a value breaks, if any. */
function brokenRule(text: string, schema: JsonSchema): 'MAX' | 'MIN' | undefined {
  const n = Number(text);
  if (schema.maximum !== undefined && n > schema.maximum) return 'MAX';
  if (schema.minimum !== undefined && n < schema.minimum) return 'MIN';
  return undefined;
}

const LONE = 'lone\ud800surrogate';
/** Spliced in as raw JSON after serialising. */
const PLACEHOLDER = '\u0000probe\u0000';

function branches(schema: JsonSchema): readonly JsonSchema[] {
  return schema.anyOf ?? schema.oneOf ?? [schema];
}

function typed(schema: JsonSchema, type: string): JsonSchema | undefined {
  return branches(schema).find((b) => b.type === type);
}

/** The smallest value a schema accepts (known values for known names). */
function minimal(schema: JsonSchema, pools: ValuePools, name: string): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf ?? schema.oneOf) {
    const first = branches(schema).find((b) => b.type !== 'null') ?? branches(schema)[0] ?? {};
    return minimal(first, pools, name);
  }
  switch (schema.type) {
    case 'string':
      return pools[name]?.[0] ?? 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 0, Math.min(1, schema.maximum ?? 1));
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => minimal(schema.items ?? {}, pools, name));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? []) out[key] = minimal(schema.properties?.[key] ?? {}, pools, key);
      return out;
    }
    case undefined:
    default:
      return {};
  }
}

/** A minimal value of `schema` with `leaf` at `path` (containers on the way built as needed). */
function valueWith(schema: JsonSchema, path: Path, leaf: unknown, pools: ValuePools, name = ''): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return leaf;
  if (typeof head === 'number') {
    const items = typed(schema, 'array')?.items ?? {};
    return [valueWith(items, rest, leaf, pools, name)];
  }
  const object = typed(schema, 'object') ?? {};
  const base = minimal(object, pools, name) as Record<string, unknown>;
  base[head] = valueWith(object.properties?.[head] ?? {}, rest, leaf, pools, head);
  return base;
}

interface Location {
  readonly path: Path;
  readonly schema: JsonSchema;
}

/** Where a schema holds a value `wanted` picks: integers, strings, free-form objects. */
function locations(schema: JsonSchema, wanted: (s: JsonSchema) => boolean, path: Path = []): Location[] {
  if (path.length > 8) return [];
  const out: Location[] = [];
  if (wanted(schema)) out.push({ path, schema });
  for (const branch of schema.anyOf ?? schema.oneOf ?? [])
    out.push(...locations(branch, wanted, path).filter((l) => !out.some((o) => same(o.path, l.path))));
  for (const [key, property] of Object.entries(schema.properties ?? {}))
    out.push(...locations(property, wanted, [...path, key]));
  if (schema.items) out.push(...locations(schema.items, wanted, [...path, 0]));
  return out;
}

function same(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

const isInteger = (s: JsonSchema) => s.type === 'integer';
const isText = (s: JsonSchema) =>
  (s.type === 'string' && s.const === undefined && s.enum === undefined) ||
  (s.type === 'object' && Object.keys(s.properties ?? {}).length === 0);

/** The field name a refusal reports for a path (`dataItems[0].id`). */
function fieldOf(path: Path): string {
  return path.reduce<string>(
    (out, s) => (typeof s === 'number' ? `${out}[${s}]` : out ? `${out}.${s}` : s),
    '',
  );
}

/** The dotted query parameters of an operation as one nested object (what `.r` carries). */
function querySchemaOf(op: FuzzOperation): JsonSchema {
  const root: { properties: Record<string, JsonSchema>; required: string[] } = {
    properties: {},
    required: [],
  };
  for (const parameter of op.query) {
    // `.r` is the whole request, encoded: its content is what is probed.
    if (parameter.name === '.r') continue;
    const names = parameter.name.split('.');
    let node = root;
    names.forEach((name, i) => {
      if (i === names.length - 1) {
        node.properties[name] = parameter.schema ?? {};
        if (parameter.required) node.required.push(name);
        return;
      }
      const next = (node.properties[name] ??= {
        type: 'object',
        properties: {},
        required: [],
      } as JsonSchema) as { properties: Record<string, JsonSchema>; required: string[] };
      node = next;
    });
  }
  return { type: 'object', ...root };
}

/** Every probe of the integer and Unicode rules over the operations of the document. */
export function limitProbes(
  operations: readonly FuzzOperation[],
  pools: ValuePools,
  keys: FuzzKeys,
): LimitProbe[] {
  const probes: LimitProbe[] = [];
  const headers = { authorization: keys.admin, 'wix-site-id': keys.siteId };
  for (const op of operations) {
    let path = op.path;
    for (const p of op.pathParams) path = path.replace(`{${p}}`, encodeURIComponent(pools[p]?.[0] ?? 'x'));
    const label = `${op.method} ${op.path}`;
    const sendBody = (text: string, mutation: string): FuzzRequest => ({
      method: op.method,
      url: path,
      headers: { ...headers, 'content-type': 'application/json' },
      payload: text,
      mutation: `${label}: ${mutation}`,
      operation: label,
    });
    const sendQuery = (query: string, mutation: string): FuzzRequest => ({
      method: op.method,
      url: `${path}?${query}`,
      headers,
      payload: undefined,
      mutation: `${label}: ${mutation}`,
      operation: label,
    });
    const withR = (value: unknown) => `.r=${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
    const querySchema = querySchemaOf(op);
    const requiredQuery = op.query
      .filter((p) => p.required)
      .map(
        (p) =>
          `${encodeURIComponent(p.name)}=${encodeURIComponent(String(minimal(p.schema ?? {}, pools, p.name)))}`,
      );

    // Integers in the body, as raw JSON text.
    if (op.body) {
      for (const at of locations(op.body, isInteger)) {
        for (const text of integerCases(at.schema)) {
          const rule = brokenRule(text, at.schema);
          const body = JSON.stringify(valueWith(op.body, at.path, PLACEHOLDER, pools)).replace(
            JSON.stringify(PLACEHOLDER),
            text,
          );
          probes.push({
            request: sendBody(body, `body ${fieldOf(at.path)} = ${text}`),
            refusal: rule && { field: fieldOf(at.path), rules: [rule] },
          });
        }
      }
    }
    // Integers in the query string: as dotted parameters and inside `.r`.
    for (const parameter of op.query) {
      if (!parameter.schema || !branches(parameter.schema).some(isInteger)) continue;
      const schema = branches(parameter.schema).find(isInteger) ?? {};
      const others = requiredQuery.filter((q) => !q.startsWith(`${encodeURIComponent(parameter.name)}=`));
      for (const text of integerCases(schema)) {
        const rule = brokenRule(text, schema);
        const refusal = rule && { field: parameter.name, rules: [rule] };
        probes.push({
          request: sendQuery(
            [...others, `${encodeURIComponent(parameter.name)}=${text}`].join('&'),
            `${parameter.name}=${text}`,
          ),
          refusal,
        });
        const r = JSON.stringify(
          valueWith(querySchema, parameter.name.split('.'), PLACEHOLDER, pools),
        ).replace(JSON.stringify(PLACEHOLDER), text);
        probes.push({
          request: sendQuery(`.r=${Buffer.from(r).toString('base64url')}`, `.r ${parameter.name} = ${text}`),
          refusal,
        });
      }
    }
    // A lone surrogate in every string and free-form object: as a value, and as a property name.
    const textProbes = (schema: JsonSchema, send: (value: unknown, what: string) => FuzzRequest) => {
      for (const at of locations(schema, isText)) {
        const field = fieldOf(at.path);
        if (at.schema.type === 'string') {
          probes.push({
            request: send(valueWith(schema, at.path, LONE, pools), `${field} = lone surrogate`),
            refusal: { field, rules: ['FORMAT'] },
          });
        } else {
          probes.push({
            request: send(valueWith(schema, at.path, { k: LONE }, pools), `${field}.k = lone surrogate`),
            refusal: { field: `${field}.k`, rules: ['FORMAT'] },
          });
          probes.push({
            request: send(valueWith(schema, at.path, { 'k\udc00': 1 }, pools), `${field} key lone surrogate`),
            refusal: { field: `${field}.k\ufffd`, rules: ['FORMAT'] },
          });
        }
      }
    };
    if (op.body) textProbes(op.body, (value, what) => sendBody(JSON.stringify(value), `body ${what}`));
    if (op.query.length > 0) textProbes(querySchema, (value, what) => sendQuery(withR(value), `.r ${what}`));
    // A surrogate's bytes percent-encoded in every query string parameter: not text, but never a 5xx.
    for (const parameter of op.query) {
      probes.push({
        request: sendQuery(
          [...requiredQuery, `${encodeURIComponent(parameter.name)}=%ED%A0%80`].join('&'),
          `${parameter.name}=%ED%A0%80`,
        ),
        refusal: undefined,
      });
    }
  }
  return probes;
}
