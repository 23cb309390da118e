import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { domainEventPayload } from '../contracts/item-events.js';
import type { MetaStore } from '../ports/storage.js';
import type { OutboxEvent } from '../ports/webhook-store.js';

const generateRsa = promisify(generateKeyPair);

/** The meta entry that holds the deployment's signing key (PKCS#8 PEM). */
export const SIGNING_KEY_META = 'webhook_signing_key';

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * Signs webhook bodies as RS256 JWTs (backups-api.md §7) with the deployment's key pair. The key is made
 * on first start and kept in the database, so every process of a deployment — on any machine — signs
 * with the same key, and receivers can pin the public key across restarts.
 */
export class WebhookSigner {
  /** The public key as SPKI PEM: what `AppStrategy({ publicKey })` takes. */
  readonly publicKeyPem: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * Loads the deployment's key pair, creating it when there is none. Processes starting together all end
   * up with the same key: each proposes one, and the first stored wins (`setIfAbsent`).
   */
  static async open(meta: Pick<MetaStore, 'get' | 'setIfAbsent'>): Promise<WebhookSigner> {
    let pem = await meta.get(SIGNING_KEY_META);
    if (pem === undefined) {
      const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
      const proposed = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      pem = await meta.setIfAbsent(SIGNING_KEY_META, proposed);
    }
    return new WebhookSigner(createPrivateKey(pem));
  }

  /**
   * The webhook body of an outbox event: the JWT Wix sends, which `@wix/sdk`'s `webhooks.process` accepts
   * with `AppStrategy({ publicKey })`. The SDK wants `data` as a JSON string whose own `data` and
   * `identity` are JSON strings again, but the body (`actionEvent.body`, or an item event's entity) as an
   * object: its timestamp transformations look inside it.
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
      ...domainEventPayload(event.slug, JSON.parse(event.body) as unknown),
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
