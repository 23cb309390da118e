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
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
