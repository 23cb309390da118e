/**
 * Hand-written HTTP/1.1 requests for the fuzz test's socket sample: what no HTTP client (nor Fastify's
 * `inject`) would send as written — dot-segments and encoded escapes left in the path, NUL bytes, headers
 * past the server's limit, duplicate and conflicting headers, broken framing.
 */
import { connect } from 'node:net';
import type { FuzzKeys } from './fuzz-requests.js';
import { pathTricks } from './fuzz-requests.js';

/** A raw request: its bytes as text, and the method the server will see (a HEAD answer has no body). */
export interface RawRequest {
  readonly name: string;
  readonly method: string;
  readonly text: string;
}

/** A response as read off the socket; `status` is undefined when no HTTP answer came. */
export interface RawResponse {
  readonly status: number | undefined;
  readonly body: string;
}

function request(
  name: string,
  method: string,
  target: string,
  headers: readonly string[],
  body = '',
): RawRequest {
  const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers];
  if (body) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return { name, method, text: `${head.join('\r\n')}\r\n\r\n${body}` };
}

/** Every raw case, with a valid key so that they reach the routes' own checks. */
export function rawRequests(keys: FuzzKeys): RawRequest[] {
  const auth = `Authorization: ${keys.site}`;
  const json = 'Content-Type: application/json';
  const out: RawRequest[] = [];
  const targets = [
    '/wix-data/v2/items/',
    '/_api/cloud-data/v2/items/',
    '/wix-data/v2/collections/',
    '/wix-data/v2/backups/',
    '/data/v2/backups/',
    '/_api/safekeep/v1/sites/',
    '/_api/safekeep/v1/api-keys/',
    '/ui/',
  ];
  for (const target of targets) {
    for (const trick of pathTricks) {
      out.push(
        request(`GET ${target}${trick.slice(0, 20)}`, 'GET', `${target}${trick}?dataCollectionId=Books`, [
          auth,
        ]),
      );
      out.push(request(`DELETE ${target}${trick.slice(0, 20)}`, 'DELETE', `${target}${trick}`, [auth]));
    }
    out.push(request(`dot-segments ${target}`, 'GET', `${target}../../_api/safekeep/v1/sites`, [auth]));
    out.push(request(`encoded dot-segments ${target}`, 'GET', `${target}%2e%2e/%2e%2e/healthz`, [auth]));
  }
  const items = '/wix-data/v2/items/query';
  const body = '{"dataCollectionId":"Books"}';
  out.push(
    request('header over the limit', 'POST', items, [auth, json, `X-Junk: ${'j'.repeat(100_000)}`], body),
    request(
      'authorization over the limit',
      'POST',
      items,
      [`Authorization: sk_${'a'.repeat(70_000)}`, json],
      body,
    ),
    request(
      'many headers',
      'POST',
      items,
      [auth, json, ...Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`)],
      body,
    ),
    request('duplicate authorization', 'POST', items, [auth, `Authorization: ${keys.admin}`, json], body),
    request(
      'duplicate site header',
      'POST',
      items,
      [auth, `wix-site-id: ${keys.siteId}`, `wix-site-id: x`, json],
      body,
    ),
    request('duplicate content-type', 'POST', items, [auth, json, 'Content-Type: text/plain'], body),
    request(
      'duplicate idempotency key',
      'POST',
      '/wix-data/v2/backups',
      [auth, json, 'Idempotency-Key: a', 'Idempotency-Key: b'],
      '{}',
    ),
    request('NUL in path', 'GET', '/wix-data/v2/items/a\u0000b?dataCollectionId=Books', [auth]),
    request('space in path', 'GET', '/wix-data/v2/items/a b', [auth]),
    request('absolute-form target', 'GET', 'http://127.0.0.1/healthz', []),
    request('asterisk target', 'OPTIONS', '*', []),
    request('unknown method', 'PROPFIND', '/wix-data/v2/items/query', [auth]),
    request('lowercase method', 'get', '/healthz', []),
    request('backslash path', 'GET', '\\wix-data\\v2\\collections', [auth]),
    request('double slashes', 'GET', '//wix-data//v2//collections', [auth]),
    request('long query', 'GET', `/wix-data/v2/collections?${'a=1&'.repeat(10_000)}`, [auth]),
    request('long .r', 'GET', `${items}?.r=${'Q'.repeat(60_000)}`, [auth]),
    request('invalid header name', 'GET', '/healthz', ['Bad Header: x']),
    request('control character in header', 'GET', '/healthz', ['X-Ctl: a\u0001b']),
    request('obsolete line folding', 'GET', '/healthz', ['X-Fold: a', ' b']),
    request(
      'content-length and chunked',
      'POST',
      items,
      [auth, json, 'Content-Length: 4', 'Transfer-Encoding: chunked'],
      '0\r\n\r\n',
    ),
    request(
      'two content-lengths',
      'POST',
      items,
      [auth, json, 'Content-Length: 4', 'Content-Length: 5'],
      body,
    ),
    request('content-length too short', 'POST', items, [auth, json, 'Content-Length: 5'], ''),
    request('negative content-length', 'POST', items, [auth, json, 'Content-Length: -1'], ''),
    request('bad chunk', 'POST', items, [auth, json, 'Transfer-Encoding: chunked'], 'zz\r\nabc\r\n0\r\n\r\n'),
    request('gzip body', 'POST', items, [auth, json, 'Content-Encoding: gzip'], body),
    request('utf-16 body', 'POST', items, [auth, 'Content-Type: application/json; charset=utf-16'], body),
    request('expect continue', 'POST', items, [auth, json, 'Expect: 100-continue'], body),
    request('bad expect', 'POST', items, [auth, json, 'Expect: teapot'], body),
  );
  out.push({ name: 'HTTP/1.0 without host', method: 'GET', text: 'GET /healthz HTTP/1.0\r\n\r\n' });
  out.push({ name: 'HTTP/2 preface', method: 'PRI', text: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' });
  out.push({
    name: 'garbage',
    method: 'GET',
    text: '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\r\n\r\n',
  });
  out.push({ name: 'HTTP/9', method: 'GET', text: 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n' });
  return out;
}

/** Decodes a chunked body (enough of RFC 9112 §7.1 for a server's own answers). */
function dechunk(raw: string): string {
  let out = '';
  let rest = raw;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const length = parseInt(rest.slice(0, eol), 16);
    if (!(length > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + length);
    rest = rest.slice(eol + 2 + length + 2);
  }
}

/** Sends raw bytes and reads the answer until the server closes the connection. */
export function rawExchange(port: number, text: string): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A server that resets the connection for a request it will not parse still must not crash.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const split = all.indexOf('\r\n\r\n');
      const head = split < 0 ? all : all.slice(0, split);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      let body = split < 0 ? '' : Buffer.from(all.slice(split + 4), 'latin1').toString('utf8');
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) body = dechunk(body);
      resolve({ status: status === undefined ? undefined : Number(status), body });
    });
    socket.end(text, 'latin1');
  });
}
