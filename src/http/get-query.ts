import { invalidArgument } from '../contracts/errors.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the query string of a GET or DELETE the way the Wix SDK writes it: `.r` carries the whole
 * request as base64url JSON, and dotted names (`paging.limit`) address nested fields. Explicit
 * parameters win over `.r`.
 * @throws AppError INVALID_ARGUMENT for a `.r` that is not base64url JSON of an object
 */
export function decodeGetQuery(query: Record<string, unknown>): Record<string, unknown> {
  const { '.r': encoded, ...rest } = query;
  let base: Record<string, unknown> = {};
  if (encoded !== undefined) {
    if (typeof encoded !== 'string') throw invalidArgument('.r', 'send it once');
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    } catch {
      throw invalidArgument('.r', 'must be base64url-encoded JSON', 'FORMAT');
    }
    if (!isRecord(decoded)) throw invalidArgument('.r', 'must encode a JSON object', 'FORMAT');
    base = decoded;
  }
  for (const [name, value] of Object.entries(rest)) {
    const path = name.split('.');
    if (path.some((p) => p.length === 0 || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw invalidArgument(name, 'is not a valid parameter name', 'FORMAT');
    }
    let node = base;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      if (isRecord(next)) node = next;
      else node = node[segment] = {};
    }
    node[path[path.length - 1] ?? name] = value;
  }
  return base;
}
