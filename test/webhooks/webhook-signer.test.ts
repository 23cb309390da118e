/** The webhook signing key: made once per deployment, kept in its database, the same for concurrent starters. */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import { SIGNING_KEY_META, WebhookSigner } from '../../src/services/webhook-signer.js';

describe('webhook signer', () => {
  const dirs: string[] = [];
  const open = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-signer-'));
    dirs.push(dir);
    return SqliteStorage.open({ path: join(dir, 'test.db') });
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the key on first start and keeps it across restarts', async () => {
    const storage = await open();
    try {
      assert.equal(await storage.meta.get(SIGNING_KEY_META), undefined);
      const first = await WebhookSigner.open(storage.meta);
      assert.match((await storage.meta.get(SIGNING_KEY_META)) ?? '', /^-----BEGIN PRIVATE KEY-----/);
      const again = await WebhookSigner.open(storage.meta);
      assert.equal(again.publicKeyPem, first.publicKeyPem);
    } finally {
      await storage.close();
    }
  });

  it('gives processes that start together the same key', async () => {
    const storage = await open();
    try {
      const signers = await Promise.all(Array.from({ length: 6 }, () => WebhookSigner.open(storage.meta)));
      assert.equal(new Set(signers.map((s) => s.publicKeyPem)).size, 1);
    } finally {
      await storage.close();
    }
  });

  it('signs RS256 JWTs that verify with the public key', async () => {
    const storage = await open();
    try {
      const signer = await WebhookSigner.open(storage.meta);
      const jwt = signer.sign({ data: 'hello' });
      const [header, payload, signature] = jwt.split('.');
      assert.deepEqual(JSON.parse(Buffer.from(header ?? '', 'base64url').toString()), {
        alg: 'RS256',
        typ: 'JWT',
      });
      assert.deepEqual(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), { data: 'hello' });
      assert.ok(
        verify(
          'sha256',
          Buffer.from(`${header}.${payload}`),
          createPublicKey(signer.publicKeyPem),
          Buffer.from(signature ?? '', 'base64url'),
        ),
      );
    } finally {
      await storage.close();
    }
  });
});
