import { MAX_REQUEST_INTEGER } from '../contracts/request-integer.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bounded(schema: Record<string, unknown>): boolean {
  const { minimum, maximum } = schema;
  return (
    typeof minimum === 'number' &&
    typeof maximum === 'number' &&
    minimum >= -MAX_REQUEST_INTEGER &&
    maximum <= MAX_REQUEST_INTEGER
  );
}

/**
 * Where a request schema holds an integer or number without bounds inside ±`MAX_REQUEST_INTEGER`, as
 * JSON-pointer-like paths (empty when every one is bounded). The HTTP app refuses to start with such a
 * route, so no integer can reach storage unchecked: build integers with `RequestInteger`.
 */
export function unboundedNumbers(schema: unknown, path = ''): string[] {
  if (!isRecord(schema)) return [];
  const out: string[] = [];
  const types = [schema.type].flat();
  if ((types.includes('integer') || types.includes('number')) && !bounded(schema)) out.push(path || '/');
  if (isRecord(schema.properties)) {
    for (const [name, property] of Object.entries(schema.properties))
      out.push(...unboundedNumbers(property, `${path}/${name}`));
  }
  if (isRecord(schema.patternProperties)) {
    for (const property of Object.values(schema.patternProperties))
      out.push(...unboundedNumbers(property, `${path}/*`));
  }
  if (isRecord(schema.additionalProperties))
    out.push(...unboundedNumbers(schema.additionalProperties, `${path}/*`));
  if (isRecord(schema.items)) out.push(...unboundedNumbers(schema.items, `${path}/[]`));
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const) {
    const branches = schema[keyword];
    if (Array.isArray(branches)) for (const branch of branches) out.push(...unboundedNumbers(branch, path));
  }
  return out;
}
