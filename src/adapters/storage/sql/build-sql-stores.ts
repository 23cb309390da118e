import type { Kysely } from 'kysely';
import { SqlApiKeyStore } from './api-key-store.js';
import { SqlBackupStore } from './backup-store.js';
import { SqlCollectionStore } from './collection-store.js';
import { GenerationRegistry } from './generation-registry.js';
import { SqlItemJobStore } from './item-job-store.js';
import { SqlLayoutMigrator } from './layout-migrator.js';
import { SqlMaintenanceStore } from './maintenance-store.js';
import { SqlMetaStore } from './meta-store.js';
import { SqlRestorationStore } from './restoration-store.js';
import { SqlScheduleStore } from './schedule-store.js';
import type { Database } from './schema.js';
import { SqlSiteStore } from './site-store.js';
import { defaultSqlCapabilities, type SqlCapabilities } from './sql-capabilities.js';
import type { SqlDialect } from './sql-dialect.js';
import type { SqlItemStore } from './sql-item-store.js';
import { SqlLinkStore } from './sql-link-store.js';
import { SqlStagingStore } from './staging-store.js';
import { SqlUsageStore } from './usage-store.js';
import { SqlHealthStore } from './health-store.js';
import { SqlVerificationStore } from './verification-store.js';
import { SqlWebhookStore } from './webhook-store.js';
import { withStorageErrorsAppender } from './with-storage-errors.js';
import { WorkerSnapshotSource } from './worker-snapshot-source.js';

export interface SqlStoresOptions {
  readonly now: () => number;
  /**
   * Items of a restored collection from which it is loaded into a table of its own rather than the shared
   * one; the engine's measured default when omitted (tests lower it).
   */
  readonly largeGenerationItems: number | undefined;
}

/**
 * Builds every store of a Storage on one connection, so that the wiring both SQL storages share is written
 * once: an engine differs only by its dialect (sql-dialect.ts), and each storage class keeps opening,
 * migrating, health and closing.
 */
export function buildSqlStores<Items extends SqlItemStore>(
  db: Kysely<Database>,
  dialect: SqlDialect<Items>,
  options: SqlStoresOptions,
) {
  const { now, largeGenerationItems } = options;
  const capabilities: SqlCapabilities = { ...defaultSqlCapabilities, ...dialect.capabilities };
  const { rowLocks } = capabilities;
  const generations = new GenerationRegistry(db, dialect.itemTables);
  const collections = new SqlCollectionStore(db, generations, now, { rowLocks });
  const appender = withStorageErrorsAppender(dialect.createBulkAppender(db), dialect.translateError);
  const stagingParts = { db, generations, appender, collections, largeGenerationItems };
  return {
    sweeper: generations,
    sites: new SqlSiteStore(db, generations),
    apiKeys: new SqlApiKeyStore(db),
    meta: new SqlMetaStore(db),
    collections,
    items: dialect.createItemStore(db, generations, now, capabilities),
    links: new SqlLinkStore(db, now, { rowLocks }),
    backups: dialect.createBackupStore?.(db, capabilities) ?? new SqlBackupStore(db, capabilities),
    restorations:
      dialect.createRestorationStore?.(db, capabilities) ?? new SqlRestorationStore(db, capabilities),
    staging:
      dialect.createStagingStore?.(stagingParts) ??
      new SqlStagingStore(db, generations, dialect.itemTables, appender, collections, largeGenerationItems),
    itemJobs: new SqlItemJobStore(db, capabilities),
    schedule: new SqlScheduleStore(db, capabilities),
    verifications: new SqlVerificationStore(db, capabilities),
    health: new SqlHealthStore(db),
    maintenance: new SqlMaintenanceStore(db, capabilities),
    webhooks: new SqlWebhookStore(db),
    usage: new SqlUsageStore(db),
    layout: new SqlLayoutMigrator(db, generations, dialect.itemTables, { rowLocks, largeGenerationItems }),
    snapshots: new WorkerSnapshotSource(
      dialect.snapshotWorker.url,
      dialect.snapshotWorker.workerData,
      dialect.translateError,
    ),
  };
}
