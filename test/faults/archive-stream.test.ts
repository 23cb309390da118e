/**
 * Issue 17: a large archive streams through import and download at flat memory. The archive is written
 * here, from the documented format (docs/ARCHIVE-FORMAT.md), block by block as it is sent (chunked, no
 * Content-Length), over real HTTP to `safekeep serve` running as a process of its own, whose RSS is sampled
 * throughout (from /proc, so that the test's own buffers do not count); then the imported backup is
 * downloaded again and counted. Two rounds an eighth of the size come first: the last one, 8× larger, may
 * not add more than a margin to the second one's peaks. CI: a 48 MiB archive; soak: 2 GiB.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import zstdNapi from 'zstd-napi';
import { reportFigures, seedFor, size } from '../helpers/fault-run.js';
import { testStack } from '../helpers/harness.js';

const MiB = 1024 * 1024;
const ARCHIVE_BYTES = size(48 * MiB, 2048 * MiB);
/** Peak RSS of the server process while it imports or downloads, whatever the archive's size. */
const RSS_LIMIT_MIB = 320;
/** What eight times the archive may add to the peaks of the first, smaller round. */
const FLAT_MARGIN_MIB = 48;
const BLOCK_LINES = 500;
/** A deterministic, poorly compressible item line (about 2 KB of JSON). */
function itemLine(seed: number, i: number): string {
  let state = (seed ^ Math.imul(i + 1, 2654435761)) >>> 0;
  let text = '';
  for (let k = 0; k < 330; k++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    text += (state >>> 8).toString(36).padStart(5, '0').slice(0, 5) + ' ';
  }
  const id = `item-${String(i).padStart(10, '0')}`;
  const date = new Date(Date.UTC(2026, 0, 1) + i).toISOString();
  return JSON.stringify({
    _id: id,
    n: i,
    text,
    _createdDate: { $date: date },
    _updatedDate: { $date: date },
  });
}

function blockText(seed: number, first: number, count: number): Buffer {
  let out = '';
  for (let i = first; i < first + count; i++) out += `${itemLine(seed, i)}\n`;
  return Buffer.from(out);
}

/** The archive's frames, generated as they are read (the manifest's checksums from a first pass). */
function archiveStream(seed: number, items: number): Readable {
  const blocks: { count: number; bytes: number; sha256: string }[] = [];
  for (let first = 0; first < items; first += BLOCK_LINES) {
    const text = blockText(seed, first, Math.min(BLOCK_LINES, items - first));
    blocks.push({
      count: Math.min(BLOCK_LINES, items - first),
      bytes: text.length,
      sha256: createHash('sha256').update(text).digest('hex'),
    });
  }
  const empty = { count: 0, bytes: 0, blocks: [] };
  const manifest = {
    format: 'safekeep.archive/1',
    backupId: 'generated',
    siteId: 'generated',
    snapshotDate: '2026-01-01T00:00:00.000Z',
    exportedDate: '2026-01-01T00:00:00.000Z',
    collections: [
      {
        id: 'Big',
        displayName: 'Big',
        items: { count: items, bytes: blocks.reduce((n, b) => n + b.bytes, 0), blocks },
        links: empty,
      },
    ],
    incomingLinks: empty,
  };
  const frame = (text: string) => zstdNapi.compress(Buffer.from(text), { compressionLevel: 1 });
  return Readable.from(
    (function* () {
      yield frame(`${JSON.stringify(manifest)}\n{"section":"items","collection":"Big"}\n`);
      for (let first = 0; first < items; first += BLOCK_LINES)
        yield zstdNapi.compress(blockText(seed, first, Math.min(BLOCK_LINES, items - first)), {
          compressionLevel: 1,
        });
      yield frame('{"section":"links","collection":"Big"}\n{"section":"incomingLinks"}\n{"section":"end"}\n');
    })(),
    { objectMode: false },
  );
}

/** The resident memory of process `pid`, in bytes (Linux). */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** The server's peak RSS while `work` runs, sampled every 25 ms. */
async function sampled<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 25);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, rssOf(pid)) };
  } finally {
    clearInterval(timer);
  }
}

/** `safekeep serve` on its own data directory (and on the scale-out stack, its own database and S3). */
async function startServer(): Promise<{
  base: string;
  key: string;
  child: ChildProcessWithoutNullStreams;
  stop(): Promise<void>;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-archive-stream-'));
  const cleanups: (() => Promise<void>)[] = [];
  let stackEnv: Record<string, string> = {};
  if (testStack === 'scaleout') {
    const [{ createTestDatabase }, { startTestS3 }] = await Promise.all([
      import('../helpers/postgres.js'),
      import('../helpers/s3.js'),
    ]);
    const [database, s3] = await Promise.all([createTestDatabase('archive'), startTestS3()]);
    cleanups.push(
      () => database.drop(),
      () => s3.close(),
    );
    stackEnv = { ...s3.env, DATABASE_URL: database.url, SAFEKEEP_DB_POOL_SIZE: '4' };
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('SAFEKEEP_') && name !== 'PORT' && name !== 'DATABASE_URL') env[name] = value;
  const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'safekeep.js'), 'serve'], {
    env: {
      ...env,
      ...stackEnv,
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'warn',
      SAFEKEEP_WORKER_THREADS: '1',
      SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
      PORT: '0',
    },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; i < 400 && !/^\s+(sk_\S+)$/m.test(output); i++) await new Promise((r) => setTimeout(r, 50));
  const base = /listening on (http:\/\/\S+)/.exec(output)?.[1];
  const admin = /^\s+(sk_\S+)$/m.exec(output)?.[1];
  assert.ok(base && admin, output);
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as any;
  };
  const { site } = await post('/_api/safekeep/v1/sites', { name: 'archive' });
  const { secret } = await post('/_api/safekeep/v1/api-keys', {
    name: 'archive',
    siteIds: [site.id],
    scopes: ['backups.read', 'backups.create'],
  });
  return {
    base,
    key: secret as string,
    child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      for (const cleanup of cleanups) await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe(`a large archive streams at flat memory (${Math.round(ARCHIVE_BYTES / MiB)} MiB, ${testStack})`, () => {
  let server: Awaited<ReturnType<typeof startServer>>;

  before(async () => {
    server = await startServer();
  });

  after(() => server.stop());

  /** One import and download of an archive of `items` items: bytes and the server's peak RSS in each. */
  const round = async (seed: number, items: number) => {
    const base = `${server.base}/wix-data/v2/backups`;
    const pid = server.child.pid as number;
    let sent = 0;
    const imported = await sampled(pid, async () => {
      const body = archiveStream(seed, items);
      body.on('data', (chunk: Buffer) => (sent += chunk.length));
      const res = await fetch(`${base}/import`, {
        method: 'POST',
        headers: { authorization: server.key, 'content-type': 'application/zstd' },
        body: Readable.toWeb(body),
        duplex: 'half',
      });
      return { status: res.status, body: (await res.json()) as any };
    });
    assert.equal(imported.result.status, 200, JSON.stringify(imported.result.body));
    const backup = imported.result.body.backup;
    assert.equal(backup.status, 'READY');
    assert.equal(Number(backup.itemCount), items);
    const downloaded = await sampled(pid, async () => {
      const res = await fetch(`${base}/${backup.id}/archive`, { headers: { authorization: server.key } });
      assert.equal(res.status, 200);
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
      return bytes;
    });
    return { sent, received: downloaded.result, importPeak: imported.peak, downloadPeak: downloaded.peak };
  };

  it('imports and downloads it with bounded memory growth', async () => {
    const seed = seedFor('archive streaming');
    // ~2.1 KB of JSON per item compresses to ~1.2 KB at level 1.
    const items = Math.max(BLOCK_LINES, Math.round(ARCHIVE_BYTES / 1200));
    // Two small rounds: the first starts what a process starts once (codec threads, pools, clients).
    await round(seed, Math.max(BLOCK_LINES, Math.round(items / 8)));
    const small = await round(seed + 2, Math.max(BLOCK_LINES, Math.round(items / 8)));
    const large = await round(seed + 1, items);
    const mib = (bytes: number) => (bytes / MiB).toFixed(0);
    const importExtra = (large.importPeak - small.importPeak) / MiB;
    const downloadExtra = (large.downloadPeak - small.downloadPeak) / MiB;
    console.log(
      `# archives of ${mib(small.sent)} and ${mib(large.sent)} MiB (${items} items): the server's peak RSS ` +
        `import ${mib(small.importPeak)} → ${mib(large.importPeak)} MiB, download ${mib(small.downloadPeak)} → ${mib(large.downloadPeak)} MiB`,
    );
    assert.ok(large.sent >= ARCHIVE_BYTES * 0.8, `the archive was as large as meant (${large.sent} bytes)`);
    assert.equal(large.received > large.sent * 0.9, true, 'the download is about as large');
    for (const [what, peak, extra] of [
      ['import', large.importPeak, importExtra],
      ['download', large.downloadPeak, downloadExtra],
    ] as const) {
      assert.ok(peak / MiB < RSS_LIMIT_MIB, `${what}: peak RSS ${mib(peak)} MiB`);
      assert.ok(extra < FLAT_MARGIN_MIB, `${what}: 8× the archive added ${extra.toFixed(0)} MiB to the peak`);
    }
    reportFigures({
      test: '17. Archives: streaming at flat memory',
      proves:
        'an archive streams through import and download with the server process at flat memory whatever its size',
      ciSize: '6 then 48 MiB archives, on both stacks',
      ran: `${mib(small.sent)} then ${mib(large.sent)} MiB archives, ${items} items (${testStack})`,
      figures:
        `server peak RSS ${mib(large.importPeak)} MiB during import, ${mib(large.downloadPeak)} MiB during download ` +
        `(limit ${RSS_LIMIT_MIB}); ${importExtra.toFixed(0)} and ${downloadExtra.toFixed(0)} MiB above the peaks ` +
        `of the archive 8× smaller (limit ${FLAT_MARGIN_MIB})`,
      seed,
    });
  });
});
