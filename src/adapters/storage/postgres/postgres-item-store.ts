import type { Kysely } from 'kysely';
import type { GenerationRegistry } from '../sql/generation-registry.js';
import type { FilterScope } from '../sql/link-filter.js';
import type { Database } from '../sql/schema.js';
import type { SqlCapabilities } from '../sql/sql-capabilities.js';
import { SqlItemStore } from '../sql/sql-item-store.js';
import { PostgresItemQueryCompiler } from './postgres-query-hooks.js';

/** Items on PostgreSQL: the shared reads and writes (sql-item-store.ts), compiled by the PostgreSQL hooks. */
export class PostgresItemStore extends SqlItemStore {
  constructor(
    db: Kysely<Database>,
    generations: GenerationRegistry,
    now: () => number,
    capabilities: SqlCapabilities,
  ) {
    // The pg driver stored U+FFFD for a lone surrogate, so an id shows as it is stored and is found as it is.
    super(db, generations, now, { rowLocks: capabilities.rowLocks });
  }

  protected compiler(scope: FilterScope): PostgresItemQueryCompiler {
    return new PostgresItemQueryCompiler(scope);
  }
}
