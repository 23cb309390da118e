/**
 * `safekeep serve` answering HTTPS itself (SAFEKEEP_TLS_CERT / SAFEKEEP_TLS_KEY) with self-signed
 * certificates made by openssl: reached through our SDK and CLI trusting the certificate, a SIGHUP with
 * a new certificate serves the new one, a bad one at SIGHUP keeps the old, a bad one at start is a clear
 * startup error; the plain-HTTP warning beyond loopback; `safekeep worker`'s metrics port.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { safekeepBin, startSafekeep, type Running } from '../helpers/cli-process.js';
import { SafekeepClient, SafekeepConnectionError } from '../../src/sdk/index.js';
import { fetchTrusting } from '../../src/cli/fetch-trusting.js';
import { parsePrometheusText } from '../metrics/prometheus-text.js';

const bin = safekeepBin;

const start = startSafekeep;

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  return { cert, key };
}

/** The SHA-256 fingerprint of the certificate the server presents now (trusting `ca`). */
function servedFingerprint(port: number, ca: Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(createHash('sha256').update(raw).digest('hex'));
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (pemFile: string) => {
  const base64 = readFileSync(pemFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  return createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex');
};

describe('TLS and the worker metrics port', () => {
  let dir: string;
  let certA: { cert: string; key: string };
  let certB: { cert: string; key: string };
  const running: Running[] = [];
  const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
    ...process.env,
    SAFEKEEP_LOG_LEVEL: 'info',
    SAFEKEEP_WORKER_THREADS: '1',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: '',
    SAFEKEEP_S3_BUCKET: '',
    SAFEKEEP_TLS_CERT: '',
    SAFEKEEP_TLS_KEY: '',
    ...extra,
  });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'safekeep-tls-'));
    certA = selfSigned(dir, 'a');
    certB = selfSigned(dir, 'b');
  });
  after(async () => {
    for (const r of running) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS to the SDK and CLI trusting the certificate, and reloads it on SIGHUP', async () => {
    const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    writeFileSync(live.cert, readFileSync(certA.cert));
    writeFileSync(live.key, readFileSync(certA.key));
    const server = start(
      ['serve'],
      env({
        SAFEKEEP_DATA_DIR: join(dir, 'data-tls'),
        SAFEKEEP_TLS_CERT: live.cert,
        SAFEKEEP_TLS_KEY: live.key,
      }),
    );
    running.push(server);
    const base = (await server.waitFor(/listening on (https:\/\/\S+)/))[1] ?? '';
    const adminKey = (await server.waitFor(/^\s+(sk_\S+)$/m))[1] ?? '';
    const port = Number(new URL(base).port);
    assert.doesNotMatch(server.output(), /without TLS/);

    const trusted = new SafekeepClient({
      baseUrl: base,
      apiKey: adminKey,
      fetch: fetchTrusting(readFileSync(certA.cert)),
    });
    await trusted.sites.create('Over TLS');
    assert.deepEqual(
      (await trusted.sites.list()).map((s) => s.name),
      ['Over TLS'],
    );
    // The system's authorities do not know a self-signed certificate.
    const untrusted = new SafekeepClient({ baseUrl: base, apiKey: adminKey });
    await assert.rejects(untrusted.sites.list(), SafekeepConnectionError);

    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [bin, 'site', 'list', '--json', '--url', base, '--key', adminKey, ...args],
        {
          env: env({}),
          encoding: 'utf8',
        },
      );
    const viaFlag = cli('--ca', certA.cert);
    assert.equal(viaFlag.status, 0, viaFlag.stderr);
    assert.match(viaFlag.stdout, /Over TLS/);
    const viaEnv = spawnSync(
      process.execPath,
      [bin, 'site', 'list', '--json', '--url', base, '--key', adminKey],
      {
        env: env({ SAFEKEEP_CA_FILE: certA.cert }),
        encoding: 'utf8',
      },
    );
    assert.equal(viaEnv.status, 0, viaEnv.stderr);
    assert.equal(cli().status, 1, 'without the CA the CLI cannot connect');

    const both = [readFileSync(certA.cert), readFileSync(certB.cert)];
    assert.equal(await servedFingerprint(port, both), fingerprintOf(certA.cert));
    writeFileSync(live.cert, readFileSync(certB.cert));
    writeFileSync(live.key, readFileSync(certB.key));
    let mark = server.output().length;
    server.signal('SIGHUP');
    await server.waitFor(/TLS certificate and key reloaded/, mark);
    assert.equal(await servedFingerprint(port, both), fingerprintOf(certB.cert));

    // A broken file at SIGHUP is logged; the server keeps serving the certificate it had.
    writeFileSync(live.cert, 'not a certificate');
    mark = server.output().length;
    server.signal('SIGHUP');
    await server.waitFor(/NOT reloaded; still serving the previous ones/, mark);
    assert.equal(await servedFingerprint(port, both), fingerprintOf(certB.cert));
    assert.equal(await server.stop(), 0, server.output());
  });

  it('refuses to start with a certificate that is not one, or a key of another certificate', () => {
    for (const [cert, key] of [
      [join(dir, 'garbage.crt'), certA.key],
      [certA.cert, certB.key],
    ] as const) {
      writeFileSync(join(dir, 'garbage.crt'), 'garbage');
      const run = spawnSync(process.execPath, [bin, 'serve'], {
        env: env({
          SAFEKEEP_DATA_DIR: join(dir, 'data-bad'),
          SAFEKEEP_TLS_CERT: cert,
          SAFEKEEP_TLS_KEY: key,
        }),
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(run.status, 2, run.stdout + run.stderr);
      assert.match(
        run.stderr,
        /SAFEKEEP_TLS_CERT .* and SAFEKEEP_TLS_KEY .* are not a PEM certificate and its private key/,
      );
    }
  });

  it('warns when it listens beyond loopback without TLS', async () => {
    const server = start(['serve'], env({ SAFEKEEP_DATA_DIR: join(dir, 'data-open'), HOST: '0.0.0.0' }));
    running.push(server);
    await server.waitFor(/listening on/);
    await server.waitFor(/warning: listening on 0\.0\.0\.0 without TLS/);
    assert.equal(await server.stop(), 0);
  });

  it('serves the worker metrics on SAFEKEEP_METRICS_PORT, for the metrics token only', async () => {
    const token = 'worker-metrics-token-0123456789';
    const worker = start(
      ['worker'],
      env({
        SAFEKEEP_DATA_DIR: join(dir, 'data-worker'),
        SAFEKEEP_METRICS_PORT: '0',
        SAFEKEEP_METRICS_TOKEN: token,
      }),
    );
    running.push(worker);
    const url = (await worker.waitFor(/metrics at (http:\/\/\S+)\)/))[1] ?? '';
    assert.equal((await fetch(url)).status, 401);
    assert.equal(
      (await fetch(url.replace('/metrics', '/other'), { headers: { authorization: `Bearer ${token}` } }))
        .status,
      404,
    );
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const families = parsePrometheusText(await res.text());
    assert.equal(families.get('safekeep_jobs_finished_total')?.type, 'counter');
    assert.equal(families.get('safekeep_jobs_running')?.type, 'gauge');
    assert.equal(families.get('safekeep_process_nodejs_eventloop_lag_p99_seconds')?.type, 'gauge');
    assert.equal(await worker.stop(), 0, worker.output());
  });
});
