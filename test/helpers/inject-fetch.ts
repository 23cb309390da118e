import type { FastifyInstance } from 'fastify';

/** A `fetch` that calls the app in-process (no socket): for SDK tests that do not need real HTTP. */
export function injectFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const body = init?.body;
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers,
      ...(typeof body === 'string' && { payload: body }),
      // Bytes (an archive for Import Backup) go as they are.
      ...(body instanceof Uint8Array && { payload: Buffer.from(body) }),
    });
    const responseHeaders = new Headers();
    for (const [key, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) responseHeaders.append(key, v);
    }
    return new Response(res.rawPayload.length > 0 ? res.rawPayload : null, {
      status: res.statusCode,
      headers: responseHeaders,
    });
  };
}

/** A `fetch` that sends the SDK's https://… requests to a plain-HTTP server on loopback. */
export function loopbackFetch(port: number): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return fetch(url.replace(/^https:\/\/[^/]+/, `http://127.0.0.1:${port}`), init);
  };
}
