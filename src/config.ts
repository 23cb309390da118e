import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseCidr } from './domain/webhook-address-policy.js';

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
  /** Set when backup content (chunks, manifests) goes to an S3-compatible bucket instead of the data dir. */
  readonly s3: S3Config | undefined;
  /** Connections each process keeps to PostgreSQL (snapshot readers open their own, one per running backup). */
  readonly dbPoolSize: number;
  readonly bodyLimitBytes: number;
  /** Largest archive Import Backup takes (SAFEKEEP_IMPORT_MAX_BYTES): streamed, not bound by bodyLimitBytes. */
  readonly importMaxBytes: number;
  /** What one process admits at once, so that no tenant starves the others (src/http/admission.ts). */
  readonly admission: AdmissionConfig;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly autoBackupIntervalDays: number;
  readonly autoBackupRetention: number;
  /** Deployment defaults of the per-site quotas (README, "Quotas"); each site may override them. */
  readonly quotas: QuotaDefaults;
  /** How long a deleted collection stays restorable (Restore Data Collection) before the sweeper purges it. */
  readonly collectionBinMs: number;
  /** How long delivered and given-up webhook events are kept (SAFEKEEP_EVENT_RETENTION_DAYS). */
  readonly eventRetentionMs: number;
  /** How long a worker's claim on a job lasts without a heartbeat. */
  readonly jobLeaseMs: number;
  /** Rows the layout migration copies per transaction (SAFEKEEP_LAYOUT_MIGRATION_BATCH_ROWS). */
  readonly layoutMigrationBatchRows: number;
  /**
   * Backups and restorations one process runs at once (at most one of them a restoration): each running
   * job holds a snapshot reader (a thread, and on PostgreSQL a connection of its own).
   */
  readonly jobConcurrency: number;
  /** zstd level for backup chunks. */
  readonly compressionLevel: number;
  /** Worker threads for compression and verification. */
  readonly workerThreads: number;
  readonly schedulerTickMs: number;
  /** The scrub verifies every READY backup at least this often (SAFEKEEP_VERIFY_EVERY_DAYS). */
  readonly verifyEveryMs: number;
  /** A site is OVERDUE this long after its interval passed without a good backup (SAFEKEEP_OVERDUE_GRACE_HOURS). */
  readonly overdueGraceMs: number;
  readonly gcIntervalMs: number;
  /** fsync backup content before publishing it. */
  readonly fsync: boolean;
  /** Runs jobs, the scheduler, webhook deliveries and garbage collection in this process. */
  readonly runWorker: boolean;
  /**
   * IPv4 and IPv6 CIDRs webhooks may be sent to although they are loopback, private or otherwise not
   * public (SAFEKEEP_WEBHOOK_ALLOWED_CIDRS, comma-separated); empty by default.
   */
  readonly webhookAllowedCidrs: readonly string[];
  /**
   * Tests only: a file holding the current time as epoch milliseconds, read instead of the system clock
   * (SAFEKEEP_TEST_CLOCK_FILE), so that a test can move the time of child processes (a simulated week of
   * schedules, a lease running out). Never set it in a deployment.
   */
  readonly testClockFile: string | undefined;
  /**
   * A bearer token that may read `/metrics` besides admin keys (SAFEKEEP_METRICS_TOKEN), so that Prometheus
   * needs no key that can change data.
   */
  readonly metricsToken: string | undefined;
  /** `safekeep worker` serves `/metrics` on this port of HOST when set (SAFEKEEP_METRICS_PORT). */
  readonly metricsPort: number | undefined;
  /** Certificate and key files (PEM): the server answers HTTPS itself (SAFEKEEP_TLS_CERT, SAFEKEEP_TLS_KEY). */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Fault tests only: kill this process at the nth hit of a named failpoint (SAFEKEEP_FAILPOINT=name:n). */
  readonly failpoint: { name: string; nth: number } | undefined;
}

/** Per-process limits on what requests may take (README, configuration table). */
export interface AdmissionConfig {
  /** Requests each API key may make per second, sustained (token bucket refill); 0 turns the limit off. */
  readonly ratePerSecond: number;
  /** Requests each API key may make at once above the sustained rate (the bucket's size). */
  readonly burst: number;
  /** Bytes of request bodies being received, parsed and handled at once, across the process. */
  readonly bodyBytesInFlight: number;
  /** Bulk item requests (`/bulk/…`) one site may have in flight at once. */
  readonly siteBulkRequests: number;
}

/** The quotas every site gets unless its settings say otherwise. */
export interface QuotaDefaults {
  /** Live collections (those in the bin do not count). */
  readonly maxCollections: number;
  /** Items of both environments of the site's live collections. */
  readonly maxItems: number;
  /** Stored backup bytes plus the item bytes of the site's collections in the bin. */
  readonly maxBackupBytes: number;
  /** Largest request body for the site; never above `bodyLimitBytes`, the deployment's hard cap. */
  readonly maxRequestBodyBytes: number;
}

/** Where backup content goes when SAFEKEEP_S3_BUCKET is set. */
export interface S3Config {
  readonly bucket: string;
  readonly region: string;
  /** An S3-compatible server; AWS when undefined. */
  readonly endpoint: string | undefined;
  /** Key prefix, empty or ending in `/`. */
  readonly prefix: string;
  readonly forcePathStyle: boolean;
  /** Tries per S3 request, the first included, before a transient failure is reported. */
  readonly maxAttempts: number;
  /** From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN); else the SDK's default chain. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

const bucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const keyPrefix = /^[A-Za-z0-9._@-]+(\/[A-Za-z0-9._@-]+)*\/?$/;

function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** The S3 settings, or undefined when no bucket is set (then no other S3 variable may be). */
function s3Of(
  env: NodeJS.ProcessEnv,
  boolean: (name: string, fallback: boolean) => boolean,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): S3Config | undefined {
  const bucket = env.SAFEKEEP_S3_BUCKET || undefined;
  const endpoint = env.SAFEKEEP_S3_ENDPOINT || undefined;
  if (bucket === undefined) {
    const stray = [
      'SAFEKEEP_S3_ENDPOINT',
      'SAFEKEEP_S3_REGION',
      'SAFEKEEP_S3_PREFIX',
      'SAFEKEEP_S3_FORCE_PATH_STYLE',
      'SAFEKEEP_S3_MAX_ATTEMPTS',
    ].filter((name) => env[name]);
    if (stray.length > 0)
      problems.push(`${stray.join(', ')} set without SAFEKEEP_S3_BUCKET (which selects S3)`);
    return undefined;
  }
  if (!bucketName.test(bucket) || bucket.includes('..')) {
    problems.push(
      `SAFEKEEP_S3_BUCKET must be a bucket name (3 to 63 lowercase letters, digits, dots and hyphens), not "${bucket}"`,
    );
  }
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    problems.push(`SAFEKEEP_S3_ENDPOINT must be an http:// or https:// URL, not "${endpoint}"`);
  }
  const region = env.SAFEKEEP_S3_REGION || env.AWS_REGION || (endpoint ? 'us-east-1' : undefined);
  if (region === undefined) {
    problems.push(
      'SAFEKEEP_S3_REGION (or AWS_REGION) is required with SAFEKEEP_S3_BUCKET when no endpoint is set',
    );
  }
  const prefix = env.SAFEKEEP_S3_PREFIX || '';
  const dotted = prefix.split('/').some((part) => part === '.' || part === '..');
  if (prefix !== '' && (!keyPrefix.test(prefix) || dotted)) {
    problems.push(
      `SAFEKEEP_S3_PREFIX must be /-separated names of letters, digits and . _ @ - (not . or ..), not "${prefix}"`,
    );
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY || undefined;
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (or neither)');
  }
  return {
    bucket,
    region: region ?? 'us-east-1',
    endpoint: endpoint?.replace(/\/+$/, ''),
    prefix: prefix === '' ? '' : prefix.replace(/\/?$/, '/'),
    // S3-compatible servers mostly serve buckets as paths; AWS itself as host names.
    forcePathStyle: boolean('SAFEKEEP_S3_FORCE_PATH_STYLE', endpoint !== undefined),
    maxAttempts: integer('SAFEKEEP_S3_MAX_ATTEMPTS', 6, 1, 20),
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) }
        : undefined,
  };
}

function cidrsOf(raw: string | undefined, problems: string[]): string[] {
  const entries = (raw ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const bad = entries.filter((entry) => parseCidr(entry) === undefined);
  if (bad.length > 0) {
    problems.push(
      `SAFEKEEP_WEBHOOK_ALLOWED_CIDRS must be comma-separated IPv4 or IPv6 CIDRs (like 127.0.0.0/8,fd00::/8), not ${bad.map((b) => `"${b}"`).join(', ')}`,
    );
    return [];
  }
  return entries;
}

function failpointOf(raw: string | undefined, problems: string[]): { name: string; nth: number } | undefined {
  if (!raw) return undefined;
  const match = /^([a-z][a-z-]*:[a-z-]+)(?::(\d+))?$/.exec(raw);
  if (!match?.[1]) {
    problems.push(
      `SAFEKEEP_FAILPOINT must look like "backup:chunk-stored" or "backup:chunk-stored:3", not "${raw}"`,
    );
    return undefined;
  }
  return { name: match[1], nth: Number(match[2] ?? 1) };
}

function metricsTokenOf(raw: string | undefined, problems: string[]): string | undefined {
  if (!raw) return undefined;
  if (raw.length < 16 || !/^[\x21-\x7e]+$/.test(raw)) {
    problems.push('SAFEKEEP_METRICS_TOKEN must be at least 16 printable characters without spaces');
    return undefined;
  }
  return raw;
}

function tlsOf(
  env: NodeJS.ProcessEnv,
  cwd: string,
  problems: string[],
): { certFile: string; keyFile: string } | undefined {
  const cert = env.SAFEKEEP_TLS_CERT || undefined;
  const key = env.SAFEKEEP_TLS_KEY || undefined;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    problems.push('SAFEKEEP_TLS_CERT and SAFEKEEP_TLS_KEY must be set together (or neither)');
    return undefined;
  }
  return { certFile: resolve(cwd, cert), keyFile: resolve(cwd, key) };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const MB = 1024 * 1024;

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

  const bodyLimitMb = integer('SAFEKEEP_BODY_LIMIT_MB', 64, 1, 1024);
  const config: Config = {
    host: env.HOST || '127.0.0.1',
    port: integer('PORT', 8080, 0, 65535),
    dataDir: resolve(cwd, env.SAFEKEEP_DATA_DIR || './data'),
    databaseUrl,
    s3: s3Of(env, boolean, integer, problems),
    dbPoolSize: integer('SAFEKEEP_DB_POOL_SIZE', 10, 1, 1000),
    bodyLimitBytes: bodyLimitMb * MB,
    importMaxBytes: integer('SAFEKEEP_IMPORT_MAX_BYTES', 10 * 1024 * MB, 1, Number.MAX_SAFE_INTEGER),
    admission: {
      ratePerSecond: integer('SAFEKEEP_RATE_LIMIT_PER_SECOND', 50, 0, 1_000_000),
      burst: integer('SAFEKEEP_RATE_LIMIT_BURST', 100, 1, 1_000_000),
      bodyBytesInFlight: integer('SAFEKEEP_BODY_MEMORY_MB', 64, 1, 65_536) * 1024 * 1024,
      siteBulkRequests: integer('SAFEKEEP_SITE_BULK_REQUESTS', 2, 1, 1000),
    },
    logLevel: logLevel as Config['logLevel'],
    autoBackupIntervalDays: integer('SAFEKEEP_AUTO_BACKUP_INTERVAL_DAYS', 7, 1, 365),
    autoBackupRetention: integer('SAFEKEEP_AUTO_BACKUP_RETENTION', 4, 1, 100),
    quotas: {
      maxCollections: integer('SAFEKEEP_QUOTA_MAX_COLLECTIONS', 1000, 0, 1_000_000),
      maxItems: integer('SAFEKEEP_QUOTA_MAX_ITEMS', 10_000_000, 0, 1_000_000_000_000),
      maxBackupBytes: integer('SAFEKEEP_QUOTA_MAX_BACKUP_GB', 50, 0, 1_000_000) * 1024 * MB,
      maxRequestBodyBytes: integer('SAFEKEEP_QUOTA_MAX_REQUEST_BODY_MB', bodyLimitMb, 1, bodyLimitMb) * MB,
    },
    collectionBinMs: integer('SAFEKEEP_COLLECTION_BIN_DAYS', 30, 1, 3650) * 24 * 60 * 60 * 1000,
    eventRetentionMs: integer('SAFEKEEP_EVENT_RETENTION_DAYS', 7, 1, 3650) * 24 * 60 * 60 * 1000,
    jobLeaseMs: integer('SAFEKEEP_JOB_LEASE_SECONDS', 60, 5, 3600) * 1000,
    layoutMigrationBatchRows: integer('SAFEKEEP_LAYOUT_MIGRATION_BATCH_ROWS', 2000, 1, 100_000),
    jobConcurrency: integer('SAFEKEEP_JOB_CONCURRENCY', 4, 1, 64),
    compressionLevel: integer('SAFEKEEP_COMPRESSION_LEVEL', 1, 1, 19),
    workerThreads: integer('SAFEKEEP_WORKER_THREADS', Math.max(1, availableParallelism() - 1), 1, 64),
    schedulerTickMs: integer('SAFEKEEP_SCHEDULER_TICK_SECONDS', 60, 1, 3600) * 1000,
    verifyEveryMs: integer('SAFEKEEP_VERIFY_EVERY_DAYS', 30, 1, 3650) * 24 * 60 * 60 * 1000,
    overdueGraceMs: integer('SAFEKEEP_OVERDUE_GRACE_HOURS', 24, 0, 24 * 365) * 60 * 60 * 1000,
    gcIntervalMs: integer('SAFEKEEP_GC_INTERVAL_MINUTES', 10, 1, 1440) * 60 * 1000,
    fsync: boolean('SAFEKEEP_FSYNC', true),
    runWorker: boolean('SAFEKEEP_RUN_WORKER', true),
    webhookAllowedCidrs: cidrsOf(env.SAFEKEEP_WEBHOOK_ALLOWED_CIDRS, problems),
    failpoint: failpointOf(env.SAFEKEEP_FAILPOINT, problems),
    metricsToken: metricsTokenOf(env.SAFEKEEP_METRICS_TOKEN, problems),
    metricsPort: env.SAFEKEEP_METRICS_PORT ? integer('SAFEKEEP_METRICS_PORT', 0, 0, 65535) : undefined,
    tls: tlsOf(env, cwd, problems),
    testClockFile: env.SAFEKEEP_TEST_CLOCK_FILE ? resolve(cwd, env.SAFEKEEP_TEST_CLOCK_FILE) : undefined,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Where the `safekeep` client commands (backup, restoration) send their requests. */
export interface ClientConfig {
  /** The server's base URL, without a trailing slash (for example `http://127.0.0.1:8080`). */
  readonly url: string;
  /** The API key (`sk_…`) sent as `Authorization`. */
  readonly apiKey: string;
  /** The site to act on; a key bound to exactly one site may leave it out. */
  readonly siteId: string | undefined;
  /** Certificate authorities (PEM) to trust for an https:// server besides the system's (`--ca`, SAFEKEEP_CA_FILE). */
  readonly ca: Buffer | undefined;
}

/**
 * Reads the client commands' configuration: each setting from its command-line flag when given, else from
 * `SAFEKEEP_URL` (default `http://127.0.0.1:$PORT`, PORT default 8080), `SAFEKEEP_API_KEY` and
 * `SAFEKEEP_SITE_ID`. Only the settings a flag does not override are read from the environment, so a
 * stray variable never blocks an explicit flag. Reports every problem at once.
 * @throws ConfigError
 */
export function loadClientConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: {
    url?: string | undefined;
    apiKey?: string | undefined;
    siteId?: string | undefined;
    ca?: string | undefined;
  } = {},
): ClientConfig {
  const problems: string[] = [];

  let url: string;
  if (flags.url !== undefined) {
    url = checkServerUrl(flags.url, '--url', problems);
  } else if (env.SAFEKEEP_URL) {
    url = checkServerUrl(env.SAFEKEEP_URL, 'SAFEKEEP_URL', problems);
  } else {
    const raw = env.PORT || '8080';
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(
        `PORT must be an integer from 1 to 65535 to find the server, not "${raw}" (or set SAFEKEEP_URL or pass --url)`,
      );
    }
    url = `http://127.0.0.1:${raw}`;
  }

  const apiKey = flags.apiKey ?? env.SAFEKEEP_API_KEY ?? '';
  if (apiKey === '') problems.push('an API key is required: pass --key KEY or set SAFEKEEP_API_KEY');

  const siteId = (flags.siteId ?? env.SAFEKEEP_SITE_ID) || undefined;

  const caFile = (flags.ca ?? env.SAFEKEEP_CA_FILE) || undefined;
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (error) {
      problems.push(
        `${flags.ca !== undefined ? '--ca' : 'SAFEKEEP_CA_FILE'} cannot be read: ${(error as Error).message}`,
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { url, apiKey, siteId, ca };
}

function checkServerUrl(raw: string, name: string, problems: string[]): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    problems.push(`${name} must be an http:// or https:// URL, not "${raw}"`);
    return raw;
  }
  return raw.replace(/\/+$/, '');
}
