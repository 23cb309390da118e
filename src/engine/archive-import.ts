/**
 * Reading a portable archive (docs/ARCHIVE-FORMAT.md) into a backup's stored chunks and manifest, as it
 * streams in: the compressed bytes are counted against the import limit, decompressed a buffer at a time
 * (pulled, so a decompression bomb costs one buffer), cut into lines, checked against the manifest's
 * sections, counts and block checksums, each item checked as the items API would, and chunked and stored as
 * a backup stores them. Every refusal has its own error code; the caller removes what was written.
 */
import { createHash, type Hash } from 'node:crypto';
import zstd from 'zstd-napi/binding.js';
import { errors } from '../contracts/errors.js';
import {
  MAX_ARCHIVE_LINE_BYTES,
  MAX_ARCHIVE_MANIFEST_BYTES,
  checkArchiveItem,
  checkArchiveLink,
  compareIds,
  decodeArchiveManifest,
  describeMarker,
  expectedMarkers,
  parseMarker,
  sameMarker,
  type ArchiveManifest,
  type ArchiveSection,
} from '../domain/archive.js';
import { ChunkBuilder, type BuiltChunk, type ChunkPolicy } from '../domain/chunking.js';
import {
  MANIFEST_FORMAT,
  chunksOf,
  type ChunkList,
  type ChunkRef,
  type Manifest,
  type ManifestCollection,
} from '../domain/manifest.js';
import type { ManifestRef } from '../domain/backup.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { ChunkStream } from '../ports/snapshot-source.js';
import { ChunkSink } from './chunk-sink.js';
import type { CodecPool } from './codec-pool.js';
import { publishManifest } from './manifest-io.js';

const { DCtx, dStreamOutSize } = zstd;

export interface ArchiveImportDeps {
  readonly blobs: BlobStore;
  readonly codec: CodecPool;
  readonly compressionLevel: number;
  readonly policy: ChunkPolicy;
}

export interface ImportedBackup {
  readonly manifest: Manifest;
  readonly ref: ManifestRef;
  readonly sizeBytes: number;
  readonly itemCount: number;
  readonly snapshotAt: number;
}

/**
 * The decompressed bytes of `input`, a buffer at a time, pulled: nothing is decompressed before the
 * consumer asks for it. Compressed bytes are counted against `maxBytes`. The same output buffer is reused
 * for every step (a fresh one each time left the allocator a trail as long as the archive, garbage the
 * collector took its time to reclaim): what is yielded is valid until the consumer asks for more.
 * @throws AppError ARCHIVE_TOO_LARGE, ARCHIVE_CORRUPT, ARCHIVE_TRUNCATED
 */
async function* decompressed(input: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  const dctx = new DCtx();
  const size = dStreamOutSize();
  let received = 0;
  let inFrame = false;
  const dst = Buffer.allocUnsafe(size);
  for await (const chunk of input) {
    received += chunk.length;
    if (received > maxBytes) throw errors.ARCHIVE_TOO_LARGE(maxBytes);
    let src = chunk;
    for (;;) {
      let ret: number;
      let produced: number;
      let consumed: number;
      try {
        [ret, produced, consumed] = dctx.decompressStream(dst, src);
      } catch (error) {
        throw errors.ARCHIVE_CORRUPT(`its zstd data does not decode (${(error as Error).message})`);
      }
      src = src.subarray(consumed);
      if (produced > 0) yield dst.subarray(0, produced);
      if (src.length === 0 && (produced < size || ret === 0)) {
        inFrame = ret !== 0;
        break;
      }
    }
  }
  if (inFrame) throw errors.ARCHIVE_TRUNCATED('a zstd frame');
}

/**
 * Lines of the decompressed stream (without their `\n`), each at most a given length. A line returned is
 * valid until the next call (it may point into the decompressor's buffer); a line's start that waits for
 * its end is copied, since that buffer is refilled.
 */
class LineSource {
  private buffer: Buffer = Buffer.alloc(0);
  private position = 0;
  private parts: Buffer[] = [];
  private partsLength = 0;
  private readonly source: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** The next line, or undefined at the end. @throws the `tooLong` error past `max` bytes */
  async next(max: number, tooLong: () => Error, where: () => string): Promise<Buffer | undefined> {
    for (;;) {
      const newline = this.buffer.indexOf(0x0a, this.position);
      if (newline >= 0) {
        let line = this.buffer.subarray(this.position, newline);
        this.position = newline + 1;
        if (this.parts.length > 0) {
          this.parts.push(line);
          line = Buffer.concat(this.parts);
          this.parts = [];
          this.partsLength = 0;
        }
        if (line.length > max) throw tooLong();
        return line;
      }
      const rest = this.buffer.subarray(this.position);
      if (rest.length > 0) {
        this.parts.push(Buffer.from(rest));
        this.partsLength += rest.length;
        if (this.partsLength > max) throw tooLong();
      }
      const read = await this.source.next();
      if (read.done) {
        if (this.partsLength > 0) throw errors.ARCHIVE_TRUNCATED(where());
        this.buffer = Buffer.alloc(0);
        this.position = 0;
        return undefined;
      }
      this.buffer = read.value;
      this.position = 0;
    }
  }

  /** Whether anything but empty frames follows. */
  async atEnd(): Promise<boolean> {
    if (this.position < this.buffer.length || this.partsLength > 0) return false;
    for (;;) {
      const read = await this.source.next();
      if (read.done) return true;
      if (read.value.length > 0) return false;
    }
  }

  async close(): Promise<void> {
    await this.source.return?.();
  }
}

type LineCheck = (text: string, line: Buffer, index: number) => string;

/**
 * One section's lines as a chunk stream, checked as they pass: the count (a marker before it, or a data
 * line after it), each block's checksum, and `check` (which returns the line's chunk key).
 */
function sectionStream(
  lines: LineSource,
  name: string,
  spec: ArchiveSection,
  check: LineCheck,
  policy: ChunkPolicy,
  onLine: () => Promise<void>,
  spares: ArrayBuffer[],
): ChunkStream {
  // Chunk buffers come back from compression and are filled again: a fresh one per chunk would leave
  // garbage as large as the archive for the collector.
  const allocate = (size: number): Uint8Array => {
    const fit = spares.findIndex((b) => b.byteLength >= size);
    return fit >= 0
      ? new Uint8Array(spares.splice(fit, 1)[0] as ArrayBuffer)
      : new Uint8Array(Math.max(size, 1 << 20));
  };
  const builder = new ChunkBuilder(
    policy,
    (data) => createHash('sha256').update(data).digest('hex'),
    allocate,
  );
  let read = 0;
  let block = 0;
  let inBlock = 0;
  let hash: Hash = createHash('sha256');
  let finished = false;
  return {
    async next(): Promise<BuiltChunk | undefined> {
      while (read < spec.count) {
        const line = await lines.next(
          MAX_ARCHIVE_LINE_BYTES,
          () =>
            errors.ARCHIVE_ITEM_INVALID(name, read + 1, `it is longer than ${MAX_ARCHIVE_LINE_BYTES} bytes`),
          () => name,
        );
        if (!line) throw errors.ARCHIVE_TRUNCATED(name);
        const text = line.toString('utf8');
        if (parseMarker(text)) throw errors.ARCHIVE_COUNT_MISMATCH(name, spec.count, String(read));
        read += 1;
        hash.update(line).update('\n');
        inBlock += 1;
        const expected = spec.blocks[block];
        if (expected && inBlock === expected.count) {
          const found = hash.digest('hex');
          if (found !== expected.sha256)
            throw errors.ARCHIVE_CHECKSUM_MISMATCH(name, block + 1, expected.sha256, found);
          block += 1;
          inBlock = 0;
          hash = createHash('sha256');
        }
        const key = check(text, line, read);
        await onLine();
        const chunk = builder.add(key, line);
        if (chunk) return chunk;
      }
      if (finished) return undefined;
      finished = true;
      return builder.finish();
    },
    recycle(data: Uint8Array): void {
      if (spares.length < 16 && data.buffer instanceof ArrayBuffer) spares.push(data.buffer);
    },
    close: () => Promise.resolve(),
  };
}

/** Reads an archive into stored chunks and a published manifest of backup `target.backupId`. */
export async function importArchive(
  deps: ArchiveImportDeps,
  input: AsyncIterable<Buffer>,
  target: { siteId: string; backupId: string },
  options: {
    maxBytes: number;
    signal: AbortSignal;
    /** Called as lines pass (at most every few hundred), to renew the lease and report progress. */
    onProgress: (itemsDone: number, itemsTotal: number) => Promise<void>;
  },
): Promise<ImportedBackup> {
  const lines = new LineSource(decompressed(input, options.maxBytes));
  try {
    const head = await lines.next(
      MAX_ARCHIVE_MANIFEST_BYTES,
      () =>
        errors.ARCHIVE_MANIFEST_INVALID(`its first line is longer than ${MAX_ARCHIVE_MANIFEST_BYTES} bytes`),
      () => 'the manifest',
    );
    if (!head) throw errors.ARCHIVE_TRUNCATED('the manifest');
    const archive: ArchiveManifest = decodeArchiveManifest(head.toString('utf8'));
    const itemsTotal = archive.collections.reduce((n, c) => n + c.items.count, 0);
    const sink = new ChunkSink(
      deps.blobs,
      deps.codec,
      target.siteId,
      deps.compressionLevel,
      new Map<string, ChunkRef>(),
      options.signal,
    );
    const spares: ArrayBuffer[] = [];
    let itemsDone = 0;
    let sinceReport = 0;
    const onLine = async () => {
      if (++sinceReport < 500) return;
      sinceReport = 0;
      await options.onProgress(itemsDone, itemsTotal);
    };
    const inArchive = new Set(archive.collections.map((c) => c.id));
    const written = new Map<string, { items: ChunkList; links: ChunkList }>();
    let incoming: ChunkList = { count: 0, chunks: [] };
    let previous: { name: string; count: number } | undefined;
    for (const expected of expectedMarkers(archive)) {
      options.signal.throwIfAborted();
      const line = await lines.next(
        MAX_ARCHIVE_LINE_BYTES,
        () => errors.ARCHIVE_SECTION_MISMATCH(describeMarker(expected), 'a line too long to be a marker'),
        () => describeMarker(expected),
      );
      if (!line) throw errors.ARCHIVE_TRUNCATED(`before ${describeMarker(expected)}`);
      const marker = parseMarker(line.toString('utf8'));
      if (!marker) {
        if (previous)
          throw errors.ARCHIVE_COUNT_MISMATCH(previous.name, previous.count, `more than ${previous.count}`);
        throw errors.ARCHIVE_SECTION_MISMATCH(
          describeMarker(expected),
          'a line that is not a section marker',
        );
      }
      if (!sameMarker(marker, expected))
        throw errors.ARCHIVE_SECTION_MISMATCH(describeMarker(expected), describeMarker(marker));
      const name = describeMarker(expected);
      if (expected.section === 'end') {
        if (!(await lines.atEnd())) throw errors.ARCHIVE_CORRUPT('more data follows its end marker');
        break;
      }
      if (expected.section === 'items') {
        const spec = archive.collections.find((c) => c.id === expected.collection);
        if (!spec) throw new Error('marker of a collection not in the manifest');
        let last: string | undefined;
        const check: LineCheck = (text, line, index) => {
          const item = checkArchiveItem(text, line.length);
          if (typeof item === 'string') throw errors.ARCHIVE_ITEM_INVALID(name, index, item);
          if (last !== undefined && compareIds(last, item.id) >= 0)
            throw errors.ARCHIVE_ITEM_INVALID(
              name,
              index,
              `items must come in ascending _id order, each once (${JSON.stringify(item.id)} follows ${JSON.stringify(last)})`,
            );
          last = item.id;
          itemsDone += 1;
          return item.id;
        };
        const items = await sink.write(
          sectionStream(lines, name, spec.items, check, deps.policy, onLine, spares),
        );
        written.set(spec.id, { items, links: { count: 0, chunks: [] } });
        previous = { name, count: spec.items.count };
      } else {
        const spec =
          expected.section === 'links'
            ? archive.collections.find((c) => c.id === expected.collection)?.links
            : archive.incomingLinks;
        if (!spec) throw new Error('marker of a collection not in the manifest');
        const check: LineCheck = (text, _line, index) => {
          const link = checkArchiveLink(text);
          if (typeof link === 'string') throw errors.ARCHIVE_ITEM_INVALID(name, index, link);
          if (expected.section === 'links' && link.fromCollection !== expected.collection)
            throw errors.ARCHIVE_ITEM_INVALID(name, index, `it refers from ${link.fromCollection}`);
          if (expected.section === 'incomingLinks' && !inArchive.has(link.toCollection))
            throw errors.ARCHIVE_ITEM_INVALID(
              name,
              index,
              `it refers to ${link.toCollection}, not in the archive`,
            );
          return link.fromId;
        };
        const list = await sink.write(sectionStream(lines, name, spec, check, deps.policy, onLine, spares));
        if (expected.section === 'links') {
          const entry = written.get(expected.collection);
          if (entry) entry.links = list;
        } else {
          incoming = list;
        }
        previous = { name, count: spec.count };
      }
    }
    const collections: ManifestCollection[] = archive.collections.map((c) => {
      const content = written.get(c.id) ?? {
        items: { count: 0, chunks: [] },
        links: { count: 0, chunks: [] },
      };
      return {
        id: c.id,
        displayName: c.displayName,
        ...(c.definition && { definition: c.definition }),
        // The source site's generations mean nothing here; no backup of this site builds on an import.
        gen: 0,
        version: 0,
        itemCount: content.items.count,
        layers: [{ kind: 'full', upserts: content.items }],
        links: content.links,
      };
    });
    const snapshotAt = Date.parse(archive.snapshotDate);
    const { ref, manifest } = await publishManifest(deps.blobs, {
      format: MANIFEST_FORMAT,
      backupId: target.backupId,
      siteId: target.siteId,
      snapshotDate: new Date(snapshotAt).toISOString(),
      collections,
      incomingLinks: incoming,
    });
    return {
      manifest,
      ref,
      sizeBytes: chunksOf(manifest).reduce((n, c) => n + c.storedSize, 0) + ref.size,
      itemCount: itemsTotal,
      snapshotAt,
    };
  } finally {
    await lines.close();
  }
}
