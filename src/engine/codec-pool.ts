import { availableParallelism } from 'node:os';
import type { BackupLink } from '../domain/backup.js';
import type { ChunkRef } from '../domain/manifest.js';
import { WorkerCallError, WorkerChannel } from '../threads/worker-channel.js';
import type { ItemLine } from './chunk-lines.js';
import { JobFailure } from './job-failure.js';

const workerUrl = new URL('./codec-worker.js', import.meta.url);

/**
 * A pool of worker threads that compress chunks, and verify, decompress and parse them, so the event loop
 * never does that work.
 */
export class CodecPool {
  private readonly channels: WorkerChannel[];

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

  async compress(data: Uint8Array, level: number): Promise<Uint8Array> {
    const { stored } = await this.pick().call<{ stored: Uint8Array }>('compress', { data, level });
    return stored;
  }

  private async open<T>(stored: Uint8Array, ref: ChunkRef, kind: 'items' | 'links' | 'ids'): Promise<T[]> {
    try {
      const { rows } = await this.pick().call<{ rows: T[] }>(
        'open',
        {
          stored,
          hash: ref.hash,
          rawSize: ref.rawSize,
          storedSize: ref.storedSize,
          kind,
          expectedCount: ref.count,
        },
        [stored.buffer as ArrayBuffer],
      );
      return rows;
    } catch (error) {
      if (error instanceof WorkerCallError && error.code?.startsWith('INTEGRITY_')) {
        throw new JobFailure(error.code as never, error.message);
      }
      throw error;
    }
  }

  /** Verifies a stored item chunk and returns its items. @throws JobFailure INTEGRITY_* */
  openItems(stored: Uint8Array, ref: ChunkRef): Promise<ItemLine[]> {
    return this.open<ItemLine>(stored, ref, 'items');
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
