import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { StagedItem, StagedLink } from '../../../ports/backup-store.js';
import type { BulkAppender } from '../sql/staging-store.js';
import { itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';

/**
 * Appends rows on the one writer connection in time-boxed transactions: each holds the connection (and the
 * event loop: better-sqlite3 is synchronous) for about `sliceMs`, then yields so that live requests run
 * between slices. Kysely's connection lock is held during a slice, so a slice never lands inside another
 * request's transaction.
 */
export class SqliteBulkAppender implements BulkAppender {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly raw: BetterSqlite3.Database,
    private readonly sliceMs: number = 2,
  ) {}

  private statement(text: string): BetterSqlite3.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.raw.prepare(text);
      if (this.statements.size > 64) this.statements.clear();
      this.statements.set(text, statement);
    }
    return statement;
  }

  private async sliced<T>(rows: readonly T[], insert: (row: T) => void): Promise<void> {
    let next = 0;
    while (next < rows.length) {
      await this.db.connection().execute(() => {
        const deadline = performance.now() + this.sliceMs;
        this.raw.transaction(() => {
          do insert(rows[next++] as T);
          while (next < rows.length && performance.now() < deadline);
        })();
        return Promise.resolve();
      });
      await yieldToEventLoop();
    }
  }

  async appendItems(gen: number, items: readonly StagedItem[]): Promise<void> {
    const { table, hasGenColumn } = itemRelation(gen);
    if (hasGenColumn) {
      const insert = this.statement(
        `INSERT INTO ${table} (gen, id, created_at, updated_at, data, seq) VALUES (${gen}, ?, ?, ?, ?, 0)`,
      );
      await this.sliced(items, (i) => insert.run(i.id, i.createdAt, i.updatedAt, i.json));
      return;
    }
    const insert = this.statement(
      `INSERT INTO ${table} (id, created_at, updated_at, data, seq) VALUES (?, ?, ?, ?, 0)`,
    );
    await this.sliced(items, (i) => insert.run(i.id, i.createdAt, i.updatedAt, i.json));
  }

  async appendLinks(links: readonly StagedLink[]): Promise<void> {
    const insert = this.statement(
      `INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    await this.sliced(links, (l) => insert.run(l.fromGen, l.fromId, l.field, l.toGen, l.toId, l.pos));
  }
}
