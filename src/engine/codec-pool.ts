import { availableParallelism } from 'node:os';
import type { BackupLink } from '../domain/backup.js';
import type { ErrorCode } from '../contracts/errors.js';
import type { ChunkRef } from '../domain/manifest.js';
import { WorkerCallError, WorkerChannel } from '../threads/worker-channel.js';
import type { ItemChunk } from './chunk-lines.js';
import { JobFailure } from './job-failure.js';

const workerUrl = new URL('./codec-worker.js', import.meta.url);

/**
 * A pool of worker threads that compress chunks, and verify, decompress and parse them, so the event loop
 * never does that work.
 */
export class CodecPool {
  private readonly channels: WorkerChannel[];
  /** Buffers of stored chunks the caller is done with, to compress into again. */
  private readonly spares: ArrayBuffer[] = [];

  constructor(size: number = Math.max(1, availableParallelism() - 1)) {
    this.channels = Array.from(
      { length: size },
      () =>
        new WorkerChannel(workerUrl, undefined, { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 }),
    );
  }

  private pick(): WorkerChannel {
    return this.channels.reduce((best, c) => (c.busy < best.busy ? c : best));
  }

  /**
   * Compresses a chunk. `data` is moved to the worker, not copied, and comes back as `raw` (the same bytes)
   * so its buffer can be reused; hand `stored` back with {@link recycle} once it is written.
   */
  async compress(
    data: Uint8Array,
    level: number,
  ): Promise<{ stored: Uint8Array; raw: Uint8Array; storedHash: string }> {
    const spare = this.spares.pop();
    const transfer = [data.buffer as ArrayBuffer, ...(spare ? [spare] : [])];
    return this.pick().call('compress', { data, level, spare }, transfer);
  }

  /** Gives back a buffer this pool returned (a stored chunk once written, an item chunk once staged). */
  recycle(buffer: Uint8Array): void {
    if (buffer.byteLength > 0 && this.spares.length < 16) this.spares.push(buffer.buffer as ArrayBuffer);
  }

  private async verified<T>(
    op: 'open' | 'openItems',
    stored: Uint8Array,
    ref: ChunkRef,
    extra: Record<string, unknown>,
    transfer: ArrayBuffer[] = [],
  ): Promise<T> {
    try {
      return await this.pick().call<T>(
        op,
        {
          stored,
          hash: ref.hash,
          rawSize: ref.rawSize,
          storedSize: ref.storedSize,
          storedHash: ref.storedHash,
          expectedCount: ref.count,
          ...extra,
        },
        [stored.buffer as ArrayBuffer, ...transfer],
      );
    } catch (error) {
      if (error instanceof WorkerCallError && error.code?.startsWith('INTEGRITY_')) {
        throw JobFailure.relay({ code: error.code as ErrorCode, message: error.message });
      }
      throw error;
    }
  }

  private async open<T>(stored: Uint8Array, ref: ChunkRef, kind: 'links' | 'ids'): Promise<T[]> {
    return (await this.verified<{ rows: T[] }>('open', stored, ref, { kind })).rows;
  }

  /**
   * Verifies a stored item chunk and returns its bytes and rows; hand `bytes` back with {@link recycle}
   * once the items are written. @throws JobFailure INTEGRITY_*
   */
  openItems(stored: Uint8Array, ref: ChunkRef): Promise<ItemChunk> {
    const fit = this.spares.findIndex((b) => b.byteLength >= ref.rawSize);
    const spare = fit >= 0 ? this.spares.splice(fit, 1)[0] : undefined;
    return this.verified('openItems', stored, ref, { spare }, spare ? [spare] : []);
  }

  openLinks(stored: Uint8Array, ref: ChunkRef): Promise<BackupLink[]> {
    return this.open<BackupLink>(stored, ref, 'links');
  }

  openIds(stored: Uint8Array, ref: ChunkRef): Promise<string[]> {
    return this.open<string>(stored, ref, 'ids');
  }

  async close(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.close()));
  }
}
