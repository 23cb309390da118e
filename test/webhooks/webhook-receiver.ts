import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookAddressPolicy } from '../../src/domain/webhook-address-policy.js';
import { WebhookDeliverer, type WebhookDelivererOptions } from '../../src/jobs/webhook-deliverer.js';
import { WebhookSigner } from '../../src/services/webhook-signer.js';
import type { TestEnv, TestSite } from '../helpers/harness.js';

/** One request a receiver got. */
export interface ReceivedRequest {
  readonly body: string;
  readonly contentType: string | undefined;
  readonly method: string | undefined;
}

/** What a receiver does with a request: answer with a status, or never answer. */
export type Reaction = number | 'hang';

/**
 * A webhook receiver on 127.0.0.1 that records every request and answers as `react` says. It can be
 * stopped and started again on the same port, to play a receiver that is down for a while.
 */
export interface WebhookReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  react: (request: ReceivedRequest) => Reaction;
  /** Closes the port (connections are refused) until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(
  react: (request: ReceivedRequest) => Reaction = () => 200,
): Promise<WebhookReceiver> {
  let server: Server | undefined;
  let port = 0;
  const receiver: WebhookReceiver = {
    get url() {
      return `http://127.0.0.1:${port}/hooks/backups`;
    },
    requests: [],
    react,
    async stop() {
      if (!server) return;
      const closing = server;
      server = undefined;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    async start() {
      const next = createServer((req: IncomingMessage, res: ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const request = {
            body: Buffer.concat(chunks).toString('utf8'),
            contentType: req.headers['content-type'],
            method: req.method,
          };
          receiver.requests.push(request);
          const reaction = receiver.react(request);
          if (reaction === 'hang') return;
          res.writeHead(reaction, { 'content-type': 'text/plain' }).end('ok');
        });
      });
      next.listen(port, '127.0.0.1');
      await once(next, 'listening');
      port = (next.address() as AddressInfo).port;
      server = next;
    },
    close() {
      return receiver.stop();
    },
  };
  await receiver.start();
  return receiver;
}

/** The domain event inside a webhook body, read without checking the signature (for ordering asserts). */
export interface DecodedWebhook {
  readonly eventType: string;
  readonly instanceId: string;
  readonly identity: unknown;
  readonly event: {
    id: string;
    entityId: string;
    entityEventSequence: string;
    slug: string;
    eventTime: string;
    actionEvent: {
      body: { backup?: { id: string; status: string }; restoration?: { id: string; status: string } };
    };
  };
}

export function decodeWebhook(jwt: string): DecodedWebhook {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
  const message = JSON.parse(payload.data);
  return {
    eventType: message.eventType,
    instanceId: message.instanceId,
    identity: JSON.parse(message.identity),
    event: JSON.parse(message.data),
  };
}

/** The status an event reports, whichever entity it is about. */
export function statusOf(webhook: DecodedWebhook): string | undefined {
  const body = webhook.event.actionEvent.body;
  return (body.backup ?? body.restoration)?.status;
}

/** Runs queued backup and restoration jobs until none is left. */
export async function runJobs(env: TestEnv): Promise<void> {
  const { worker } = env.safekeep.background();
  while (await worker.runOne(new AbortController().signal));
}

/** Attempts due deliveries until none is due at the current (test) time; returns how many were attempted. */
export async function drain(deliverer: WebhookDeliverer): Promise<number> {
  let total = 0;
  for (let round = 0; round < 100; round++) {
    const attempted = await deliverer.runOnce();
    if (attempted === 0) return total;
    total += attempted;
  }
  throw new Error('deliveries did not run out');
}

const silent = { info: () => undefined, error: () => undefined };

/**
 * A deliverer on the environment's storage and signing key, with its address rules from the environment's
 * config (SAFEKEEP_WEBHOOK_ALLOWED_CIDRS), and test settings (no jitter by default).
 */
export async function testDeliverer(
  env: TestEnv,
  options: Partial<WebhookDelivererOptions> = {},
): Promise<WebhookDeliverer> {
  return new WebhookDeliverer(
    env.safekeep.storage.webhooks,
    await WebhookSigner.open(env.safekeep.storage.meta),
    {
      clock: env.clock.now,
      logger: silent,
      random: () => 0,
      policy: new WebhookAddressPolicy(env.safekeep.config.webhookAllowedCidrs),
      ...options,
    },
  );
}

/**
 * Subscribes `url` to event types of a site (by default both backup ones) through the admin API; returns
 * the subscription id.
 */
export async function subscribe(
  env: TestEnv,
  site: { siteId: string; apiKey: string },
  url: string,
  eventTypes: readonly string[] = [
    'wix.data.v2.backup_backup_state_changed',
    'wix.data.v2.backup_restoration_state_changed',
  ],
): Promise<string> {
  const res = await env.call('POST', '/_api/safekeep/v1/webhooks', {
    key: site.apiKey,
    body: { siteId: site.siteId, url, eventTypes },
  });
  if (res.status !== 200) throw new Error(`subscribe failed: ${res.status} ${res.text}`);
  return res.body.webhook.id as string;
}

/** Creates an on-demand backup through the API; returns its id. */
export async function createBackup(env: TestEnv, site: { siteId: string; apiKey: string }): Promise<string> {
  const res = await env.call('POST', '/wix-data/v2/backups', { key: site.apiKey, body: {} });
  if (res.status !== 200) throw new Error(`create backup failed: ${res.status} ${res.text}`);
  return res.body.backup.id as string;
}

/** A fresh site with a `Books` collection, with `url` subscribed to `eventTypes` unless none are given. */
export async function siteWithBooks(
  env: TestEnv,
  url: string,
  eventTypes?: readonly string[],
): Promise<TestSite> {
  const fresh = await env.createSite();
  const created = await env.call('POST', '/wix-data/v2/collections', {
    key: fresh.apiKey,
    body: { collection: { id: 'Books', fields: [] } },
  });
  if (created.status !== 200) throw new Error(`create collection failed: ${created.status} ${created.text}`);
  if (eventTypes) await subscribe(env, fresh, url, eventTypes);
  return fresh;
}
