import type { BuiltChunk, ChunkPolicy } from '../../../domain/chunking.js';
import type {
  ChunkStream,
  FrozenCollection,
  ItemSnapshot,
  SnapshotCollection,
  SnapshotSource,
} from '../../../ports/snapshot-source.js';
import { WorkerChannel } from '../../../threads/worker-channel.js';

class WorkerSnapshot implements ItemSnapshot {
  constructor(
    private readonly channel: WorkerChannel,
    private readonly release: (channel: WorkerChannel, healthy: boolean) => Promise<void>,
    readonly takenAt: number,
    readonly collections: readonly SnapshotCollection[],
    readonly linkTargets: ReadonlyMap<number, string>,
    private readonly policy: ChunkPolicy,
  ) {}

  private async stream(op: string, payload: Record<string, unknown>): Promise<ChunkStream> {
    const stream = await this.channel.call<number>(op, { ...payload, policy: this.policy });
    let returned: ArrayBuffer[] = [];
    return {
      next: async () => {
        const recycle = returned;
        returned = [];
        return (
          (await this.channel.call<BuiltChunk | null>('next', { stream, recycle }, recycle)) ?? undefined
        );
      },
      recycle: (data) => {
        if (data.byteLength > 0) returned.push(data.buffer as ArrayBuffer);
      },
      close: async () => {
        await this.channel.call('closeStream', { stream });
      },
    };
  }

  items(gen: number, since?: number): Promise<ChunkStream> {
    return this.stream('items', { gen, since: since ?? null });
  }

  count(gen: number): Promise<number> {
    return this.channel.call('count', { gen });
  }

  changeCounts(gen: number, since: number): Promise<{ upserts: number; deletes: number }> {
    return this.channel.call('changeCounts', { gen, since });
  }

  deletions(gen: number, since: number): Promise<ChunkStream> {
    return this.stream('deletions', { gen, since });
  }

  links(fromGen: number, toGens: readonly number[]): Promise<ChunkStream> {
    return this.stream('links', { fromGen, toGens });
  }

  async close(): Promise<void> {
    let healthy = true;
    try {
      await this.channel.call('end');
    } catch {
      healthy = false;
    }
    await this.release(this.channel, healthy);
  }
}

/**
 * Snapshots of the database, each read in a worker thread on its own connection (the loop of
 * snapshot-worker.ts over the engine's reader: `sqlite-snapshot-worker.ts`, `postgres-snapshot-worker.ts`).
 * Threads are kept for the next snapshot (starting one and opening the database costs about 100 ms): as
 * many as were ever open at once (a worker running several jobs at a time keeps one per job), and at least
 * two.
 */
export class WorkerSnapshotSource implements SnapshotSource {
  private readonly idle: WorkerChannel[] = [];
  private open = 0;
  private keep = 2;

  /** `url` is the engine's reader thread; `workerData` goes to it (what it needs to connect). */
  constructor(
    private readonly url: URL,
    private readonly workerData: unknown,
    /** The storage's error boundary, for driver errors raised in the reader thread. */
    private readonly translateError: (error: Error) => unknown = (error) => error,
  ) {}

  private acquire(): WorkerChannel {
    this.open += 1;
    this.keep = Math.max(this.keep, this.open);
    return (
      this.idle.pop() ??
      new WorkerChannel(
        this.url,
        this.workerData,
        { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
        this.translateError,
      )
    );
  }

  private readonly release = async (channel: WorkerChannel, healthy: boolean): Promise<void> => {
    this.open -= 1;
    if (healthy && this.idle.length < this.keep) this.idle.push(channel);
    else await channel.close();
  };

  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((c) => c.close()));
  }

  async openLive(
    siteId: string,
    collectionIds: readonly string[] | null,
    policy: ChunkPolicy,
    at: number,
  ): Promise<ItemSnapshot> {
    const channel = this.acquire();
    try {
      const opened = await channel.call<{
        collections: SnapshotCollection[];
        linkTargets: [number, string][];
      }>('beginLive', {
        siteId,
        collectionIds,
      });
      return new WorkerSnapshot(
        channel,
        this.release,
        at,
        opened.collections,
        new Map(opened.linkTargets),
        policy,
      );
    } catch (error) {
      this.open -= 1;
      await channel.close();
      throw error;
    }
  }

  async openFrozen(
    frozen: readonly FrozenCollection[],
    linkTargets: ReadonlyMap<number, string>,
    policy: ChunkPolicy,
    at: number,
  ): Promise<ItemSnapshot> {
    const channel = this.acquire();
    try {
      const opened = await channel.call<{ collections: SnapshotCollection[] }>('beginFrozen', {
        frozen,
        targets: [...linkTargets],
      });
      return new WorkerSnapshot(channel, this.release, at, opened.collections, linkTargets, policy);
    } catch (error) {
      this.open -= 1;
      await channel.close();
      throw error;
    }
  }
}
