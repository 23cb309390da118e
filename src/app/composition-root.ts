import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { ON_DEMAND_LIMIT, PRE_RESTORE_RETENTION } from '../domain/backup.js';
import { defaultChunkPolicy } from '../domain/chunking.js';
import { WebhookAddressPolicy } from '../domain/webhook-address-policy.js';
import { CodecPool } from '../engine/codec-pool.js';
import type { VerificationDeps } from '../engine/verification-job.js';
import type { Failpoints } from '../engine/failpoints.js';
import { buildHttpApp } from '../http/app.js';
import { registerAdminRoutes } from '../http/routes/admin-routes.js';
import { registerBackupRoutes } from '../http/routes/backup-routes.js';
import { registerVerificationRoutes } from '../http/routes/verification-routes.js';
import { registerBrowseRoutes } from '../http/routes/browse-routes.js';
import { registerCollectionRoutes } from '../http/routes/collection-routes.js';
import { registerDataRoutes } from '../http/routes/data-routes.js';
import { registerDashboardRoutes } from '../http/routes/dashboard-routes.js';
import { registerHealthRoutes } from '../http/routes/health-routes.js';
import { registerOpenApiRoutes } from '../http/routes/openapi-routes.js';
import { registerOverviewRoutes } from '../http/routes/overview-routes.js';
import { registerUnsupportedRoutes } from '../http/routes/unsupported-routes.js';
import { registerWebhookRoutes } from '../http/routes/webhook-routes.js';
import { registerMetricsRoutes } from '../http/routes/metrics-routes.js';
import { Metrics, type PoolUse } from './metrics.js';
import { GarbageCollector } from '../jobs/garbage-collector.js';
import { runGenerationSweeper } from '../jobs/generation-sweep-task.js';
import type { Logger } from '../ports/logger.js';
import { JobWorker } from '../jobs/job-worker.js';
import { runLayoutMigration } from '../jobs/layout-migration-task.js';
import { Scheduler } from '../jobs/scheduler.js';
import { BackupHealthWatch } from '../jobs/backup-health-watch.js';
import { VerificationScrub } from '../jobs/verification-scrub.js';
import { WebhookDeliverer } from '../jobs/webhook-deliverer.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import { AdminService } from '../services/admin-service.js';
import { AuthService } from '../services/auth-service.js';
import { BackupService } from '../services/backup-service.js';
import { VerificationService } from '../services/verification-service.js';
import { BrowseService } from '../services/browse-service.js';
import { BackupReader } from '../engine/backup-reader.js';
import { CollectionService } from '../services/collection-service.js';
import { ArchiveService } from '../services/archive-service.js';
import { CursorCodec } from '../services/cursor-codec.js';
import { newGuid } from '../services/ids.js';
import { ItemService } from '../services/item-service.js';
import { OverviewService } from '../services/overview-service.js';
import { QuotaService } from '../services/quota-service.js';
import { WebhookService } from '../services/webhook-service.js';
import { WebhookSigner } from '../services/webhook-signer.js';

export interface Services {
  readonly auth: AuthService;
  readonly admin: AdminService;
  readonly quotas: QuotaService;
  readonly items: ItemService;
  readonly collections: CollectionService;
  readonly backups: BackupService;
  readonly archives: ArchiveService;
  readonly verification: VerificationService;
  readonly webhooks: WebhookService;
  /** Browsing and comparing backups (admin extension). */
  readonly browse: BrowseService;
}

/** The background parts, built on first use so that CLI commands never start threads. */
export interface Background {
  readonly engine: VerificationDeps;
  readonly worker: JobWorker;
  readonly scheduler: Scheduler;
  /** Queues the periodic verification of every READY backup. */
  readonly scrub: VerificationScrub;
  /** Moves sites between OK and OVERDUE backup health. */
  readonly healthWatch: BackupHealthWatch;
  readonly gc: GarbageCollector;
  /** Sends webhook deliveries, apart from the job worker so that slow receivers never slow backups. */
  readonly deliverer: WebhookDeliverer;
}

/** A running safekeep: storage, services, and the HTTP app and background work built on them. */
export interface Safekeep {
  readonly config: Config;
  readonly storage: Storage;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly services: Services;
  /** This safekeep's Prometheus metrics (served at `/metrics`, and by `safekeep worker` on its own port). */
  readonly metrics: Metrics;
  /** The job engine, worker, scheduler, collector and webhook deliverer (created on first call). */
  background(logger?: Logger): Background;
  /**
   * The start-up check of webhook subscriptions against the address rules (run by `startBackground`):
   * blocks the ones now refused, logging a warning for each, and unblocks the rest.
   */
  checkWebhooks(logger: Logger): Promise<void>;
  /** Builds the HTTP app (not listening); HTTPS with `https`'s certificate and key. */
  createHttpApp(
    logger?: FastifyServerOptions['logger'],
    options?: { https?: { cert: Buffer; key: Buffer }; timeRequests?: boolean },
  ): FastifyInstance;
  /**
   * Starts the background loops: the sweeper always; the layout migration, jobs, scheduler, GC and webhook
   * deliveries when the config says so.
   */
  startBackground(logger: Logger): Promise<void>;
  /** Stops background work and closes storage. */
  close(): Promise<void>;
}

const silent: Logger = { info: () => undefined, error: () => undefined };

/**
 * The composition root: the only place that picks adapters. They are imported lazily, so a deployment
 * never loads a driver it does not use.
 */
async function openStorage(
  config: Config,
  clock: Clock,
  largeGenerationItems: number | undefined,
): Promise<Storage> {
  if (config.databaseUrl) {
    const { PostgresStorage } = await import('../adapters/storage/postgres/postgres-storage.js');
    return PostgresStorage.open({
      url: config.databaseUrl,
      poolSize: config.dbPoolSize,
      now: clock,
      largeGenerationItems,
    });
  }
  const { SqliteStorage } = await import('../adapters/storage/sqlite/sqlite-storage.js');
  return SqliteStorage.open({ path: join(config.dataDir, 'safekeep.db'), now: clock, largeGenerationItems });
}

async function openBlobStore(config: Config, clock: Clock): Promise<BlobStore> {
  if (config.s3) {
    const { S3BlobStore } = await import('../adapters/blob-store/s3-blob-store.js');
    // The deployment's clock decides which multipart uploads are old enough to be a crashed writer's.
    return new S3BlobStore({ ...config.s3, clock });
  }
  const { FsBlobStore } = await import('../adapters/blob-store/fs-blob-store.js');
  return new FsBlobStore({ root: join(config.dataDir, 'blobs'), durable: config.fsync });
}

/**
 * Tests only (SAFEKEEP_TEST_CLOCK_FILE): the time is the epoch milliseconds written in a file, which the
 * test rewrites to move the clock of its child processes. Read again at most every 20 ms of real time.
 */
function fileClock(path: string): Clock {
  let readAt = -Infinity;
  let value = 0;
  return () => {
    const real = performance.now();
    if (real - readAt >= 20) {
      const parsed = Number(readFileSync(path, 'utf8').trim());
      if (!Number.isSafeInteger(parsed)) throw new Error(`${path} does not hold epoch milliseconds`);
      value = parsed;
      readAt = real;
    }
    return value;
  };
}

/**
 * Removes what a crash can leave behind, at a worker's start: temp files of the blob store, and item sets
 * (generations) of restorations that will not resume. Exported for the crash-point tests.
 */
export async function cleanUpAfterCrash(safekeep: Pick<Safekeep, 'blobs' | 'storage'>): Promise<void> {
  await safekeep.blobs.cleanUp();
  await safekeep.storage.maintenance.retireOrphanGenerations();
}

/** Exits the process at the nth hit of a named failpoint: a real crash, for fault tests. */
function exitingFailpoint(spec: { name: string; nth: number }): Failpoints {
  let hits = 0;
  return (name) => {
    if (name === spec.name && ++hits === spec.nth) process.kill(process.pid, 'SIGKILL');
    return Promise.resolve();
  };
}

export async function openSafekeep(
  config: Config,
  options: {
    clock?: Clock;
    failpoint?: Failpoints;
    /** Restored collections from this many items get a table of their own; the engine's default otherwise (tests lower it). */
    largeGenerationItems?: number;
    /** Items a job by filter handles per transaction; ITEM_JOB_BATCH otherwise (tests lower it). */
    itemJobBatch?: number;
  } = {},
): Promise<Safekeep> {
  const clock = options.clock ?? (config.testClockFile ? fileClock(config.testClockFile) : Date.now);
  const failpoint = options.failpoint ?? (config.failpoint ? exitingFailpoint(config.failpoint) : undefined);
  const storage = await openStorage(config, clock, options.largeGenerationItems);
  const blobs = await openBlobStore(config, clock);
  const cursorSecret = await storage.meta.setIfAbsent('cursor_secret', randomBytes(32).toString('base64url'));
  const signer = await WebhookSigner.open(storage.meta);
  const webhookPolicy = new WebhookAddressPolicy(config.webhookAllowedCidrs);
  const metrics = new Metrics();
  metrics.connect({
    runningJobs: () => built?.worker.runningJobs() ?? [],
    overdueSites: () => storage.health.countOverdue(),
    pool: () => poolOf(storage),
  });
  let built: Background | undefined;
  const background = (logger: Logger = silent): Background => {
    if (built) return built;
    const codec = new CodecPool(config.workerThreads);
    const engine: VerificationDeps = {
      backups: storage.backups,
      verifications: storage.verifications,
      verifyEveryMs: config.verifyEveryMs,
      restorations: storage.restorations,
      staging: storage.staging,
      itemJobs: storage.itemJobs,
      items: storage.items,
      collections: storage.collections,
      ...(options.itemJobBatch !== undefined && { itemJobBatch: options.itemJobBatch }),
      snapshots: storage.snapshots,
      blobs,
      codec,
      clock,
      compressionLevel: config.compressionLevel,
      policy: defaultChunkPolicy,
      leaseMs: config.jobLeaseMs,
      newId: newGuid,
      failpoint,
      chunkObserver: {
        stored: (raw, stored) => {
          metrics.backupBytesRead.inc(raw);
          metrics.backupBytesStored.inc(stored);
        },
        deduplicated: (raw) => {
          metrics.backupBytesRead.inc(raw);
          metrics.backupBytesDeduplicated.inc(raw);
        },
      },
      retentionFor: async (siteId) => {
        const site = await storage.sites.get(siteId);
        return {
          onDemand: ON_DEMAND_LIMIT,
          schedule: site?.settings.autoBackupRetention ?? config.autoBackupRetention,
          preRestore: PRE_RESTORE_RETENTION,
        };
      },
    };
    const worker = new JobWorker(engine, {
      pollMs: 1000,
      logger,
      concurrency: config.jobConcurrency,
      onJobEnd: (kind, status, seconds) => {
        metrics.jobsFinished.inc({ kind, status });
        metrics.jobDuration.observe({ kind, status }, seconds);
      },
      onVerified: (chunks, bytes) => {
        metrics.verificationChunksRead.inc(chunks);
        metrics.verificationBytesRead.inc(bytes);
      },
    });
    const scrub = new VerificationScrub(storage.verifications, {
      clock,
      everyMs: config.verifyEveryMs,
      newId: newGuid,
      logger,
      onWork: () => worker.nudge(),
    });
    const healthWatch = new BackupHealthWatch(storage.health, {
      clock,
      defaultIntervalDays: config.autoBackupIntervalDays,
      graceMs: config.overdueGraceMs,
      logger,
    });
    const scheduler = new Scheduler(storage, {
      clock,
      defaultIntervalDays: config.autoBackupIntervalDays,
      newId: newGuid,
      logger,
      onWork: () => worker.nudge(),
    });
    const gc = new GarbageCollector(storage.maintenance, blobs, clock, logger, undefined, failpoint);
    const deliverer = new WebhookDeliverer(storage.webhooks, signer, {
      clock,
      logger,
      policy: webhookPolicy,
      retentionMs: config.eventRetentionMs,
      onOutcome: (outcome) => {
        metrics.webhookDeliveries.inc({ outcome });
        if (outcome === 'failed' || outcome === 'given_up') metrics.webhookFailures.inc();
      },
    });
    built = { engine, worker, scheduler, scrub, healthWatch, gc, deliverer };
    return built;
  };
  const quotas = new QuotaService(storage, config.quotas);
  const backupService = new BackupService(storage, clock, () => built?.worker.nudge(), blobs, quotas);
  const services: Services = {
    auth: new AuthService(storage),
    admin: new AdminService(
      storage,
      clock,
      {
        autoBackupIntervalDays: config.autoBackupIntervalDays,
        autoBackupRetention: config.autoBackupRetention,
        quotas: config.quotas,
        bodyLimitBytes: config.bodyLimitBytes,
      },
      blobs,
    ),
    quotas,
    items: new ItemService(storage, clock, new CursorCodec(cursorSecret), quotas, {
      // A site's jobs by filter are its bulk work: as many may wait or run as bulk requests may be in flight.
      maxPending: config.admission.siteBulkRequests,
      nudge: () => built?.worker.nudge(),
    }),
    collections: new CollectionService(storage, clock, config.collectionBinMs, quotas),
    backups: backupService,
    archives: new ArchiveService(
      storage.backups,
      backupService,
      blobs,
      clock,
      () => background().engine,
      { importMaxBytes: config.importMaxBytes, leaseMs: config.jobLeaseMs },
      async (siteId) => (await storage.sites.get(siteId)) !== undefined,
      quotas,
    ),
    verification: new VerificationService(
      storage,
      clock,
      blobs,
      { autoBackupIntervalDays: config.autoBackupIntervalDays, overdueGraceMs: config.overdueGraceMs },
      () => built?.worker.nudge(),
    ),
    webhooks: new WebhookService(storage, clock, signer, webhookPolicy),
    // Chunks are verified and decoded by the engine's codec threads, started on first use.
    browse: new BrowseService(
      storage,
      blobs,
      new BackupReader(blobs, () => background().engine.codec),
      new CursorCodec(cursorSecret),
      clock,
    ),
  };
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  return {
    config,
    storage,
    blobs,
    clock,
    services,
    metrics,
    background,
    createHttpApp(logger = false, options = {}) {
      return buildHttpApp({
        auth: services.auth,
        bodyLimit: config.bodyLimitBytes,
        admission: config.admission,
        siteBodyLimit: async (siteId) => (await quotas.limits(siteId)).maxRequestBodyBytes,
        logger,
        ...(options.https && { https: options.https }),
        ...(options.timeRequests !== false && {
          onResponse: (method: string, route: string, status: number, seconds: number) =>
            metrics.httpDuration.observe({ method, route, status_code: status }, seconds),
        }),
        routes: (app) => {
          registerHealthRoutes(app, { storage, auth: services.auth, verification: services.verification });
          registerMetricsRoutes(app, { metrics, auth: services.auth, token: config.metricsToken });
          registerDataRoutes(app, services);
          registerCollectionRoutes(app, services);
          registerUnsupportedRoutes(app);
          registerAdminRoutes(app, services);
          registerBackupRoutes(app, services);
          registerVerificationRoutes(app, services);
          registerBrowseRoutes(app, services);
          registerWebhookRoutes(app, services);
          registerOverviewRoutes(app, {
            overview: new OverviewService(storage, blobs, clock, services, () => background().engine.codec),
            collections: services.collections,
          });
          registerDashboardRoutes(app);
          registerOpenApiRoutes(app);
        },
      });
    },
    async checkWebhooks(logger) {
      await services.webhooks.checkSubscriptions(logger);
    },
    async startBackground(logger) {
      // Every process, serving or working: each warns about what it would refuse.
      await services.webhooks.checkSubscriptions(logger);
      running.push(
        runGenerationSweeper(storage.sweeper, {
          signal: stop.signal,
          logger,
          binCutoff: () => clock() - config.collectionBinMs,
        }),
      );
      if (!config.runWorker) return;
      await cleanUpAfterCrash({ blobs, storage });
      // Sites still in the table-per-generation layout move to the shared one, a site at a time, while the
      // others serve; it returns once none is left (at once on a deployment created by this release).
      running.push(
        runLayoutMigration(storage.layout, {
          signal: stop.signal,
          logger,
          clock,
          owner: `layout-${newGuid()}`,
          leaseMs: config.jobLeaseMs,
          batchRows: config.layoutMigrationBatchRows,
          failpoint,
        }),
      );
      const { worker, scheduler, scrub, healthWatch, gc, deliverer } = background(logger);
      running.push(worker.run(stop.signal));
      running.push(scheduler.run(stop.signal, config.schedulerTickMs));
      running.push(scrub.run(stop.signal, config.schedulerTickMs));
      running.push(healthWatch.run(stop.signal, config.schedulerTickMs));
      running.push(gc.run(stop.signal, config.gcIntervalMs));
      running.push(deliverer.run(stop.signal));
    },
    async close() {
      stop.abort();
      await Promise.all(running);
      if (built) await built.engine.codec.close();
      await storage.close();
    },
  };
}

/** The connection pool's use, where the storage keeps one that reports it (pg's Pool does). */
function poolOf(storage: Storage): PoolUse | undefined {
  const pool = (storage as { pool?: Partial<PoolUse> }).pool;
  if (
    typeof pool?.totalCount !== 'number' ||
    typeof pool.idleCount !== 'number' ||
    typeof pool.waitingCount !== 'number'
  )
    return undefined;
  return { totalCount: pool.totalCount, idleCount: pool.idleCount, waitingCount: pool.waitingCount };
}

/**
 * Creates the admin key printed on a deployment's first start. Returns its secret, or undefined when a
 * bootstrap key was made before (by this or a concurrent process).
 */
export async function ensureBootstrapAdminKey(safekeep: Safekeep): Promise<string | undefined> {
  const { storage, services } = safekeep;
  if ((await storage.meta.get('bootstrap_admin_key')) !== undefined) return undefined;
  const { apiKey, secret } = await services.admin.createApiKey({
    name: 'bootstrap admin',
    siteIds: [],
    scopes: ['admin'],
  });
  const winner = await storage.meta.setIfAbsent('bootstrap_admin_key', apiKey.id);
  if (winner !== apiKey.id) {
    await services.admin.revokeApiKey(apiKey.id);
    return undefined;
  }
  return secret;
}
