import { SafekeepApiError } from './safekeep-api-error.js';
import type { Progress } from './types.js';

/** How `waitForBackup` and `waitForRestoration` poll, and whom they tell about progress. */
export interface WaitOptions<T> {
  /**
   * Called whenever the server reports new progress for the PENDING job (never twice in a row with the
   * same figures), with the entity as last read. Not called for the final state: the wait resolves then.
   */
  readonly onProgress?: (progress: Progress, entity: T) => void;
  /** Time between two reads, in milliseconds (default 1000). */
  readonly intervalMs?: number;
  /** Stops the wait: it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The default time between two reads of a job's state. */
export const DEFAULT_WAIT_INTERVAL_MS = 1000;

/** Statuses that say "the server is busy, ask again" rather than "this request is wrong". */
const retryableStatuses = new Set([429, 503]);

/**
 * Reads an entity until its status leaves PENDING and returns it as then read. Reports progress changes;
 * rides out 429/503 answers (waiting at least as long as `Retry-After` says); any other error rejects.
 */
export async function waitUntilSettled<
  T extends { readonly status: string; readonly progress: Progress | null },
>(read: (signal: AbortSignal | undefined) => Promise<T>, options: WaitOptions<T>): Promise<T> {
  const { onProgress, signal } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS;
  let reported: Progress | undefined;
  for (;;) {
    signal?.throwIfAborted();
    let delayMs = intervalMs;
    try {
      const entity = await read(signal);
      if (entity.status !== 'PENDING') return entity;
      const progress = entity.progress;
      if (
        progress &&
        onProgress &&
        (reported?.itemsDone !== progress.itemsDone || reported.itemsTotal !== progress.itemsTotal)
      ) {
        reported = progress;
        onProgress(progress, entity);
      }
    } catch (error) {
      if (!(error instanceof SafekeepApiError && retryableStatuses.has(error.status))) throw error;
      delayMs = Math.max(intervalMs, (error.retryAfterSeconds ?? 0) * 1000);
    }
    await sleep(delayMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
