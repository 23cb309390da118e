/**
 * A de-duplicating webhook receiver for the webhook fault test (issue 5, item 8): it verifies each body's
 * RS256 signature, handles each event id once (first acceptance wins), and misbehaves as told: answers an
 * error status, answers slowly, or never answers. It can be stopped (the port refuses connections) and
 * started again on the same port.
 */
import { once } from 'node:events';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWebhook, type DecodedWebhook } from '../webhooks/webhook-receiver.js';

/**
 * What the receiver does with one request. `accept`: it handles the event (a handled event is never handled
 * again); a 5xx answer normally means it did not. `hang` keeps the request open until the receiver stops.
 */
export type Behaviour =
  | { readonly answer: number; readonly delayMs: number; readonly accept: boolean }
  | { readonly hang: true; readonly accept: boolean };

/** An event as the receiver first accepted it. */
export interface AcceptedEvent {
  readonly id: string;
  readonly entityId: string;
  readonly sequence: number;
}

export interface DedupReceiver {
  readonly port: number;
  /** Events in the order they were first accepted. */
  readonly accepted: AcceptedEvent[];
  /** Requests for an event already accepted (at-least-once redeliveries). */
  readonly duplicates: number;
  readonly requests: number;
  readonly badSignatures: number;
  /** Requests received and not answered yet. */
  readonly open: number;
  behave: (event: DecodedWebhook) => Behaviour;
  /** Closes the port and drops open requests, until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Checks a compact RS256 JWT against `key`. */
function signedBy(jwt: string, key: KeyObject): boolean {
  const [header, payload, signature] = jwt.split('.');
  if (header === undefined || payload === undefined || signature === undefined) return false;
  return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
}

export async function startDedupReceiver(publicKeyPem: string): Promise<DedupReceiver> {
  const key = createPublicKey(publicKeyPem);
  const seen = new Set<string>();
  const hanging = new Set<ServerResponse>();
  let server: Server | undefined;
  let port = 0;
  let duplicates = 0;
  let requests = 0;
  let badSignatures = 0;
  let open = 0;

  const handle = (body: string, res: ServerResponse) => {
    requests += 1;
    if (!signedBy(body, key)) {
      badSignatures += 1;
      res.writeHead(401).end();
      return;
    }
    const decoded = decodeWebhook(body);
    const behaviour = receiver.behave(decoded);
    if (seen.has(decoded.event.id)) duplicates += 1;
    else if (behaviour.accept) {
      seen.add(decoded.event.id);
      receiver.accepted.push({
        id: decoded.event.id,
        entityId: decoded.event.entityId,
        sequence: Number(decoded.event.entityEventSequence),
      });
    }
    open += 1;
    res.on('close', () => (open -= 1));
    if ('hang' in behaviour) {
      hanging.add(res);
      return;
    }
    const answer = () => res.writeHead(behaviour.answer, { 'content-type': 'text/plain' }).end('ok');
    if (behaviour.delayMs > 0) setTimeout(answer, behaviour.delayMs);
    else answer();
  };

  const receiver: DedupReceiver = {
    get port() {
      return port;
    },
    accepted: [],
    get duplicates() {
      return duplicates;
    },
    get requests() {
      return requests;
    },
    get badSignatures() {
      return badSignatures;
    },
    get open() {
      return open;
    },
    behave: () => ({ answer: 200, delayMs: 0, accept: true }),
    async stop() {
      if (!server) return;
      const closing = server;
      server = undefined;
      for (const res of hanging) res.destroy();
      hanging.clear();
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    async start() {
      const next = createServer((req: IncomingMessage, res: ServerResponse) => {
        res.on('error', () => undefined);
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => handle(Buffer.concat(chunks).toString('utf8'), res));
      });
      next.listen(port, '127.0.0.1');
      await once(next, 'listening');
      port = (next.address() as AddressInfo).port;
      server = next;
    },
  };
  await receiver.start();
  return receiver;
}
