import type { ChunkRef } from '../domain/manifest.js';

/** Reads chunks in order with a little read-ahead; `use` sees each opened chunk. */
export async function eachChunk<T>(
  refs: readonly ChunkRef[],
  open: (ref: ChunkRef) => Promise<T>,
  use: (chunk: T) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const ahead: Promise<T>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < 6 && next < refs.length) {
      const reading = open(refs[next++] as ChunkRef);
      // Read-ahead may fail before its turn: mark it handled now, it is awaited (and rethrown) in order.
      reading.catch(() => undefined);
      ahead.push(reading);
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      signal.throwIfAborted();
      const chunk = await (ahead.shift() as Promise<T>);
      fill();
      await use(chunk);
    }
  } finally {
    await Promise.allSettled(ahead);
  }
}
