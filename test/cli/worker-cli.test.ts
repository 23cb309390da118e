/**
 * `safekeep worker` and `safekeep serve --no-worker` as subprocesses on one PostgreSQL database: the
 * server alone leaves a backup PENDING, a worker started beside it runs it; both stop on SIGTERM with
 * exit code 0; the worker serves no HTTP.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { safekeepBin, startSafekeep, type Running } from '../helpers/cli-process.js';
import { createTestDatabase } from '../helpers/postgres.js';

const bin = safekeepBin;

const start = startSafekeep;

describe('safekeep worker and serve --no-worker', () => {
  let dataDir: string;
  let database: { url: string; drop(): Promise<void> };
  const running: Running[] = [];
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    SAFEKEEP_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    SAFEKEEP_LOG_LEVEL: 'warn',
    SAFEKEEP_WORKER_THREADS: '1',
  });
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { env: env(), encoding: 'utf8' });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'safekeep-worker-cli-'));
    database = await createTestDatabase('worker-cli');
  });
  after(async () => {
    for (const r of running) await r.stop('SIGKILL');
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses arguments it does not know', () => {
    const worker = cli('worker', '--port', '1');
    assert.equal(worker.status, 2);
    assert.match(worker.stderr, /takes no arguments/);
    const serve = cli('serve', '--no-workers');
    assert.equal(serve.status, 2);
  });

  it('leaves jobs to a worker process, which runs them and stops cleanly on SIGTERM', async () => {
    const server = start(['serve', '--no-worker'], { ...env(), PORT: '0' });
    running.push(server);
    const base = (await server.waitFor(/listening on (http:\/\/\S+)/))[1] ?? '';
    // Printed right after the address, possibly in a later chunk of output.
    await server.waitFor(/no worker: jobs, schedules and webhooks run in `safekeep worker` processes/);
    const adminKey = (await server.waitFor(/^\s+(sk_\S+)$/m))[1] ?? '';

    const site = cli('site', 'create', '--name', 'Split', '--json', '--url', base, '--key', adminKey);
    assert.equal(site.status, 0, site.stderr);
    const { siteId, apiKey } = JSON.parse(site.stdout) as { siteId: string; apiKey: string };
    const client = ['--url', base, '--key', apiKey, '--site', siteId, '--json'];
    const created = cli('backup', 'create', ...client);
    assert.equal(created.status, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as { id: string };

    // Nobody runs jobs yet: the backup stays PENDING while the server polls nothing.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const waiting = JSON.parse(cli('backup', 'get', id, ...client).stdout) as { status: string };
    assert.equal(waiting.status, 'PENDING');

    const worker = start(['worker'], { ...env(), PORT: '0' });
    running.push(worker);
    await worker.waitFor(/safekeep worker \d+ is running \(postgres; no HTTP\)/);
    for (;;) {
      const status = (JSON.parse(cli('backup', 'get', id, ...client).stdout) as { status: string }).status;
      if (status !== 'PENDING') {
        assert.equal(status, 'READY');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    assert.equal(await worker.stop('SIGTERM'), 0, worker.output());
    assert.match(worker.output(), /SIGTERM: stopping the worker/);
    assert.doesNotMatch(worker.output(), /listening on/);
    assert.equal(await server.stop('SIGINT'), 0, server.output());
  });
});
