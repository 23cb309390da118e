/** The webhook signing key: made once per data directory, private, and the same for concurrent starters. */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SIGNING_KEY_PATH, WebhookSigner } from '../../src/services/webhook-signer.js';

describe('webhook signer', () => {
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-signer-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the key on first start, private to its owner, and keeps it across restarts', async () => {
    const dir = freshDir();
    const first = await WebhookSigner.open(dir);
    const path = join(dir, SIGNING_KEY_PATH);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'keys')).mode & 0o077, 0);
    const again = await WebhookSigner.open(dir);
    assert.equal(again.publicKeyPem, first.publicKeyPem);
  });

  it('gives processes that start together the same key, and leaves no temporary files', async () => {
    const dir = freshDir();
    const signers = await Promise.all(Array.from({ length: 6 }, () => WebhookSigner.open(dir)));
    assert.equal(new Set(signers.map((s) => s.publicKeyPem)).size, 1);
    assert.deepEqual(readdirSync(join(dir, 'keys')), ['webhook-signing-key.pem']);
  });

  it('signs RS256 JWTs that verify with the public key', async () => {
    const signer = await WebhookSigner.open(freshDir());
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
  });
});
