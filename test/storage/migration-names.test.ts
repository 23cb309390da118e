import assert from 'node:assert/strict';
import { it } from 'node:test';
import { postgresMigrations } from '../../src/adapters/storage/postgres/postgres-migrations.js';
import { sqliteMigrations } from '../../src/adapters/storage/sqlite/sqlite-migrations.js';

it('SQLite and PostgreSQL have the same migrations, by name and in order', () => {
  assert.deepEqual(Object.keys(postgresMigrations), Object.keys(sqliteMigrations));
  assert.ok(Object.keys(sqliteMigrations).length >= 2);
});
