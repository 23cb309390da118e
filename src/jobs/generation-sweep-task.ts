import type { GenerationSweeper } from '../ports/storage.js';

export interface Logger {
  info(obj: object, msg?: string): void;
  /** Falls back to `error` when absent. */
  warn?(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Reclaims retired item sets in the background: small batches back to back while there is work, then a
 * pause. Stops when `signal` aborts.
 */
export async function runGenerationSweeper(
  sweeper: GenerationSweeper,
  options: { signal: AbortSignal; logger: Logger; batchRows?: number; idleMs?: number },
): Promise<void> {
  const { signal, logger } = options;
  const batchRows = options.batchRows ?? 2000;
  const idleMs = options.idleMs ?? 5000;
  while (!signal.aborted) {
    let worked = 0;
    try {
      worked = await sweeper.sweep(batchRows);
    } catch (error) {
      logger.error({ err: error }, 'sweeping retired generations failed; will retry');
    }
    await sleep(worked > 0 ? 0 : idleMs, signal);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
