import type { Migration } from 'kysely';
import { runStatements } from './run-statements.js';

/**
 * Migration 0010 on either engine (the statements are the same on both). Item events: one outbox row per
 * write holding its items (batch_size of them), sent one webhook per item; progress is how many of a batch's
 * items a delivery has sent. created_at: retention's scan.
 */
export const eventBatchesMigration: Migration = {
  async up(db) {
    await runStatements(db, [
      `ALTER TABLE events ADD COLUMN batch_size INTEGER`,
      `ALTER TABLE deliveries ADD COLUMN progress INTEGER NOT NULL DEFAULT 0`,
      `CREATE INDEX events_created ON events (created_at)`,
    ]);
  },
};
