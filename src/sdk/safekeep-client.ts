import { SafekeepApiError, SafekeepConnectionError, UNEXPECTED_RESPONSE } from './safekeep-api-error.js';
import type {
  Backup,
  BackupPage,
  BackupStatus,
  BackupType,
  Restoration,
  RestorationCollectionInput,
  RestorationPage,
  RestorationStatus,
} from './types.js';
import { waitUntilSettled, type WaitOptions } from './wait-until-settled.js';

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

/** Options of the calls that start work. */
export interface StartOptions extends RequestOptions {
  /**
   * Sent as `Idempotency-Key`: the same key from the same site within 24 hours returns the first call's
   * result instead of starting new work, so a call can be retried safely after a lost response.
   */
  readonly idempotencyKey?: string;
}

/** What `createBackup` backs up. */
export interface CreateBackupOptions extends StartOptions {
  /** Ids of the collections to back up (extension); all of the site's collections when left out. */
  readonly collections?: readonly string[];
}

/** Which backups `listBackups` returns. */
export interface ListBackupsOptions extends RequestOptions {
  /** Only backups in one of these statuses (at most 10). */
  readonly status?: readonly BackupStatus[];
  /** Only backups of one of these types (at most 10). */
  readonly type?: readonly BackupType[];
  /** Page size: default 50, at most 1000. */
  readonly limit?: number;
  /** Entries to skip. */
  readonly offset?: number;
}

/** Which restorations `listRestorations` returns. */
export interface ListRestorationsOptions extends RequestOptions {
  /** Only restorations in one of these statuses (at most 10). */
  readonly status?: readonly RestorationStatus[];
  /** Page size: default 50, at most 1000. */
  readonly limit?: number;
  /** Entries to skip. */
  readonly offset?: number;
}

/** The Backups API's documented REST path (backups-api.md §1). */
export const BACKUPS_PATH = '/wix-data/v2/backups';

type Query = Record<string, string | number | readonly string[] | undefined>;

/**
 * A typed client for safekeep's Backups API. Every call resolves with the entity the server returned, or
 * rejects with a {@link SafekeepApiError} (the server refused) or a {@link SafekeepConnectionError} (no
 * answer). The client holds no state besides its options: one instance may serve concurrent calls.
 *
 * ```ts
 * const client = new SafekeepClient({ baseUrl: 'http://127.0.0.1:8080', apiKey, siteId });
 * const backup = await client.createBackup();
 * const done = await client.waitForBackup(backup.id, { onProgress: (p) => console.log(p) });
 * ```
 */
export class SafekeepClient {
  /** The server's address, without a trailing slash. */
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly siteId: string | undefined;
  private readonly fetch: typeof fetch;

  /** A client for one server, key and (optionally) site. Sends nothing until a method is called. */
  constructor(options: SafekeepClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.siteId = options.siteId;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Starts an on-demand backup of the site (all collections, or those named). Resolves at once with the
   * backup PENDING; the work runs on the server — follow it with {@link waitForBackup}.
   * @throws SafekeepApiError 409 `BACKUP_ALREADY_IN_PROGRESS` (the pending one's id in `data.backupId`),
   *   404 `COLLECTION_NOT_FOUND`
   */
  async createBackup(options: CreateBackupOptions = {}): Promise<Backup> {
    const body =
      options.collections === undefined
        ? {}
        : { backup: { collections: options.collections.map((id) => ({ id })) } };
    const result = await this.request('POST', '', { ...options, body });
    return field<Backup>(result, 'backup');
  }

  /** A page of the site's backups, newest first. DELETED backups are listed too unless `status` leaves them out. */
  async listBackups(options: ListBackupsOptions = {}): Promise<BackupPage> {
    const query: Query = {
      status: options.status,
      type: options.type,
      'paging.limit': options.limit,
      'paging.offset': options.offset,
    };
    const result = await this.request('GET', '', { query, signal: options.signal });
    return { backups: field(result, 'backups'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * One backup, as it is now.
   * @throws SafekeepApiError 404 `BACKUP_NOT_FOUND`, 400 `INVALID_ARGUMENT` for an id that is not a GUID
   */
  async getBackup(id: string, options: RequestOptions = {}): Promise<Backup> {
    const result = await this.request('GET', `/${pathId(id)}`, options);
    return field<Backup>(result, 'backup');
  }

  /**
   * Deletes a backup (a PENDING one is stopped first); deleting a DELETED backup succeeds again.
   * @throws SafekeepApiError 404 `BACKUP_NOT_FOUND`, 409 `BACKUP_IN_USE` while a restoration reads it
   */
  async deleteBackup(id: string, options: RequestOptions = {}): Promise<void> {
    await this.request('DELETE', `/${pathId(id)}`, options);
  }

  /**
   * Cancels a PENDING backup.
   * @throws SafekeepApiError 428 `BACKUP_NOT_CANCELABLE` when it is no longer PENDING
   */
  async cancelBackup(id: string, options: RequestOptions = {}): Promise<void> {
    await this.request('POST', `/${pathId(id)}/cancel`, { ...options, body: {} });
  }

  /**
   * Restores every collection of a READY backup into itself. Resolves at once with the restoration PENDING;
   * follow it with {@link waitForRestoration}.
   * @throws SafekeepApiError 428 `BACKUP_NOT_READY`, 409 `RESTORATION_IN_PROGRESS`, 404 `BACKUP_NOT_FOUND`
   */
  async restoreBackup(id: string, options: StartOptions = {}): Promise<Restoration> {
    const result = await this.request('POST', `/${pathId(id)}/restore`, { ...options, body: {} });
    return field<Restoration>(result, 'restoration');
  }

  /**
   * Restores some collections of a READY backup, each into itself or into the destination given (a
   * destination that does not exist is created).
   * @throws SafekeepApiError as {@link restoreBackup}, and 400 `COLLECTION_NOT_IN_BACKUP`,
   *   `DUPLICATE_DESTINATION` or `INVALID_ARGUMENT`
   */
  async restorePartialBackup(
    id: string,
    restorationCollections: readonly RestorationCollectionInput[],
    options: StartOptions = {},
  ): Promise<Restoration> {
    const result = await this.request('POST', `/${pathId(id)}/partial-restore`, {
      ...options,
      body: { restorationCollections },
    });
    return field<Restoration>(result, 'restoration');
  }

  /** A page of the site's restorations, newest first. */
  async listRestorations(options: ListRestorationsOptions = {}): Promise<RestorationPage> {
    const query: Query = {
      status: options.status,
      'paging.limit': options.limit,
      'paging.offset': options.offset,
    };
    const result = await this.request('GET', '/restorations', { query, signal: options.signal });
    return { restorations: field(result, 'restorations'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * One restoration, as it is now.
   * @throws SafekeepApiError 404 `RESTORATION_NOT_FOUND`, 400 `INVALID_ARGUMENT` for an id that is not a GUID
   */
  async getRestoration(id: string, options: RequestOptions = {}): Promise<Restoration> {
    const result = await this.request('GET', `/restorations/${pathId(id)}`, options);
    return field<Restoration>(result, 'restoration');
  }

  /**
   * Reads a backup every `intervalMs` until it leaves PENDING, reporting progress as it changes, and
   * resolves with it as it ended: READY, FAILED (see `error`), CANCELED or DELETED. Ending in failure is not
   * an error here; the caller decides what it means.
   */
  waitForBackup(id: string, options: WaitOptions<Backup> = {}): Promise<Backup> {
    return waitUntilSettled((signal) => this.getBackup(id, signal ? { signal } : {}), options);
  }

  /**
   * Reads a restoration every `intervalMs` until it leaves PENDING, reporting progress as it changes, and
   * resolves with it as it ended: COMPLETED or FAILED (see `error`).
   */
  waitForRestoration(id: string, options: WaitOptions<Restoration> = {}): Promise<Restoration> {
    return waitUntilSettled((signal) => this.getRestoration(id, signal ? { signal } : {}), options);
  }

  private async request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: { query?: Query; body?: unknown; idempotencyKey?: string; signal?: AbortSignal | undefined },
  ): Promise<Record<string, unknown>> {
    const url = `${this.baseUrl}${BACKUPS_PATH}${path}${queryString(options.query)}`;
    const headers: Record<string, string> = { authorization: this.apiKey, accept: 'application/json' };
    if (this.siteId !== undefined) headers['wix-site-id'] = this.siteId;
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        ...(body !== undefined && { body }),
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

/** A path segment for an id. An empty id would name the collection route itself, so it is refused here. */
function pathId(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('an id is required');
  return encodeURIComponent(id);
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

/** A response's expected top-level property; its absence means the route answered something else. */
function field<T>(body: Record<string, unknown>, name: string): T {
  const value = body[name];
  if (value === undefined || value === null) {
    throw new SafekeepApiError(200, UNEXPECTED_RESPONSE, `The response has no "${name}"`);
  }
  return value as T;
}
