import type { BackupSchedule, Health, RestorePreview, Session } from './admin-types.js';
import { ApiKeysClient } from './api-keys-client.js';
import { BackupContentsClient } from './backup-contents-client.js';
import { CollectionsClient } from './collections-client.js';
import {
  field,
  HttpTransport,
  pathId,
  type Query,
  type RequestOptions,
  type DownloadedBody,
  type SafekeepClientOptions,
  type TransportRequest,
} from './http-transport.js';
import { ItemsClient } from './items-client.js';
import { ADMIN_PATH, SitesClient } from './sites-client.js';
import type {
  Backup,
  BackupHealth,
  BackupPage,
  BackupStorage,
  Verification,
  BackupStatus,
  BackupType,
  Restoration,
  RestorationCollectionInput,
  RestorationPage,
  RestorationStatus,
} from './types.js';
import { waitUntilSettled, type WaitOptions } from './wait-until-settled.js';
import { WebhooksClient } from './webhooks-client.js';

export type { RequestOptions, SafekeepClientOptions };

/** Options of the calls that start work. */
export interface StartOptions extends RequestOptions {
  /**
   * Sent as `Idempotency-Key`: the same key from the same site within 24 hours returns the first call's
   * result instead of starting new work, so a call can be retried safely after a lost response.
   */
  readonly idempotencyKey?: string;
}

/** Options of a restore (extension of backups-api.md §6.2). */
export interface RestoreOptions extends StartOptions {
  /**
   * What happens to an existing destination's definition: MERGE (the server's default) keeps it and adds
   * the backup's fields it lacks, refusing conflicting fields with 409 `DEFINITION_CONFLICT`; BACKUP takes
   * the backup's definition whole.
   */
  readonly definitionMode?: 'MERGE' | 'BACKUP';
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

/**
 * A typed client for all of safekeep's HTTP API. The Backups API — the headline — is on the client
 * itself (`createBackup`, `restoreBackup`, `waitForBackup`, ...); the Data API and the admin API are on
 * `items`, `collections`, `sites`, `apiKeys` and `webhooks`. Every call resolves with what the server
 * returned, or rejects with a {@link SafekeepApiError} (the server refused) or a
 * {@link SafekeepConnectionError} (no answer). A client holds no state besides its options: one instance
 * may serve concurrent calls. It uses only `fetch`, so it runs in Node 20 and in browsers.
 *
 * ```ts
 * const client = new SafekeepClient({ baseUrl: 'http://127.0.0.1:8080', apiKey, siteId });
 * await client.items.insert('Books', { title: 'Dune' });
 * const backup = await client.createBackup();
 * const done = await client.waitForBackup(backup.id, { onProgress: (p) => console.log(p) });
 * ```
 */
export class SafekeepClient {
  /** The server's address, without a trailing slash. */
  readonly baseUrl: string;
  /** The site this client acts on (`wix-site-id`), if one was named. */
  readonly siteId: string | undefined;
  /** Data Items (data-api.md §2): insert, get, query, bulk writes, references, ... */
  readonly items: ItemsClient;
  /** Data Collections (data-api.md §3). */
  readonly collections: CollectionsClient;
  /** Admin API: sites and their settings. */
  readonly sites: SitesClient;
  /** Admin API: API keys. */
  readonly apiKeys: ApiKeysClient;
  /** Admin API: webhook subscriptions. */
  readonly webhooks: WebhooksClient;
  /** Admin extension: browse READY backups without restoring them, and compare them. */
  readonly backupContents: BackupContentsClient;
  private readonly http: HttpTransport;

  /** A client for one server, key and (optionally) site. Sends nothing until a method is called. */
  constructor(options: SafekeepClientOptions | HttpTransport) {
    this.http = options instanceof HttpTransport ? options : new HttpTransport(options);
    this.baseUrl = this.http.baseUrl;
    this.siteId = this.http.siteId;
    this.items = new ItemsClient(this.http);
    this.collections = new CollectionsClient(this.http);
    this.sites = new SitesClient(this.http);
    this.apiKeys = new ApiKeysClient(this.http);
    this.webhooks = new WebhooksClient(this.http);
    this.backupContents = new BackupContentsClient(this.http);
  }

  /** A client with the same server and key acting on another site (an admin key moving between sites). */
  withSite(siteId: string | undefined): SafekeepClient {
    return new SafekeepClient(this.http.withSite(siteId));
  }

  /** Whether the server and its storage answer (`GET /healthz`, no key needed). */
  async health(options: RequestOptions = {}): Promise<Health> {
    return (await this.http.request('GET', '/healthz', options)) as unknown as Health;
  }

  /**
   * Who the key is: its scopes and the sites it may act on (every site for an `admin` key). Any valid key
   * may ask.
   * @throws SafekeepApiError 401 `UNAUTHENTICATED`
   */
  async session(options: RequestOptions = {}): Promise<Session> {
    const result = await this.http.request('GET', `${ADMIN_PATH}/session`, options);
    return { apiKey: field(result, 'apiKey'), sites: field(result, 'sites') };
  }

  /** When the site's next automatic backup is due, with the interval and retention in effect. */
  async backupSchedule(options: RequestOptions = {}): Promise<BackupSchedule> {
    return field(await this.http.request('GET', `${ADMIN_PATH}/backup-schedule`, options), 'schedule');
  }

  /**
   * What restoring a backup would change, checked exactly as the restore itself would be, without
   * starting anything: per destination, whether it exists, its LIVE items now (all replaced) and the
   * items the backup holds for it. Without `restorationCollections`, a full restore.
   * @throws SafekeepApiError as {@link restorePartialBackup}
   */
  async previewRestore(
    backupId: string,
    restorationCollections?: readonly RestorationCollectionInput[],
    options: RequestOptions & { readonly definitionMode?: 'MERGE' | 'BACKUP' } = {},
  ): Promise<RestorePreview> {
    const result = await this.http.request(
      'POST',
      `${ADMIN_PATH}/backups/${pathId(backupId)}/restore-preview`,
      {
        body: {
          ...(restorationCollections !== undefined && { restorationCollections }),
          ...(options.definitionMode !== undefined && { definitionMode: options.definitionMode }),
        },
        signal: options.signal,
      },
    );
    return field(result, 'preview');
  }

  /**
   * Starts an on-demand backup of the site (all collections, or those named). Resolves at once with the
   * backup PENDING; the work runs on the server — follow it with {@link waitForBackup}.
   * @throws SafekeepApiError 409 `BACKUP_ALREADY_IN_PROGRESS` (the pending one's id in `data.backupId`),
   *   404 `WDE0025`
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
  async restoreBackup(id: string, options: RestoreOptions = {}): Promise<Restoration> {
    const { definitionMode, ...rest } = options;
    const result = await this.request('POST', `/${pathId(id)}/restore`, {
      ...rest,
      body: definitionMode === undefined ? {} : { definitionMode },
    });
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
    options: RestoreOptions = {},
  ): Promise<Restoration> {
    const { definitionMode, ...rest } = options;
    const result = await this.request('POST', `/${pathId(id)}/partial-restore`, {
      ...rest,
      body: { restorationCollections, ...(definitionMode !== undefined && { definitionMode }) },
    });
    return field<Restoration>(result, 'restoration');
  }

  /**
   * Extension (item restore): restores only some items of one collection of a READY backup, in place, into
   * the existing collection (or `to`). With `itemIds` alone, RESTORE_ITEMS: those items as the backup holds
   * them (a listed id the backup lacks is removed from live data). With `onlyMissing`, ONLY_MISSING: the
   * backup's items live data lacks (those listed, or all), nothing else touched. Its safety backup holds
   * exactly the items it changed; restoring that one undoes it.
   * @throws SafekeepApiError as {@link restorePartialBackup}, and 409 `ITEM_RESTORE_DESTINATION_MISSING`
   */
  async restoreBackupItems(
    id: string,
    dataCollectionId: string,
    selection:
      | { readonly itemIds: readonly string[]; readonly onlyMissing?: boolean }
      | {
          readonly itemIds?: readonly string[];
          readonly onlyMissing: true;
        },
    options: RestoreOptions & { readonly to?: string } = {},
  ): Promise<Restoration> {
    const { to, ...rest } = options;
    return this.restorePartialBackup(
      id,
      [
        {
          dataCollectionId,
          ...(to !== undefined && { restoreDestination: { dataCollectionId: to } }),
          restoreMode: selection.onlyMissing ? 'ONLY_MISSING' : 'RESTORE_ITEMS',
          ...(selection.itemIds !== undefined && { itemIds: selection.itemIds }),
        },
      ],
      rest,
    );
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
   * Extension: verifies a READY backup — its manifest and every chunk, read and checked as a restore
   * would, optionally with a trial restore into scratch item sets that are thrown away. Resolves at once
   * with the verification PENDING (the one already pending for the backup, if any); follow it with
   * {@link waitForVerification}. The backup's `lastVerification` shows the result.
   * @throws SafekeepApiError 428 `BACKUP_NOT_VERIFIABLE`, 404 `BACKUP_NOT_FOUND`
   */
  async verifyBackup(
    id: string,
    options: RequestOptions & { trialRestore?: boolean } = {},
  ): Promise<Verification> {
    const { trialRestore, ...rest } = options;
    const result = await this.request('POST', `/${pathId(id)}/verify`, {
      ...rest,
      body: trialRestore === undefined ? {} : { trialRestore },
    });
    return field<Verification>(result, 'verification');
  }

  /**
   * Extension: one verification, as it is now.
   * @throws SafekeepApiError 404 `VERIFICATION_NOT_FOUND`
   */
  async getVerification(id: string, options: RequestOptions = {}): Promise<Verification> {
    const result = await this.request('GET', `/verifications/${pathId(id)}`, options);
    return field<Verification>(result, 'verification');
  }

  /** Reads a verification every `intervalMs` until it leaves PENDING: PASSED or FAILED. */
  waitForVerification(id: string, options: WaitOptions<Verification> = {}): Promise<Verification> {
    return waitUntilSettled((signal) => this.getVerification(id, signal ? { signal } : {}), options);
  }

  /** Extension: what the site's READY backups take in the blob store, each and together. */
  async backupStorage(options: RequestOptions = {}): Promise<BackupStorage> {
    const result = await this.http.request('GET', `${ADMIN_PATH}/backup-storage`, options);
    return field<BackupStorage>(result, 'storage');
  }

  /** Extension: the site's backup health (OK or OVERDUE). */
  async backupHealth(options: RequestOptions = {}): Promise<BackupHealth> {
    const result = await this.http.request('GET', `${ADMIN_PATH}/backup-health`, options);
    return field<BackupHealth>(result, 'health');
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

  /**
   * Downloads a READY backup as a portable archive (docs/ARCHIVE-FORMAT.md): the response body, to stream
   * to a file, and its length when the server knows it ahead.
   * @throws SafekeepApiError 404 `BACKUP_NOT_FOUND`, 428 `BACKUP_NOT_READY`, 409 `BACKUP_DAMAGED`
   */
  async downloadBackup(id: string, options: RequestOptions = {}): Promise<DownloadedBody> {
    return this.http.download(`${BACKUPS_PATH}/${pathId(id)}/archive`, options);
  }

  /**
   * Creates a READY backup of the site (trigger IMPORT) from an archive, sent as a stream or as bytes.
   * @throws SafekeepApiError 400 `ARCHIVE_*` (nothing is created), 413 `ARCHIVE_TOO_LARGE`, 429 `QUOTA_EXCEEDED`
   */
  async importBackup(
    archive: Uint8Array | ReadableStream<Uint8Array>,
    options: RequestOptions = {},
  ): Promise<Backup> {
    const result = await this.request('POST', '/import', {
      ...options,
      rawBody: { data: archive, contentType: 'application/zstd' },
    });
    return field<Backup>(result, 'backup');
  }

  /**
   * Copies a READY backup of `fromSiteId` to `toSiteId` (an admin key): a READY backup of the target,
   * trigger COPY.
   * @throws SafekeepApiError 404 `BACKUP_NOT_FOUND` or `SITE_NOT_FOUND`, 428 `BACKUP_NOT_READY`
   */
  async copyBackup(
    fromSiteId: string,
    backupId: string,
    toSiteId: string,
    options: RequestOptions = {},
  ): Promise<Backup> {
    const result = await this.http.request(
      'POST',
      `${ADMIN_PATH}/sites/${pathId(fromSiteId)}/backups/${pathId(backupId)}/copy`,
      { ...options, body: { targetSiteId: toSiteId } },
    );
    return field<Backup>(result, 'backup');
  }

  private request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: {
      query?: Query;
      body?: unknown;
      rawBody?: TransportRequest['rawBody'];
      idempotencyKey?: string;
      signal?: AbortSignal | undefined;
    },
  ): Promise<Record<string, unknown>> {
    return this.http.request(method, `${BACKUPS_PATH}${path}`, options);
  }
}
