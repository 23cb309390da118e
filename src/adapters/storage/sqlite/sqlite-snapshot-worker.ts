/**
 * Worker thread: reads a backup's content from its own SQLite connection inside one read transaction (WAL
 * gives it a fixed snapshot while live writes go on), cuts it into chunks and hashes them. The main thread
 * pulls chunks one at a time.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { ChunkBuilder, type BuiltChunk, type ChunkPolicy } from '../../../domain/chunking.js';
import { definitionOfColumns } from '../../../domain/manifest.js';
import type { FrozenCollection } from '../../../ports/snapshot-source.js';
import { serveWorker, transferable } from '../../../threads/worker-channel.js';
import { itemRelation } from '../sql/item-relation.js';
import { openSqlite } from './sqlite-connection.js';

const { path } = workerData as { path: string };
const db: BetterSqlite3.Database = openSqlite(path, { cacheMiB: 8 });
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Chunk buffers the main thread gave back, filled again by the next chunks (see ChunkStream.recycle). */
const spares: ArrayBuffer[] = [];
const MAX_SPARES = 16;

function allocate(size: number): Uint8Array {
  const fit = spares.findIndex((b) => b.byteLength >= size);
  if (fit >= 0) return new Uint8Array(spares.splice(fit, 1)[0] as ArrayBuffer);
  // Rounded up to whole MiB so that a buffer fits most later chunks too.
  return new Uint8Array(Math.ceil(size / (1 << 20)) * (1 << 20));
}

interface OpenStream {
  readonly rows: IterableIterator<unknown[]>;
  readonly builder: ChunkBuilder;
  readonly line: (row: unknown[]) => [key: string, line: string | Uint8Array];
  done: boolean;
}

const streams = new Map<number, OpenStream>();
let nextStream = 1;
let linkTargets = new Map<number, string>();

function open(statement: string, params: unknown[], policy: ChunkPolicy, line: OpenStream['line']): number {
  const rows = db
    .prepare(statement)
    .raw()
    .iterate(...params) as IterableIterator<unknown[]>;
  const id = nextStream++;
  streams.set(id, { rows, builder: new ChunkBuilder(policy, sha256, allocate), line, done: false });
  return id;
}

function pull(stream: OpenStream): BuiltChunk | undefined {
  if (stream.done) return undefined;
  for (;;) {
    const next = stream.rows.next();
    if (next.done) {
      stream.done = true;
      return stream.builder.finish();
    }
    const [key, text] = stream.line(next.value);
    const chunk = stream.builder.add(key, text);
    if (chunk) return chunk;
  }
}

function counted(gen: number): number {
  const { table, scopeSql } = itemRelation(gen);
  const row = db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${scopeSql}`).get() as { n: number };
  return row.n;
}

serveWorker({
  beginLive({ siteId, collectionIds }: { siteId: string; collectionIds: string[] | null }) {
    db.exec('BEGIN');
    const rows = db
      .prepare(
        `SELECT c.id, c.display_name, c.fields, c.permissions, c.views, c.extra, c.live_gen, c.live_version, g.tombstone_floor
         FROM collections c JOIN generations g ON g.id = c.live_gen WHERE c.site_id = ? ORDER BY c.id`,
      )
      .all(siteId) as {
      id: string;
      display_name: string;
      fields: string;
      permissions: string | null;
      views: string;
      extra: string;
      live_gen: number;
      live_version: number;
      tombstone_floor: number;
    }[];
    linkTargets = new Map(rows.map((r) => [r.live_gen, r.id]));
    const wanted = collectionIds === null ? rows : rows.filter((r) => collectionIds.includes(r.id));
    return {
      collections: wanted.map((r) => ({
        id: r.id,
        displayName: r.display_name,
        gen: r.live_gen,
        version: r.live_version,
        tombstoneFloor: r.tombstone_floor,
        // Read in the snapshot's transaction, so it is the definition at the same instant as the items.
        definition: definitionOfColumns(r),
      })),
      linkTargets: [...linkTargets],
    };
  },

  beginFrozen({ frozen, targets }: { frozen: FrozenCollection[]; targets: [number, string][] }) {
    // Frozen generations are not written any more; no read transaction is needed.
    linkTargets = new Map(targets);
    const floor = db.prepare('SELECT tombstone_floor AS f FROM generations WHERE id = ?');
    return {
      collections: frozen.map((f) => ({
        id: f.collectionId,
        displayName: f.displayName,
        gen: f.gen ?? 0,
        version: f.version,
        ...(f.definition && { definition: f.definition }),
        ...(f.absentBefore && { absentBefore: true }),
        tombstoneFloor: f.gen === null ? 0 : ((floor.get(f.gen) as { f: number } | undefined)?.f ?? 0),
      })),
    };
  },

  items({ gen, since, policy }: { gen: number; since: number | null; policy: ChunkPolicy }) {
    const { table, scopeSql } = itemRelation(gen);
    const where = since === null ? '' : 'AND seq > ?';
    // The item's JSON comes out as its stored UTF-8 bytes (a BLOB cast), never decoded into a string.
    return open(
      `SELECT id, CAST(data AS BLOB) FROM ${table} WHERE ${scopeSql} ${where} ORDER BY id`,
      since === null ? [] : [since],
      policy,
      (row) => [row[0] as string, row[1] as Uint8Array],
    );
  },

  count({ gen }: { gen: number }) {
    return gen === 0 ? 0 : counted(gen);
  },

  changeCounts({ gen, since }: { gen: number; since: number }) {
    const { table, scopeSql } = itemRelation(gen);
    const upserts = (
      db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${scopeSql} AND seq > ?`).get(since) as {
        n: number;
      }
    ).n;
    const deletes = (
      db
        .prepare(
          `SELECT count(*) AS n FROM tombstones t WHERE t.gen = ? AND t.seq > ?
           AND NOT EXISTS (SELECT 1 FROM ${table} i WHERE ${scopeSql} AND i.id = t.id)`,
        )
        .get(gen, since) as { n: number }
    ).n;
    return { upserts, deletes };
  },

  deletions({ gen, since, policy }: { gen: number; since: number; policy: ChunkPolicy }) {
    const { table, scopeSql } = itemRelation(gen);
    return open(
      `SELECT t.id FROM tombstones t WHERE t.gen = ? AND t.seq > ?
       AND NOT EXISTS (SELECT 1 FROM ${table} i WHERE ${scopeSql} AND i.id = t.id) ORDER BY t.id`,
      [gen, since],
      policy,
      (row) => [row[0] as string, JSON.stringify(row[0])],
    );
  },

  links({ fromGen, toGens, policy }: { fromGen: number; toGens: number[]; policy: ChunkPolicy }) {
    const from = linkTargets.get(fromGen) ?? '';
    const placeholders = toGens.map(() => '?').join(',') || 'NULL';
    return open(
      `SELECT from_id, field, to_gen, to_id, pos FROM links WHERE from_gen = ? AND to_gen IN (${placeholders})
       ORDER BY from_id, field, to_gen, to_id`,
      [fromGen, ...toGens],
      policy,
      (row) => [
        row[0] as string,
        JSON.stringify([from, row[0], row[1], linkTargets.get(row[2] as number) ?? '', row[3], row[4]]),
      ],
    );
  },

  next({ stream, recycle }: { stream: number; recycle: ArrayBuffer[] }) {
    for (const buffer of recycle) {
      spares.push(buffer);
      if (spares.length > MAX_SPARES) spares.sort((a, b) => b.byteLength - a.byteLength).pop();
    }
    const open = streams.get(stream);
    if (!open) throw new Error(`no stream ${stream}`);
    const chunk = pull(open);
    if (!chunk) return null;
    return transferable({ ...chunk }, [chunk.data.buffer as ArrayBuffer]);
  },

  closeStream({ stream }: { stream: number }) {
    const open = streams.get(stream);
    streams.delete(stream);
    open?.rows.return?.();
    return null;
  },

  /** Ends the snapshot; the connection stays open for the next one. */
  end() {
    for (const open of streams.values()) open.rows.return?.();
    streams.clear();
    if (db.inTransaction) db.exec('COMMIT');
    return null;
  },
});
