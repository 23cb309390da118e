import type { Migration } from 'kysely';
import { runStatements } from './run-statements.js';

/**
 * Migration 0012 on either engine, which differ only by their integer and text types: the jobs of Wix's
 * asyncRemoveByFilter and asyncPatchByFilter (src/engine/item-job.ts). A row is the job: what it does (site,
 * environment, collection, filter, field modifications), its outcome (status, counts, error) and its lease,
 * in the columns every leased job table has (src/adapters/storage/sql/job-lease/lease-columns.ts).
 * `last_id` is the id of the last item a committed batch handled: batches are taken in id order after it,
 * and it is written in the batch's own transaction, so a job resumed by another worker neither skips nor
 * repeats an item. `progress_done` counts the items changed (Wix's successCount).
 */
export function itemJobsMigration(
  integer: 'INTEGER' | 'BIGINT',
  text: 'TEXT' | 'TEXT COLLATE "C"',
): Migration {
  return {
    async up(db) {
      await runStatements(db, [
        `CREATE TABLE item_jobs (
          id ${text} PRIMARY KEY,
          site_id ${text} NOT NULL,
          environment ${text} NOT NULL,
          collection_id ${text} NOT NULL,
          kind ${text} NOT NULL,
          filter ${text} NOT NULL,
          modifications ${text},
          owner_key ${text} NOT NULL,
          status ${text} NOT NULL,
          requested_at ${integer} NOT NULL,
          started_at ${integer},
          finished_at ${integer},
          progress_done ${integer},
          progress_total ${integer},
          last_id ${text},
          error_code ${text},
          error_message ${text},
          lease_owner ${text},
          lease_expires_at ${integer},
          attempts ${integer} NOT NULL DEFAULT 0
        )`,
        // The claim's order (as backups_claim_order, 0008) and a site's pending jobs (the per-site limit).
        `CREATE INDEX item_jobs_claim_order ON item_jobs (status, requested_at, id)`,
        `CREATE INDEX item_jobs_site ON item_jobs (site_id, status)`,
      ]);
    },
  };
}
