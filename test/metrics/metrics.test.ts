/**
 * `GET /metrics` after real traffic, a backup, a deduplicating backup and webhook deliveries: read by a
 * strict Prometheus text parser (not prom-client), with the names, types and moved values Grafana relies
 * on, no per-site label, and refused without the metrics token or an admin key. Runs on either stack.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runJobs } from '../helpers/backup-helpers.js';
import { loopbackHooks, startTestEnv, testStack, type TestEnv, type TestSite } from '../helpers/harness.js';
import { parsePrometheusText, sumOf, type Family } from './prometheus-text.js';

const token = 'metrics-token-0123456789abcdef';
const P = '/wix-data/v2';

describe('GET /metrics', () => {
  let env: TestEnv;
  let site: TestSite;
  let receiver: Server;
  let families: Map<string, Family>;

  const scrape = async (authorization: string | undefined) =>
    env.call('GET', '/metrics', authorization ? { headers: { authorization } } : {});

  before(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      res.writeHead(req.url === '/fail' ? 500 : 200).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    env = await startTestEnv({ env: { SAFEKEEP_METRICS_TOKEN: token, ...loopbackHooks } });
    site = await env.createSite();
    for (const path of ['/ok', '/fail']) {
      const hook = await env.call('POST', '/_api/safekeep/v1/webhooks', {
        key: site.apiKey,
        body: {
          siteId: site.siteId,
          url: hooks + path,
          eventTypes: ['wix.data.v2.backup_backup_state_changed'],
        },
      });
      assert.equal(hook.status, 200, hook.text);
    }
    await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id: 'Things' } } });
    const items = Array.from({ length: 300 }, (_, i) => ({
      data: { _id: `t${i}`, n: i, text: 'x'.repeat(50) },
    }));
    const inserted = await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Things', dataItems: items },
    });
    assert.equal(inserted.status, 200, inserted.text);
    for (let i = 0; i < 3; i++) {
      const got = await env.call('GET', `${P}/items/t${i}?dataCollectionId=Things`, { key: site.apiKey });
      assert.equal(got.status, 200, got.text);
    }
    // Two backups; the second finds the chunks of a copy of the collection already stored by the first.
    assert.equal((await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} })).status, 200);
    await runJobs(env);
    await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id: 'Copy' } } });
    const copied = await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Copy', dataItems: items },
    });
    assert.equal(copied.status, 200, copied.text);
    assert.equal((await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} })).status, 200);
    await runJobs(env);
    const { deliverer } = env.safekeep.background();
    while ((await deliverer.runOnce()) > 0);

    const res = await scrape(`Bearer ${token}`);
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    families = parsePrometheusText(res.text);
  });
  after(async () => {
    await env.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('is refused without the metrics token or an admin key', async () => {
    assert.equal((await scrape(undefined)).status, 401);
    assert.equal((await scrape('Bearer not-the-metrics-token-at-all')).status, 401);
    const siteKey = await scrape(site.apiKey);
    assert.equal(siteKey.status, 403);
    assert.ok(siteKey.body.details.applicationError, siteKey.text);
    assert.equal((await scrape(env.adminKey)).status, 200);
    assert.equal((await scrape(token)).status, 200);
  });

  it('names every figure with its type', () => {
    const expected: Record<string, Family['type']> = {
      safekeep_jobs_finished_total: 'counter',
      safekeep_job_duration_seconds: 'histogram',
      safekeep_jobs_running: 'gauge',
      safekeep_job_items_done: 'gauge',
      safekeep_job_items_total: 'gauge',
      safekeep_backup_bytes_read_total: 'counter',
      safekeep_backup_bytes_stored_total: 'counter',
      safekeep_backup_bytes_deduplicated_total: 'counter',
      safekeep_webhook_deliveries_total: 'counter',
      safekeep_webhook_delivery_failures_total: 'counter',
      safekeep_http_request_duration_seconds: 'histogram',
      safekeep_storage_pool_connections: 'gauge',
      safekeep_process_nodejs_eventloop_lag_p99_seconds: 'gauge',
      safekeep_process_nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      assert.equal(families.get(name)?.type, type, `${name} is a ${type}`);
      assert.notEqual(families.get(name)?.help, '', `${name} has help`);
    }
  });

  it('counts the jobs, their durations and the bytes they read, stored and deduplicated', () => {
    assert.equal(sumOf(families, 'safekeep_jobs_finished_total', { kind: 'backup', status: 'READY' }), 2);
    const durations = 'safekeep_job_duration_seconds';
    assert.equal(sumOf(families, durations, { kind: 'backup' }, `${durations}_count`), 2);
    assert.ok(sumOf(families, durations, { kind: 'backup' }, `${durations}_sum`) > 0);
    const read = sumOf(families, 'safekeep_backup_bytes_read_total');
    const stored = sumOf(families, 'safekeep_backup_bytes_stored_total');
    const deduplicated = sumOf(families, 'safekeep_backup_bytes_deduplicated_total');
    assert.ok(stored > 0 && read > 0, `read ${read}, stored ${stored}`);
    assert.ok(deduplicated > 0 && deduplicated < read, `deduplicated ${deduplicated} of ${read}`);
    // Nothing runs now: the gauges of running jobs read 0 for both kinds.
    for (const kind of ['backup', 'restoration']) {
      assert.equal(sumOf(families, 'safekeep_jobs_running', { kind }), 0);
      assert.equal(
        families.get('safekeep_jobs_running')?.samples.some((s) => s.labels.kind === kind),
        true,
      );
    }
  });

  it('counts webhook deliveries and failures', () => {
    assert.ok(sumOf(families, 'safekeep_webhook_deliveries_total', { outcome: 'delivered' }) >= 2);
    const failed = sumOf(families, 'safekeep_webhook_deliveries_total', { outcome: 'failed' });
    assert.ok(failed >= 2);
    assert.equal(sumOf(families, 'safekeep_webhook_delivery_failures_total'), failed);
  });

  it('times HTTP requests by route pattern, never by URL, and has no per-site label', () => {
    const http = families.get('safekeep_http_request_duration_seconds');
    const routes = new Set(http?.samples.map((s) => s.labels.route));
    assert.ok(routes.has('/wix-data/v2/items/*'), [...routes].join());
    assert.ok(routes.has('/wix-data/v2/bulk/items/insert'), [...routes].join());
    assert.ok(![...routes].some((r) => r?.includes('t0') || r?.includes('?')), [...routes].join());
    const count = 'safekeep_http_request_duration_seconds_count';
    assert.ok(
      sumOf(
        families,
        'safekeep_http_request_duration_seconds',
        { route: '/wix-data/v2/bulk/items/insert', status_code: '200' },
        count,
      ) >= 1,
    );
    for (const family of families.values())
      for (const sample of family.samples) {
        assert.ok(!Object.values(sample.labels).includes(site.siteId), `${sample.name} names a site`);
        assert.ok(!('site' in sample.labels || 'siteId' in sample.labels), sample.name);
      }
  });

  it('shows the storage pool where it has one (PostgreSQL)', () => {
    const total = sumOf(families, 'safekeep_storage_pool_connections', { state: 'total' });
    if (testStack === 'scaleout') assert.ok(total >= 1, `pool total ${total}`);
    else assert.equal(families.get('safekeep_storage_pool_connections')?.samples.length, 0);
  });

  it('moves the event-loop delay figure', () => {
    assert.ok(sumOf(families, 'safekeep_process_nodejs_eventloop_lag_p99_seconds') > 0);
  });

  it('is what the Grafana dashboard in docs/ queries', () => {
    const dashboard = readFileSync('docs/grafana-dashboard.json', 'utf8');
    const named = new Set(
      [...dashboard.matchAll(/\bsafekeep_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')),
    );
    assert.ok(named.size >= 10, [...named].join());
    for (const name of named)
      assert.ok(families.has(name), `the dashboard queries ${name}, which /metrics lacks`);
  });
});
