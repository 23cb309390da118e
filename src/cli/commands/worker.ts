import { stopOnSignal } from '../stop-on-signal.js';
import { openSafekeep } from '../../app/composition-root.js';
import { listenForMetrics } from '../../app/metrics-server.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../ports/logger.js';
import type { CliIo } from '../cli-io.js';

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** JSON lines like the server's log, without loading its logger: info to stdout, errors to stderr. */
function lineLogger(config: Config, io: CliIo): Logger {
  const threshold = levels.indexOf(config.logLevel);
  const line = (level: string, obj: object, msg?: string) => {
    const fields = Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [
        k,
        v instanceof Error ? { message: v.message, stack: v.stack } : v,
      ]),
    );
    return JSON.stringify({ level, time: Date.now(), pid: process.pid, ...fields, ...(msg && { msg }) });
  };
  return {
    info: (obj, msg) => {
      if (threshold <= levels.indexOf('info')) io.out(line('info', obj, msg));
    },
    error: (obj, msg) => {
      if (threshold <= levels.indexOf('error')) io.err(line('error', obj, msg));
    },
  };
}

/**
 * `safekeep worker`: the background half of a deployment without its HTTP half — jobs (backups and
 * restorations), the scheduler, garbage collection, the generation sweeper and webhook deliveries. Any
 * number of workers and `serve --no-worker` processes share one database: every job, slot and delivery
 * is claimed by exactly one of them. SIGINT/SIGTERM stop it: the running job step is abandoned (its lease
 * lapses and another worker resumes it), the database connections are closed, and the process exits 0.
 */
export async function worker(config: Config, io: CliIo): Promise<void> {
  const safekeep = await openSafekeep({ ...config, runWorker: true });
  const logger = lineLogger(config, io);
  await safekeep.startBackground(logger);
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await listenForMetrics(
          { metrics: safekeep.metrics, auth: safekeep.services.auth, token: config.metricsToken },
          config.host,
          config.metricsPort,
        );
  // Listening for signals before saying it runs: a supervisor that stops it on reading the line is heard.
  const stopped = stopOnSignal(io, 'stopping the worker.', async () => {
    if (metrics) await new Promise((resolve) => metrics.server.close(resolve));
    await safekeep.close();
  });
  io.out(
    `safekeep worker ${process.pid} is running (${safekeep.storage.capabilities.engine}; ` +
      (metrics ? `no API; metrics at ${metrics.url})` : 'no HTTP)'),
  );
  await stopped;
}
