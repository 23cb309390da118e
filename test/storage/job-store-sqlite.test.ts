import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { runJobStoreContract } from './job-store-contract.js';

runJobStoreContract('SQLite', {
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-jobs-'));
    const storage = await SqliteStorage.open({ path: join(dir, 'test.db') });
    return {
      storage,
      async cleanup() {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
