import type { BuiltChunk, ChunkPolicy } from '../../../domain/chunking.js';
import type {
  ChunkStream,
  ItemSnapshot,
  SnapshotCollection,
  SnapshotSource,
} from '../../../ports/snapshot-source.js';
import { WorkerChannel } from '../../../threads/worker-channel.js';

const workerUrl = new URL('./sqlite-snapshot-worker.js', import.meta.url);

class WorkerSnapshot implements ItemSnapshot {
  constructor(
    private readonly channel: WorkerChannel,
    readonly takenAt: number,
    readonly collections: readonly SnapshotCollection[],
    readonly linkTargets: ReadonlyMap<number, string>,
    private readonly policy: ChunkPolicy,
  ) {}

  private async stream(op: string, payload: Record<string, unknown>): Promise<ChunkStream> {
    const stream = await this.channel.call<number>(op, { ...payload, policy: this.policy });
    return {
      next: async () => (await this.channel.call<BuiltChunk | null>('next', { stream })) ?? undefined,
      close: async () => {
        await this.channel.call('closeStream', { stream });
      },
    };
  }

  items(gen: number, since?: number): Promise<ChunkStream> {
    return this.stream('items', { gen, since: since ?? null });
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
    try {
      await this.channel.call('end');
    } finally {
      await this.channel.close();
    }
  }
}

/** Snapshots of the SQLite database, each read in a worker thread on its own connection. */
export class SqliteSnapshotSource implements SnapshotSource {
  constructor(private readonly path: string) {}

  async openLive(
    siteId: string,
    collectionIds: readonly string[] | null,
    policy: ChunkPolicy,
    at: number,
  ): Promise<ItemSnapshot> {
    const channel = new WorkerChannel(workerUrl, { path: this.path });
    try {
      const opened = await channel.call<{
        collections: SnapshotCollection[];
        linkTargets: [number, string][];
      }>('beginLive', {
        siteId,
        collectionIds,
      });
      return new WorkerSnapshot(channel, at, opened.collections, new Map(opened.linkTargets), policy);
    } catch (error) {
      await channel.close();
      throw error;
    }
  }

  async openFrozen(
    frozen: readonly { collectionId: string; displayName: string; gen: number | null; version: number }[],
    linkTargets: ReadonlyMap<number, string>,
    policy: ChunkPolicy,
    at: number,
  ): Promise<ItemSnapshot> {
    const channel = new WorkerChannel(workerUrl, { path: this.path });
    try {
      const opened = await channel.call<{ collections: SnapshotCollection[] }>('beginFrozen', {
        frozen,
        targets: [...linkTargets],
      });
      return new WorkerSnapshot(channel, at, opened.collections, linkTargets, policy);
    } catch (error) {
      await channel.close();
      throw error;
    }
  }
}
