import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { StorageError, type StorageErrorKind } from '../../../ports/storage-error.js';
import { fold } from '../sql/sql-conditions.js';
import { wordSimilarity } from '../../../domain/text-search.js';
import { FOLD_FUNCTION } from './sqlite-query-hooks.js';
import { SIMILARITY_FUNCTION } from './sqlite-text-index.js';

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
  // Fuzzy search's score of a candidate field (sqlite-text-index.ts): pg_trgm's similarity to its best word.
  db.function(SIMILARITY_FUNCTION, { deterministic: true }, (term: unknown, text: unknown) =>
    typeof term === 'string' && typeof text === 'string' ? wordSimilarity(term, text) : 0,
  );
  return db;
}

/** SQLite's result codes (better-sqlite3 puts the extended one in `code`, e.g. SQLITE_IOERR_WRITE). */
const kindOfCode: readonly (readonly [RegExp, StorageErrorKind])[] = [
  [/^SQLITE_FULL/, 'FULL'],
  // busy_timeout has run out: another connection (a checkpoint, another process) holds the lock.
  [/^SQLITE_(BUSY|LOCKED)/, 'BUSY'],
  [/^SQLITE_IOERR/, 'IO_ERROR'],
  [/^SQLITE_CANTOPEN/, 'UNAVAILABLE'],
  [/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)/, 'CONFLICT'],
];

/**
 * The storage boundary for SQLite: a driver error the engine and HTTP act on becomes a StorageError (the
 * original is its `cause`); anything else (a bug, a constraint the code should have checked) is returned as
 * it is.
 */
export function sqliteStorageError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof StorageError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  const match = kindOfCode.find(([pattern]) => pattern.test(code));
  return match ? new StorageError(match[1], `${error.message} (${code})`, { cause: error }) : error;
}
