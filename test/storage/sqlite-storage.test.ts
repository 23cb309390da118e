import { freshSqliteStorage } from '../helpers/storage-factories.js';
import { runStorageContract } from './storage-contract.js';

runStorageContract('SQLite', { create: freshSqliteStorage });
