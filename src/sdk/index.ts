/**
 * The safekeep SDK: a typed client for the server's APIs. The dashboard and the `safekeep` command talk
 * to a server only through it. It imports no server code, so it can become a package of its own.
 */
export {
  SafekeepClient,
  BACKUPS_PATH,
  type SafekeepClientOptions,
  type RequestOptions,
  type StartOptions,
  type CreateBackupOptions,
  type ListBackupsOptions,
  type ListRestorationsOptions,
} from './safekeep-client.js';
export { SafekeepApiError, SafekeepConnectionError, UNEXPECTED_RESPONSE } from './safekeep-api-error.js';
export { DEFAULT_WAIT_INTERVAL_MS, type WaitOptions } from './wait-until-settled.js';
export type * from './types.js';
