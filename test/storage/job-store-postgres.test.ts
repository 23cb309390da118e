import { freshPostgresStorage } from '../helpers/storage-factories.js';
import { runJobStoreContract } from './job-store-contract.js';

// A database of its own per test; an unreachable server fails every test (never skips it).
runJobStoreContract('PostgreSQL', { create: () => freshPostgresStorage('job-store-contract') });
