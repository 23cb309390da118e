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

  it('creates and lists sites, and creates and revokes keys, without a server', () => {
    const created = run('site', 'create', '--name', 'Shop', '--json');
    assert.equal(created.status, 0, created.stderr);
    const { siteId, apiKey } = JSON.parse(created.stdout) as { siteId: string; apiKey: string };
    assert.match(apiKey, /^sk_/);
    const listed = run('site', 'list', '--json');
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id),
      [siteId],
    );
    const key = run('key', 'create', '--site', siteId, '--scopes', 'data.read,backups.read', '--json');
    assert.equal(key.status, 0, key.stderr);
    const parsed = JSON.parse(key.stdout) as { id: string; scopes: string[] };
    assert.deepEqual(parsed.scopes, ['data.read', 'backups.read']);
    const admin = run('key', 'create', '--admin', '--json');
    assert.deepEqual((JSON.parse(admin.stdout) as { scopes: string[] }).scopes, ['admin']);
    const revoked = run('key', 'revoke', parsed.id);
    assert.equal(revoked.status, 0, revoked.stderr);
    const keys = JSON.parse(run('key', 'list', '--json').stdout) as {
      id: string;
      revokedAt: number | null;
    }[];
    assert.ok(keys.find((k) => k.id === parsed.id)?.revokedAt);
  });

  it('explains usage mistakes and configuration problems with exit code 2', () => {
    const noName = run('site', 'create');
    assert.equal(noName.status, 2);
    assert.match(noName.stderr, /--name/);
    const unknown = run('frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command/);
    const badScope = run('key', 'create', '--site', 'x', '--scopes', 'everything');
    assert.equal(badScope.status, 1);
    assert.match(badScope.stderr, /is not a scope/);
    const badConfig = spawnSync(process.execPath, [bin, 'site', 'list'], {
      env: { ...env(), PORT: 'eighty', SAFEKEEP_LOG_LEVEL: 'loud' },
      encoding: 'utf8',
    });
    assert.equal(badConfig.status, 2);
    assert.match(badConfig.stderr, /PORT must be an integer/);
    assert.match(badConfig.stderr, /SAFEKEEP_LOG_LEVEL must be one of/);
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

    it('shares its storage with CLI commands run while it is up', async () => {
      const { siteId, apiKey } = JSON.parse(run('site', 'create', '--name', 'Live', '--json').stdout) as {
        siteId: string;
        apiKey: string;
      };
      const res = await fetch(`${base}/wix-data/v2/collections`, {
        headers: { authorization: apiKey, 'wix-site-id': siteId },
      });
      assert.equal(res.status, 200);
    });

    it('finishes an in-flight request on SIGTERM, then exits 0', async () => {
      const { siteId, apiKey } = JSON.parse(run('site', 'create', '--name', 'Graceful', '--json').stdout) as {
        siteId: string;
        apiKey: string;
      };
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
      const second = spawnSync(process.execPath, [bin, 'site', 'list', '--json'], {
        env: env(),
        encoding: 'utf8',
      });
      assert.equal(second.status, 0);
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
