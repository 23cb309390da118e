import { sql, type Migration } from 'kysely';
import { verificationMigration } from '../sql/verification-migration.js';
import { eventBatchesMigration } from '../sql/event-batches-migration.js';
import { itemJobsMigration } from '../sql/item-jobs-migration.js';
import { runStatements as run } from '../sql/run-statements.js';
import { searchIndexMigration } from '../sql/search-index-migration.js';
import { siteQuotasMigration } from '../sql/site-quotas-migration.js';
import { sqliteTextIndex } from './sqlite-text-index.js';

/**
 * SQLite migrations. Names must match the PostgreSQL list one for one (a test checks it); the SQL differs
 * only where the engines do. Item tables are not here: each generation creates its own.
 */
export const sqliteMigrations: Record<string, Migration> = {
  '0001-data-store': {
    async up(db) {
      await run(db, [
        `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
        `CREATE TABLE sites (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          auto_backup_interval_days INTEGER,
          auto_backup_retention INTEGER
        )`,
        `CREATE TABLE api_keys (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          secret_hash TEXT NOT NULL UNIQUE,
          scopes TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          revoked_at INTEGER
        )`,
        `CREATE TABLE api_key_sites (
          key_id TEXT NOT NULL,
          site_id TEXT NOT NULL,
          PRIMARY KEY (key_id, site_id)
        ) WITHOUT ROWID`,
        `CREATE INDEX api_key_sites_site ON api_key_sites (site_id)`,
        `CREATE TABLE collections (
          site_id TEXT NOT NULL,
          id TEXT NOT NULL,
          display_name TEXT NOT NULL,
          collection_type TEXT NOT NULL,
          fields TEXT NOT NULL,
          permissions TEXT,
          views TEXT NOT NULL,
          extra TEXT NOT NULL,
          revision INTEGER NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          live_gen INTEGER NOT NULL,
          sandbox_gen INTEGER NOT NULL,
          live_version INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (site_id, id)
        )`,
        `CREATE TABLE generations (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          site_id TEXT NOT NULL,
          collection_id TEXT NOT NULL,
          environment TEXT NOT NULL,
          state TEXT NOT NULL,
          created_at INTEGER NOT NULL
        )`,
        `CREATE INDEX generations_state ON generations (state, id)`,
        `CREATE TABLE links (
          from_gen INTEGER NOT NULL,
          from_id TEXT NOT NULL,
          field TEXT NOT NULL,
          to_gen INTEGER NOT NULL,
          to_id TEXT NOT NULL,
          pos INTEGER NOT NULL,
          PRIMARY KEY (from_gen, from_id, field, to_gen, to_id)
        ) WITHOUT ROWID`,
        `CREATE INDEX links_to ON links (to_gen, to_id)`,
      ]);
    },
  },
  '0002-backups': {
    async up(db) {
      const { rows: gens } = await sql<{ id: number }>`SELECT id FROM generations`.execute(db);
      for (const { id } of gens) {
        await run(db, [
          `ALTER TABLE items_${id} ADD COLUMN seq INTEGER NOT NULL DEFAULT 0`,
          `CREATE INDEX IF NOT EXISTS items_${id}_seq ON items_${id} (seq)`,
        ]);
      }
      await run(db, [
        `ALTER TABLE generations ADD COLUMN owner_restoration TEXT`,
        `ALTER TABLE generations ADD COLUMN tombstone_floor INTEGER NOT NULL DEFAULT 0`,
        `ALTER TABLE sites ADD COLUMN next_auto_backup_at INTEGER`,
        `CREATE TABLE tombstones (
          gen INTEGER NOT NULL,
          id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          PRIMARY KEY (gen, id)
        ) WITHOUT ROWID`,
        `CREATE INDEX tombstones_seq ON tombstones (gen, seq)`,
        `CREATE TABLE backups (
          id TEXT PRIMARY KEY,
          site_id TEXT NOT NULL,
          status TEXT NOT NULL,
          type TEXT NOT NULL,
          trigger TEXT NOT NULL,
          requested_at INTEGER NOT NULL,
          started_at INTEGER,
          finished_at INTEGER,
          deleted_at INTEGER,
          snapshot_at INTEGER,
          size_bytes INTEGER,
          item_count INTEGER,
          collections TEXT NOT NULL,
          requested_collections TEXT,
          progress_done INTEGER,
          progress_total INTEGER,
          error_code TEXT,
          error_message TEXT,
          manifest_key TEXT,
          manifest_sha256 TEXT,
          manifest_size INTEGER,
          restoration_id TEXT,
          schedule_slot INTEGER,
          lease_owner TEXT,
          lease_expires_at INTEGER,
          attempts INTEGER NOT NULL DEFAULT 0
        )`,
        `CREATE INDEX backups_site ON backups (site_id, requested_at, id)`,
        `CREATE INDEX backups_queue ON backups (status, lease_expires_at)`,
        `CREATE UNIQUE INDEX backups_one_pending_on_demand ON backups (site_id)
          WHERE status = 'PENDING' AND trigger = 'ON_DEMAND'`,
        `CREATE UNIQUE INDEX backups_schedule_slot ON backups (site_id, schedule_slot) WHERE schedule_slot IS NOT NULL`,
        `CREATE TABLE backup_collections (
          backup_id TEXT NOT NULL,
          collection_id TEXT NOT NULL,
          gen INTEGER NOT NULL,
          version INTEGER NOT NULL,
          PRIMARY KEY (backup_id, collection_id)
        ) WITHOUT ROWID`,
        `CREATE INDEX backup_collections_gen ON backup_collections (gen)`,
        `CREATE TABLE restorations (
          id TEXT PRIMARY KEY,
          site_id TEXT NOT NULL,
          backup_id TEXT NOT NULL,
          status TEXT NOT NULL,
          requested_at INTEGER NOT NULL,
          started_at INTEGER,
          finished_at INTEGER,
          collections TEXT NOT NULL,
          safety_backup_id TEXT,
          progress_done INTEGER,
          progress_total INTEGER,
          error_code TEXT,
          error_message TEXT,
          phase TEXT NOT NULL,
          state TEXT NOT NULL,
          lease_owner TEXT,
          lease_expires_at INTEGER,
          attempts INTEGER NOT NULL DEFAULT 0
        )`,
        `CREATE INDEX restorations_site ON restorations (site_id, requested_at, id)`,
        `CREATE INDEX restorations_queue ON restorations (status, lease_expires_at)`,
        `CREATE INDEX restorations_backup ON restorations (backup_id, status)`,
        `CREATE UNIQUE INDEX restorations_one_pending ON restorations (site_id) WHERE status = 'PENDING'`,
        `CREATE TABLE idempotency_keys (
          site_id TEXT NOT NULL,
          key TEXT NOT NULL,
          operation TEXT NOT NULL,
          entity_id TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (site_id, key)
        ) WITHOUT ROWID`,
        `CREATE TABLE webhooks (
          id TEXT PRIMARY KEY,
          site_id TEXT NOT NULL,
          url TEXT NOT NULL,
          event_types TEXT NOT NULL,
          created_at INTEGER NOT NULL
        )`,
        `CREATE INDEX webhooks_site ON webhooks (site_id)`,
        `CREATE TABLE events (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          site_id TEXT NOT NULL,
          event_type TEXT NOT NULL,
          slug TEXT NOT NULL,
          entity_fqdn TEXT NOT NULL,
          entity_id TEXT NOT NULL,
          entity_sequence INTEGER NOT NULL,
          body TEXT NOT NULL,
          created_at INTEGER NOT NULL
        )`,
        `CREATE INDEX events_entity ON events (entity_id, entity_sequence)`,
        `CREATE TABLE deliveries (
          event_seq INTEGER NOT NULL,
          webhook_id TEXT NOT NULL,
          entity_id TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL,
          state TEXT NOT NULL,
          last_error TEXT,
          lease_owner TEXT,
          lease_expires_at INTEGER,
          finished_at INTEGER,
          PRIMARY KEY (event_seq, webhook_id)
        ) WITHOUT ROWID`,
        `CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at)`,
        `CREATE INDEX deliveries_order ON deliveries (webhook_id, entity_id, state, event_seq)`,
        `CREATE TABLE site_leases (
          site_id TEXT NOT NULL,
          purpose TEXT NOT NULL,
          owner TEXT NOT NULL,
          expires_at INTEGER NOT NULL,
          PRIMARY KEY (site_id, purpose)
        ) WITHOUT ROWID`,
      ]);
    },
  },
  '0003-restore-definitions': {
    // What a restoration does to an existing destination's definition (MERGE or BACKUP); older rows merge,
    // which is what they would have been asked for had the option existed.
    async up(db) {
      await run(db, [`ALTER TABLE restorations ADD COLUMN definition_mode TEXT NOT NULL DEFAULT 'MERGE'`]);
    },
  },
  '0004-collection-bin': {
    // Deleted collections wait here for their retention window (docs/ARCHITECTURE.md, "The collection bin").
    // Nothing existing changes: collections deleted before this version were retired and are gone.
    async up(db) {
      await run(db, [
        `CREATE TABLE collection_bin (
          site_id TEXT NOT NULL,
          id TEXT NOT NULL,
          display_name TEXT NOT NULL,
          collection_type TEXT NOT NULL,
          fields TEXT NOT NULL,
          permissions TEXT,
          views TEXT NOT NULL,
          extra TEXT NOT NULL,
          revision INTEGER NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          live_gen INTEGER NOT NULL,
          sandbox_gen INTEGER NOT NULL,
          live_version INTEGER NOT NULL DEFAULT 0,
          deleted_at INTEGER NOT NULL,
          PRIMARY KEY (site_id, id)
        )`,
        `CREATE INDEX collection_bin_deleted ON collection_bin (deleted_at)`,
      ]);
    },
  },
  // Why a subscription's deliveries are held (its address is refused by the webhook address rules); NULL
  // while it may be delivered to. Set and cleared by the server's start-up check and by the deliverer.
  '0005-webhook-blocked': {
    async up(db) {
      await run(db, [`ALTER TABLE webhooks ADD COLUMN blocked_reason TEXT`]);
    },
  },
  // Items of new generations live as rows of one shared table, keyed by (gen, id): creating, truncating and
  // deleting a collection is rows, never DDL (docs/ARCHITECTURE.md, "Generations"). A large restored
  // generation gets a table of its own with the same columns (`items_<gen>`, ids >= 10^12); tables of
  // generations created before this version (ids < 10^10, no gen column) stay as they are and are read and
  // written as before. Generation ids are allotted from two counters in `meta` (never reused) rather than
  // AUTOINCREMENT, which would jump past every shared id after one large id; both start above any id in use.
  '0006-shared-items': {
    async up(db) {
      await run(db, [
        `CREATE TABLE items (
          rid INTEGER PRIMARY KEY,
          gen INTEGER NOT NULL,
          id TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          data TEXT NOT NULL,
          seq INTEGER NOT NULL DEFAULT 0
        )`,
        `CREATE UNIQUE INDEX items_gen_id ON items (gen, id)`,
        `CREATE INDEX items_gen_created ON items (gen, created_at)`,
        `CREATE INDEX items_gen_updated ON items (gen, updated_at)`,
        `CREATE INDEX items_gen_seq ON items (gen, seq)`,
        `INSERT INTO meta (key, value)
          SELECT 'generation_next_shared', CAST(max(10000000000, coalesce(max(id), 0) + 1) AS TEXT) FROM generations`,
        `INSERT INTO meta (key, value)
          SELECT 'generation_next_large', CAST(max(1000000000000, coalesce(max(id), 0) + 1) AS TEXT) FROM generations`,
      ]);
    },
  },
  // The plan and progress of moving each site's legacy generations (items_<gen>, ids < 10^10) into the
  // layout of 0006, one site at a time (src/jobs/layout-migration-task.ts; docs/ARCHITECTURE.md, "Layout
  // migration"): which new generation each legacy one is copied into and how far the copy got.
  '0007-layout-migration': {
    async up(db) {
      await run(db, [
        `CREATE TABLE layout_migration (
          site_id TEXT NOT NULL,
          old_gen INTEGER NOT NULL,
          new_gen INTEGER NOT NULL,
          step TEXT NOT NULL,
          after TEXT,
          PRIMARY KEY (site_id, old_gen)
        ) WITHOUT ROWID`,
        `CREATE UNIQUE INDEX layout_migration_old ON layout_migration (old_gen)`,
      ]);
    },
  },
  // The job queue in claim order: a claim reads the oldest PENDING backup, and without this index it sorted
  // every PENDING row first (at 100,000 pending, as after an outage, 80-120 ms a claim on either engine).
  // Not a partial index: the claim's status is a bound parameter, which SQLite cannot match to one.
  '0008-backup-queue': {
    async up(db) {
      await run(db, [`CREATE INDEX backups_claim_order ON backups (status, requested_at, id)`]);
    },
  },
  // Per-site quotas (README, "Quotas"; src/adapters/storage/sql/site-quotas-migration.ts).
  '0009-site-quotas': siteQuotasMigration('INTEGER'),
  // Item events in batches (src/adapters/storage/sql/event-batches-migration.ts).
  '0010-event-batches': eventBatchesMigration,
  // The full-text index (src/adapters/storage/sqlite/sqlite-text-index.ts): one row per indexed TEXT field
  // of an item, a contentless FTS5 table of their words (unicode61, diacritics kept as PostgreSQL's 'simple'
  // keeps them, combining marks part of words) and its vocabulary, where fuzzy matching finds similar words.
  '0011-search-index': searchIndexMigration(
    [
      `CREATE TABLE item_text (rid INTEGER PRIMARY KEY, gen INTEGER NOT NULL, id TEXT NOT NULL, field TEXT NOT NULL)`,
      `CREATE INDEX item_text_item ON item_text (gen, id)`,
      `CREATE VIRTUAL TABLE item_words USING fts5 (scope, body, content='', contentless_delete=1,
        tokenize="unicode61 remove_diacritics 0 categories 'L* N* Co M*'")`,
      `CREATE VIRTUAL TABLE item_words_vocab USING fts5vocab (item_words, 'row')`,
    ],
    sqliteTextIndex,
  ),
  // Jobs of asyncRemoveByFilter and asyncPatchByFilter (src/adapters/storage/sql/item-jobs-migration.ts).
  '0012-item-jobs': itemJobsMigration('INTEGER', 'TEXT'),
  // Backup verification and backup health (src/adapters/storage/sql/verification-migration.ts).
  '0015-verification': verificationMigration('INTEGER'),
};
