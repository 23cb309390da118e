import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { runStorageContract } from './storage-contract.js';

runStorageContract('PostgreSQL', {
  async create() {
    const database = await createTestDatabase('storage-contract');
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
