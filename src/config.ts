import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

/**
 * The deployment's configuration, parsed once at start from the environment. Nothing else reads
 * `process.env`. Every variable is documented in the README's configuration table.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Absolute path of the data directory (SQLite database, backup blobs, keys). */
  readonly dataDir: string;
  /** Set when the deployment uses PostgreSQL instead of the embedded SQLite file. */
  readonly databaseUrl: string | undefined;
  readonly bodyLimitBytes: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly autoBackupIntervalDays: number;
  readonly autoBackupRetention: number;
  /** How long a worker's claim on a job lasts without a heartbeat. */
  readonly jobLeaseMs: number;
  /** zstd level for backup chunks. */
  readonly compressionLevel: number;
  /** Worker threads for compression and verification. */
  readonly workerThreads: number;
  readonly schedulerTickMs: number;
  readonly gcIntervalMs: number;
  /** fsync backup content before publishing it. */
  readonly fsync: boolean;
  /** Runs jobs, the scheduler, webhook deliveries and garbage collection in this process. */
  readonly runWorker: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Reads the configuration; reports every problem at once.
 * @throws ConfigError
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, not "${raw}"`);
      return fallback;
    }
    return value;
  };

  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    problems.push(`${name} must be true or false, not "${raw}"`);
    return fallback;
  };

  const logLevel = env.SAFEKEEP_LOG_LEVEL ?? 'info';
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    problems.push(`SAFEKEEP_LOG_LEVEL must be one of ${logLevels.join(', ')}, not "${logLevel}"`);
  }

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }

  const config: Config = {
    host: env.HOST || '127.0.0.1',
    port: integer('PORT', 8080, 0, 65535),
    dataDir: resolve(cwd, env.SAFEKEEP_DATA_DIR || './data'),
    databaseUrl,
    bodyLimitBytes: integer('SAFEKEEP_BODY_LIMIT_MB', 64, 1, 1024) * 1024 * 1024,
    logLevel: logLevel as Config['logLevel'],
    autoBackupIntervalDays: integer('SAFEKEEP_AUTO_BACKUP_INTERVAL_DAYS', 7, 1, 365),
    autoBackupRetention: integer('SAFEKEEP_AUTO_BACKUP_RETENTION', 4, 1, 100),
    jobLeaseMs: integer('SAFEKEEP_JOB_LEASE_SECONDS', 60, 5, 3600) * 1000,
    compressionLevel: integer('SAFEKEEP_COMPRESSION_LEVEL', 1, 1, 19),
    workerThreads: integer('SAFEKEEP_WORKER_THREADS', Math.max(1, availableParallelism() - 1), 1, 64),
    schedulerTickMs: integer('SAFEKEEP_SCHEDULER_TICK_SECONDS', 60, 1, 3600) * 1000,
    gcIntervalMs: integer('SAFEKEEP_GC_INTERVAL_MINUTES', 10, 1, 1440) * 60 * 1000,
    fsync: boolean('SAFEKEEP_FSYNC', true),
    runWorker: boolean('SAFEKEEP_RUN_WORKER', true),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
