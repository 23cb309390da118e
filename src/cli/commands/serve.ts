import { stopOnSignal } from '../stop-on-signal.js';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../config.js';
import { ensureBootstrapAdminKey, openSafekeep } from '../../app/composition-root.js';
import type { Config } from '../../config.js';
import type { CliIo } from '../cli-io.js';

/**
 * `safekeep serve`: the HTTP server plus background work (`--no-worker`: HTTP only, the background work
 * left to `safekeep worker` processes). Prints where it listens and, on the first start, the admin API key
 * (once). SIGINT/SIGTERM stop it gracefully: in-flight requests finish first.
 */
export async function serve(config: Config, args: readonly string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: { 'no-worker': { type: 'boolean' } },
    strict: true,
  });
  // A bad certificate or key stops the start before anything opens.
  const https = config.tls ? readTls(config.tls) : undefined;
  const safekeep = await openSafekeep(values['no-worker'] ? { ...config, runWorker: false } : config);
  const app = safekeep.createHttpApp({ level: config.logLevel }, https ? { https } : {});
  const reload = config.tls ? reloadTlsOnHangup(config.tls, app.server as HttpsServer, app.log) : undefined;
  await safekeep.startBackground(app.log);
  const adminKey = await ensureBootstrapAdminKey(safekeep);
  const address = await app.listen({ host: config.host, port: config.port });
  // One write, so that a reader (a supervisor, a test) sees the address and the key together.
  const banner = [
    `safekeep is listening on ${address}`,
    ...whereDataLives(config),
    `dashboard: ${address}/  API docs: ${address}/docs`,
  ];
  if (!config.tls && !isLoopback(config.host)) {
    io.err(
      `warning: listening on ${config.host} without TLS: API keys cross the network in clear text. ` +
        'Set SAFEKEEP_TLS_CERT and SAFEKEEP_TLS_KEY, or put a reverse proxy that terminates TLS in front.',
    );
  }
  if (!safekeep.config.runWorker)
    banner.push('no worker: jobs, schedules and webhooks run in `safekeep worker` processes');
  if (adminKey) {
    banner.push(
      '',
      'First start: created an admin API key. It is shown only this once; keep it safe:',
      `  ${adminKey}`,
      `Try: curl -H "Authorization: ${adminKey}" ${address}/_api/safekeep/v1/sites`,
      '',
    );
  }
  // Listening for signals before the banner: a supervisor (or a test) that stops the server as soon as it
  // reads where it listens must find the handler there, not the default action (killed, no clean stop).
  const stopped = stopOnSignal(io, 'finishing in-flight requests, then stopping.', async () => {
    reload?.();
    await app.close();
    await safekeep.close();
  });
  io.out(banner.join('\n'));
  await stopped;
}

type TlsFiles = NonNullable<Config['tls']>;

/**
 * Reads and checks the certificate and key (a secure context is built from them, so a key that does not
 * match its certificate is caught here).
 * @throws ConfigError naming the file and what is wrong
 */
function readTls(files: TlsFiles): { cert: Buffer; key: Buffer } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.certFile);
    key = readFileSync(files.keyFile);
  } catch (error) {
    throw new ConfigError([
      `SAFEKEEP_TLS_CERT / SAFEKEEP_TLS_KEY cannot be read: ${(error as Error).message}`,
    ]);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError([
      `SAFEKEEP_TLS_CERT (${files.certFile}) and SAFEKEEP_TLS_KEY (${files.keyFile}) are not a PEM certificate ` +
        `and its private key: ${(error as Error).message}`,
    ]);
  }
  return { cert, key };
}

/**
 * On SIGHUP, reads the certificate and key again and serves them to new connections; a file that cannot be
 * read or used is logged and the current ones stay. Returns a function that stops listening for SIGHUP.
 */
function reloadTlsOnHangup(
  files: TlsFiles,
  server: HttpsServer,
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void },
): () => void {
  const onHangup = () => {
    try {
      server.setSecureContext(readTls(files));
      log.info({ cert: files.certFile }, 'SIGHUP: TLS certificate and key reloaded');
    } catch (error) {
      log.error(
        { err: error, cert: files.certFile, key: files.keyFile },
        'SIGHUP: TLS certificate and key NOT reloaded; still serving the previous ones',
      );
    }
  };
  process.on('SIGHUP', onHangup);
  return () => process.off('SIGHUP', onHangup);
}

/** True for addresses only this machine reaches (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1';
}

/** Where this process keeps its data and backups, for the start-up banner (never a password). */
export function whereDataLives(config: Config): string[] {
  let database = `SQLite in ${config.dataDir}`;
  if (config.databaseUrl) {
    const url = new URL(config.databaseUrl);
    database = `PostgreSQL at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
  }
  const backups = config.s3
    ? `S3 bucket ${config.s3.bucket}${config.s3.prefix ? `/${config.s3.prefix}` : ''}${config.s3.endpoint ? ` at ${config.s3.endpoint}` : ''}`
    : `${config.dataDir}/blobs`;
  return [`data: ${database}`, `backups: ${backups}`];
}
