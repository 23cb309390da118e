/**
 * The storage port: everything safekeep keeps in its database. Domain and service code see only these
 * types; `src/adapters/storage/*` implement them and only `src/app/composition-root.ts` picks one.
 *
 * Every method is atomic on its own. Methods that take a callback run it inside one transaction.
 * Errors with a meaning for the caller are thrown as `AppError` (for example WDE0025); any
 * other error means the storage itself failed.
 */
import type { ItemChange } from '../contracts/item-events.js';
import type { Scope } from '../contracts/scopes.js';
import type {
  BackupStore,
  MaintenanceStore,
  RestorationStore,
  ScheduleStore,
  StagingStore,
} from './backup-store.js';
import type { ItemJobAdvance, ItemJobStore } from './item-job-store.js';
import type { SnapshotSource } from './snapshot-source.js';
import type { WebhookStore } from './webhook-store.js';
import type { HealthStore, VerificationStore } from './verification-store.js';
import type { Environment } from '../domain/environment.js';
import type { StoredItem } from '../domain/item-codec.js';
import type { FieldPath } from '../domain/query/field-path.js';
import type { FilterNode } from '../domain/query/filter.js';
import type { SortKey } from '../domain/query/sort.js';
import type { TextSearch } from '../domain/text-search.js';

export type { StoredItem };

/** Engine differences that callers may branch on. Each flag says why it exists. */
export interface StorageCapabilities {
  /** Human-readable engine name for logs and health output (never branched on). */
  readonly engine: string;
}

export interface SiteSettingsOverrides {
  /** Days between automatic backups; `null` uses the deployment default. */
  readonly autoBackupIntervalDays: number | null;
  /** Newest scheduled backups kept; `null` uses the deployment default. */
  readonly autoBackupRetention: number | null;
  /** The site's quotas (README, "Quotas"); `null` or absent uses the deployment default. */
  readonly maxCollections?: number | null;
  readonly maxItems?: number | null;
  readonly maxBackupBytes?: number | null;
  readonly maxRequestBodyBytes?: number | null;
}

export interface SiteRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly settings: SiteSettingsOverrides;
}

export interface SiteStore {
  create(site: SiteRecord): Promise<void>;
  get(id: string): Promise<SiteRecord | undefined>;
  /** All sites, oldest first. */
  list(): Promise<SiteRecord[]>;
  /** Removes the site with its collections, items, links and keys' binding to it. False if it did not exist. */
  delete(id: string): Promise<boolean>;
  updateSettings(id: string, settings: SiteSettingsOverrides): Promise<SiteRecord | undefined>;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  readonly secretHash: string;
  readonly siteIds: readonly string[];
  readonly scopes: readonly Scope[];
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

export interface ApiKeyStore {
  create(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  findBySecretHash(secretHash: string): Promise<ApiKeyRecord | undefined>;
  /** Keys bound to any of `siteIds`, or every key when `siteIds` is undefined; newest first. */
  list(siteIds?: readonly string[]): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked. False if there is no such key or it was already revoked. */
  revoke(id: string, at: number): Promise<boolean>;
}

/** Small named values the deployment keeps (bootstrap state, signing secrets). */
export interface MetaStore {
  get(key: string): Promise<string | undefined>;
  /** Sets `key` only if it has no value yet; returns the value that is now stored. */
  setIfAbsent(key: string, value: string): Promise<string>;
}

export interface CollectionView {
  readonly name: string;
  readonly filter?: unknown;
  readonly sort?: unknown;
  readonly fields?: unknown;
}

/** A collection's description. Items live apart, in generations (see docs/ARCHITECTURE.md). */
export interface CollectionDefinition {
  readonly id: string;
  readonly displayName: string;
  readonly collectionType: 'NATIVE';
  /** The Wix field list, stored as given. */
  readonly fields: readonly Record<string, unknown>[];
  readonly permissions: Record<string, unknown> | null;
  readonly views: readonly CollectionView[];
  /** Other Wix collection properties kept verbatim (displayField, defaultDisplayOrder, ...). */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface CollectionRecord extends CollectionDefinition {
  readonly siteId: string;
  readonly revision: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A deleted collection in the bin (see docs/ARCHITECTURE.md, "The collection bin"). */
export interface DeletedCollectionRecord extends CollectionRecord {
  readonly deletedAt: number;
}

/** The order of a page of collections: by one property, ties broken by id. Default: by id, ascending. */
export interface CollectionSort {
  readonly by: 'id' | 'displayName' | 'createdAt' | 'updatedAt';
  readonly descending: boolean;
}

export interface CollectionStore {
  /** @throws AppError COLLECTION_ALREADY_EXISTS */
  create(siteId: string, definition: CollectionDefinition, at: number): Promise<CollectionRecord>;
  get(siteId: string, id: string): Promise<CollectionRecord | undefined>;
  /** Ordered by `page.sort`, by id when there is none. */
  list(
    siteId: string,
    page: { limit: number; offset: number; sort?: CollectionSort },
  ): Promise<{ collections: CollectionRecord[]; total: number }>;
  /** Ids and display names of all the site's collections, ordered by id (cheap: for naming a backup's content). */
  names(siteId: string): Promise<{ id: string; displayName: string }[]>;
  /**
   * Replaces the definition when `expectedRevision` matches, and increments the revision.
   * @throws AppError WDE0025, REVISION_MISMATCH
   */
  update(
    siteId: string,
    definition: CollectionDefinition,
    expectedRevision: number,
    at: number,
  ): Promise<CollectionRecord>;
  /**
   * Deletes the collection, its items in both environments and its links: they leave the site at once and
   * wait in the bin (the collection row, its generations, its links both ways) until `restoreDeleted` or
   * until the sweeper expires them. A copy of the same id already in the bin is dropped (only the newest
   * can ever be restored). False if the collection did not exist.
   */
  delete(siteId: string, id: string): Promise<boolean>;
  /** The site's collections in the bin deleted at or after `deletedSince`, newest deletion first. */
  listDeleted(siteId: string, deletedSince: number): Promise<DeletedCollectionRecord[]>;
  /**
   * Brings back the most recently deleted copy of `id` — definition, items of both environments, links both
   * ways — in one transaction, if it was deleted at or after `deletedSince`.
   * @throws AppError WDE0025 (no such copy), COLLECTION_ALREADY_EXISTS (a collection has that id now)
   */
  restoreDeleted(siteId: string, id: string, deletedSince: number): Promise<CollectionRecord>;
}

/** Which item set an operation works on. */
export interface ItemTarget {
  readonly siteId: string;
  readonly collectionId: string;
  readonly environment: Environment;
}

/** A position in a sorted result, as the engine compares it; opaque to callers, JSON-serialisable. */
export type KeysetPosition = { readonly values: readonly unknown[]; readonly id: string };

export interface ItemQuery {
  readonly filter: FilterNode | null;
  readonly sort: readonly SortKey[];
  readonly limit: number;
  /**
   * The most item JSON a page may carry, in bytes: a page ends early (with `hasMore`) rather than exceed
   * it, but always holds at least one item. No bound when absent.
   */
  readonly maxBytes?: number;
  /** Offset paging. */
  readonly offset?: number;
  /** Keyset paging: items strictly after (or, with `backwards`, before) this position. */
  readonly after?: KeysetPosition;
  readonly backwards?: boolean;
  readonly withTotal?: boolean;
}

export interface ItemPage {
  readonly items: StoredItem[];
  /** Positions of the first and last item, for cursors. */
  readonly first?: KeysetPosition;
  readonly last?: KeysetPosition;
  /** Whether more items follow in the direction of travel. */
  readonly hasMore: boolean;
  readonly total?: number;
}

/** The operations of one item-write transaction. */
export interface ItemWriteTx {
  /** The items among `ids` that exist now. */
  findExisting(ids: readonly string[]): Promise<Map<string, StoredItem>>;
  insert(items: readonly StoredItem[]): Promise<void>;
  update(items: readonly StoredItem[]): Promise<void>;
  /** Removes items and every link that starts or ends at them. */
  remove(ids: readonly string[]): Promise<void>;
  /** Empties the item set at once (a fresh generation); the old one is reclaimed in the background. */
  truncate(): Promise<void>;
  /**
   * The item-event hook every write path calls with what it did: writes the item events of the LIVE
   * changes to the webhook outbox in this transaction, and only those some subscription of the site wants.
   * The site's subscriptions are read once per transaction; with none, nothing else happens.
   */
  recordChanges(changes: readonly ItemChange[]): Promise<void>;
  /**
   * Items the site holds now in both environments of its live collections (the maxItems usage), as this
   * transaction sees it: read from counters kept in the transactions that write items.
   */
  siteItemCount(): Promise<number>;
  /**
   * Records a batch of a job by filter in this transaction, fenced by the job's lease: its counts and the
   * id it reached commit with the batch's changes or not at all. False when the worker lost the lease (the
   * caller then throws, so that nothing of the batch is written).
   */
  advanceItemJob(advance: ItemJobAdvance): Promise<boolean>;
}

/** One computed value of an aggregation's groups, stored under `name` in each result. */
export interface AggregateOperation {
  readonly name: string;
  readonly op: 'count' | 'sum' | 'avg' | 'min' | 'max';
  /** The numeric field the operation reads (not for `count`); values of other types are skipped. */
  readonly field?: FieldPath;
}

export interface ItemAggregation {
  readonly filter: FilterNode | null;
  /** Each group's `_id` is `{ key: value }` of these fields (null when none); each key is also a result field. */
  readonly groupBy: readonly { readonly key: string; readonly field: FieldPath }[];
  readonly operations: readonly AggregateOperation[];
  /** A filter over the results (`_id`, group keys, operation names). */
  readonly having: FilterNode | null;
  readonly sort: readonly SortKey[];
  readonly limit: number;
  readonly offset: number;
  readonly withTotal: boolean;
}

export interface AggregatePage {
  readonly results: Record<string, unknown>[];
  readonly hasMore: boolean;
  readonly total?: number;
}

/** A full-text search over a collection's index (docs/ARCHITECTURE.md, "Search"). */
export interface ItemSearch {
  readonly search: TextSearch;
  /** Only items this filter keeps. */
  readonly filter: FilterNode | null;
  /** Sort keys before relevance (best first); `_id` breaks the last ties. */
  readonly sort: readonly SortKey[];
  readonly limit: number;
  readonly offset: number;
  /** As ItemQuery.maxBytes. */
  readonly maxBytes?: number;
}

export interface ItemSearchPage {
  readonly items: StoredItem[];
  readonly hasMore: boolean;
}

export interface ItemStore {
  get(target: ItemTarget, id: string): Promise<StoredItem | undefined>;
  /** @throws AppError WDE0025 */
  query(target: ItemTarget, query: ItemQuery): Promise<ItemPage>;
  /** @throws AppError WDE0025 */
  count(target: ItemTarget, filter: FilterNode | null): Promise<number>;
  /**
   * Groups the items `filter` keeps, computes `operations` per group, keeps the groups `having` keeps and
   * returns a page of them in `sort` order, in the database. @throws AppError WDE0025
   */
  aggregate(target: ItemTarget, aggregation: ItemAggregation): Promise<AggregatePage>;
  /**
   * A page of the items matching a full-text search of the collection's declared TEXT fields, in the
   * database's own text index, most relevant first unless `sort` says otherwise. @throws AppError WDE0025
   */
  search(target: ItemTarget, search: ItemSearch): Promise<ItemSearchPage>;
  /**
   * Runs `work` in one transaction on the collection's current item set.
   * @throws AppError WDE0025
   */
  write<T>(target: ItemTarget, work: (tx: ItemWriteTx) => Promise<T>): Promise<T>;
}

/** One multi-reference link, from an item's field to an item of the field's referenced collection. */
export interface LinkRef {
  readonly field: string;
  readonly fromId: string;
  readonly toCollectionId: string;
  readonly toId: string;
}

/** What happened to one link of a bulk call. `missing` names an end that does not exist. */
export type LinkOutcome =
  { readonly ok: true } | { readonly ok: false; readonly missing: 'referring' | 'referenced' };

export interface LinkStore {
  /** Adds links (existing ones are left as they are). Both ends must exist. */
  insert(from: ItemTarget, links: readonly LinkRef[]): Promise<LinkOutcome[]>;
  /** Removes links; removing one that does not exist succeeds. The referring item must exist. */
  remove(from: ItemTarget, links: readonly LinkRef[]): Promise<LinkOutcome[]>;
  /**
   * Replaces all links of `field` of item `fromId` with links to `toIds`, in that order.
   * @throws AppError WDE0073 when the referring item or one of the referenced items does not exist
   */
  replace(
    from: ItemTarget,
    field: string,
    fromId: string,
    toCollectionId: string,
    toIds: readonly string[],
  ): Promise<void>;
  exists(from: ItemTarget, link: LinkRef): Promise<boolean>;
  /** The referenced items of `field` of item `fromId`, in link order. */
  queryReferenced(
    from: ItemTarget,
    field: string,
    fromId: string,
    toCollectionId: string,
    page: { limit: number; offset: number; descending: boolean; withTotal: boolean },
  ): Promise<{ items: StoredItem[]; total?: number; hasMore: boolean }>;
}

/** Background reclamation of item sets that nothing points at any more. */
export interface GenerationSweeper {
  /** Deletes up to about `maxRows` rows of retired generations; returns how many were deleted. */
  sweep(maxRows: number): Promise<number>;
  /**
   * Empties the bin of collections deleted before `deletedBefore`, at most `maxEntries` in one short
   * transaction: their rows go and their generations are RETIRED, for `sweep` to reclaim. Returns how many.
   */
  expireBin(deletedBefore: number, maxEntries: number): Promise<number>;
}

/** What one batch of the layout migration did: more to copy, all copied (ready to switch), or lease lost. */
export interface LayoutCopyOutcome {
  readonly state: 'more' | 'copied' | 'lost';
  /** Rows (items, tombstones or links) the batch copied. */
  readonly rows: number;
}

/**
 * The one-time move of sites from the legacy layout (a table per generation) to the shared one, a site at a
 * time and resumably (docs/ARCHITECTURE.md, "Layout migration"). Driven by src/jobs/layout-migration-task.ts.
 */
export interface LayoutMigrationStore {
  /** Sites with legacy generations still to move, or a move under way, by id (at most `limit`). */
  sitesToMigrate(limit: number): Promise<string[]>;
  /** How many sites are left to move. */
  countSitesToMigrate(): Promise<number>;
  /**
   * Whether a restoration begun before the upgrade is still filling (or freezing) legacy generations: they
   * become ACTIVE, and then need moving, when it finishes.
   */
  hasLegacyInFlight(): Promise<boolean>;
  /**
   * Takes (or renews) the site's `layout` lease for `owner`, only while no backup or restoration of the site
   * is pending and no other owner's lease is current. From then until {@link switchSite}, writes to the
   * site's legacy generations are refused (SITE_MIGRATING) and its jobs wait.
   */
  acquire(siteId: string, owner: string, now: number, leaseMs: number): Promise<boolean>;
  /**
   * Gives every ACTIVE or BINNED legacy generation of the site that has none yet a new generation to be
   * copied into (kept across crashes). Returns the generations planned and the items of the new ones.
   */
  plan(siteId: string, now: number): Promise<{ generations: number; items: number }>;
  /** Copies the next batch of at most `maxRows` rows in its own transaction, renewing the lease. */
  copyBatch(
    siteId: string,
    owner: string,
    now: number,
    leaseMs: number,
    maxRows: number,
  ): Promise<LayoutCopyOutcome>;
  /**
   * In one transaction: points the site's collections, bin entries and backup bases at the new generations,
   * makes them ACTIVE or BINNED, retires the legacy ones, and ends the lease. False when `owner` lost it.
   */
  switchSite(siteId: string, owner: string): Promise<boolean>;
  /** Lets another process take over the site (a stopping process); writes stay refused until its switch. */
  release(siteId: string, owner: string): Promise<void>;
}

/** What a site uses of its quotas (README, "Quotas"). */
export interface UsageStore {
  /** Live collections; those in the bin do not count. */
  collections(siteId: string): Promise<number>;
  /** Items of both environments of the live collections (kept counters, cheap). */
  items(siteId: string): Promise<number>;
  /**
   * Bytes of the site's stored backups (every backup not deleted) plus the item JSON bytes of its
   * collections in the bin.
   */
  backupBytes(siteId: string): Promise<number>;
  /** Items of the collection's most recently deleted copy in the bin, both environments; 0 when none. */
  binnedItems(siteId: string, collectionId: string): Promise<number>;
}

export interface Storage {
  readonly capabilities: StorageCapabilities;
  readonly sites: SiteStore;
  readonly apiKeys: ApiKeyStore;
  readonly meta: MetaStore;
  readonly collections: CollectionStore;
  readonly items: ItemStore;
  readonly links: LinkStore;
  readonly sweeper: GenerationSweeper;
  readonly backups: BackupStore;
  readonly restorations: RestorationStore;
  readonly staging: StagingStore;
  /** Jobs by filter (asyncRemoveByFilter, asyncPatchByFilter). */
  readonly itemJobs: ItemJobStore;
  readonly schedule: ScheduleStore;
  readonly verifications: VerificationStore;
  readonly health: HealthStore;
  readonly maintenance: MaintenanceStore;
  readonly webhooks: WebhookStore;
  readonly layout: LayoutMigrationStore;
  readonly usage: UsageStore;
  /** Reads backup content off the main thread. */
  readonly snapshots: SnapshotSource;
  /** Throws when the storage cannot answer. */
  healthCheck(): Promise<void>;
  close(): Promise<void>;
}
