/** The dashboard's static files: content types, caching, security headers, and no way out of its folders. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildHttpApp } from '../../src/http/app.js';
import { registerDashboardRoutes } from '../../src/http/routes/dashboard-routes.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';

describe('dashboard files', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
  });
  after(() => env.close());

  it('serves the page with a strict CSP, and revalidates with an ETag', async () => {
    const page = await env.call('GET', '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "frame-ancestors 'none'",
      "form-action 'none'",
    ])
      assert.ok(csp.includes(directive), csp);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(page.text, /<script type="module" src="\/ui\/web\/src\/main\.js">/);
    assert.doesNotMatch(page.text, /<script>|\son\w+=/i, 'no inline script or handler');

    const again = await env.call('GET', '/', { headers: { 'if-none-match': String(page.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    const head = await env.app.inject({ method: 'HEAD', url: '/' });
    assert.equal(head.statusCode, 200);
  });

  it('serves the styles and the compiled modules of the dashboard and the SDK', async () => {
    const css = await env.call('GET', '/ui/styles.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    for (const path of ['/ui/web/src/main.js', '/ui/src/sdk/index.js', '/ui/src/contracts/scopes.js']) {
      const js = await env.call('GET', path);
      assert.equal(js.status, 200, `${path}: run npm run build first`);
      assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(js.headers['content-security-policy'] !== undefined, true);
    }
    const sdk = await env.call('GET', '/ui/src/sdk/http-transport.js');
    assert.doesNotMatch(sdk.text, /from ['"]node:/, 'the SDK the browser loads imports no Node module');
  });

  it('answers every attempt to leave its folders, or to reach a file it does not serve, with a 404', async () => {
    const attempts = [
      '/ui/..%2fpackage.json',
      '/ui/..%2F..%2Fpackage.json',
      '/ui/%2e%2e/package.json',
      '/ui/..%252fpackage.json',
      '/ui/%252e%252e%252fpackage.json',
      '/ui/styles.css%00.html',
      '/ui/index.html%00',
      '/ui/../package.json',
      '/ui/web/../../package.json',
      '/ui//etc/passwd',
      '/ui/%2fetc%2fpasswd',
      '/ui/..\\package.json',
      '/ui/.tsbuildinfo',
      '/ui/web/src/main.ts',
      '/ui/src/sdk/README.md',
      '/ui/missing.js',
      '/ui/',
    ];
    for (const url of attempts) {
      const res = await env.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, `${url} → ${res.statusCode} ${res.body.slice(0, 100)}`);
      assert.equal(assertErrorShape(res.json()), 'ROUTE_NOT_FOUND', url);
    }
  });

  it('never follows a link out of its folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-ui-'));
    const outside = mkdtempSync(join(tmpdir(), 'safekeep-outside-'));
    try {
      writeFileSync(join(outside, 'secret.js'), 'secret');
      mkdirSync(join(dir, 'web'));
      writeFileSync(join(dir, 'web', 'ok.js'), 'ok');
      symlinkSync(join(outside, 'secret.js'), join(dir, 'leak.js'));
      symlinkSync(outside, join(dir, 'out'));
      const app = buildHttpApp({
        auth: env.safekeep.services.auth,
        bodyLimit: 1024,
        logger: false,
        routes: (routes) => registerDashboardRoutes(routes, { dirs: [dir] }),
      });
      assert.equal((await app.inject({ method: 'GET', url: '/ui/web/ok.js' })).body, 'ok');
      for (const url of ['/ui/leak.js', '/ui/out/secret.js']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404, url);
      }
      await app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
