/**
 * A load generator run as its own process (so its CPU does not count against the server's): reads
 * `{ url, keys, rounds, thinkMs }` as JSON on stdin, runs one client per key that creates a backup and
 * lists backups `rounds` times (pausing about `thinkMs` between rounds), and prints the latencies (ms) as
 * JSON on stdout.
 */
import { text } from 'node:stream/consumers';

const { url, keys, rounds, thinkMs } = JSON.parse(await text(process.stdin)) as {
  url: string;
  keys: string[];
  rounds: number;
  /** Pause between a client's rounds (0: back to back). */
  thinkMs: number;
};
const create: number[] = [];
const list: number[] = [];
await Promise.all(
  keys.map(async (key) => {
    for (let i = 0; i < rounds; i++) {
      let start = performance.now();
      await (
        await fetch(`${url}/wix-data/v2/backups`, {
          method: 'POST',
          headers: { authorization: key, 'content-type': 'application/json' },
          body: '{}',
        })
      ).text();
      create.push(performance.now() - start);
      start = performance.now();
      await (await fetch(`${url}/wix-data/v2/backups`, { headers: { authorization: key } })).text();
      list.push(performance.now() - start);
      if (thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, thinkMs * (0.5 + Math.random())));
    }
  }),
);
process.stdout.write(JSON.stringify({ create, list }));
