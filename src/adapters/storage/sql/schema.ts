/**
 * The tables both SQL engines share, as Kysely sees them. Item sets (generations) live in the shared table
 * `items` or in a table of their own, by generation id (item-relation.ts); they are reached through
 * `itemRelation(gen)`, never through Kysely's typed builder.
 */
import type { ColumnType, Generated } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

export interface SitesTable {
  id: string;
  name: string;
  created_at: number;
  auto_backup_interval_days: number | null;
  auto_backup_retention: number | null;
  next_auto_backup_at: ColumnType<number | null, number | null | undefined, number | null>;
  /** Per-site quota overrides (migration 0009); NULL uses the deployment default. */
  max_collections: ColumnType<number | null, number | null | undefined, number | null>;
  max_items: ColumnType<number | null, number | null | undefined, number | null>;
  max_backup_bytes: ColumnType<number | null, number | null | undefined, number | null>;
  max_request_body_bytes: ColumnType<number | null, number | null | undefined, number | null>;
  /** OK or OVERDUE (migration 0015): changed only by compare-and-set, each change with its event. */
  backup_health: ColumnType<string, string | undefined, string>;
  backup_health_changed_at: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  secret_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

export interface ApiKeySitesTable {
  key_id: string;
  site_id: string;
}

export interface CollectionsTable {
  site_id: string;
  id: string;
  display_name: string;
  collection_type: string;
  /** JSON. */
  fields: string;
  /** JSON or null. */
  permissions: string | null;
  /** JSON. */
  views: string;
  /** JSON. */
  extra: string;
  revision: number;
  created_at: number;
  updated_at: number;
  /** The generation holding the LIVE items. */
  live_gen: number;
  /** The generation holding the SANDBOX items. */
  sandbox_gen: number;
  /** Incremented by every change to LIVE items or links; lets a backup skip an unchanged collection. */
  live_version: number;
}

/**
 * ACTIVE: a collection points at it. BUILDING: a restoration is filling it. RETIRING: replaced by a
 * restoration and frozen until its safety backup is written. BINNED: its collection was deleted and waits in
 * the bin (`collection_bin`) for a restore or its expiry. RETIRED: nothing needs it; the sweeper reclaims it.
 * MIGRATING: the copy of a legacy generation the layout migration is filling (`layout_migration`); nothing
 * else touches it (start-up recovery retires only BUILDING and RETIRING ones) until the site's switch makes
 * it ACTIVE or BINNED.
 */
export type GenerationState = 'ACTIVE' | 'BUILDING' | 'RETIRING' | 'BINNED' | 'RETIRED' | 'MIGRATING';

/**
 * A deleted collection, kept for its retention window: the collection row as it was (its generations, now
 * BINNED, included) and when it was deleted. One per collection id: a newer deletion of the same id replaces
 * the older copy, which could never be restored any more. Its links stay in `links`, keyed by generation.
 */
export interface CollectionBinTable extends CollectionsTable {
  deleted_at: number;
  /**
   * Item JSON bytes of the deleted copy (both environments), counted toward the site's maxBackupBytes:
   * NULL until first needed, then kept (a binned generation never changes).
   */
  size_bytes: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface GenerationsTable {
  id: Generated<number>;
  site_id: string;
  collection_id: string;
  environment: string;
  state: GenerationState;
  created_at: number;
  /** The restoration filling a BUILDING generation. */
  owner_restoration: ColumnType<string | null, string | null | undefined, string | null>;
  /** Tombstones below this change number were pruned: incremental backups need a base at or above it. */
  tombstone_floor: Generated<number>;
  /**
   * Items the generation holds (migration 0009): kept by the transactions that write items, recorded once
   * by a restoration when it has filled one; the site's maxItems usage adds up those of its ACTIVE ones.
   */
  item_count: Generated<number>;
}

export interface TombstonesTable {
  gen: number;
  id: string;
  seq: number;
}

export interface LinksTable {
  from_gen: number;
  field: string;
  from_id: string;
  to_gen: number;
  to_id: string;
  /** Orders the links of one field of one item. */
  pos: number;
}

export interface Database {
  backups: BackupsTable;
  backup_collections: BackupCollectionsTable;
  restorations: RestorationsTable;
  verifications: VerificationsTable;
  idempotency_keys: IdempotencyKeysTable;
  webhooks: WebhooksTable;
  events: EventsTable;
  deliveries: DeliveriesTable;
  site_leases: SiteLeasesTable;
  tombstones: TombstonesTable;
  meta: MetaTable;
  sites: SitesTable;
  api_keys: ApiKeysTable;
  api_key_sites: ApiKeySitesTable;
  collections: CollectionsTable;
  collection_bin: CollectionBinTable;
  generations: GenerationsTable;
  links: LinksTable;
  layout_migration: LayoutMigrationTable;
  item_jobs: ItemJobsTable;
}

/** A job of asyncRemoveByFilter or asyncPatchByFilter (migration 0012, item-jobs-migration.ts). */
export interface ItemJobsTable {
  id: string;
  site_id: string;
  environment: string;
  collection_id: string;
  /** REMOVE or PATCH. */
  kind: string;
  /** JSON of the filter as the request sent it. */
  filter: string;
  /** JSON of the field modifications (PATCH only), as the request sent them. */
  modifications: string | null;
  /** The API key that asked for the job: the owner of patched items that have none. */
  owner_key: string;
  status: string;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress_done: number | null;
  progress_total: number | null;
  /** The id of the last item a committed batch handled. */
  last_id: string | null;
  error_code: string | null;
  error_message: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  attempts: Generated<number>;
}

/**
 * Steps of copying one legacy generation (migration 0007): its items, its tombstones, the links from it to
 * other generations being migrated; COPIED when all are in its new generation.
 */
export type LayoutCopyStep = 'ITEMS' | 'TOMBSTONES' | 'LINKS_OUT' | 'COPIED';

/**
 * The layout migration's plan and progress, one row per legacy generation of a site being migrated: the new
 * generation it is copied into (kept across crashes, so a resumed migration fills the same one), the step it
 * is at and the key of the last row copied in that step (JSON array; NULL before the first batch). The
 * site's rows are deleted by the switch that makes the new generations current.
 */
export interface LayoutMigrationTable {
  site_id: string;
  old_gen: number;
  new_gen: number;
  step: LayoutCopyStep;
  after: string | null;
}

/** One row of an item table. */
export interface ItemRow {
  id: string;
  created_at: number;
  updated_at: number;
  data: string;
}

export interface BackupsTable {
  id: string;
  site_id: string;
  status: string;
  type: string;
  trigger: string;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  deleted_at: number | null;
  snapshot_at: number | null;
  size_bytes: number | null;
  item_count: number | null;
  /** JSON [{ id, displayName }]. */
  collections: string;
  /** JSON array of ids, or null for all. */
  requested_collections: string | null;
  progress_done: number | null;
  progress_total: number | null;
  error_code: string | null;
  error_message: string | null;
  manifest_key: string | null;
  manifest_sha256: string | null;
  manifest_size: number | null;
  restoration_id: string | null;
  schedule_slot: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  attempts: Generated<number>;
  /** The last verification's end and result, PASSED or FAILED, with its error (migration 0015). */
  last_verified_at: ColumnType<number | null, number | null | undefined, number | null>;
  verify_result: ColumnType<string | null, string | null | undefined, string | null>;
  verify_error_code: ColumnType<string | null, string | null | undefined, string | null>;
  verify_error_message: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the scrub verifies this READY backup next; NULL until the scrub first gives it a time. */
  verify_due_at: ColumnType<number | null, number | null | undefined, number | null>;
}

/**
 * A verification job (migration 0015): of one backup (ON_DEMAND, `backup_id` set) or of a site's READY
 * backups due for their periodic check (SCRUB, `backup_id` NULL), which reads each shared chunk once.
 * PENDING, then PASSED or FAILED (damage found, or the job could not run: `error_code` says which).
 */
export interface VerificationsTable {
  id: string;
  site_id: string;
  backup_id: string | null;
  trigger: string;
  trial_restore: number;
  status: string;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  error_code: string | null;
  error_message: string | null;
  progress_done: number | null;
  progress_total: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  attempts: Generated<number>;
  backups_verified: Generated<number>;
  chunks_read: Generated<number>;
  bytes_read: Generated<number>;
}

/** What each READY backup holds per collection: the base an incremental backup builds on. */
export interface BackupCollectionsTable {
  backup_id: string;
  collection_id: string;
  gen: number;
  version: number;
}

export interface RestorationsTable {
  id: string;
  site_id: string;
  backup_id: string;
  status: string;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** JSON restorationCollections, destinations resolved. */
  collections: string;
  safety_backup_id: string | null;
  progress_done: number | null;
  progress_total: number | null;
  error_code: string | null;
  error_message: string | null;
  /** Internal step, for resuming after a crash: QUEUED, STAGING, SWITCHED. */
  phase: string;
  /** JSON of the job's internal state (staged and replaced generations). */
  state: string;
  /** MERGE or BACKUP: what happens to an existing destination's definition (backups-api.md §6.2). */
  definition_mode: Generated<string>;
  lease_owner: string | null;
  lease_expires_at: number | null;
  attempts: Generated<number>;
}

export interface IdempotencyKeysTable {
  site_id: string;
  key: string;
  operation: string;
  entity_id: string;
  created_at: number;
}

export interface WebhooksTable {
  id: string;
  site_id: string;
  url: string;
  /** JSON array of event types. */
  event_types: string;
  created_at: number;
  /** Why deliveries are held: the URL's address is refused (migration 0005). NULL when not blocked. */
  blocked_reason: string | null;
}

/** The outbox: one row per event, written in the transaction of the state change it reports. */
export interface EventsTable {
  seq: Generated<number>;
  id: string;
  site_id: string;
  event_type: string;
  slug: string;
  entity_fqdn: string;
  entity_id: string;
  entity_sequence: number;
  /** JSON of the domain event's `actionEvent.body`. */
  body: string;
  created_at: number;
  /**
   * NULL for one event; for item events, the number of items of the write this row holds (migration 0010):
   * `body` is then a JSON array of their entities, in order, sent as one webhook each.
   */
  batch_size: number | null;
}

export interface DeliveriesTable {
  event_seq: number;
  webhook_id: string;
  entity_id: string;
  attempts: Generated<number>;
  next_attempt_at: number;
  /** PENDING, DELIVERED or ABANDONED. */
  state: string;
  last_error: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  finished_at: number | null;
  /** How many of a batch event's items this delivery has sent (migration 0010); 0 for one event. */
  progress: Generated<number>;
}

export interface SiteLeasesTable {
  site_id: string;
  purpose: string;
  owner: string;
  expires_at: number;
}
