import type { Migration } from 'kysely';
import { runStatements } from './run-statements.js';

/**
 * Migration 0015 on either engine, which differ only by their integer type. Backup verification: the
 * `verifications` job table (one row per requested verification or per site scrub, claimed under a lease
 * like backups and restorations), each backup's last verification result and when its next scrub is due,
 * and each site's backup health (OK or OVERDUE, changed by compare-and-set).
 */
export function verificationMigration(integer: 'INTEGER' | 'BIGINT'): Migration {
  return {
    async up(db) {
      await runStatements(db, [
        `CREATE TABLE verifications (
          id TEXT PRIMARY KEY,
          site_id TEXT NOT NULL,
          backup_id TEXT,
          trigger TEXT NOT NULL,
          trial_restore ${integer} NOT NULL DEFAULT 0,
          status TEXT NOT NULL,
          requested_at ${integer} NOT NULL,
          started_at ${integer},
          finished_at ${integer},
          error_code TEXT,
          error_message TEXT,
          progress_done ${integer},
          progress_total ${integer},
          lease_owner TEXT,
          lease_expires_at ${integer},
          attempts ${integer} NOT NULL DEFAULT 0,
          backups_verified ${integer} NOT NULL DEFAULT 0,
          chunks_read ${integer} NOT NULL DEFAULT 0,
          bytes_read ${integer} NOT NULL DEFAULT 0
        )`,
        `CREATE INDEX verifications_claim_order ON verifications (status, requested_at, id)`,
        `CREATE INDEX verifications_site ON verifications (site_id, backup_id)`,
        // At most one pending scrub per site, however many processes schedule them.
        `CREATE UNIQUE INDEX verifications_one_scrub ON verifications (site_id)
          WHERE status = 'PENDING' AND trigger = 'SCRUB'`,
        `ALTER TABLE backups ADD COLUMN last_verified_at ${integer}`,
        `ALTER TABLE backups ADD COLUMN verify_result TEXT`,
        `ALTER TABLE backups ADD COLUMN verify_error_code TEXT`,
        `ALTER TABLE backups ADD COLUMN verify_error_message TEXT`,
        `ALTER TABLE backups ADD COLUMN verify_due_at ${integer}`,
        `CREATE INDEX backups_verify_due ON backups (status, verify_due_at)`,
        `ALTER TABLE sites ADD COLUMN backup_health TEXT NOT NULL DEFAULT 'OK'`,
        `ALTER TABLE sites ADD COLUMN backup_health_changed_at ${integer}`,
      ]);
    },
  };
}
