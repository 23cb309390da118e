import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { buildHttpApp } from '../http/app.js';
import { registerAdminRoutes } from '../http/routes/admin-routes.js';
import { registerDataRoutes } from '../http/routes/data-routes.js';
import { registerHealthRoutes } from '../http/routes/health-routes.js';
import { runGenerationSweeper, type Logger } from '../jobs/generation-sweep-task.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import { AdminService } from '../services/admin-service.js';
import { AuthService } from '../services/auth-service.js';
import { CollectionService } from '../services/collection-service.js';
import { CursorCodec } from '../services/cursor-codec.js';
import { ItemService } from '../services/item-service.js';

export interface Services {
  readonly auth: AuthService;
  readonly admin: AdminService;
  readonly items: ItemService;
  readonly collections: CollectionService;
}

/** A running safekeep: storage, services, and the HTTP app and background work built on them. */
export interface Safekeep {
  readonly config: Config;
  readonly storage: Storage;
  readonly services: Services;
  /** Builds the HTTP app (not listening). */
  createHttpApp(logger?: FastifyServerOptions['logger']): FastifyInstance;
  /** Starts background work (sweeping retired generations). */
  startBackground(logger: Logger): void;
  /** Stops background work and closes storage. */
  close(): Promise<void>;
}

/**
 * The composition root: the only place that picks adapters. They are imported lazily, so a deployment
 * never loads a driver it does not use.
 */
async function openStorage(config: Config, clock: Clock): Promise<Storage> {
  if (config.databaseUrl) {
    throw new Error('DATABASE_URL is set, but this build supports only the embedded SQLite storage so far.');
  }
  const { SqliteStorage } = await import('../adapters/storage/sqlite/sqlite-storage.js');
  return SqliteStorage.open({ path: join(config.dataDir, 'safekeep.db'), now: clock });
}

export async function openSafekeep(config: Config, options: { clock?: Clock } = {}): Promise<Safekeep> {
  const clock = options.clock ?? Date.now;
  const storage = await openStorage(config, clock);
  const cursorSecret = await storage.meta.setIfAbsent('cursor_secret', randomBytes(32).toString('base64url'));
  const services: Services = {
    auth: new AuthService(storage),
    admin: new AdminService(storage, clock, {
      autoBackupIntervalDays: config.autoBackupIntervalDays,
      autoBackupRetention: config.autoBackupRetention,
    }),
    items: new ItemService(storage, clock, new CursorCodec(cursorSecret)),
    collections: new CollectionService(storage, clock),
  };
  const background = new AbortController();
  const running: Promise<void>[] = [];
  return {
    config,
    storage,
    services,
    createHttpApp(logger = false) {
      return buildHttpApp({
        auth: services.auth,
        bodyLimit: config.bodyLimitBytes,
        logger,
        routes: (app) => {
          registerHealthRoutes(app, { storage });
          registerDataRoutes(app, services);
          registerAdminRoutes(app, services);
        },
      });
    },
    startBackground(logger) {
      running.push(runGenerationSweeper(storage.sweeper, { signal: background.signal, logger }));
    },
    async close() {
      background.abort();
      await Promise.all(running);
      await storage.close();
    },
  };
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
