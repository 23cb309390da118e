/**
 * Reading a backup's items for given ids (item restores, an extension of backups-api.md §6, README "Restoring only some items"): which chunks can hold them,
 * from the first and last key each chunk's manifest entry records, so that restoring 100 items of a
 * million-item collection reads the few chunks around them instead of all of them.
 */
import type { ChunkRef } from '../domain/manifest.js';

/**
 * Ids in the order backups keep them: bytewise over their UTF-8, as the item tables sort them (SQLite's
 * BINARY, PostgreSQL's COLLATE "C"). JavaScript's `<` compares UTF-16 units, which differs above U+FFFF.
 */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A set of item ids, and which chunks may hold one of them. */
export class IdSelection {
  readonly ids: ReadonlySet<string>;
  /** The ids' UTF-8 bytes, sorted bytewise. */
  private readonly sorted: Buffer[];

  constructor(ids: Iterable<string>) {
    this.ids = new Set(ids);
    this.sorted = [...this.ids].map((id) => Buffer.from(id, 'utf8')).sort((a, b) => Buffer.compare(a, b));
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /**
   * Whether a chunk may hold one of the ids: its key range contains one. A chunk without a recorded range
   * (manifests of format 1) may hold anything and is read.
   */
  mayHold(ref: ChunkRef): boolean {
    if (ref.firstId === undefined || ref.lastId === undefined) return this.sorted.length > 0;
    const first = Buffer.from(ref.firstId, 'utf8');
    // The first selected id at or after the chunk's first key.
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.sorted[mid] as Buffer, first) < 0) lo = mid + 1;
      else hi = mid;
    }
    const candidate = this.sorted[lo];
    return candidate !== undefined && Buffer.compare(candidate, Buffer.from(ref.lastId, 'utf8')) <= 0;
  }

  /** The chunks of a list that may hold one of the ids, in their order. */
  chunksOf(refs: readonly ChunkRef[]): ChunkRef[] {
    return refs.filter((ref) => this.mayHold(ref));
  }
}
