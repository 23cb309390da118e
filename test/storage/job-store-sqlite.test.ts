import { freshSqliteStorage } from '../helpers/storage-factories.js';
import { runJobStoreContract } from './job-store-contract.js';

runJobStoreContract('SQLite', { create: freshSqliteStorage });
