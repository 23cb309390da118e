import { setTimeout as sleep } from 'node:timers/promises';
import { BlobStoreError } from '../../ports/blob-store.js';
import type { S3Failure } from './s3-errors.js';

/**
 * How transient failures are retried: at most `attempts` tries in all, waiting a random time between zero
 * and `min(maxDelayMs, baseDelayMs · 2^(n-1))` after the nth failure ("full jitter"), so that many
 * processes hitting one throttled bucket spread out instead of retrying in step.
 */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Six tries within about six seconds of waiting at worst: rides out a restart or a throttle, then gives up. */
export const defaultRetryPolicy: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 3200 };

/** The wait after the nth failed attempt (n ≥ 1). */
export function backoffDelay(policy: RetryPolicy, failedAttempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failedAttempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `run` until it succeeds, a permanent failure occurs, or the attempts are spent; then throws a
 * BlobStoreError of the failure's kind, saying what was tried and how often, with the last error as cause.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  what: string,
  run: (attempt: number) => Promise<T>,
  classify: (error: unknown) => S3Failure,
  random: () => number = Math.random,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (error) {
      const failure = classify(error);
      if (failure.transient && attempt < policy.attempts) {
        await sleep(backoffDelay(policy, attempt, random));
        continue;
      }
      if (error instanceof BlobStoreError && !failure.transient) throw error;
      const detail = failure.status === undefined ? failure.code : `${failure.status} ${failure.code}`;
      const tries = failure.transient ? ` (gave up after ${attempt} attempts)` : '';
      const message = error instanceof Error ? error.message : String(error);
      throw new BlobStoreError(failure.kind, `${what}: ${detail}: ${message}${tries}`, { cause: error });
    }
  }
}
