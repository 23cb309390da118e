/** The S3 variables: parsed into the store's settings, or refused with every problem named at once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv');
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('S3 configuration', () => {
  it('is off without SAFEKEEP_S3_BUCKET (backups stay in the data directory)', () => {
    assert.equal(loadConfig({}, '/srv').s3, undefined);
    assert.equal(loadConfig({ AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' }, '/srv').s3, undefined);
  });

  it('reads bucket, endpoint, region, prefix, path style, attempts and the AWS keys', () => {
    const { s3 } = loadConfig(
      {
        SAFEKEEP_S3_BUCKET: 'backups.example-1',
        SAFEKEEP_S3_ENDPOINT: 'https://s3.example.test:9000/',
        SAFEKEEP_S3_REGION: 'eu-west-3',
        SAFEKEEP_S3_PREFIX: 'tenants/a',
        SAFEKEEP_S3_FORCE_PATH_STYLE: 'false',
        SAFEKEEP_S3_MAX_ATTEMPTS: '9',
        AWS_ACCESS_KEY_ID: 'AKID',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SESSION_TOKEN: 'token',
      },
      '/srv',
    );
    assert.deepEqual(s3, {
      bucket: 'backups.example-1',
      endpoint: 'https://s3.example.test:9000',
      region: 'eu-west-3',
      prefix: 'tenants/a/',
      forcePathStyle: false,
      maxAttempts: 9,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' },
    });
  });

  it('defaults: AWS_REGION, path style with an endpoint only, the SDK chain without keys', () => {
    const aws = loadConfig({ SAFEKEEP_S3_BUCKET: 'bkt', AWS_REGION: 'us-west-2' }, '/srv').s3;
    assert.equal(aws?.region, 'us-west-2');
    assert.equal(aws?.forcePathStyle, false);
    assert.equal(aws?.endpoint, undefined);
    assert.equal(aws?.credentials, undefined);
    assert.equal(aws?.prefix, '');
    assert.equal(aws?.maxAttempts, 6);
    const compatible = loadConfig(
      { SAFEKEEP_S3_BUCKET: 'bkt', SAFEKEEP_S3_ENDPOINT: 'http://127.0.0.1:9000' },
      '/srv',
    ).s3;
    assert.equal(compatible?.forcePathStyle, true);
    assert.equal(compatible?.region, 'us-east-1');
  });

  it('names every problem at once', () => {
    const found = problems({
      SAFEKEEP_S3_BUCKET: 'Not_A_Bucket',
      SAFEKEEP_S3_ENDPOINT: 'ftp://files',
      SAFEKEEP_S3_PREFIX: '../escape',
      SAFEKEEP_S3_FORCE_PATH_STYLE: 'maybe',
      SAFEKEEP_S3_MAX_ATTEMPTS: '0',
      AWS_ACCESS_KEY_ID: 'only-the-id',
    });
    const expected = [
      /SAFEKEEP_S3_BUCKET must be a bucket name .*"Not_A_Bucket"/,
      /SAFEKEEP_S3_ENDPOINT must be an http:\/\/ or https:\/\/ URL, not "ftp:\/\/files"/,
      /SAFEKEEP_S3_PREFIX must be .*"\.\.\/escape"/,
      /SAFEKEEP_S3_FORCE_PATH_STYLE must be true or false, not "maybe"/,
      /SAFEKEEP_S3_MAX_ATTEMPTS must be an integer from 1 to 20, not "0"/,
      /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together/,
    ];
    assert.equal(found.length, expected.length, found.join('\n'));
    for (const pattern of expected)
      assert.ok(
        found.some((p) => pattern.test(p)),
        `${pattern} in\n${found.join('\n')}`,
      );
  });

  it('refuses a region-less AWS bucket, and S3 settings without a bucket', () => {
    assert.deepEqual(problems({ SAFEKEEP_S3_BUCKET: 'bkt' }), [
      'SAFEKEEP_S3_REGION (or AWS_REGION) is required with SAFEKEEP_S3_BUCKET when no endpoint is set',
    ]);
    assert.deepEqual(problems({ SAFEKEEP_S3_ENDPOINT: 'http://127.0.0.1:9000', SAFEKEEP_S3_PREFIX: 'p' }), [
      'SAFEKEEP_S3_ENDPOINT, SAFEKEEP_S3_PREFIX set without SAFEKEEP_S3_BUCKET (which selects S3)',
    ]);
  });
});
