/**
 * Full-text search (issue 15): over N items,
 * - a search through the storage layer (what Search Data Items runs: the generation's index, relevance per
 *   item, the page) ÷ the engine's own full-text query on the same index (SQLite FTS5 MATCH ordered by
 *   bm25; PostgreSQL `@@` ordered by ts_rank), both returning the best 50 items' JSON (goal ≤ 1.5);
 * - bulk insert of ~1 KB items into a collection that declares TEXT fields (indexed) ÷ into one that
 *   declares none, the same items, batches of 1,000 in turn (goal ≥ 0.7, as throughput with ÷ without):
 *   with the 3-word title indexed, and with the title and the 800-character body indexed.
 * Runs alternate, so both sides see the same machine; figures are ratios of medians (search) and of total
 * times (insert).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../src/adapters/storage/sql/schema.js';
import { itemRelation } from '../src/adapters/storage/sql/item-relation.js';
import { currentGeneration } from '../src/adapters/storage/sql/sql-item-store.js';
import { scopeToken } from '../src/adapters/storage/sqlite/sqlite-text-index.js';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import type { ItemTarget, Storage } from '../src/ports/storage.js';
import { createBenchDatabase } from './bench-database.js';
import { percentile, sampleItem, timed, type BenchResult } from './bench-kit.js';

export interface SearchBenchOptions {
  readonly engine: 'sqlite' | 'postgres';
  readonly items: number;
  /** Items inserted into each of the two collections of the insert comparison. */
  readonly insertItems: number;
  /** Runs of the search on each side. */
  readonly runs: number;
}

type Sql = RawBuilder<unknown>;
const BATCH = 1000;
const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'te', 'zu', 'po', 'ne', 'shi', 'va', 'do', 'ri', 'fe', 'gu'];
/** 2,000 made-up words: with 18 words an item, each is in about 0.9% of the items. */
const WORDS = Array.from({ length: 2000 }, (_, i) => {
  const n = SYLLABLES.length;
  return `${SYLLABLES[i % n]}${SYLLABLES[Math.floor(i / n) % n]}${SYLLABLES[Math.floor(i / n / n) % n]}`;
});

/** A small deterministic generator (mulberry32), so every run indexes the same text. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function text(next: () => number, words: number): string {
  return Array.from({ length: words }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
}

function bookItems(prefix: string, start: number, count: number, next: () => number): StoredItem[] {
  const at = Date.UTC(2024, 0, 1);
  return Array.from({ length: count }, (_, k) =>
    composeItem({
      id: `${prefix}${start + k}`,
      owner: 'bench',
      createdAt: at,
      updatedAt: at,
      fields: { title: text(next, 3), summary: text(next, 15), copies: (start + k) % 97 },
    }),
  );
}

async function createCollection(storage: Storage, id: string, text: readonly string[]): Promise<void> {
  const keys = ['title', 'summary', 'body'];
  await storage.collections.create(
    'bench',
    {
      id,
      displayName: id,
      collectionType: 'NATIVE',
      fields: [
        ...keys.map((key) => ({ key, type: text.includes(key) ? 'TEXT' : 'RICH_TEXT' })),
        { key: 'copies', type: 'NUMBER' },
      ],
      permissions: null,
      views: [],
      extra: {},
    },
    0,
  );
}

const live = (collectionId: string): ItemTarget => ({ siteId: 'bench', collectionId, environment: 'LIVE' });

/** Median ms of `ours` and `direct`, alternating which runs first. */
async function compare(
  runs: number,
  ours: () => Promise<unknown>,
  direct: () => Promise<unknown>,
): Promise<{ ours: number; direct: number }> {
  await ours();
  await direct();
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      a.push((await timed(ours)).ms);
      b.push((await timed(direct)).ms);
    } else {
      b.push((await timed(direct)).ms);
      a.push((await timed(ours)).ms);
    }
  }
  a.sort((x, y) => x - y);
  b.sort((x, y) => x - y);
  return { ours: percentile(a, 50), direct: percentile(b, 50) };
}

export async function runSearchBench(
  options: SearchBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  let storage: Storage & { db: Kysely<Database> };
  let cleanup: () => Promise<void>;
  if (options.engine === 'sqlite') {
    const { SqliteStorage } = await import('../src/adapters/storage/sqlite/sqlite-storage.js');
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-search-bench-'));
    storage = await SqliteStorage.open({ path: join(dir, 'bench.db') });
    cleanup = async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const { PostgresStorage } = await import('../src/adapters/storage/postgres/postgres-storage.js');
    const database = await createBenchDatabase('search');
    storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
    cleanup = async () => {
      await storage.close();
      await database.drop();
    };
  }
  try {
    await storage.sites.create({
      id: 'bench',
      name: 'bench',
      createdAt: Date.now(),
      settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
    });
    // Insert: the same ~1 KB items (bench-kit's sampleItem: a 3-word title, an 800-character body) into a
    // collection declaring no TEXT field, one declaring `title`, and one declaring `title` and `body`,
    // batch by batch in turn (the order rotating), so all three see the same machine.
    const schemas = [
      { id: 'Plain', text: [] },
      { id: 'TitleText', text: ['title'] },
      { id: 'AllText', text: ['title', 'body'] },
    ] as const;
    for (const { id, text } of schemas) await createCollection(storage, id, text);
    const spent = new Map<string, number>(schemas.map((c) => [c.id, 0]));
    for (let start = 0; start < options.insertItems; start += BATCH) {
      const at = Date.UTC(2024, 0, 1);
      const batch = Array.from({ length: Math.min(BATCH, options.insertItems - start) }, (_, k) =>
        composeItem({
          id: `x${start + k}`,
          owner: 'bench',
          createdAt: at,
          updatedAt: at,
          fields: sampleItem(start + k),
        }),
      );
      const turn = (start / BATCH) % schemas.length;
      for (const { id } of [...schemas.slice(turn), ...schemas.slice(0, turn)]) {
        const { ms } = await timed(() => storage.items.write(live(id), (tx) => tx.insert(batch)));
        spent.set(id, (spent.get(id) ?? 0) + ms);
      }
    }
    const without = spent.get('Plain') ?? 0;
    const titleOnly = spent.get('TitleText') ?? 0;
    const allText = spent.get('AllText') ?? 0;
    log(
      `  inserted ${options.insertItems} items into each: ${without.toFixed(0)} ms without TEXT fields, ` +
        `${titleOnly.toFixed(0)} ms with title, ${allText.toFixed(0)} ms with title and body`,
    );

    // Search: N items in one indexed collection.
    await createCollection(storage, 'Books', ['title', 'summary']);
    const { ms } = await timed(async () => {
      const next = random(42);
      for (let start = 0; start < options.items; start += 5000) {
        const batch = bookItems('b', start, Math.min(5000, options.items - start), next);
        await storage.items.write(live('Books'), (tx) => tx.insert(batch));
      }
    });
    log(`  filled ${options.items} indexed items in ${(ms / 1000).toFixed(1)} s`);
    const target = live('Books');
    const gen = await currentGeneration(storage.db, target);
    const { table, scope } = itemRelation(gen);
    const word = WORDS[777] ?? 'kaloma';
    const items = sql`(SELECT id, data FROM ${sql.table(table)} WHERE ${scope})`;
    const direct: Sql =
      options.engine === 'sqlite'
        ? sql`SELECT i.id, i.data FROM item_words JOIN item_text AS t ON t.rid = item_words.rowid
            JOIN ${items} AS i ON i.id = t.id
            WHERE item_words MATCH ${`scope : "${scopeToken(gen)}" AND body : "${word}"`}
            ORDER BY bm25(item_words, 0.0, 1.0) LIMIT 50`
        : sql`SELECT i.id, i.data FROM item_text AS t JOIN ${items} AS i ON i.id = t.id
            WHERE t.gen = ${gen}::bigint
              AND to_tsvector('simple'::regconfig, t.body) @@ plainto_tsquery('simple'::regconfig, ${word})
            ORDER BY ts_rank(to_tsvector('simple'::regconfig, t.body), plainto_tsquery('simple'::regconfig, ${word})) DESC
            LIMIT 50`;
    const { rows: matches } = await sql<{ n: number }>`SELECT count(*) AS n FROM (
        SELECT DISTINCT t.id FROM ${
          options.engine === 'sqlite'
            ? sql`item_words JOIN item_text AS t ON t.rid = item_words.rowid
                WHERE item_words MATCH ${`scope : "${scopeToken(gen)}" AND body : "${word}"`}`
            : sql`item_text AS t WHERE t.gen = ${gen}::bigint
                AND to_tsvector('simple'::regconfig, t.body) @@ plainto_tsquery('simple'::regconfig, ${word})`
        }) AS m`.execute(storage.db);
    log(`  "${word}" is in ${Number(matches[0]?.n ?? 0)} items`);
    // Each side must return a full page, so neither is timed doing less.
    const full = (n: number) => {
      if (n !== 50) throw new Error(`expected 50 items, got ${n}`);
    };
    const times = await compare(
      options.runs,
      async () =>
        full(
          (
            await storage.items.search(target, {
              search: { terms: [word], mode: 'OR', fuzzy: false, fields: ['title', 'summary'] },
              filter: null,
              sort: [],
              limit: 50,
              offset: 0,
            })
          ).items.length,
        ),
      async () => full((await direct.execute(storage.db)).rows.length),
    );
    const label = `${options.engine}, ${options.items} items`;
    const insertLabel = `${options.engine}, ${options.insertItems} ~1 KB items in batches of ${BATCH}`;
    const ratio = (name: string, spentWith: number): BenchResult => ({
      name: `bulk insert throughput, ${name} ÷ no TEXT field (${insertLabel})`,
      value: without / spentWith,
      unit: '×',
      goal: '≥ 0.7',
      pass: without / spentWith >= 0.7,
    });
    return [
      { name: `search one word (${label}), median`, value: times.ours, unit: 'ms' },
      { name: `engine's own full-text query (${label}), median`, value: times.direct, unit: 'ms' },
      {
        name: `search ÷ engine's full-text query (${label})`,
        value: times.ours / times.direct,
        unit: '×',
        goal: '≤ 1.5',
        pass: times.ours / times.direct <= 1.5,
      },
      { name: `bulk insert, no TEXT field (${insertLabel})`, value: without, unit: 'ms' },
      { name: `bulk insert, title TEXT (${insertLabel})`, value: titleOnly, unit: 'ms' },
      { name: `bulk insert, title and body TEXT (${insertLabel})`, value: allText, unit: 'ms' },
      ratio('title indexed', titleOnly),
      ratio('title and 800-character body indexed', allText),
    ];
  } finally {
    await cleanup();
  }
}
