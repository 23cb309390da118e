import type { Kysely } from 'kysely';
import type { Storage, StorageCapabilities } from '../../../ports/storage.js';
import type { SqlApiKeyStore } from './api-key-store.js';
import type { SqlBackupStore } from './backup-store.js';
import { buildSqlStores, type SqlStoresOptions } from './build-sql-stores.js';
import type { SqlCollectionStore } from './collection-store.js';
import type { GenerationRegistry } from './generation-registry.js';
import type { SqlItemJobStore } from './item-job-store.js';
import type { SqlLayoutMigrator } from './layout-migrator.js';
import type { SqlUsageStore } from './usage-store.js';
import type { SqlMaintenanceStore } from './maintenance-store.js';
import type { SqlMetaStore } from './meta-store.js';
import type { SqlRestorationStore } from './restoration-store.js';
import type { SqlScheduleStore } from './schedule-store.js';
import type { Database } from './schema.js';
import type { SqlSiteStore } from './site-store.js';
import type { SqlDialect } from './sql-dialect.js';
import type { SqlItemStore } from './sql-item-store.js';
import type { SqlLinkStore } from './sql-link-store.js';
import type { SqlStagingStore } from './staging-store.js';
import type { SqlWebhookStore } from './webhook-store.js';
import type { SqlHealthStore } from './health-store.js';
import type { SqlVerificationStore } from './verification-store.js';
import type { WorkerSnapshotSource } from './worker-snapshot-source.js';

/**
 * A Storage on an SQL engine: the stores built from the engine's dialect (build-sql-stores.ts). Subclasses
 * keep what is theirs: opening and migrating the connection, the health check, closing.
 */
export abstract class SqlStorage<Items extends SqlItemStore = SqlItemStore> implements Storage {
  abstract readonly capabilities: StorageCapabilities;
  readonly sites: SqlSiteStore;
  readonly apiKeys: SqlApiKeyStore;
  readonly meta: SqlMetaStore;
  readonly collections: SqlCollectionStore;
  readonly items: Items;
  readonly links: SqlLinkStore;
  readonly sweeper: GenerationRegistry;
  readonly backups: SqlBackupStore;
  readonly restorations: SqlRestorationStore;
  readonly staging: SqlStagingStore;
  readonly itemJobs: SqlItemJobStore;
  readonly schedule: SqlScheduleStore;
  readonly verifications: SqlVerificationStore;
  readonly health: SqlHealthStore;
  readonly maintenance: SqlMaintenanceStore;
  readonly webhooks: SqlWebhookStore;
  readonly layout: SqlLayoutMigrator;
  readonly usage: SqlUsageStore;
  readonly snapshots: WorkerSnapshotSource;

  protected constructor(
    readonly db: Kysely<Database>,
    dialect: SqlDialect<Items>,
    options: SqlStoresOptions,
  ) {
    const stores = buildSqlStores(db, dialect, options);
    this.sites = stores.sites;
    this.apiKeys = stores.apiKeys;
    this.meta = stores.meta;
    this.collections = stores.collections;
    this.items = stores.items;
    this.links = stores.links;
    this.sweeper = stores.sweeper;
    this.backups = stores.backups;
    this.restorations = stores.restorations;
    this.staging = stores.staging;
    this.itemJobs = stores.itemJobs;
    this.schedule = stores.schedule;
    this.verifications = stores.verifications;
    this.health = stores.health;
    this.maintenance = stores.maintenance;
    this.webhooks = stores.webhooks;
    this.layout = stores.layout;
    this.usage = stores.usage;
    this.snapshots = stores.snapshots;
  }

  abstract healthCheck(): Promise<void>;

  abstract close(): Promise<void>;
}
