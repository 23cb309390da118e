/**
 * Worker thread: reads a backup's content from its own PostgreSQL connection inside one REPEATABLE READ,
 * READ ONLY transaction (every collection, item and link as of one instant while writers go on), cuts it
 * into chunks and hashes them. Rows arrive by COPY … TO STDOUT and are cut out of the wire bytes: an item's
 * JSON goes into its chunk as the bytes PostgreSQL sent, never decoded into a string. The main thread pulls
 * chunks one at a time; the COPY stream is paused while nobody pulls.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { ChunkBuilder, type BuiltChunk, type ChunkPolicy } from '../../../domain/chunking.js';
import { definitionOfColumns } from '../../../domain/manifest.js';
import type { FrozenCollection } from '../../../ports/snapshot-source.js';
import { serveWorker, transferable } from '../../../threads/worker-channel.js';
import { itemRelation } from '../sql/item-relation.js';
import { clientConfig, type PostgresTarget } from './postgres-connection.js';

const target = workerData as PostgresTarget;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

let client: pg.Client | undefined;
let broken = false;

async function connection(): Promise<pg.Client> {
  if (client && !broken) return client;
  const fresh = new pg.Client(clientConfig(target));
  // A lost connection fails the call in progress (and so the backup step); never the thread.
  fresh.on('error', () => {
    broken = true;
  });
  await fresh.connect();
  client = fresh;
  broken = false;
  return fresh;
}

/** Drops the connection (after a stream was abandoned half-way, or a failure); the next snapshot reconnects. */
async function dropConnection(): Promise<void> {
  const old = client;
  client = undefined;
  await old?.end().catch(() => undefined);
}

/** Cuts COPY text rows out of the byte stream: fields split on tabs, rows on newlines. */
class CopyRows {
  private carry: Buffer = Buffer.alloc(0);
  private rows: Buffer[][] = [];
  private next = 0;
  private ended = false;
  private readonly source: AsyncIterator<Buffer>;

  constructor(stream: AsyncIterable<Buffer>) {
    this.source = stream[Symbol.asyncIterator]();
  }

  /** The next row's fields, or undefined at the end. */
  async row(): Promise<Buffer[] | undefined> {
    while (this.next >= this.rows.length) {
      if (this.ended) return undefined;
      const next: IteratorResult<Buffer> = await this.source.next();
      if (next.done) {
        this.ended = true;
        continue;
      }
      const value = next.value;
      this.split(this.carry.length > 0 ? Buffer.concat([this.carry, value]) : value);
    }
    return this.rows[this.next++];
  }

  private split(data: Buffer): void {
    this.rows = [];
    this.next = 0;
    let start = 0;
    for (let end = data.indexOf(0x0a, start); end !== -1; end = data.indexOf(0x0a, start)) {
      const fields: Buffer[] = [];
      let from = start;
      for (let tab = data.indexOf(0x09, from); tab !== -1 && tab < end; tab = data.indexOf(0x09, from)) {
        fields.push(unescape(data.subarray(from, tab)));
        from = tab + 1;
      }
      fields.push(unescape(data.subarray(from, end)));
      this.rows.push(fields);
      start = end + 1;
    }
    this.carry = Buffer.from(data.subarray(start));
  }

  async close(): Promise<void> {
    await this.source.return?.();
  }
}

const escapes: Record<number, number> = {
  0x5c: 0x5c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
  0x62: 0x08,
  0x66: 0x0c,
  0x76: 0x0b,
};

/** Undoes COPY's text escapes (only backslash sequences; JSON text rarely has any but `\\`). */
function unescape(field: Buffer): Buffer {
  let at = field.indexOf(0x5c);
  if (at === -1) return field;
  const out = Buffer.allocUnsafe(field.length);
  let size = field.copy(out, 0, 0, at);
  while (at !== -1) {
    out[size++] = escapes[field[at + 1] ?? 0] ?? field[at + 1] ?? 0;
    const from = at + 2;
    at = field.indexOf(0x5c, from);
    size += field.copy(out, size, from, at === -1 ? field.length : at);
  }
  return out.subarray(0, size);
}

interface OpenStream {
  readonly rows: CopyRows;
  readonly builder: ChunkBuilder;
  readonly line: (row: Buffer[]) => [key: string, line: string | Uint8Array];
  done: boolean;
}

const streams = new Map<number, OpenStream>();
let nextStream = 1;
let linkTargets = new Map<number, string>();

async function open(query: string, policy: ChunkPolicy, line: OpenStream['line']): Promise<number> {
  const db = await connection();
  const rows = new CopyRows(db.query(copyTo(`COPY (${query}) TO STDOUT`)));
  const id = nextStream++;
  streams.set(id, { rows, builder: new ChunkBuilder(policy, sha256), line, done: false });
  return id;
}

async function pull(stream: OpenStream): Promise<BuiltChunk | undefined> {
  if (stream.done) return undefined;
  for (;;) {
    const row = await stream.rows.row();
    if (!row) {
      stream.done = true;
      return stream.builder.finish();
    }
    const [key, text] = stream.line(row);
    const chunk = stream.builder.add(key, text);
    if (chunk) return chunk;
  }
}

/** Integers are formatted by this module; generation ids come from the database, never from input. */
const int = (n: number) => {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return String(n);
};

async function scalar(text: string, params: unknown[] = []): Promise<number> {
  const { rows } = await (await connection()).query<{ n: string }>(text, params);
  return Number(rows[0]?.n ?? 0);
}

serveWorker({
  async beginLive({ siteId, collectionIds }: { siteId: string; collectionIds: string[] | null }) {
    const db = await connection();
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // The snapshot is taken by this first query: everything after reads the same instant.
    const { rows } = await db.query<{
      id: string;
      display_name: string;
      fields: string;
      permissions: string | null;
      views: string;
      extra: string;
      live_gen: string;
      live_version: string;
      tombstone_floor: string;
    }>(
      `SELECT c.id, c.display_name, c.fields, c.permissions, c.views, c.extra, c.live_gen, c.live_version, g.tombstone_floor
       FROM collections c JOIN generations g ON g.id = c.live_gen WHERE c.site_id = $1 ORDER BY c.id`,
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
          : await scalar('SELECT tombstone_floor AS n FROM generations WHERE id = $1', [f.gen]);
      collections.push({
        id: f.collectionId,
        displayName: f.displayName,
        gen: f.gen ?? 0,
        version: f.version,
        ...(f.definition && { definition: f.definition }),
        ...(f.absentBefore && { absentBefore: true }),
        tombstoneFloor: floor,
      });
    }
    return { collections };
  },

  items({ gen, since, policy }: { gen: number; since: number | null; policy: ChunkPolicy }) {
    const { table, scopeSql } = itemRelation(gen);
    const where = since === null ? '' : `AND seq > ${int(since)}`;
    return open(`SELECT id, data FROM ${table} WHERE ${scopeSql} ${where} ORDER BY id`, policy, (row) => [
      (row[0] as Buffer).toString('utf8'),
      row[1] as Buffer,
    ]);
  },

  count({ gen }: { gen: number }) {
    if (gen === 0) return 0;
    const { table, scopeSql } = itemRelation(gen);
    return scalar(`SELECT count(*) AS n FROM ${table} WHERE ${scopeSql}`);
  },

  async changeCounts({ gen, since }: { gen: number; since: number }) {
    const { table, scopeSql } = itemRelation(gen);
    const upserts = await scalar(`SELECT count(*) AS n FROM ${table} WHERE ${scopeSql} AND seq > $1`, [
      since,
    ]);
    const deletes = await scalar(
      `SELECT count(*) AS n FROM tombstones t WHERE t.gen = $1 AND t.seq > $2
       AND NOT EXISTS (SELECT 1 FROM ${table} i WHERE ${scopeSql} AND i.id = t.id)`,
      [gen, since],
    );
    return { upserts, deletes };
  },

  deletions({ gen, since, policy }: { gen: number; since: number; policy: ChunkPolicy }) {
    const { table, scopeSql } = itemRelation(gen);
    return open(
      `SELECT t.id FROM tombstones t WHERE t.gen = ${int(gen)} AND t.seq > ${int(since)}
       AND NOT EXISTS (SELECT 1 FROM ${table} i WHERE ${scopeSql} AND i.id = t.id) ORDER BY t.id`,
      policy,
      (row) => {
        const id = (row[0] as Buffer).toString('utf8');
        return [id, JSON.stringify(id)];
      },
    );
  },

  links({ fromGen, toGens, policy }: { fromGen: number; toGens: number[]; policy: ChunkPolicy }) {
    const from = linkTargets.get(fromGen) ?? '';
    const list = toGens.map(int).join(',') || 'NULL';
    return open(
      `SELECT from_id, field, to_gen, to_id, pos FROM links WHERE from_gen = ${int(fromGen)} AND to_gen IN (${list})
       ORDER BY from_id, field, to_gen, to_id`,
      policy,
      (row) => {
        const [fromId, field, toGen, toId, pos] = row.map((f) => f.toString('utf8'));
        return [
          fromId ?? '',
          JSON.stringify([from, fromId, field, linkTargets.get(Number(toGen)) ?? '', toId, Number(pos)]),
        ];
      },
    );
  },

  async next({ stream }: { stream: number }) {
    const open = streams.get(stream);
    if (!open) throw new Error(`no stream ${stream}`);
    const chunk = await pull(open);
    if (!chunk) return null;
    return transferable({ ...chunk }, [chunk.data.buffer as ArrayBuffer]);
  },

  async closeStream({ stream }: { stream: number }) {
    const open = streams.get(stream);
    streams.delete(stream);
    // A COPY left half-read cannot be stopped on its connection: the connection goes instead.
    if (open && !open.done) await dropConnection();
    else await open?.rows.close();
    return null;
  },

  /** Ends the snapshot; the connection stays open for the next one unless something went wrong. */
  async end() {
    const abandoned = [...streams.values()].some((s) => !s.done);
    streams.clear();
    if (abandoned || broken) {
      await dropConnection();
      return null;
    }
    if (client) await client.query('COMMIT');
    return null;
  },
});
