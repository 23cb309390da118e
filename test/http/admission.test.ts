/**
 * The per-key token bucket and the bounds on bodies and bulk requests in flight (src/http/admission.ts),
 * alone with a test clock, then through the HTTP app: a chunked body counted as it arrives, and a config
 * that refuses bad values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { AppError } from '../../src/contracts/errors.js';
import { KeyRateLimiter, RequestBudget } from '../../src/http/admission.js';
import { startTestEnv } from '../helpers/harness.js';

function refusal(action: () => unknown): AppError {
  try {
    action();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('KeyRateLimiter', () => {
  it('lets a key make its burst at once, then its rate, and says how long to wait', () => {
    let now = 0;
    const limiter = new KeyRateLimiter(2, 4, () => now);
    for (let i = 0; i < 4; i++) limiter.take('a');
    const refused = refusal(() => limiter.take('a'));
    assert.equal(refused.code, 'RATE_LIMITED');
    assert.deepEqual(refused.data, { limit: 'REQUESTS_PER_SECOND', value: 2, retryAfterSeconds: 1 });
    // Another key has its own bucket.
    limiter.take('b');
    now += 500; // one token back at 2 per second
    limiter.take('a');
    assert.equal(refusal(() => limiter.take('a')).code, 'RATE_LIMITED');
    now += 10_000; // refilled, never past the burst
    for (let i = 0; i < 4; i++) limiter.take('a');
    assert.equal(refusal(() => limiter.take('a')).code, 'RATE_LIMITED');
  });

  it('asks for whole seconds, as long as one token takes to come back', () => {
    let now = 0;
    const limiter = new KeyRateLimiter(0.5, 1, () => now);
    limiter.take('a');
    assert.equal(refusal(() => limiter.take('a')).data.retryAfterSeconds, 2);
    now += 1500;
    assert.equal(refusal(() => limiter.take('a')).data.retryAfterSeconds, 1);
  });

  it('does nothing at rate 0 (the limit turned off)', () => {
    const limiter = new KeyRateLimiter(0, 1, () => 0);
    for (let i = 0; i < 1000; i++) limiter.take('a');
  });
});

describe('RequestBudget', () => {
  it('holds body bytes up to its bound, and always lets one body in alone', () => {
    const budget = new RequestBudget({ bodyBytesInFlight: 100, siteBulkRequests: 2 });
    const big = budget.reserveBody(150);
    const refused = refusal(() => budget.reserveBody(1));
    assert.deepEqual(refused.data, { limit: 'BODY_BYTES_IN_FLIGHT', value: 100, retryAfterSeconds: 1 });
    big();
    big(); // released once only
    assert.equal(budget.bodyBytesInFlight, 0);
    const a = budget.reserveBody(60);
    budget.reserveBody(40);
    assert.equal(refusal(() => budget.reserveBody(1)).code, 'RATE_LIMITED');
    a();
    budget.reserveBody(60);
    assert.equal(budget.bodyBytesInFlight, 100);
  });

  it("counts each site's bulk requests apart", () => {
    const budget = new RequestBudget({ bodyBytesInFlight: 100, siteBulkRequests: 2 });
    const first = budget.enterBulk('s1');
    budget.enterBulk('s1');
    const refused = refusal(() => budget.enterBulk('s1'));
    assert.deepEqual(refused.data, { limit: 'SITE_BULK_REQUESTS', value: 2, retryAfterSeconds: 1 });
    budget.enterBulk('s2');
    first();
    budget.enterBulk('s1');
  });
});

describe('admission through the HTTP app', () => {
  it('reads the limits from the environment and refuses bad ones', () => {
    assert.deepEqual(loadConfig({}, '/srv').admission, {
      ratePerSecond: 50,
      burst: 100,
      bodyBytesInFlight: 64 * 1024 * 1024,
      siteBulkRequests: 2,
    });
    const set = loadConfig(
      {
        SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
        SAFEKEEP_RATE_LIMIT_BURST: '7',
        SAFEKEEP_BODY_MEMORY_MB: '256',
        SAFEKEEP_SITE_BULK_REQUESTS: '5',
      },
      '/srv',
    ).admission;
    assert.deepEqual(set, {
      ratePerSecond: 0,
      burst: 7,
      bodyBytesInFlight: 256 * 1024 * 1024,
      siteBulkRequests: 5,
    });
    assert.throws(
      () => loadConfig({ SAFEKEEP_RATE_LIMIT_BURST: '0', SAFEKEEP_BODY_MEMORY_MB: 'lots' }, '/srv'),
      /SAFEKEEP_RATE_LIMIT_BURST must be an integer from 1[\s\S]*SAFEKEEP_BODY_MEMORY_MB must be an integer/,
    );
  });

  it('counts a chunked body as it arrives and refuses it past the bound while another body is held', async () => {
    // 1 MB of bodies in flight: a held bulk request's body takes most of it.
    const env = await startTestEnv({ env: { SAFEKEEP_BODY_MEMORY_MB: '1' } });
    try {
      const site = await env.createSite();
      const headers = { authorization: site.apiKey, 'wix-site-id': site.siteId };
      const created = await env.call('POST', '/wix-data/v2/collections', {
        key: site.apiKey,
        body: { collection: { id: 'notes' } },
      });
      assert.equal(created.status, 200, created.text);
      const port = await env.listen();
      const base = `http://127.0.0.1:${port}/wix-data/v2`;
      const item = (text: string) =>
        JSON.stringify({ dataCollectionId: 'notes', dataItem: { data: { text } } });
      const chunked = (body: string) =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            const bytes = new TextEncoder().encode(body);
            for (let at = 0; at < bytes.length; at += 64 * 1024)
              controller.enqueue(bytes.slice(at, at + 64 * 1024));
            controller.close();
          },
        });
      const bulk = JSON.stringify({
        dataCollectionId: 'notes',
        dataItems: [{ data: { text: 'z'.repeat(400 * 1024) } }, { data: { text: 'z'.repeat(400 * 1024) } }],
      });
      const send = (body: string, path = '/items') =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: chunked(body),
          duplex: 'half',
        });
      // Alone, a chunked body is taken.
      const alone = await send(item('x'.repeat(300 * 1024)));
      assert.equal(alone.status, 200, await alone.text());

      // Beside a body of known length that holds most of the bound and is still being sent.
      let finish: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (finish = resolve));
      const heldBody = item('y'.repeat(400 * 1024));
      const first = fetch(`${base}/items`, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(heldBody.length),
        },
        body: new ReadableStream<Uint8Array>({
          async start(controller) {
            const bytes = new TextEncoder().encode(heldBody);
            controller.enqueue(bytes.slice(0, 1000));
            await held;
            controller.enqueue(bytes.slice(1000));
            controller.close();
          },
        }),
        duplex: 'half',
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const refused = await send(bulk, '/bulk/items/insert');
      const text = await refused.text();
      assert.equal(refused.status, 429, text);
      assert.equal(JSON.parse(text).details.applicationError.data.limit, 'BODY_BYTES_IN_FLIGHT');
      assert.equal(refused.headers.get('retry-after'), '1');
      finish();
      assert.equal((await first).status, 200);
      const after = await send(bulk, '/bulk/items/insert');
      assert.equal(after.status, 200, await after.text());
    } finally {
      await env.close();
    }
  });
});
