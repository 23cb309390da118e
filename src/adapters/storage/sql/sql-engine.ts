import type { Kysely } from 'kysely';
import type { SecondaryIndex } from '../../../ports/backup-store.js';
import type { Database } from './schema.js';

/**
 * What differs between the SQL engines for the shared stores: the physical layout of an item set.
 * Everything else in `src/adapters/storage/sql` is written once against Kysely.
 */
export interface SqlEngine {
  /**
   * Creates the (empty) table of a new generation with its id index, and unless deferred its other indexes.
   * Runs inside the caller's transaction.
   */
  createItemTable(
    db: Kysely<Database>,
    gen: number,
    options?: { deferSecondaryIndexes?: boolean },
  ): Promise<void>;
  /** Creates (if missing) the date and change-number indexes of a generation filled with them deferred. */
  createSecondaryIndexes(db: Kysely<Database>, gen: number, which?: readonly SecondaryIndex[]): Promise<void>;
  hasItemTable(db: Kysely<Database>, gen: number): Promise<boolean>;
  /** Drops a generation's table if it exists. */
  dropItemTable(db: Kysely<Database>, gen: number): Promise<void>;
}
