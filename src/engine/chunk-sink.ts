import type { BuiltChunk } from '../domain/chunking.js';
import type { ChunkList, ChunkRef } from '../domain/manifest.js';
import { chunkKey } from '../domain/manifest.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { ChunkStream } from '../ports/snapshot-source.js';
import type { CodecPool } from './codec-pool.js';
import type { ChunkObserver } from './engine-deps.js';

/**
 * Writes chunk streams to the blob store: each new chunk is compressed in the codec pool and stored under
 * its hash; chunks already known to be stored (named by a READY manifest) are not written again. Work is
 * pipelined: the next chunk is read while earlier ones compress and upload.
 */
export class ChunkSink {
  /** Bytes stored by chunks this sink wrote or reused, by hash (to size the backup). */
  readonly used = new Map<string, number>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly codec: CodecPool,
    private readonly siteId: string,
    private readonly level: number,
    /** Chunks known to be stored already. */
    private readonly known: Map<string, ChunkRef>,
    private readonly signal: AbortSignal,
    private readonly afterChunk: () => Promise<void> = () => Promise.resolve(),
    private readonly depth: number = 8,
    private readonly observer?: ChunkObserver,
  ) {}

  /** Drains a stream into stored chunks, in order. `onChunk` is told how many entries each chunk held. */
  async write(stream: ChunkStream, onChunk: (count: number) => void = () => undefined): Promise<ChunkList> {
    const inFlight: Promise<ChunkRef>[] = [];
    const refs: ChunkRef[] = [];
    try {
      for (;;) {
        this.signal.throwIfAborted();
        const chunk = await stream.next();
        if (!chunk) break;
        const storing = this.store(chunk, stream);
        // Awaited in order below; marked handled now so an early failure is not reported as unhandled.
        storing.catch(() => undefined);
        inFlight.push(storing);
        onChunk(chunk.count);
        if (inFlight.length >= this.depth) {
          refs.push(await (inFlight.shift() as Promise<ChunkRef>));
          await this.afterChunk();
        }
      }
      for (const pending of inFlight.splice(0)) {
        refs.push(await pending);
        await this.afterChunk();
      }
    } finally {
      await Promise.allSettled(inFlight);
      await stream.close();
    }
    return { count: refs.reduce((n, r) => n + r.count, 0), chunks: refs };
  }

  private async store(chunk: BuiltChunk, stream: ChunkStream): Promise<ChunkRef> {
    const { hash, data, count } = chunk;
    const keys = { firstId: chunk.firstId, lastId: chunk.lastId };
    const known = this.known.get(hash);
    if (known && known.rawSize === data.length) {
      this.used.set(hash, known.storedSize);
      this.observer?.deduplicated(data.length);
      stream.recycle?.(data);
      return { ...known, count, ...keys };
    }
    const rawSize = data.length;
    const { stored, raw, storedHash } = await this.codec.compress(data, this.level);
    stream.recycle?.(raw);
    await this.blobs.put(chunkKey(this.siteId, hash), stored);
    this.codec.recycle(stored);
    const ref = { hash, count, rawSize, storedSize: stored.length, storedHash, ...keys };
    this.observer?.stored(rawSize, stored.length);
    this.known.set(hash, ref);
    this.used.set(hash, stored.length);
    return ref;
  }

  /** Records chunks a reused layer names (they count toward the backup's size). */
  reuse(lists: readonly (ChunkList | undefined)[]): void {
    for (const list of lists) for (const c of list?.chunks ?? []) this.used.set(c.hash, c.storedSize);
  }

  get storedBytes(): number {
    let total = 0;
    for (const size of this.used.values()) total += size;
    return total;
  }
}
