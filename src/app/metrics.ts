import { timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Progress } from '../domain/backup.js';
import { requireScope, type AuthService } from '../services/auth-service.js';

/** A running job as the metrics see it: its kind and how far it got. */
export interface RunningJob {
  readonly kind: 'backup' | 'restoration' | 'item-job' | 'verification';
  readonly progress: Progress | undefined;
}

/** What the connection pool reports, where the storage has one (PostgreSQL). */
export interface PoolUse {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** Where the scrape reads values that are not counted as they happen. */
export interface MetricsSources {
  runningJobs(): readonly RunningJob[];
  pool(): PoolUse | undefined;
  /** Sites whose backups are OVERDUE now (one count for the deployment, read at scrape). */
  overdueSites(): Promise<number>;
}

/**
 * The process's figures, kept in its own prom-client registry (never the global one, so that several
 * safekeeps in one process, as in tests, each count their own). No metric has a per-site label: a
 * deployment may hold 100,000 sites, and Prometheus keeps one series per label value.
 */
export class Metrics {
  readonly registry = new Registry();
  private sources: MetricsSources = {
    runningJobs: () => [],
    pool: () => undefined,
    overdueSites: () => Promise.resolve(0),
  };

  readonly jobsFinished = new Counter({
    name: 'safekeep_jobs_finished_total',
    help: 'Backups and restorations this process ran to an end, by kind and the status they ended in.',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });

  readonly jobDuration = new Histogram({
    name: 'safekeep_job_duration_seconds',
    help: 'How long a backup or restoration ran in this process, by kind and the status it ended in.',
    labelNames: ['kind', 'status'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    registers: [this.registry],
  });

  readonly backupBytesRead = new Counter({
    name: 'safekeep_backup_bytes_read_total',
    help: 'Uncompressed bytes of items and links backups read (every chunk, stored or deduplicated).',
    registers: [this.registry],
  });

  readonly backupBytesStored = new Counter({
    name: 'safekeep_backup_bytes_stored_total',
    help: 'Compressed bytes backups wrote to the blob store (new chunks only).',
    registers: [this.registry],
  });

  readonly backupBytesDeduplicated = new Counter({
    name: 'safekeep_backup_bytes_deduplicated_total',
    help: 'Uncompressed bytes of chunks backups found already stored, and so did not write again.',
    registers: [this.registry],
  });

  readonly verificationChunksRead = new Counter({
    name: 'safekeep_verification_chunks_read_total',
    help: 'Distinct backup chunks verifications read and checked (a chunk shared by the backups one verification covers counts once).',
    registers: [this.registry],
  });

  readonly verificationBytesRead = new Counter({
    name: 'safekeep_verification_bytes_read_total',
    help: 'Stored (compressed) bytes of chunks and manifests verifications read.',
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'safekeep_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, failed (retried later), given_up, blocked.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly webhookFailures = new Counter({
    name: 'safekeep_webhook_delivery_failures_total',
    help: 'Webhook delivery attempts that failed (retried or given up).',
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'safekeep_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  constructor() {
    const sources = () => this.sources;
    const jobGauge = (name: string, help: string, value: (progress: Progress | undefined) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['kind'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const kind of ['backup', 'restoration', 'item-job', 'verification'] as const)
            this.set({ kind }, countOf(sources().runningJobs(), kind, value));
        },
      });
    jobGauge(
      'safekeep_jobs_running',
      'Backups, restorations and jobs by filter running in this process now, by kind.',
      () => 1,
    );
    jobGauge(
      'safekeep_job_items_done',
      'Items the running jobs of this process have done so far, summed by kind.',
      (p) => p?.itemsDone ?? 0,
    );
    jobGauge(
      'safekeep_job_items_total',
      'Items the running jobs of this process have to do, summed by kind (0 until a job has counted them).',
      (p) => p?.itemsTotal ?? 0,
    );
    new Gauge({
      name: 'safekeep_sites_backup_overdue',
      help: 'Sites whose backups are OVERDUE now: no good backup within their interval plus the grace period.',
      registers: [this.registry],
      async collect() {
        // A database that cannot answer leaves the last value (the scrape itself must not fail).
        const overdue = await sources()
          .overdueSites()
          .catch(() => undefined);
        if (overdue !== undefined) this.set(overdue);
      },
    });
    new Gauge({
      name: 'safekeep_storage_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting clients); PostgreSQL only.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const pool = sources().pool();
        if (!pool) return;
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }

  /** Tells the scrape where to read running jobs and pool use. */
  connect(sources: Partial<MetricsSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of this safekeep's metrics and the process's (event loop, memory, CPU). */
  async text(): Promise<string> {
    return `${await processRegistry().metrics()}\n${await this.registry.metrics()}`;
  }
}

function countOf(
  jobs: readonly RunningJob[],
  kind: RunningJob['kind'],
  value: (progress: Progress | undefined) => number,
): number {
  let total = 0;
  for (const job of jobs) if (job.kind === kind) total += value(job.progress);
  return total;
}

let processMetrics: Registry | undefined;

/**
 * The Node process's metrics (event-loop delay, heap, CPU, handles): one registry per process, however
 * many safekeeps it opens, since they describe the process.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'safekeep_process_' });
  }
  return processMetrics;
}

/** True when an `Authorization` header carries the metrics token (`Bearer TOKEN`, or the bare token). */
export function isMetricsToken(header: string | undefined, token: string | undefined): boolean {
  if (!header || !token) return false;
  const given = Buffer.from(header.replace(/^Bearer\s+/i, ''));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Lets a scrape through when it carries the metrics token or an admin key.
 * @throws AppError UNAUTHENTICATED (no or unknown credentials), PERMISSION_DENIED (a key without admin)
 */
export async function authorizeScrape(
  header: string | undefined,
  token: string | undefined,
  auth: AuthService,
): Promise<void> {
  if (isMetricsToken(header, token)) return;
  requireScope(await auth.authenticate(header), 'admin');
}
