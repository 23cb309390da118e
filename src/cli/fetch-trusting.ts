import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * The CLI's `fetch` for the SDK client (its `fetch` option) when `--ca` / SAFEKEEP_CA_FILE names
 * certificate authorities (PEM) to trust for an https:// server besides the system's: a self-signed
 * certificate or a private CA. Node's global `fetch` takes no CA per call (Node's own
 * `NODE_EXTRA_CA_CERTS`, read at process start, also works). Lives in the CLI because the SDK also runs in
 * browsers. Reads whole responses (the SDK's are JSON).
 */
export function fetchTrusting(ca: string | Buffer | readonly (string | Buffer)[]): typeof fetch {
  const authorities = Array.isArray(ca) ? [...(ca as (string | Buffer)[])] : [ca as string | Buffer];
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string')
        throw new TypeError('fetchTrusting sends string bodies only');
      const req = send(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          ...(url.protocol === 'https:' && { ca: authorities }),
          ...(init.signal && { signal: init.signal }),
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (part: Buffer) => parts.push(part));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const answer = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              for (const v of [value ?? []].flat()) answer.append(name, v);
            }
            const empty = status === 204 || status === 304 || status < 200;
            resolve(
              new Response(empty ? null : Buffer.concat(parts), {
                status,
                statusText: res.statusMessage ?? '',
                headers: answer,
              }),
            );
          });
        },
      );
      req.on('error', reject);
      req.end(body ?? undefined);
    });
}
