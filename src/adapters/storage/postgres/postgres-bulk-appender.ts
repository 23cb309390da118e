import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { StagedItem, StagedLink } from '../../../ports/backup-store.js';
import type { BulkAppender } from '../sql/staging-store.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';

/** COPY's text format: backslash, newline, carriage return and tab are escaped; nothing else is special. */
function copyText(value: string): string {
  return /[\\\n\r\t]/.test(value)
    ? value.replace(/[\\\n\r\t]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
      )
    : value;
}

/** Rows per COPY message: large enough to amortise the stream, small enough to keep memory flat. */
const ROWS_PER_PIECE = 1000;

/**
 * Appends a restoration's rows with COPY FROM STDIN, one COPY (and so one short transaction) per call, on
 * a connection of its own from the pool: live requests keep the others. A small generation's rows go into
 * the shared `items`; a large one's own table has no key and no index while it fills (see
 * postgres-item-tables.ts), which COPY loads fastest.
 */
export class PostgresBulkAppender implements BulkAppender {
  constructor(
    private readonly pool: pg.Pool,
    private readonly db: Kysely<Database>,
  ) {}

  async appendItems(gen: number, items: readonly StagedItem[]): Promise<void> {
    if (items.length === 0) return;
    const { table, hasGenColumn } = itemRelation(gen);
    const genField = hasGenColumn ? `${gen}\t` : '';
    const pieces = function* () {
      for (let i = 0; i < items.length; i += ROWS_PER_PIECE) {
        let text = '';
        for (const item of items.slice(i, i + ROWS_PER_PIECE))
          text += `${genField}${copyText(item.id)}\t${item.createdAt}\t${item.updatedAt}\t${copyText(item.json)}\t0\n`;
        yield text;
      }
    };
    const client = await this.pool.connect();
    let failure: unknown;
    try {
      await pipeline(
        Readable.from(pieces()),
        client.query(
          copyFrom(
            `COPY ${table} (${hasGenColumn ? 'gen, ' : ''}id, created_at, updated_at, data, seq) FROM STDIN`,
          ),
        ),
      );
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      // A connection whose COPY failed half-way is not reused.
      client.release(failure instanceof Error ? failure : undefined);
    }
  }

  /** Links are few next to items; a multi-row INSERT keeps SQLite's ON CONFLICT DO NOTHING. */
  async appendLinks(links: readonly StagedLink[]): Promise<void> {
    for (let i = 0; i < links.length; i += 1000) {
      const rows = links
        .slice(i, i + 1000)
        .map((l) => sql`(${l.fromGen}, ${l.fromId}, ${l.field}, ${l.toGen}, ${l.toId}, ${l.pos})`);
      await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos) VALUES ${sql.join(rows)}
        ON CONFLICT DO NOTHING`.execute(this.db);
    }
  }
}
