/**
 * Writing a backup as a portable archive (docs/ARCHIVE-FORMAT.md), streamed: the stored chunks of a
 * collection with one full layer pass through as they are stored (each a zstd frame of item lines); a
 * collection with delta layers is merged chunk by chunk into new frames. Nothing is held but a chunk or two
 * at a time and, for a merged collection, the ids its deltas replaced or removed.
 */
import { createHash } from 'node:crypto';
import zstdNapi from 'zstd-napi';
import {
  ARCHIVE_FORMAT,
  compareIds,
  markerLine,
  type ArchiveBlock,
  type ArchiveCollection,
  type ArchiveManifest,
  type ArchiveMarker,
  type ArchiveSection,
} from '../domain/archive.js';
import type { BackupRecord } from '../domain/backup.js';
import type { ChunkList, ChunkRef, Manifest, ManifestCollection } from '../domain/manifest.js';
import type { BlobStore } from '../ports/blob-store.js';
import { fetchChunk, readVerifiedManifest } from './backup-verifier.js';
import type { ItemChunk, ItemRow } from './chunk-lines.js';
import type { CodecPool } from './codec-pool.js';
import { eachChunk } from './each-chunk.js';
import { chunkNamed, JobFailure, jobFailures } from './job-failure.js';

// zstd-napi is CommonJS: its classes arrive on the default export.
const { Compressor } = zstdNapi;

export interface ArchiveDeps {
  readonly blobs: BlobStore;
  readonly codec: CodecPool;
  readonly compressionLevel: number;
}

/** A prepared download: the manifest, its exact size when known, and the bytes to send. */
export interface PreparedArchive {
  readonly manifest: ArchiveManifest;
  /** The archive's length in bytes when every frame is known ahead (no collection needs merging). */
  readonly length: number | undefined;
  readonly body: AsyncGenerator<Buffer>;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A merged collection: ids a later layer decides (-1: deleted; else the layer whose version wins). */
type Winners = Map<string, number>;

function passThrough(list: ChunkList): ArchiveSection {
  return {
    count: list.count,
    bytes: list.chunks.reduce((n, c) => n + c.rawSize, 0),
    blocks: list.chunks.map((c) => ({ count: c.count, bytes: c.rawSize, sha256: c.hash })),
  };
}

/** A merged block's bytes and its number of lines. */
type Block = Buffer & { lines: number };

/** Merged lines are cut into blocks (and frames) of about this many bytes. */
const MERGED_BLOCK_BYTES = 1024 * 1024;

/** Writes a READY backup as an archive. */
export class ArchiveExporter {
  constructor(private readonly deps: ArchiveDeps) {}

  private openItems = async (siteId: string, ref: ChunkRef): Promise<ItemChunk> =>
    this.deps.codec.openItems(await fetchChunk(this.deps.blobs, siteId, ref), ref);

  /** Which ids the delta layers of a collection decide, as a restoration stages them. */
  private async winnersOf(siteId: string, entry: ManifestCollection, signal: AbortSignal): Promise<Winners> {
    const winners: Winners = new Map();
    for (let i = 1; i < entry.layers.length; i++) {
      const layer = entry.layers[i];
      if (!layer) continue;
      await eachChunk(
        layer.deletes?.chunks ?? [],
        async (ref) => this.deps.codec.openIds(await fetchChunk(this.deps.blobs, siteId, ref), ref),
        (ids) => {
          ids.forEach((id) => winners.set(id, -1));
          return Promise.resolve();
        },
        signal,
      );
      await eachChunk(
        layer.upserts.chunks,
        (ref) => this.openItems(siteId, ref),
        (chunk) => {
          chunk.rows.forEach((r) => winners.set(r[0], i));
          this.deps.codec.recycle(chunk.bytes);
          return Promise.resolve();
        },
        signal,
      );
    }
    return winners;
  }

  /**
   * The merged item lines of a layered collection, in ascending id order: the layers' chunks (each in id
   * order) are merged by id, and of each id only the copy of the layer that decides it is kept (the full
   * layer's when no delta touched it; none when a delta deleted it). Cut into blocks of about
   * MERGED_BLOCK_BYTES, the same way on every pass. One open chunk per layer is held.
   */
  private async *mergedBlocks(
    siteId: string,
    entry: ManifestCollection,
    winners: Winners,
    signal: AbortSignal,
  ): AsyncGenerator<Block> {
    interface Cursor {
      readonly layer: number;
      readonly refs: readonly ChunkRef[];
      next: number;
      chunk: ItemChunk | undefined;
      row: number;
    }
    const cursors: Cursor[] = entry.layers.map((layer, i) => ({
      layer: i,
      refs: layer.upserts.chunks,
      next: 0,
      chunk: undefined,
      row: 0,
    }));
    // Chunk bytes are not recycled here: kept lines point into them until their block is joined.
    const advance = async (c: Cursor): Promise<boolean> => {
      while (!c.chunk || c.row >= c.chunk.rows.length) {
        c.chunk = undefined;
        if (c.next >= c.refs.length) return false;
        c.chunk = await this.openItems(siteId, c.refs[c.next++] as ChunkRef);
        c.row = 0;
      }
      return true;
    };
    const idOf = (c: Cursor) => (c.chunk?.rows[c.row] as ItemRow)[0];
    let live: Cursor[] = [];
    for (const c of cursors) if (await advance(c)) live.push(c);
    let parts: Buffer[] = [];
    let size = 0;
    let lines = 0;
    const take = (): Block => {
      const block = Object.assign(Buffer.concat(parts, size), { lines });
      parts = [];
      size = 0;
      lines = 0;
      return block;
    };
    while (live.length > 0) {
      signal.throwIfAborted();
      let best = live[0] as Cursor;
      for (const c of live) if (compareIds(idOf(c), idOf(best)) < 0) best = c;
      const chunk = best.chunk as ItemChunk;
      const row = chunk.rows[best.row] as ItemRow;
      const winner = winners.get(row[0]);
      if (best.layer === 0 ? winner === undefined : winner === best.layer) {
        const bytes = Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
        const line = bytes.subarray(row[3], row[4] + 1);
        parts.push(line);
        size += line.length;
        lines += 1;
      }
      best.row += 1;
      if (!(await advance(best))) live = live.filter((c) => c !== best);
      if (size >= MERGED_BLOCK_BYTES) yield take();
    }
    if (lines > 0) yield take();
  }

  /**
   * Reads and checks the backup's manifest and works out the archive's, then returns the bytes to stream.
   * A merged collection is read twice: once here for its blocks' checksums, once while streaming.
   * @throws JobFailure INTEGRITY_* when the backup's stored content is damaged
   */
  async prepare(backup: BackupRecord, at: number, signal: AbortSignal): Promise<PreparedArchive> {
    const manifest = await readVerifiedManifest(this.deps.blobs, backup);
    const winners = new Map<string, Winners>();
    const collections: ArchiveCollection[] = [];
    for (const entry of manifest.collections) {
      let items: ArchiveSection;
      if (entry.layers.length === 1 && entry.layers[0]) {
        items = passThrough(entry.layers[0].upserts);
      } else {
        const decided = await this.winnersOf(backup.siteId, entry, signal);
        winners.set(entry.id, decided);
        const blocks: ArchiveBlock[] = [];
        for await (const kept of this.mergedBlocks(backup.siteId, entry, decided, signal))
          blocks.push({ count: kept.lines, bytes: kept.length, sha256: sha256(kept) });
        items = {
          count: blocks.reduce((n, b) => n + b.count, 0),
          bytes: blocks.reduce((n, b) => n + b.bytes, 0),
          blocks,
        };
      }
      collections.push({
        id: entry.id,
        displayName: entry.displayName,
        ...(entry.definition && { definition: entry.definition }),
        items,
        links: passThrough(entry.links),
      });
    }
    const archive: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      backupId: backup.id,
      siteId: backup.siteId,
      snapshotDate: manifest.snapshotDate,
      exportedDate: new Date(at).toISOString(),
      collections,
      incomingLinks: passThrough(manifest.incomingLinks),
    };
    // The small frames (manifest, markers) carry zstd's content checksum, so a flipped bit in them is
    // caught by any zstd reader.
    const cctx = new Compressor();
    cctx.setParameters({ compressionLevel: this.deps.compressionLevel, checksumFlag: true });
    const frame = (text: string) => cctx.compress(Buffer.from(`${text}\n`));
    const head = frame(JSON.stringify(archive));
    const markers = new Map<string, Buffer>();
    const markerFrame = (marker: ArchiveMarker) => {
      const line = markerLine(marker);
      let bytes = markers.get(line);
      if (!bytes) {
        bytes = frame(line);
        markers.set(line, bytes);
      }
      return bytes;
    };
    const stored = (refs: readonly ChunkRef[]) => refs.reduce((n, c) => n + c.storedSize, 0);
    const length =
      winners.size > 0
        ? undefined
        : head.length +
          manifest.collections.reduce(
            (n, c) =>
              n +
              markerFrame({ section: 'items', collection: c.id }).length +
              stored(c.layers[0]?.upserts.chunks ?? []) +
              markerFrame({ section: 'links', collection: c.id }).length +
              stored(c.links.chunks),
            0,
          ) +
          markerFrame({ section: 'incomingLinks' }).length +
          stored(manifest.incomingLinks.chunks) +
          markerFrame({ section: 'end' }).length;
    return {
      manifest: archive,
      length,
      body: this.body(backup.siteId, manifest, winners, head, markerFrame, signal),
    };
  }

  private async *body(
    siteId: string,
    manifest: Manifest,
    winners: ReadonlyMap<string, Winners>,
    head: Buffer,
    markerFrame: (marker: ArchiveMarker) => Buffer,
    signal: AbortSignal,
  ): AsyncGenerator<Buffer> {
    yield head;
    for (const entry of manifest.collections) {
      yield markerFrame({ section: 'items', collection: entry.id });
      const decided = winners.get(entry.id);
      if (decided) {
        for await (const kept of this.mergedBlocks(siteId, entry, decided, signal)) {
          const { stored } = await this.deps.codec.compress(kept, this.deps.compressionLevel);
          yield Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
        }
      } else {
        yield* this.storedFrames(siteId, entry.layers[0]?.upserts.chunks ?? [], 'items', signal);
      }
      yield markerFrame({ section: 'links', collection: entry.id });
      yield* this.storedFrames(siteId, entry.links.chunks, 'links', signal);
    }
    yield markerFrame({ section: 'incomingLinks' });
    yield* this.storedFrames(siteId, manifest.incomingLinks.chunks, 'links', signal);
    yield markerFrame({ section: 'end' });
  }

  /**
   * Stored chunks as they are, each checked first: its size and stored checksum, or (chunks stored before
   * stored checksums were recorded) fully decoded in the codec pool. A few are read ahead.
   */
  private async *storedFrames(
    siteId: string,
    refs: readonly ChunkRef[],
    kind: 'items' | 'links',
    signal: AbortSignal,
  ): AsyncGenerator<Buffer> {
    const check = async (ref: ChunkRef): Promise<Buffer> => {
      const fetched = await fetchChunk(this.deps.blobs, siteId, ref);
      const stored = Buffer.from(fetched.buffer, fetched.byteOffset, fetched.byteLength);
      if (stored.length !== ref.storedSize)
        throw jobFailures.INTEGRITY_SIZE_MISMATCH(chunkNamed(ref.hash), {
          found: stored.length,
          recorded: ref.storedSize,
        });
      if (ref.storedHash !== undefined) {
        if (sha256(stored) !== ref.storedHash)
          throw JobFailure.relay({
            code: 'INTEGRITY_CHECKSUM_MISMATCH',
            message: `${chunkNamed(ref.hash)}: its stored bytes do not match their recorded checksum.`,
          });
      } else {
        const copy = new Uint8Array(stored);
        if (kind === 'items') this.deps.codec.recycle((await this.deps.codec.openItems(copy, ref)).bytes);
        else await this.deps.codec.openLinks(copy, ref);
      }
      return stored;
    };
    const ahead: Promise<Buffer>[] = [];
    let next = 0;
    const fill = () => {
      while (ahead.length < 4 && next < refs.length) {
        const reading = check(refs[next++] as ChunkRef);
        reading.catch(() => undefined);
        ahead.push(reading);
      }
    };
    try {
      fill();
      while (ahead.length > 0) {
        signal.throwIfAborted();
        const frame = await (ahead.shift() as Promise<Buffer>);
        fill();
        yield frame;
      }
    } finally {
      await Promise.allSettled(ahead);
    }
  }
}
