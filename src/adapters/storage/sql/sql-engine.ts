import type { Kysely } from 'kysely';
import type { SecondaryIndex } from '../../../ports/backup-store.js';
import type { Database } from './schema.js';
import type { TextIndex } from './text-index.js';

/**
 * What differs between the SQL engines for the shared stores: the physical layout of an item set and how
 * generation ids are allotted. Everything else in `src/adapters/storage/sql` is written once against Kysely.
 * Each operation follows the generation's layout (item-relation.ts): a shared generation is rows of `items`
 * and needs no DDL at all; own and legacy generations have a table of their own.
 */
export interface SqlEngine {
  /**
   * Items of a restored collection from which its staged generation gets a table of its own (loaded bare,
   * indexed once full) rather than rows of the shared table; measured per engine, see its module.
   */
  readonly largeGenerationItems: number;
  /**
   * Allots the id of a new generation in the range of its layout, inside the caller's transaction;
   * undefined when the generations table's own default allots it.
   */
  nextGenerationId(db: Kysely<Database>, layout: 'shared' | 'own'): Promise<number | undefined>;
  /**
   * Creates the (empty) table of a new own or legacy generation with its id index, and unless deferred its
   * other indexes; nothing for a shared one. Runs inside the caller's transaction.
   */
  createItemTable(
    db: Kysely<Database>,
    gen: number,
    options?: { deferSecondaryIndexes?: boolean },
  ): Promise<void>;
  /**
   * Creates (if missing) the date and change-number indexes of a generation filled with them deferred;
   * all of them and whatever else makes the table complete when `which` is omitted (the last call of a load).
   */
  createSecondaryIndexes(db: Kysely<Database>, gen: number, which?: readonly SecondaryIndex[]): Promise<void>;
  /** Whether the rows of a generation can be reached (always for a shared one: `items` exists). */
  hasItemTable(db: Kysely<Database>, gen: number): Promise<boolean>;
  /** Drops an own or legacy generation's table if it exists (nothing for a shared one). */
  dropItemTable(db: Kysely<Database>, gen: number): Promise<void>;
  /** The full-text index of the declared TEXT fields (text-index.ts), rows keyed by generation. */
  readonly textIndex: TextIndex;
}
