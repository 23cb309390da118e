import type { Logger } from '../ports/logger.js';
import type { GenerationSweeper } from '../ports/storage.js';
import { sleep } from './sleep.js';

/** Bin entries expired per transaction: each is a row and two generation updates, so a batch stays short. */
const BIN_BATCH = 100;

/**
 * One step of the sweeper: first a batch of expired bin entries (collections deleted before `binCutoff()`)
 * have their generations retired, then one batch of retired rows is deleted. Returns the work done (0 when
 * there was none).
 */
export async function sweepOnce(
  sweeper: GenerationSweeper,
  options: { batchRows?: number; binCutoff?: () => number } = {},
): Promise<number> {
  const expired = options.binCutoff ? await sweeper.expireBin(options.binCutoff(), BIN_BATCH) : 0;
  return expired + (await sweeper.sweep(options.batchRows ?? 2000));
}

/**
 * Reclaims retired item sets, and expires the collection bin, in the background: small batches back to
 * back while there is work, then a pause. Stops when `signal` aborts.
 */
export async function runGenerationSweeper(
  sweeper: GenerationSweeper,
  options: {
    signal: AbortSignal;
    logger: Logger;
    batchRows?: number;
    idleMs?: number;
    /** Collections deleted before this instant are purged from the bin; none are when undefined. */
    binCutoff?: () => number;
  },
): Promise<void> {
  const { signal, logger } = options;
  const idleMs = options.idleMs ?? 5000;
  while (!signal.aborted) {
    let worked = 0;
    try {
      worked = await sweepOnce(sweeper, options);
    } catch (error) {
      logger.error({ err: error }, 'sweeping retired generations failed; will retry');
    }
    await sleep(worked > 0 ? 0 : idleMs, signal);
  }
}
