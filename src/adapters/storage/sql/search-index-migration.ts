import type { Kysely, Migration } from 'kysely';
import { textFieldsOf } from '../../../domain/text-search.js';
import { runStatements } from './run-statements.js';
import type { Database } from './schema.js';
import type { TextIndex } from './text-index.js';

/**
 * Migration 0011 on either engine: the full-text index's tables (each engine's own statements), then the
 * index of every collection that declares TEXT fields — both environments, binned collections included —
 * so that search works at once on data written before it.
 */
export function searchIndexMigration(statements: readonly string[], textIndex: TextIndex): Migration {
  return {
    async up(raw) {
      await runStatements(raw, statements);
      const db = raw as Kysely<Database>;
      for (const table of ['collections', 'collection_bin'] as const) {
        const rows = await db.selectFrom(table).select(['fields', 'live_gen', 'sandbox_gen']).execute();
        for (const row of rows) {
          const fields = textFieldsOf(JSON.parse(row.fields) as Record<string, unknown>[]);
          if (fields.length === 0) continue;
          for (const gen of [row.live_gen, row.sandbox_gen]) await textIndex.index(db, Number(gen), fields);
        }
      }
    },
  };
}
