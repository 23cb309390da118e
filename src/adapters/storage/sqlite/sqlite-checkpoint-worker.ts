/**
 * Worker thread: checkpoints the WAL in the background. With the writer connection's automatic checkpoints
 * turned off, the copying and fsync of a checkpoint never run on the event loop (a 16 MB checkpoint stalled
 * it for tens of milliseconds). PASSIVE checkpoints never wait for or block readers and writers.
 */
import { workerData } from 'node:worker_threads';
import { openSqlite } from './sqlite-connection.js';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = openSqlite(path, { cacheMiB: 2 });
setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or locked: the next round tries again.
  }
}, intervalMs);
