import { type Readable, Transform, type TransformCallback } from 'node:stream';
import type { AdmissionConfig } from '../config.js';
import { errors } from '../contracts/errors.js';

/**
 * Token buckets, one per API key: a key may make `burst` requests at once, then `ratePerSecond` sustained.
 * Kept in this process's memory (each process of a scale-out deployment counts on its own).
 */
export class KeyRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    /** Monotonic milliseconds (not the deployment's clock, which tests move by days). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Takes one token of the key's bucket.
   * @throws AppError RATE_LIMITED with the whole seconds until the bucket holds a token again
   */
  take(keyId: string): void {
    if (this.ratePerSecond === 0) return;
    const now = this.now();
    const bucket = this.buckets.get(keyId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
      throw errors.RATE_LIMITED('REQUESTS_PER_SECOND', this.ratePerSecond, seconds);
    }
    bucket.tokens -= 1;
    this.buckets.set(keyId, bucket);
    if (this.buckets.size > 10_000) this.forgetFull(now);
  }

  /** Drops the buckets that have refilled: a missing bucket is a full one, so nothing changes. */
  private forgetFull(now: number): void {
    const refillMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [keyId, bucket] of this.buckets) if (now - bucket.at >= refillMs) this.buckets.delete(keyId);
  }
}

/**
 * How much a process holds at once for requests: bytes of bodies (received, parsed, then handled: a body
 * costs memory until its answer is sent) and, per site, bulk requests. Over either, the request is answered
 * 429 RATE_LIMITED at once, before its body is read, so that memory stays bounded and the other sites keep
 * their latency; a client retries after `Retry-After` (1 second).
 */
export class RequestBudget {
  private bodyBytes = 0;
  private readonly siteBulk = new Map<string, number>();

  constructor(private readonly limits: Pick<AdmissionConfig, 'bodyBytesInFlight' | 'siteBulkRequests'>) {}

  /** Bytes of bodies held now (for tests and figures). */
  get bodyBytesInFlight(): number {
    return this.bodyBytes;
  }

  /**
   * Reserves `bytes` of body until `release` is called. A body alone may always be received, however large
   * (the body limit bounds it), so that a limit below the body limit never refuses a request forever.
   * @throws AppError RATE_LIMITED
   */
  reserveBody(bytes: number): () => void {
    if (this.bodyBytes > 0 && this.bodyBytes + bytes > this.limits.bodyBytesInFlight) {
      throw errors.RATE_LIMITED('BODY_BYTES_IN_FLIGHT', this.limits.bodyBytesInFlight, 1);
    }
    this.bodyBytes += bytes;
    return once(() => {
      this.bodyBytes -= bytes;
    });
  }

  /**
   * Counts a body of unknown length (chunked) as it arrives. Past the bound, the rest of the body is read
   * and dropped (its client can then read the answer), and the stream fails with RATE_LIMITED at its end.
   * @returns the stream to parse instead of `body`
   */
  meterBody(body: Readable, onRelease: (release: () => void) => void): Readable {
    let held = 0;
    let refused = false;
    const release = once(() => {
      this.bodyBytes -= held;
      held = 0;
    });
    onRelease(release);
    const meter = new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        if (
          !refused &&
          this.bodyBytes > held &&
          this.bodyBytes + chunk.length > this.limits.bodyBytesInFlight
        ) {
          refused = true;
          release();
        }
        if (refused) return callback();
        held += chunk.length;
        this.bodyBytes += chunk.length;
        callback(null, chunk);
      },
      flush: (callback: TransformCallback) =>
        callback(
          refused ? errors.RATE_LIMITED('BODY_BYTES_IN_FLIGHT', this.limits.bodyBytesInFlight, 1) : undefined,
        ),
    });
    body.on('error', (error) => meter.destroy(error));
    return body.pipe(meter);
  }

  /**
   * Counts one bulk request of a site until `release` is called.
   * @throws AppError RATE_LIMITED when the site has its limit in flight already
   */
  enterBulk(siteId: string): () => void {
    const running = this.siteBulk.get(siteId) ?? 0;
    if (running >= this.limits.siteBulkRequests) {
      throw errors.RATE_LIMITED('SITE_BULK_REQUESTS', this.limits.siteBulkRequests, 1);
    }
    this.siteBulk.set(siteId, running + 1);
    return once(() => {
      const left = (this.siteBulk.get(siteId) ?? 1) - 1;
      if (left === 0) this.siteBulk.delete(siteId);
      else this.siteBulk.set(siteId, left);
    });
  }
}

/**
 * Reads a refused request's body to its end without keeping it, so that its client, still sending, can
 * read the answer: answered before its body is read, Node closes the connection under the sender (EPIPE).
 */
export function discardBody(raw: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (raw.readableEnded || raw.destroyed) return resolve();
    raw.once('end', resolve).once('close', resolve).once('error', resolve);
    raw.resume();
  });
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
