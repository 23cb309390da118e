import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { OutboxEvent } from '../ports/webhook-store.js';

const generateRsa = promisify(generateKeyPair);

/** Where the key lives, relative to the data directory. */
export const SIGNING_KEY_PATH = join('keys', 'webhook-signing-key.pem');

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * Signs webhook bodies as RS256 JWTs (backups-api.md §7) with the deployment's key pair, which is created
 * on first start and kept in the data directory, so receivers can pin the public key across restarts.
 */
export class WebhookSigner {
  /** The public key as SPKI PEM: what `AppStrategy({ publicKey })` takes. */
  readonly publicKeyPem: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * Loads the key pair of `dataDir`, creating it when there is none. Processes starting together on the
   * same directory all end up with the same key: each writes its own temporary file and links it into
   * place, and whichever link won is read back.
   */
  static async open(dataDir: string): Promise<WebhookSigner> {
    const path = join(dataDir, SIGNING_KEY_PATH);
    const existing = await readPem(path);
    if (existing !== undefined) return new WebhookSigner(createPrivateKey(existing));
    await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(pem, 'utf8');
      // The key must be whole on disk before any process can see it under its final name.
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await link(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(temp);
    }
    const winner = await readPem(path);
    if (winner === undefined) throw new Error(`webhook signing key ${path} vanished while it was created`);
    return new WebhookSigner(createPrivateKey(winner));
  }

  /**
   * The webhook body of an outbox event: the JWT Wix sends, which `@wix/sdk`'s `webhooks.process` accepts
   * with `AppStrategy({ publicKey })`. The SDK wants `data` as a JSON string whose own `data` and
   * `identity` are JSON strings again, but `actionEvent.body` as an object: its timestamp transformations
   * look inside it.
   */
  signEvent(event: OutboxEvent, issuedAt: number): string {
    const domainEvent = {
      id: event.id,
      entityFqdn: event.entityFqdn,
      slug: event.slug,
      entityId: event.entityId,
      eventTime: new Date(event.createdAt).toISOString(),
      // An int64 on the wire, so a string, like every Wix int64.
      entityEventSequence: String(event.entitySequence),
      actionEvent: { body: JSON.parse(event.body) as unknown },
    };
    const message = {
      eventType: event.eventType,
      instanceId: event.siteId,
      data: JSON.stringify(domainEvent),
      // The outbox does not record who caused a change (and must never carry a key), so nobody is named.
      identity: JSON.stringify({ identityType: 'UNKNOWN' }),
    };
    return this.sign({ data: JSON.stringify(message), iat: Math.floor(issuedAt / 1000) });
  }

  /** A compact JWS (RS256) of `claims`. */
  sign(claims: Readonly<Record<string, unknown>>): string {
    const input = `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input, 'utf8'), this.privateKey).toString('base64url');
    return `${input}.${signature}`;
  }
}

async function readPem(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
