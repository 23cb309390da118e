import { freshPostgresStorage } from '../helpers/storage-factories.js';
import { runStorageContract } from './storage-contract.js';

runStorageContract('PostgreSQL', { create: () => freshPostgresStorage('storage-contract') });
