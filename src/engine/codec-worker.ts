/**
 * Worker thread for the CPU-heavy parts of backups and restores: compressing chunks, and checking,
 * decompressing and parsing them. Every check that can fail has its own error code.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import zstd from 'zstd-napi/binding.js';
import { serveWorker, transferable } from '../threads/worker-channel.js';
import { parseItemLine, parseLinkLine, type ItemRow } from './chunk-lines.js';

// zstd-napi is CommonJS: its bindings arrive as the default export.
const { CCtx, DCtx, compressBound, getFrameContentSize } = zstd;
const cctx = new CCtx();
const dctx = new DCtx();

class IntegrityError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Scratch space for compressing and decompressing, grown as needed and kept (see compress). */
let scratch = new Uint8Array(0);

/** Refuses a stored chunk whose length is not the recorded one, with a code for each way it differs. */
function checkStoredSize(length: number, hash: string, storedSize: number): void {
  if (length === storedSize) return;
  const why = `chunk ${hash} is ${length} bytes, the manifest says ${storedSize}`;
  if (length === 0) throw new IntegrityError('INTEGRITY_OBJECT_EMPTY', why);
  throw new IntegrityError(
    length < storedSize ? 'INTEGRITY_OBJECT_TRUNCATED' : 'INTEGRITY_SIZE_MISMATCH',
    why,
  );
}

/**
 * Checks a stored chunk against its manifest entry and returns its raw bytes: in `into` when given and
 * large enough, else in the scratch buffer (valid until the next call).
 */
function verify(
  stored: Uint8Array,
  hash: string,
  rawSize: number,
  storedSize: number,
  storedHash: string | undefined,
  into?: Uint8Array,
): Uint8Array {
  checkStoredSize(stored.length, hash, storedSize);
  let declared: number | null;
  try {
    declared = getFrameContentSize(stored);
  } catch {
    throw new IntegrityError('INTEGRITY_DECOMPRESSION_FAILED', `chunk ${hash} is not a zstd frame`);
  }
  if (declared !== null && declared > rawSize) {
    throw new IntegrityError(
      'INTEGRITY_DECOMPRESSED_TOO_LARGE',
      `chunk ${hash} declares ${declared} bytes, the manifest says ${rawSize}`,
    );
  }
  if (declared !== rawSize) {
    throw new IntegrityError(
      'INTEGRITY_DECOMPRESSION_FAILED',
      `chunk ${hash} declares ${declared ?? 'no'} bytes, the manifest says ${rawSize}`,
    );
  }
  // Decompressing into a buffer of exactly the expected size refuses anything that would expand further
  // (a frame that lies about its size, or more frames after it): zstd stops when the buffer is full, so a
  // bomb costs at most the recorded size, itself at most MAX_CHUNK_RAW_BYTES.
  let raw: Uint8Array;
  if (into) {
    raw = into.subarray(0, rawSize);
  } else {
    if (scratch.length < rawSize) scratch = new Uint8Array(rawSize);
    raw = scratch.subarray(0, rawSize);
  }
  let written: number;
  try {
    written = dctx.decompress(raw, stored);
  } catch (error) {
    const message = (error as Error).message;
    throw new IntegrityError(
      /too small/i.test(message) ? 'INTEGRITY_DECOMPRESSED_TOO_LARGE' : 'INTEGRITY_DECOMPRESSION_FAILED',
      `chunk ${hash} does not decompress to its ${rawSize} bytes: ${message}`,
    );
  }
  if (written !== rawSize)
    throw new IntegrityError(
      'INTEGRITY_DECOMPRESSION_FAILED',
      `chunk ${hash} decompressed to ${written} bytes`,
    );
  const actual = createHash('sha256').update(raw).digest('hex');
  if (actual !== hash)
    throw new IntegrityError('INTEGRITY_CHECKSUM_MISMATCH', `chunk ${hash} hashes to ${actual}`);
  // Last, so that damage with a more specific code (size, frame, expansion, content) is reported as such.
  if (storedHash !== undefined && createHash('sha256').update(stored).digest('hex') !== storedHash) {
    throw new IntegrityError(
      'INTEGRITY_CHECKSUM_MISMATCH',
      `chunk ${hash} decodes correctly but its stored bytes do not match their recorded checksum`,
    );
  }
  return raw;
}

function lines(raw: Uint8Array): string[] {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  if (!text.endsWith('\n'))
    throw new IntegrityError('INTEGRITY_CONTENT_INVALID', 'chunk does not end with a newline');
  return text.slice(0, -1).split('\n');
}

/**
 * An item chunk's rows, each with the byte range of its JSON; every line is checked as parseItemLine
 * checks it. The bytes go back to the caller, so only small rows cross threads as JS values.
 */
function itemRows(raw: Uint8Array, hash: string, expectedCount: number): ItemRow[] {
  if (raw.length === 0 || raw[raw.length - 1] !== 0x0a)
    throw new IntegrityError('INTEGRITY_CONTENT_INVALID', 'chunk does not end with a newline');
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  // Pure ASCII (the usual case) decodes once, and string offsets are byte offsets.
  const ascii = isAscii(raw);
  const whole = ascii ? bytes.toString('latin1') : '';
  const rows: ItemRow[] = [];
  let start = 0;
  while (start < raw.length) {
    const end = raw.indexOf(0x0a, start);
    if (rows.length === expectedCount) break;
    try {
      const line = ascii ? whole.slice(start, end) : bytes.toString('utf8', start, end);
      const [id, createdAt, updatedAt] = parseItemLine(line);
      rows.push([id, createdAt, updatedAt, start, end]);
    } catch (error) {
      throw new IntegrityError(
        'INTEGRITY_CONTENT_INVALID',
        `chunk ${hash} holds a line that is not valid: ${(error as Error).message}`,
      );
    }
    start = end + 1;
  }
  if (rows.length !== expectedCount || start !== raw.length) {
    let count = 0;
    for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) count += 1;
    throw new IntegrityError(
      'INTEGRITY_CONTENT_INVALID',
      `chunk ${hash} holds ${count} lines, the manifest says ${expectedCount}`,
    );
  }
  return rows;
}

serveWorker({
  compress({ data, level, spare }: { data: Uint8Array; level: number; spare?: ArrayBuffer }) {
    // Buffers are kept and reused (a scratch buffer here, spares from the caller): a fresh one per chunk
    // left the allocator a trail it rarely gave back, and memory grew with the size of the backup.
    const bound = compressBound(data.length);
    if (scratch.length < bound) scratch = new Uint8Array(bound);
    const size = cctx.compress(scratch, data, level);
    const stored =
      spare && spare.byteLength >= size
        ? new Uint8Array(spare, 0, size)
        : new Uint8Array(Math.max(size, 1 << 20));
    stored.set(scratch.subarray(0, size));
    const view = stored.subarray(0, size);
    const storedHash = createHash('sha256').update(view).digest('hex');
    return transferable({ stored: view, raw: data, storedHash }, [view.buffer, data.buffer as ArrayBuffer]);
  },

  openItems({
    stored,
    hash,
    rawSize,
    storedSize,
    storedHash,
    expectedCount,
    spare,
  }: {
    stored: Uint8Array;
    hash: string;
    rawSize: number;
    storedSize: number;
    storedHash?: string;
    expectedCount: number;
    spare?: ArrayBuffer;
  }) {
    const into = new Uint8Array(spare && spare.byteLength >= rawSize ? spare : new ArrayBuffer(rawSize));
    const raw = verify(stored, hash, rawSize, storedSize, storedHash, into);
    const rows = itemRows(raw, hash, expectedCount);
    return transferable({ bytes: raw, rows }, [raw.buffer as ArrayBuffer]);
  },

  open({
    stored,
    hash,
    rawSize,
    storedSize,
    storedHash,
    kind,
    expectedCount,
  }: {
    stored: Uint8Array;
    hash: string;
    rawSize: number;
    storedSize: number;
    storedHash?: string;
    kind: 'links' | 'ids';
    expectedCount: number;
  }) {
    const raw = verify(stored, hash, rawSize, storedSize, storedHash);
    const all = lines(raw);
    if (all.length !== expectedCount) {
      throw new IntegrityError(
        'INTEGRITY_CONTENT_INVALID',
        `chunk ${hash} holds ${all.length} lines, the manifest says ${expectedCount}`,
      );
    }
    try {
      switch (kind) {
        case 'links':
          return { rows: all.map(parseLinkLine) };
        case 'ids':
          return {
            rows: all.map((line) => {
              const id = JSON.parse(line) as unknown;
              if (typeof id !== 'string') throw new Error('not an id');
              return id;
            }),
          };
      }
    } catch (error) {
      throw new IntegrityError(
        'INTEGRITY_CONTENT_INVALID',
        `chunk ${hash} holds a line that is not valid: ${(error as Error).message}`,
      );
    }
  },
});
