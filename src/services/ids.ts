import { randomFillSync, randomUUID } from 'node:crypto';

/** A random GUID for entities (sites, keys, backups). */
export function newGuid(): string {
  return randomUUID();
}

let lastMs = 0;
let sequence = 0;
// Random bytes are drawn 4 KiB at a time: one crypto call per 256 ids instead of one per id.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  return bytes;
}

/**
 * A time-ordered GUID (UUID version 7 layout) for generated item ids: consecutive inserts land next to
 * each other in the id index, which keeps bulk inserts fast. Ids stay unique and unguessable (74 random bits).
 */
export function newItemId(now: number = Date.now()): string {
  const bytes = random16();
  // Monotonic within a millisecond: a 12-bit counter in rand_a.
  if (now <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1;
  } else {
    lastMs = now;
    sequence = bytes.readUInt16BE(6) & 0x3ff;
  }
  const ms = lastMs;
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}
