/**
 * A `safekeep serve` process for the SIGKILL test, started ahead of need: it loads the server's modules
 * (including the storage adapters its configuration will pick), then waits for a line on stdin before
 * serving exactly as `safekeep serve` does. The test keeps one warm, so that a restart after a kill costs
 * only the opening of the data, not Node's module loading.
 */
import { main } from '../../src/cli/main.js';
import '../../src/cli/commands/serve.js';
import '../../src/app/composition-root.js';

await (process.env.DATABASE_URL
  ? import('../../src/adapters/storage/postgres/postgres-storage.js')
  : import('../../src/adapters/storage/sqlite/sqlite-storage.js'));
await (process.env.SAFEKEEP_S3_BUCKET
  ? import('../../src/adapters/blob-store/s3-blob-store.js')
  : import('../../src/adapters/blob-store/fs-blob-store.js'));

await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
process.exitCode = await main(['serve']);
