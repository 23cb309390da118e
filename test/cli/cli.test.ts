/** The CLI, run as a subprocess exactly as `npx safekeep …` runs it. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const bin = join(process.cwd(), 'bin', 'safekeep.js');

describe('safekeep CLI', () => {
  let dataDir: string;
  const env = () => ({ ...process.env, SAFEKEEP_DATA_DIR: dataDir, SAFEKEEP_LOG_LEVEL: 'warn' });
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { env: env(), encoding: 'utf8' });

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'safekeep-cli-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  let localAdminKey = '';

  it('creates an admin key in the data directory without a server (--local)', () => {
    const admin = run('key', 'create', '--admin', '--local', '--json');
    assert.equal(admin.status, 0, admin.stderr);
    const parsed = JSON.parse(admin.stdout) as { apiKey: string; scopes: string[] };
    assert.deepEqual(parsed.scopes, ['admin']);
    assert.match(parsed.apiKey, /^sk_/);
    localAdminKey = parsed.apiKey;
  });

  it('explains usage mistakes and configuration problems with exit code 2', () => {
    const noName = run('site', 'create');
    assert.equal(noName.status, 2);
    assert.match(noName.stderr, /--name/);
    const unknown = run('frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command/);
    const badScope = run('key', 'create', '--site', 'x', '--scopes', 'everything');
    assert.equal(badScope.status, 2);
    assert.match(badScope.stderr, /"everything" is not a scope/);
    const localSite = run('key', 'create', '--site', 'x', '--scopes', 'data.read', '--local');
    assert.equal(localSite.status, 2);
    assert.match(localSite.stderr, /--local creates admin keys only/);
    const badClientConfig = spawnSync(process.execPath, [bin, 'site', 'list'], {
      env: { ...env(), PORT: 'eighty', SAFEKEEP_API_KEY: '' },
      encoding: 'utf8',
    });
    assert.equal(badClientConfig.status, 2);
    assert.match(badClientConfig.stderr, /PORT must be an integer/);
    assert.match(badClientConfig.stderr, /an API key is required/);
    const badServerConfig = spawnSync(process.execPath, [bin, 'key', 'create', '--admin', '--local'], {
      env: { ...env(), PORT: 'eighty', SAFEKEEP_LOG_LEVEL: 'loud' },
      encoding: 'utf8',
    });
    assert.equal(badServerConfig.status, 2);
    assert.match(badServerConfig.stderr, /PORT must be an integer/);
    assert.match(badServerConfig.stderr, /SAFEKEEP_LOG_LEVEL must be one of/);
  });

  it('says how to get a key when no server answers', () => {
    const down = spawnSync(process.execPath, [bin, 'site', 'list'], {
      env: { ...env(), SAFEKEEP_URL: 'http://127.0.0.1:1', SAFEKEEP_API_KEY: 'sk_x' },
      encoding: 'utf8',
    });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /cannot reach safekeep at http:\/\/127\.0\.0\.1:1/);
    assert.match(down.stderr, /key create --admin --local/);
  });

  describe('serve', () => {
    let server: ChildProcessWithoutNullStreams;
    let output = '';
    let base = '';
    let adminKey = '';

    before(async () => {
      server = spawn(process.execPath, [bin, 'serve'], { env: { ...env(), PORT: '0' } });
      server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // The key is printed by writes after the "listening" line: wait for both.
      for (let i = 0; i < 200 && !/listening on (http:\/\/\S+)[^]*^\s+sk_\S+$/m.test(output); i++)
        await new Promise((r) => setTimeout(r, 50));
      base = /listening on (http:\/\/\S+)/.exec(output)?.[1] ?? '';
      adminKey = /^\s+(sk_\S+)$/m.exec(output)?.[1] ?? '';
      assert.ok(base, output);
    });

    after(() => {
      if (server.exitCode === null) server.kill('SIGKILL');
    });

    it('prints where it listens and the admin key once, and answers /healthz', async () => {
      assert.match(adminKey, /^sk_/);
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      const sites = await fetch(`${base}/_api/safekeep/v1/sites`, { headers: { authorization: adminKey } });
      assert.equal(sites.status, 200);
    });

    /** Runs the CLI against the server with a key. */
    const api = (key: string, ...args: string[]) =>
      spawnSync(process.execPath, [bin, ...args], {
        env: { ...env(), SAFEKEEP_URL: base, SAFEKEEP_API_KEY: key },
        encoding: 'utf8',
      });
    const json = (result: { status: number | null; stdout: string; stderr: string }): any => {
      assert.equal(result.status, 0, result.stderr);
      return JSON.parse(result.stdout);
    };

    it('manages sites, settings, keys and webhooks through the API', async () => {
      const { siteId, apiKey } = json(api(adminKey, 'site', 'create', '--name', 'Shop', '--json'));
      assert.match(apiKey, /^sk_/);
      const collections = await fetch(`${base}/wix-data/v2/collections`, {
        headers: { authorization: apiKey, 'wix-site-id': siteId },
      });
      assert.equal(collections.status, 200, 'the site key works');
      assert.ok(json(api(adminKey, 'site', 'list', '--json')).some((s: { id: string }) => s.id === siteId));

      const settings = json(api(adminKey, 'site', 'settings', siteId, '--interval-days', '3', '--json'));
      assert.deepEqual(settings, {
        autoBackupIntervalDays: 3,
        autoBackupRetention: 4,
        maxCollections: 1000,
        maxItems: 10_000_000,
        maxBackupBytes: 50 * 1024 ** 3,
        maxRequestBodyBytes: 64 * 1024 ** 2,
      });
      assert.equal(
        json(api(adminKey, 'site', 'settings', siteId, '--interval-days', 'default', '--json'))
          .autoBackupIntervalDays,
        7,
      );

      const key = json(
        api(adminKey, 'key', 'create', '--site', siteId, '--scopes', 'data.read,backups.read', '--json'),
      );
      assert.deepEqual(key.scopes, ['data.read', 'backups.read']);
      assert.deepEqual(json(api(adminKey, 'key', 'create', '--admin', '--json')).scopes, ['admin']);
      const revoked = api(adminKey, 'key', 'revoke', key.id);
      assert.equal(revoked.status, 0, revoked.stderr);
      const keys = json(api(adminKey, 'key', 'list', '--json')) as {
        id: string;
        revokedDate: string | null;
      }[];
      assert.ok(keys.find((k) => k.id === key.id)?.revokedDate);
      const refused = api(key.apiKey, 'site', 'list');
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /UNAUTHENTICATED, HTTP 401/);

      const hook = json(
        api(adminKey, 'webhook', 'create', '--site', siteId, '--to', 'https://example.com/hook', '--json'),
      );
      assert.equal(hook.siteId, siteId);
      assert.equal(json(api(apiKey, 'webhook', 'list', '--site', siteId, '--json')).length, 1);
      assert.match(api(apiKey, 'webhook', 'public-key').stdout, /BEGIN PUBLIC KEY/);
      assert.equal(api(adminKey, 'webhook', 'delete', hook.id).status, 0);

      const unconfirmed = api(adminKey, 'site', 'delete', siteId);
      assert.equal(unconfirmed.status, 2, 'no terminal to ask and no --yes');
      assert.match(
        unconfirmed.stderr,
        /Delete site .*\nrefused: standard input is not a terminal; pass --yes/,
      );
      assert.equal(
        json(api(apiKey, 'webhook', 'list', '--site', siteId, '--json')).length,
        0,
        'site still there',
      );
      assert.equal(api(adminKey, 'site', 'delete', siteId, '--yes').status, 0);
      const gone = api(adminKey, 'site', 'delete', siteId, '--yes');
      assert.equal(gone.status, 1);
      assert.match(gone.stderr, /SITE_NOT_FOUND/);
    });

    it('shares its storage with an admin key created locally while it is up', async () => {
      const before = await fetch(`${base}/_api/safekeep/v1/sites`, {
        headers: { authorization: localAdminKey },
      });
      assert.equal(before.status, 200, 'the key made before the first start works');
      const { apiKey } = json(run('key', 'create', '--admin', '--local', '--json'));
      const res = await fetch(`${base}/_api/safekeep/v1/sites`, { headers: { authorization: apiKey } });
      assert.equal(res.status, 200);
    });

    it('finishes an in-flight request on SIGTERM, then exits 0', async () => {
      const { siteId, apiKey } = json(api(adminKey, 'site', 'create', '--name', 'Graceful', '--json'));
      const body = JSON.stringify({ collection: { id: 'Slow' } });
      const url = new URL(`${base}/wix-data/v2/collections`);
      const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: {
              authorization: apiKey,
              'wix-site-id': siteId,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        // Half the body now, the rest after the server has been told to stop.
        req.write(body.slice(0, 10));
        setTimeout(() => {
          server.kill('SIGTERM');
          setTimeout(() => req.end(body.slice(10)), 300);
        }, 200);
      });
      const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
      const res = await response;
      assert.equal(res.status, 200, res.text);
      assert.equal(await exited, 0);
      assert.match(output, /SIGTERM: finishing in-flight requests/);
    });

    it('does not print the admin key again on the next start', async () => {
      const second = spawnSync(process.execPath, [bin, 'key', 'create', '--admin', '--local'], {
        env: env(),
        encoding: 'utf8',
      });
      assert.equal(second.status, 0, second.stderr);
      const again = spawn(process.execPath, [bin, 'serve'], { env: { ...env(), PORT: '0' } });
      let text = '';
      again.stdout.on('data', (c: Buffer) => (text += c.toString()));
      for (let i = 0; i < 200 && !text.includes('listening on'); i++)
        await new Promise((r) => setTimeout(r, 50));
      again.kill('SIGTERM');
      await new Promise((r) => again.on('exit', r));
      assert.match(text, /listening on/);
      assert.doesNotMatch(text, /sk_/);
    });
  });
});
