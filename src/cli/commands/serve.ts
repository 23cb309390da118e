import { stopOnSignal } from '../stop-on-signal.js';
import { parseArgs } from 'node:util';
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
  const safekeep = await openSafekeep(values['no-worker'] ? { ...config, runWorker: false } : config);
  const app = safekeep.createHttpApp({ level: config.logLevel });
  await safekeep.startBackground(app.log);
  const adminKey = await ensureBootstrapAdminKey(safekeep);
  const address = await app.listen({ host: config.host, port: config.port });
  // One write, so that a reader (a supervisor, a test) sees the address and the key together.
  const banner = [
    `safekeep is listening on ${address}`,
    ...whereDataLives(config),
    `dashboard: ${address}/  API docs: ${address}/docs`,
  ];
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
  io.out(banner.join('\n'));

  await stopOnSignal(io, 'finishing in-flight requests, then stopping.', async () => {
    await app.close();
    await safekeep.close();
  });
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
