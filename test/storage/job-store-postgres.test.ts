import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { runJobStoreContract } from './job-store-contract.js';

// A database of its own per test; an unreachable server fails every test (never skips it).
runJobStoreContract('PostgreSQL', {
  async create() {
    const database = await createTestDatabase('job-store-contract');
    const storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
    return {
      storage,
      async cleanup() {
        await storage.close();
        await database.drop();
      },
    };
  },
});
