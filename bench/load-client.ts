/**
 * A load generator run as its own process (so its CPU does not count against the server's): reads
 * `{ url, keys, rounds, thinkMs }` as JSON on stdin, runs one client per key that creates a backup and
 * lists backups `rounds` times (pausing about `thinkMs` between rounds), and prints the latencies (ms) as
 * JSON on stdout. It uses node:http with one kept-alive connection per client, opened before timing starts
 * (fetch's own pool added up to 80 ms of client-side delay at the tail, even against a trivial server).
 */
import { Agent, request } from 'node:http';
import { text } from 'node:stream/consumers';

const { url, keys, rounds, thinkMs } = JSON.parse(await text(process.stdin)) as {
  url: string;
  keys: string[];
  rounds: number;
  /** Pause between a client's rounds (0: back to back). */
  thinkMs: number;
};
const target = new URL(url);

function call(agent: Agent, method: string, path: string, key: string, body?: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers: { authorization: key, ...(body !== undefined && { 'content-type': 'application/json' }) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - start));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const create: number[] = [];
const list: number[] = [];
await Promise.all(
  keys.map(async (key) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    await call(agent, 'GET', '/healthz', key);
    for (let i = 0; i < rounds; i++) {
      create.push(await call(agent, 'POST', '/wix-data/v2/backups', key, '{}'));
      list.push(await call(agent, 'GET', '/wix-data/v2/backups', key));
      if (thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, thinkMs * (0.5 + Math.random())));
    }
    agent.destroy();
  }),
);
process.stdout.write(JSON.stringify({ create, list }));
