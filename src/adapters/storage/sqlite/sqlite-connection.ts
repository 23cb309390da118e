import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { fold } from '../sql/sql-conditions.js';
import { FOLD_FUNCTION } from './sqlite-item-sql.js';

/** Opens a connection with safekeep's settings. Used by the storage and by worker threads that read. */
export function openSqlite(
  path: string,
  options: { readonly?: boolean; cacheMiB?: number } = {},
): BetterSqlite3.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path, { readonly: options.readonly ?? false });
  if (!options.readonly) {
    // 16 KiB pages hold ~1 KB items without overflow pages; only effective on a new database.
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
  }
  // WAL with synchronous=NORMAL survives process crashes; a power cut may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${(options.cacheMiB ?? 32) * 1024}`);
  // Large sorts (building an index on a restored million items) spill to temporary files, not memory.
  db.pragma('temp_store = FILE');
  db.function(FOLD_FUNCTION, { deterministic: true }, (value: unknown) =>
    typeof value === 'string' ? fold(value) : value,
  );
  return db;
}
