/**
 * Worker thread: the shared snapshot reader (sql/snapshot-worker.ts) on its own PostgreSQL connection. A
 * live snapshot is one REPEATABLE READ, READ ONLY transaction (every collection, item and link as of one
 * instant while writers go on). Streamed rows arrive by COPY … TO STDOUT and are cut out of the wire bytes:
 * an item's JSON goes into its chunk as the bytes PostgreSQL sent, never decoded into a string; the COPY
 * stream is paused while nobody pulls.
 */
import { workerData } from 'node:worker_threads';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { serveSnapshotWorker } from '../sql/snapshot-worker.js';
import { clientConfig, type PostgresTarget } from './postgres-connection.js';

const target = workerData as PostgresTarget;

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

/** Integers are formatted by this module; generation ids come from the database, never from input. */
const int = (n: number) => {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return String(n);
};

/** `?` placeholders as PostgreSQL's `$1`, `$2`… (no statement here has a `?` of its own). */
function numbered(statement: string): string {
  let n = 0;
  return statement.replace(/\?/g, () => `$${++n}`);
}

/** `?` placeholders replaced by the integers themselves: COPY takes no parameters. */
function inlined(statement: string, params: readonly number[]): string {
  let n = 0;
  return statement.replace(/\?/g, () => int(params[n++] ?? NaN));
}

serveSnapshotWorker({
  itemBytes: 'data',
  async begin() {
    await (await connection()).query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  },
  async all<T>(statement: string, params: readonly unknown[]) {
    const { rows } = await (await connection()).query(numbered(statement), [...params]);
    return rows as T[];
  },
  async stream(statement: string, params: readonly number[]) {
    const db = await connection();
    const rows = new CopyRows(db.query(copyTo(`COPY (${inlined(statement, params)}) TO STDOUT`)));
    return {
      next: () => rows.row(),
      // A COPY left half-read cannot be stopped on its connection: the connection goes instead.
      close: (finished: boolean) => (finished ? rows.close() : dropConnection()),
    };
  },
  async end() {
    if (broken) await dropConnection();
    else if (client) await client.query('COMMIT');
  },
});
