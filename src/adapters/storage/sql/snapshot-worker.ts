/**
 * The snapshot reader thread, once for every engine (worker-snapshot-source.ts talks to it): opens a
 * consistent snapshot of one site, reads its collections, then streams items, deletions and links in key
 * order, cuts them into chunks, hashes them and hands them to the main thread one chunk per call. Each
 * engine's thread module (sqlite/sqlite-snapshot-worker.ts, postgres/postgres-snapshot-worker.ts) connects
 * and passes its `SnapshotReader`: how a snapshot opens and ends, how rows are read, how a stream of rows
 * is closed. Statements are written here once, with `?` placeholders.
 */
import { createHash } from 'node:crypto';
import { ChunkBuilder, type BuiltChunk, type ChunkPolicy } from '../../../domain/chunking.js';
import { definitionOfColumns } from '../../../domain/manifest.js';
import type { FrozenCollection } from '../../../ports/snapshot-source.js';
import { serveWorker, transferable } from '../../../threads/worker-channel.js';
import { itemRelation } from './item-relation.js';

/** A field of a streamed row: a driver value (string, number), or the raw bytes the engine sent. */
export type RowField = string | number | Uint8Array | null;

/** Rows of one streamed statement, read on demand. */
export interface RowSource {
  /** The next row's fields in select order, undefined at the end (a promise where reading waits). */
  next(): RowField[] | undefined | Promise<RowField[] | undefined>;
  /** Stops reading; `finished` tells whether every row was read. */
  close(finished: boolean): void | Promise<void>;
}

/** What an engine's reader thread provides. */
export interface SnapshotReader {
  /** The item's JSON in a select list, so that it comes out as its stored UTF-8 bytes, never decoded. */
  readonly itemBytes: string;
  /** Starts the snapshot transaction: every later read sees the same instant. */
  begin(): void | Promise<void>;
  /** All rows of a (small) statement, as objects. */
  all<T>(statement: string, params: readonly unknown[]): T[] | Promise<T[]>;
  /** The rows of a statement, streamed; its parameters are integers. */
  stream(statement: string, params: readonly number[]): RowSource | Promise<RowSource>;
  /** Ends the snapshot (every stream closed), keeping the connection for the next one when it is sound. */
  end(): void | Promise<void>;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Text of a field, from a driver string or raw UTF-8 bytes. */
function text(field: RowField | undefined): string {
  if (typeof field === 'string') return field;
  if (field instanceof Uint8Array)
    return Buffer.from(field.buffer, field.byteOffset, field.length).toString('utf8');
  return String(field ?? '');
}

const num = (field: RowField | undefined): number =>
  typeof field === 'number' ? field : Number(text(field));

/** Chunk buffers the main thread gave back, filled again by the next chunks (see ChunkStream.recycle). */
const spares: ArrayBuffer[] = [];
const MAX_SPARES = 16;

function allocate(size: number): Uint8Array {
  const fit = spares.findIndex((b) => b.byteLength >= size);
  if (fit >= 0) return new Uint8Array(spares.splice(fit, 1)[0] as ArrayBuffer);
  // Rounded up to whole MiB so that a buffer fits most later chunks too.
  return new Uint8Array(Math.ceil(size / (1 << 20)) * (1 << 20));
}

type Line = (row: RowField[]) => [key: string, line: string | Uint8Array];

interface OpenStream {
  readonly rows: RowSource;
  readonly builder: ChunkBuilder;
  readonly line: Line;
  done: boolean;
}

async function pull(stream: OpenStream): Promise<BuiltChunk | undefined> {
  if (stream.done) return undefined;
  for (;;) {
    let row = stream.rows.next();
    // A synchronous source (SQLite) is read without waiting on a promise per row.
    if (row instanceof Promise) row = await row;
    if (!row) {
      stream.done = true;
      return stream.builder.finish();
    }
    const [key, line] = stream.line(row);
    const chunk = stream.builder.add(key, line);
    if (chunk) return chunk;
  }
}

interface CollectionRow {
  id: string;
  display_name: string;
  fields: string;
  permissions: string | null;
  views: string;
  extra: string;
  live_gen: number | string;
  live_version: number | string;
  tombstone_floor: number | string;
}

/** Serves the snapshot operations in this worker thread over `reader`. */
export function serveSnapshotWorker(reader: SnapshotReader): void {
  const streams = new Map<number, OpenStream>();
  let nextStream = 1;
  let linkTargets = new Map<number, string>();

  async function open(statement: string, params: number[], policy: ChunkPolicy, line: Line): Promise<number> {
    const rows = await reader.stream(statement, params);
    const id = nextStream++;
    streams.set(id, { rows, builder: new ChunkBuilder(policy, sha256, allocate), line, done: false });
    return id;
  }

  async function scalar(statement: string, params: readonly unknown[]): Promise<number> {
    const rows = await reader.all<{ n: number | string }>(statement, params);
    return Number(rows[0]?.n ?? 0);
  }

  const deletedSince = (table: string, scopeSql: string) =>
    `FROM tombstones t WHERE t.gen = ? AND t.seq > ?
     AND NOT EXISTS (SELECT 1 FROM ${table} i WHERE ${scopeSql} AND i.id = t.id)`;

  serveWorker({
    async beginLive({ siteId, collectionIds }: { siteId: string; collectionIds: string[] | null }) {
      await reader.begin();
      // The snapshot is taken by this first read: everything after reads the same instant.
      const rows = await reader.all<CollectionRow>(
        `SELECT c.id, c.display_name, c.fields, c.permissions, c.views, c.extra, c.live_gen, c.live_version, g.tombstone_floor
         FROM collections c JOIN generations g ON g.id = c.live_gen WHERE c.site_id = ? ORDER BY c.id`,
        [siteId],
      );
      linkTargets = new Map(rows.map((r) => [Number(r.live_gen), r.id]));
      const wanted = collectionIds === null ? rows : rows.filter((r) => collectionIds.includes(r.id));
      return {
        collections: wanted.map((r) => ({
          id: r.id,
          displayName: r.display_name,
          gen: Number(r.live_gen),
          version: Number(r.live_version),
          tombstoneFloor: Number(r.tombstone_floor),
          // Read in the snapshot's transaction, so it is the definition at the same instant as the items.
          definition: definitionOfColumns(r),
        })),
        linkTargets: [...linkTargets],
      };
    },

    async beginFrozen({ frozen, targets }: { frozen: FrozenCollection[]; targets: [number, string][] }) {
      // Frozen generations are not written any more; no snapshot is needed.
      linkTargets = new Map(targets);
      const collections = [];
      for (const f of frozen) {
        const floor =
          f.gen === null
            ? 0
            : await scalar('SELECT tombstone_floor AS n FROM generations WHERE id = ?', [f.gen]);
        collections.push({
          id: f.collectionId,
          displayName: f.displayName,
          gen: f.gen ?? 0,
          version: f.version,
          ...(f.definition && { definition: f.definition }),
          ...(f.absentBefore && { absentBefore: true }),
          ...(f.itemSelection && { itemSelection: f.itemSelection }),
          tombstoneFloor: floor,
        });
      }
      return { collections };
    },

    items({ gen, since, policy }: { gen: number; since: number | null; policy: ChunkPolicy }) {
      const { table, scopeSql } = itemRelation(gen);
      const where = since === null ? '' : 'AND seq > ?';
      return open(
        `SELECT id, ${reader.itemBytes} FROM ${table} WHERE ${scopeSql} ${where} ORDER BY id`,
        since === null ? [] : [since],
        policy,
        (row) => [text(row[0]), row[1] as Uint8Array],
      );
    },

    count({ gen }: { gen: number }) {
      if (gen === 0) return 0;
      const { table, scopeSql } = itemRelation(gen);
      return scalar(`SELECT count(*) AS n FROM ${table} WHERE ${scopeSql}`, []);
    },

    async changeCounts({ gen, since }: { gen: number; since: number }) {
      const { table, scopeSql } = itemRelation(gen);
      const upserts = await scalar(`SELECT count(*) AS n FROM ${table} WHERE ${scopeSql} AND seq > ?`, [
        since,
      ]);
      const deletes = await scalar(`SELECT count(*) AS n ${deletedSince(table, scopeSql)}`, [gen, since]);
      return { upserts, deletes };
    },

    deletions({ gen, since, policy }: { gen: number; since: number; policy: ChunkPolicy }) {
      const { table, scopeSql } = itemRelation(gen);
      return open(
        `SELECT t.id ${deletedSince(table, scopeSql)} ORDER BY t.id`,
        [gen, since],
        policy,
        (row) => {
          const id = text(row[0]);
          return [id, JSON.stringify(id)];
        },
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
        (row) => {
          const fromId = text(row[0]);
          return [
            fromId,
            JSON.stringify([
              from,
              fromId,
              text(row[1]),
              linkTargets.get(num(row[2])) ?? '',
              text(row[3]),
              num(row[4]),
            ]),
          ];
        },
      );
    },

    async next({ stream, recycle }: { stream: number; recycle: ArrayBuffer[] }) {
      for (const buffer of recycle) {
        spares.push(buffer);
        if (spares.length > MAX_SPARES) spares.sort((a, b) => b.byteLength - a.byteLength).pop();
      }
      const open = streams.get(stream);
      if (!open) throw new Error(`no stream ${stream}`);
      const chunk = await pull(open);
      if (!chunk) return null;
      return transferable({ ...chunk }, [chunk.data.buffer as ArrayBuffer]);
    },

    async closeStream({ stream }: { stream: number }) {
      const open = streams.get(stream);
      streams.delete(stream);
      await open?.rows.close(open.done);
      return null;
    },

    /** Ends the snapshot; the connection stays open for the next one unless something went wrong. */
    async end() {
      const open = [...streams.values()];
      streams.clear();
      for (const stream of open) if (!stream.done) await stream.rows.close(false);
      await reader.end();
      return null;
    },
  });
}
