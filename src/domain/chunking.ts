/**
 * Content-defined chunking by item id (docs/ARCHITECTURE.md, "Backups"): items are read in id order and a
 * chunk ends after an item whose id hashes to a boundary, so inserting, editing or deleting one item
 * changes only the chunk around it; size bounds keep chunks neither tiny nor huge.
 */
export interface ChunkPolicy {
  /** A boundary falls after an item whose id hash has its low `boundaryBits` bits zero (mean 2^bits items). */
  readonly boundaryBits: number;
  /** No boundary before a chunk holds this many bytes. */
  readonly minBytes: number;
  /** A chunk ends at the first item that takes it to this many bytes, boundary or not. */
  readonly maxBytes: number;
}

export const defaultChunkPolicy: ChunkPolicy = {
  boundaryBits: 10,
  minBytes: 256 * 1024,
  maxBytes: 4 * 1024 * 1024,
};

/** FNV-1a over the id's UTF-16 code units: cheap, stable, and well spread for boundary choice. */
export function idHash(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function endsChunk(id: string, chunkBytes: number, policy: ChunkPolicy): boolean {
  if (chunkBytes >= policy.maxBytes) return true;
  if (chunkBytes < policy.minBytes) return false;
  return (idHash(id) & ((1 << policy.boundaryBits) - 1)) === 0;
}

/** A finished chunk: its bytes (in an ArrayBuffer of its own, so it can move between threads). */
export interface BuiltChunk {
  /** SHA-256 of `data`, hex. */
  readonly hash: string;
  readonly data: Uint8Array;
  readonly count: number;
  /** The key of the chunk's first and last line (item id; referring item id for links). */
  readonly firstId: string;
  readonly lastId: string;
}

/**
 * Collects NDJSON lines into chunks under a policy. `add` returns a finished chunk when the line ended one;
 * `finish` returns the last, partial chunk.
 */
export class ChunkBuilder {
  private buffer = new Uint8Array(1 << 20);
  private size = 0;
  private count = 0;
  private firstId = '';
  private lastId = '';

  constructor(
    private readonly policy: ChunkPolicy,
    private readonly sha256: (data: Uint8Array) => string,
    /** Where a finished chunk's bytes go: a buffer of at least `size` bytes (default: a new one). */
    private readonly allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
  ) {}

  add(key: string, line: string | Uint8Array): BuiltChunk | undefined {
    const needed = this.size + (typeof line === 'string' ? line.length * 3 : line.length) + 1;
    if (needed > this.buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.size));
      this.buffer = grown;
    }
    if (typeof line === 'string')
      this.size += encoder.encodeInto(line, this.buffer.subarray(this.size)).written;
    else {
      this.buffer.set(line, this.size);
      this.size += line.length;
    }
    this.buffer[this.size++] = 0x0a;
    if (this.count === 0) this.firstId = key;
    this.lastId = key;
    this.count += 1;
    return endsChunk(key, this.size, this.policy) ? this.take() : undefined;
  }

  finish(): BuiltChunk | undefined {
    return this.count > 0 ? this.take() : undefined;
  }

  private take(): BuiltChunk {
    const data = this.allocate(this.size).subarray(0, this.size);
    data.set(this.buffer.subarray(0, this.size));
    const chunk = {
      hash: this.sha256(data),
      data,
      count: this.count,
      firstId: this.firstId,
      lastId: this.lastId,
    };
    this.size = 0;
    this.count = 0;
    return chunk;
  }
}

const encoder = new TextEncoder();
