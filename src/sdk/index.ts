/**
 * The safekeep SDK: a typed client for the whole HTTP API — the Wix-compatible Data Items, Data
 * Collections and Backups APIs, and safekeep's admin API. The dashboard and the `safekeep` command talk
 * to a server only through it. It runs in Node 20 and in browsers (it uses only `fetch`); it imports
 * nothing of the server but types and the list of scopes from `src/contracts`.
 */
export {
  SafekeepClient,
  BACKUPS_PATH,
  type SafekeepClientOptions,
  type RequestOptions,
  type StartOptions,
  type CreateBackupOptions,
  type ListBackupsOptions,
  type ListRestorationsOptions,
} from './safekeep-client.js';
export type {
  AsyncJobStatus,
  ItemsClient,
  ItemOptions,
  GetItemOptions,
  QueryOptions,
  BulkOptions,
  ConditionalOptions,
  QueryReferencedOptions,
  IncludedReference,
} from './items-client.js';
export type {
  CollectionField,
  CollectionPatch,
  CollectionsClient,
  ListCollectionsOptions,
} from './collections-client.js';
export type { SitesClient } from './sites-client.js';
export type { ApiKeysClient } from './api-keys-client.js';
export type { WebhooksClient } from './webhooks-client.js';
export type {
  BackupCollection,
  BackupContentsClient,
  BackupDiff,
  CollectionDiff,
  DiffItemsPage,
  DiffOptions,
  ItemChange,
  ItemDiff,
} from './backup-contents-client.js';
export { SafekeepApiError, SafekeepConnectionError, UNEXPECTED_RESPONSE } from './safekeep-api-error.js';
export { DEFAULT_WAIT_INTERVAL_MS, type WaitOptions } from './wait-until-settled.js';
export {
  BACKUP_EVENT_TYPES,
  HEALTH_EVENT_TYPES,
  ITEM_EVENT_TYPES,
  WEBHOOK_EVENT_TYPES,
} from './admin-types.js';
export { allScopes, siteScopes } from '../contracts/scopes.js';
export type * from './types.js';
export type * from './data-types.js';
export type * from './admin-types.js';
