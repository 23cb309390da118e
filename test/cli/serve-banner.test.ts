import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { whereDataLives } from '../../src/cli/commands/serve.js';
import { loadConfig } from '../../src/config.js';

describe('serve banner', () => {
  it('says where data and backups live, embedded', () => {
    const config = loadConfig({ SAFEKEEP_DATA_DIR: '/srv/sk' }, '/');
    assert.deepEqual(whereDataLives(config), ['data: SQLite in /srv/sk', 'backups: /srv/sk/blobs']);
  });

  it('names PostgreSQL and S3 without their secrets', () => {
    const config = loadConfig(
      {
        SAFEKEEP_DATA_DIR: '/srv/sk',
        DATABASE_URL: 'postgres://safekeep:hunter2@db.internal:5432/prod',
        SAFEKEEP_S3_BUCKET: 'backups',
        SAFEKEEP_S3_ENDPOINT: 'http://minio.internal:9000',
        SAFEKEEP_S3_PREFIX: 'eu',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI',
      },
      '/',
    );
    const lines = whereDataLives(config);
    assert.deepEqual(lines, [
      'data: PostgreSQL at db.internal:5432/prod',
      `backups: S3 bucket backups/${config.s3?.prefix ?? ''} at http://minio.internal:9000`,
    ]);
    assert.doesNotMatch(lines.join('\n'), /hunter2|wJalrXUtnFEMI|AKIAEXAMPLE/);
  });
});
