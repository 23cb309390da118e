/**
 * A TCP proxy of ours, in front of an HTTP server (the test S3), that injects faults on command: a reset
 * at the start, middle or end of a request or of a response, a delayed response, or a canned reply. It
 * reads HTTP/1.1 just enough to find each request's head and body; every request goes upstream on its own
 * connection with `Connection: close`, so the server's answer ends where its connection does.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type FaultPoint = 'start' | 'middle' | 'end';

export type Fault =
  /** start: nothing reaches the server; middle: the head and `afterBytes` (default half) of the body do;
   *  end: all of it does, and the client is reset before any answer. */
  | { readonly type: 'reset-request'; readonly at: FaultPoint; readonly afterBytes?: number }
  /** The server answers in full; the client gets none of it (start), `afterBytes` (default half) of it
   *  (middle), or all but the last byte (end), then a reset. */
  | { readonly type: 'reset-response'; readonly at: FaultPoint; readonly afterBytes?: number }
  /** The server's answer is held back this long. */
  | { readonly type: 'delay'; readonly ms: number }
  /** The proxy answers itself; the server never sees the request. */
  | { readonly type: 'reply'; readonly status: number; readonly body?: string };

export interface FaultRule {
  readonly method?: string;
  /** Matches when the request target (path and query) contains this string or matches this pattern. */
  readonly path?: string | RegExp;
  readonly fault: Fault;
  /** How many matching requests get the fault (default 1; Infinity for every one). */
  readonly times?: number;
}

export interface ProxiedRequest {
  readonly method: string;
  readonly target: string;
  /** The fault applied, as `type:at`, `delay` or `reply:<status>`. */
  readonly fault: string | undefined;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Every request seen, in order. */
  readonly requests: readonly ProxiedRequest[];
  /** Adds a rule (rules are tried in the order added); the handle tells how often it was applied. */
  inject(rule: FaultRule): { readonly used: number };
  /** Drops the rules not yet used up. */
  clear(): void;
  /** Requests seen that match (all when no filter). */
  count(filter?: { method?: string; path?: string | RegExp }): number;
  /** Faults applied so far. */
  faults(): number;
  close(): Promise<void>;
}

const reasons: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

function matches(
  filter: { method?: string; path?: string | RegExp },
  method: string,
  target: string,
): boolean {
  if (filter.method !== undefined && filter.method !== method) return false;
  if (filter.path === undefined) return true;
  return typeof filter.path === 'string' ? target.includes(filter.path) : filter.path.test(target);
}

function label(fault: Fault): string {
  switch (fault.type) {
    case 'reset-request':
    case 'reset-response':
      return `${fault.type}:${fault.at}`;
    case 'delay':
      return 'delay';
    case 'reply':
      return `reply:${fault.status}`;
  }
}

export async function startFaultProxy(upstream: { host: string; port: number }): Promise<FaultProxy> {
  const rules: { rule: FaultRule; left: number; used: number }[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let applied = 0;

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };

  const server: Server = createServer((client) => {
    track(client);
    let received = Buffer.alloc(0);
    const onHead = (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.off('data', onHead);
      client.pause();
      serve(client, received.subarray(0, end).toString('latin1'), received.subarray(end + 4));
    };
    client.on('data', onHead);
  });

  function serve(client: Socket, head: string, early: Buffer): void {
    const [requestLine = '', ...headerLines] = head.split('\r\n');
    const [method = '', target = ''] = requestLine.split(' ');
    const header = (name: string) =>
      headerLines
        .find((line) => line.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    const length = Number(header('content-length') ?? 0);
    const found = rules.find((r) => r.left > 0 && matches(r.rule, method, target));
    if (found) {
      found.left -= 1;
      found.used += 1;
      applied += 1;
    }
    const fault = found?.rule.fault;
    requests.push({ method, target, fault: fault && label(fault) });

    if (header('transfer-encoding')) {
      // Our S3 store always sends a Content-Length; anything else is a test bug, made loud.
      client.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (fault?.type === 'reset-request' && fault.at === 'start') {
      client.resetAndDestroy();
      return;
    }
    // Acting as the server for Expect: the client may send its body now.
    if (header('expect')?.toLowerCase() === '100-continue') client.write('HTTP/1.1 100 Continue\r\n\r\n');

    if (fault?.type === 'reply') {
      readBody(client, early, length, () => {
        const body = fault.body ?? '';
        client.end(
          `HTTP/1.1 ${fault.status} ${reasons[fault.status] ?? 'Status'}\r\n` +
            `Content-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      return;
    }

    const forwarded = headerLines.filter(
      (line) => !/^(connection|keep-alive|expect|proxy-connection):/i.test(line),
    );
    const up = track(connect(upstream.port, upstream.host));
    up.write(`${requestLine}\r\n${forwarded.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    const cut =
      fault?.type === 'reset-request' && fault.at === 'middle'
        ? Math.min(length, fault.afterBytes ?? Math.floor(length / 2))
        : length;
    let sent = 0;
    const forward = (data: Buffer) => {
      const piece = data.subarray(0, cut - sent);
      sent += piece.length;
      if (piece.length > 0) up.write(piece);
      if (sent < cut) return;
      client.off('data', forward);
      if (cut < length) {
        // Cut mid-body: the server gets a truncated request, the client a reset while still sending.
        up.resetAndDestroy();
        client.resetAndDestroy();
      } else if (fault?.type === 'reset-request') {
        client.resetAndDestroy(); // the server has it all; its answer is lost
        up.resume();
      }
    };
    client.on('data', forward);
    forward(early);
    client.resume();

    const answer: Buffer[] = [];
    up.on('data', (data: Buffer) => answer.push(data));
    up.on('end', () => {
      if (client.destroyed) return;
      const response = Buffer.concat(answer);
      if (fault?.type === 'reset-response') {
        const keep =
          fault.at === 'start'
            ? 0
            : fault.at === 'end'
              ? response.length - 1
              : (fault.afterBytes ?? Math.floor(response.length / 2));
        if (keep === 0) client.resetAndDestroy();
        else client.write(response.subarray(0, keep), () => client.resetAndDestroy());
        return;
      }
      const send = () => {
        if (!client.destroyed) client.end(response);
      };
      if (fault?.type === 'delay') setTimeout(send, fault.ms);
      else send();
    });
  }

  /** Reads and drops a request body, then calls `done`. */
  function readBody(client: Socket, early: Buffer, length: number, done: () => void): void {
    let got = early.length;
    if (got >= length) return done();
    const onData = (data: Buffer) => {
      got += data.length;
      if (got < length) return;
      client.off('data', onData);
      done();
    };
    client.on('data', onData);
    client.resume();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    requests,
    inject(rule) {
      const entry = { rule, left: rule.times ?? 1, used: 0 };
      rules.push(entry);
      return {
        get used() {
          return entry.used;
        },
      };
    },
    clear() {
      rules.length = 0;
    },
    count(filter = {}) {
      return requests.filter((r) => matches(filter, r.method, r.target)).length;
    },
    faults: () => applied,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
