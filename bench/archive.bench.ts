/**
 * Portable archives (issue 17): download and import of an N-item backup over real HTTP, each ÷ the full
 * backup's time in the same run (goal ≤ 1.0), and the process's peak RSS during each (goal ≤ 256 MiB).
 * The archive streams to and from a file on disk, as the CLI does.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import { newItemId } from '../src/services/ids.js';
import { type BenchResult, benchSite, openBenchSafekeep, sampleItem, timed } from './bench-kit.js';

export interface ArchiveBenchOptions {
  readonly items: number;
  readonly collections: number;
}

const MiB = 1024 * 1024;

/** The process's peak RSS while `work` runs, sampled every 20 ms. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMiB: number; ms: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const { ms, result } = await timed(work);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakMiB: peak / MiB, ms };
  } finally {
    clearInterval(timer);
  }
}

export async function runArchiveBench(
  options: ArchiveBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const { safekeep, app, dataDir, close } = await openBenchSafekeep('archive');
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const base = `http://127.0.0.1:${address.port}/wix-data/v2`;
    const keyFor = async (name: string) => {
      const { siteId, secret } = await benchSite(safekeep, name);
      return { siteId, key: secret };
    };
    const a = await keyFor('archive-source');
    const b = await keyFor('archive-target');
    const call = async (key: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: key, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return (await res.json()) as any;
    };

    log(`filling ${options.items.toLocaleString('en-US')} items…`);
    const at = Date.UTC(2024, 0, 1);
    const perCollection = Math.floor(options.items / options.collections);
    for (let c = 0; c < options.collections; c++) {
      const collectionId = `Collection${c}`;
      await call(a.key, 'POST', '/collections', { collection: { id: collectionId } });
      for (let start = 0; start < perCollection; start += 5000) {
        const batch: StoredItem[] = [];
        for (let i = start; i < Math.min(perCollection, start + 5000); i++) {
          const n = c * perCollection + i;
          batch.push(
            composeItem({
              id: newItemId(at + n),
              owner: 'bench',
              createdAt: at + n * 1000,
              updatedAt: at + n * 1000,
              fields: sampleItem(n),
            }),
          );
        }
        await safekeep.storage.items.write({ siteId: a.siteId, collectionId, environment: 'LIVE' }, (tx) =>
          tx.insert(batch),
        );
      }
    }
    const { worker } = safekeep.background();
    const created = await call(a.key, 'POST', '/backups', {});
    global.gc?.();
    const backup = await peakRss(async () => {
      while (await worker.runOne(new AbortController().signal));
    });
    const backupId = created.backup.id as string;
    log(`full backup: ${(backup.ms / 1000).toFixed(1)} s`);

    const file = join(dataDir, 'archive.safekeep.zst');
    global.gc?.();
    const download = await peakRss(async () => {
      const res = await fetch(`${base}/backups/${backupId}/archive`, { headers: { authorization: a.key } });
      if (!res.ok || !res.body) throw new Error(`download: ${res.status} ${await res.text()}`);
      await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), createWriteStream(file));
    });
    const size = statSync(file).size;
    log(`download: ${(download.ms / 1000).toFixed(1)} s, ${(size / MiB).toFixed(0)} MiB`);

    global.gc?.();
    const upload = await peakRss(async () => {
      const res = await fetch(`${base}/backups/import`, {
        method: 'POST',
        headers: { authorization: b.key, 'content-type': 'application/zstd', 'content-length': String(size) },
        body: Readable.toWeb(createReadStream(file)),
        duplex: 'half',
      });
      const body = (await res.json()) as any;
      if (!res.ok || body.backup?.status !== 'READY') throw new Error(`import: ${JSON.stringify(body)}`);
      return body.backup;
    });
    log(`import: ${(upload.ms / 1000).toFixed(1)} s`);

    const ratio = (ms: number) => ms / backup.ms;
    return [
      { name: 'full backup', value: backup.ms / 1000, unit: 's', note: `${options.items} items` },
      {
        name: 'archive download ÷ full backup',
        value: ratio(download.ms),
        unit: '×',
        goal: '≤ 1.0',
        pass: ratio(download.ms) <= 1,
        note: `${(size / MiB).toFixed(0)} MiB archive`,
      },
      {
        name: 'archive import ÷ full backup',
        value: ratio(upload.ms),
        unit: '×',
        goal: '≤ 1.0',
        pass: ratio(upload.ms) <= 1,
      },
      {
        name: 'peak RSS during download',
        value: Math.round(download.peakMiB),
        unit: 'MiB',
        goal: '≤ 256',
        pass: download.peakMiB <= 256,
        note: 'the whole server process, baseline included',
      },
      {
        name: 'peak RSS during import',
        value: Math.round(upload.peakMiB),
        unit: 'MiB',
        goal: '≤ 256',
        pass: upload.peakMiB <= 256,
        note: 'the whole server process, baseline included',
      },
    ];
  } finally {
    await close();
  }
}
