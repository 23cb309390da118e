/**
 * Issue 17: a large archive streams through import and download at flat memory. The archive is written
 * here, from the documented format (docs/ARCHIVE-FORMAT.md), block by block as it is sent (chunked, no
 * Content-Length), over real HTTP; then the imported backup is downloaded again and counted. The process's
 * RSS is sampled throughout; its growth over the baseline must stay far below the archive's size. CI: a
 * 48 MiB archive; soak: 2 GiB.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import zstdNapi from 'zstd-napi';
import { reportFigures, seedFor, size } from '../helpers/fault-run.js';
import { startTestEnv, testStack, type TestEnv, type TestSite } from '../helpers/harness.js';

const MiB = 1024 * 1024;
const ARCHIVE_BYTES = size(48 * MiB, 2048 * MiB);
/** Memory the import or download may add to the process, whatever the archive's size. */
const GROWTH_LIMIT_MIB = 192;
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

/** Peak RSS while `work` runs, sampled every 25 ms. */
async function sampled<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 25);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, process.memoryUsage.rss()) };
  } finally {
    clearInterval(timer);
  }
}

describe(`a large archive streams at flat memory (${Math.round(ARCHIVE_BYTES / MiB)} MiB, ${testStack})`, () => {
  let env: TestEnv;
  let site: TestSite;
  let port: number;

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    port = await env.listen();
  });

  after(() => env.close());

  it('imports and downloads it with bounded memory growth', async () => {
    const seed = seedFor('archive streaming');
    // ~2.1 KB of JSON per item compresses to ~1.4 KB at level 1.
    const items = Math.max(BLOCK_LINES, Math.round(ARCHIVE_BYTES / 1400));
    const base = `http://127.0.0.1:${port}/wix-data/v2/backups`;
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    let sent = 0;
    const imported = await sampled(async () => {
      const body = archiveStream(seed, items);
      body.on('data', (chunk: Buffer) => (sent += chunk.length));
      const res = await fetch(`${base}/import`, {
        method: 'POST',
        headers: { authorization: site.apiKey, 'content-type': 'application/zstd' },
        body: Readable.toWeb(body),
        duplex: 'half',
      });
      return { status: res.status, body: (await res.json()) as any };
    });
    assert.equal(imported.result.status, 200, JSON.stringify(imported.result.body));
    const backup = imported.result.body.backup;
    assert.equal(backup.status, 'READY');
    assert.equal(Number(backup.itemCount), items);

    global.gc?.();
    const downloaded = await sampled(async () => {
      const res = await fetch(`${base}/${backup.id}/archive`, { headers: { authorization: site.apiKey } });
      assert.equal(res.status, 200);
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
      return bytes;
    });
    const importGrowth = (imported.peak - baseline) / MiB;
    const downloadGrowth = (downloaded.peak - baseline) / MiB;
    console.log(
      `# archive of ${items} items: ${(sent / MiB).toFixed(0)} MiB sent, ${(downloaded.result / MiB).toFixed(0)} MiB downloaded; ` +
        `RSS growth: import ${importGrowth.toFixed(0)} MiB, download ${downloadGrowth.toFixed(0)} MiB`,
    );
    assert.ok(sent >= ARCHIVE_BYTES * 0.8, `the archive was as large as meant (${sent} bytes)`);
    assert.ok(importGrowth < GROWTH_LIMIT_MIB, `import grew RSS by ${importGrowth.toFixed(0)} MiB`);
    assert.ok(downloadGrowth < GROWTH_LIMIT_MIB, `download grew RSS by ${downloadGrowth.toFixed(0)} MiB`);
    reportFigures({
      test: '17. Archives: streaming at flat memory',
      proves: 'an archive streams through import and download with RSS growth bounded whatever its size',
      ciSize: '48 MiB archive, on both stacks',
      ran: `${(sent / MiB).toFixed(0)} MiB archive, ${items} items (${testStack})`,
      figures: `RSS growth ${importGrowth.toFixed(0)} MiB during import, ${downloadGrowth.toFixed(0)} MiB during download (limit ${GROWTH_LIMIT_MIB} MiB)`,
      seed,
    });
  });
});
