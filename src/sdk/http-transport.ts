import { SafekeepApiError, SafekeepConnectionError, UNEXPECTED_RESPONSE } from './safekeep-api-error.js';

/** How to reach a safekeep server. */
export interface SafekeepClientOptions {
  /** The server's address, e.g. `http://127.0.0.1:8080` (a path prefix is kept; a trailing slash is not). */
  readonly baseUrl: string;
  /** An API key (`sk_…`), sent as the `Authorization` header. */
  readonly apiKey: string;
  /** The site to act on (`wix-site-id`); a key bound to exactly one site may leave it out. */
  readonly siteId?: string | undefined;
  /** The `fetch` to send requests with (default: the global one). Tests pass one that calls the app in-process. */
  readonly fetch?: typeof fetch;
}

/** Options every call accepts. */
export interface RequestOptions {
  /** Aborts the request; the call rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Query-string values: arrays repeat the name (`status=READY&status=FAILED`). */
export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface TransportRequest {
  readonly query?: Query;
  readonly body?: unknown;
  /** A body sent as it is (bytes or a stream), with its content type, instead of `body` as JSON. */
  readonly rawBody?: { readonly data: Uint8Array | ReadableStream<Uint8Array>; readonly contentType: string };
  readonly idempotencyKey?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Sends one request and reads its answer: a JSON object on success, a {@link SafekeepApiError} for a
 * refusal, a {@link SafekeepConnectionError} when nothing answered. Uses only `fetch`, `URLSearchParams`,
 * `TextEncoder` and `btoa`, so it runs in Node and in browsers alike.
 */
export class HttpTransport {
  /** The server's address, without a trailing slash. */
  readonly baseUrl: string;
  /** The site requests act on, if one was named. */
  readonly siteId: string | undefined;
  private readonly apiKey: string;
  private readonly send: typeof fetch;

  constructor(options: SafekeepClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.siteId = options.siteId;
    // Called as a plain function: browsers refuse `fetch` called as a method of another object.
    const custom = options.fetch;
    this.send = custom ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The same server and key, acting on another site. */
  withSite(siteId: string | undefined): HttpTransport {
    return new HttpTransport({ baseUrl: this.baseUrl, apiKey: this.apiKey, siteId, fetch: this.send });
  }

  /**
   * A GET whose answer is bytes, not JSON (Download Backup): the body is returned unread, to be streamed.
   * @throws SafekeepApiError for a refusal, SafekeepConnectionError when nothing answered
   */
  async download(path: string, options: { signal?: AbortSignal | undefined } = {}): Promise<DownloadedBody> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { authorization: this.apiKey };
    if (this.siteId !== undefined) headers['wix-site-id'] = this.siteId;
    let response: Response;
    try {
      response = await this.send(url, {
        method: 'GET',
        headers,
        ...(options.signal && { signal: options.signal }),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new SafekeepConnectionError(url, { cause: error });
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      throw SafekeepApiError.fromResponse(response.status, text, response.headers.get('retry-after'));
    }
    const length = Number(response.headers.get('content-length'));
    return {
      body: response.body,
      length:
        Number.isSafeInteger(length) && length >= 0 && response.headers.has('content-length')
          ? length
          : undefined,
    };
  }

  async request(
    method: Method,
    path: string,
    options: TransportRequest = {},
  ): Promise<Record<string, unknown>> {
    const url = `${this.baseUrl}${path}${queryString(options.query)}`;
    const headers: Record<string, string> = { authorization: this.apiKey, accept: 'application/json' };
    if (this.siteId !== undefined) headers['wix-site-id'] = this.siteId;
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody.data;
      headers['content-type'] = options.rawBody.contentType;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    let text: string;
    try {
      response = await this.send(url, {
        method,
        headers,
        ...(body !== undefined && { body: body as RequestInit['body'] }),
        // A stream body needs half duplex in Node's fetch.
        ...(body instanceof ReadableStream && { duplex: 'half' }),
        ...(options.signal && { signal: options.signal }),
      });
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new SafekeepConnectionError(url, { cause: error });
    }
    if (!response.ok) {
      throw SafekeepApiError.fromResponse(response.status, text, response.headers.get('retry-after'));
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // Reported below.
    }
    throw new SafekeepApiError(
      response.status,
      UNEXPECTED_RESPONSE,
      `${method} ${url} answered ${response.status} without a JSON object`,
    );
  }
}

/** A byte stream answered by the server, with its length when it said it. */
export interface DownloadedBody {
  readonly body: ReadableStream<Uint8Array>;
  readonly length: number | undefined;
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value === 'object') for (const v of value) params.append(name, v);
    else params.append(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * A GET request's query: plain parameters while every value is a scalar or a list of strings, otherwise
 * the whole request as `.r` (base64url JSON, as the Wix SDK sends it), which the server reads the same way.
 */
export function getQuery(request: Record<string, unknown>): Query {
  const plain: Query = {};
  for (const [name, value] of Object.entries(request)) {
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      plain[name] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) plain[name] = value;
    else return { '.r': base64url(JSON.stringify(request)) };
  }
  return plain;
}

function base64url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A path segment for an id. An empty id would name another route, so it is refused here. */
export function pathId(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('an id is required');
  return encodeURIComponent(id);
}

/** A response's expected top-level property; its absence means the route answered something else. */
export function field<T>(body: Record<string, unknown>, name: string): T {
  const value = body[name];
  if (value === undefined || value === null) {
    throw new SafekeepApiError(200, UNEXPECTED_RESPONSE, `The response has no "${name}"`);
  }
  return value as T;
}
