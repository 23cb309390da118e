/**
 * Issue 5, item 7 — API-key material appears nowhere but in the one answer that creates the key: not in
 * the database (every row of every table, and the bytes of every file of the data directory), not in the
 * server's logs (HTTP at trace level, background work), not in job payloads, not in blobs, not in webhook
 * bodies or headers (delivered to a local receiver). On both stacks.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { reportFigures } from '../helpers/fault-run.js';
import { loopbackHooks, startTestEnv, type TestEnv } from '../helpers/harness.js';

const D = '/wix-data/v2';
const A = '/_api/safekeep/v1';

/** A webhook receiver that keeps every request's headers and body. */
async function startRecordingReceiver(): Promise<{
  url: string;
  requests: { headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}> {
  const requests: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The forms of a secret to look for: whole, its random part, and a 16-character piece of it. */
function formsOf(secret: string): string[] {
  const random = secret.replace(/^sk_/, '');
  return [secret, random, random.slice(4, 20)];
}

/** Every file below a directory, as bytes. */
function filesBelow(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesBelow(path) : [{ path, bytes: readFileSync(path) }];
  });
}

/** Texts and bytes in which key material is looked for, by where they came from. */
class Haystack {
  readonly places = new Map<string, string[]>();
  rows = 0;
  jobRows = 0;
  files = 0;
  bytes = 0;
  add(where: string, text: string): void {
    const list = this.places.get(where) ?? [];
    list.push(text);
    this.places.set(where, list);
    this.bytes += text.length;
  }
  /** `where: form` for each form of each secret found. */
  findings(secrets: readonly string[]): string[] {
    const out: string[] = [];
    for (const [where, texts] of this.places)
      for (const secret of secrets)
        for (const form of formsOf(secret))
          if (texts.some((t) => t.includes(form))) out.push(`${where}: ${form.slice(0, 10)}…`);
    return out;
  }
}

/**
 * The tables that hold job payloads: backups and restorations are their own job records (with their
 * requests, leases and errors); events and deliveries are what webhooks send; idempotency keys keep
 * first answers.
 */
const jobTables = /^(backups|backup_collections|restorations|events|deliveries|idempotency_keys)$/;

/** Every row of every table of the embedded database, read from its file by a separate connection. */
async function sqliteRows(env: TestEnv, hay: Haystack): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(env.dataDir, 'safekeep.db'), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all() as Record<
        string,
        unknown
      >[];
      hay.rows += rows.length;
      if (jobTables.test(name)) hay.jobRows += rows.length;
      for (const row of rows) hay.add(`sqlite ${name}`, rowText(row));
    }
  } finally {
    db.close();
  }
}

/** Every row of every table of the PostgreSQL database. */
async function postgresRows(env: TestEnv, hay: Haystack): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: env.safekeep.config.databaseUrl });
  await client.connect();
  try {
    const tables = await client.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
    );
    assert.ok(tables.rows.length > 0, 'the database has tables');
    for (const { schema, name } of tables.rows) {
      const rows = await client.query<Record<string, unknown>>(
        `SELECT * FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`,
      );
      hay.rows += rows.rows.length;
      if (jobTables.test(name)) hay.jobRows += rows.rows.length;
      for (const row of rows.rows) hay.add(`postgres ${name}`, rowText(row));
    }
  } finally {
    await client.end();
  }
}

/** A row as text: strings as they are, bytes both as Latin-1 and as UTF-8. */
function rowText(row: Record<string, unknown>): string {
  return Object.values(row)
    .map((v) =>
      Buffer.isBuffer(v) || v instanceof Uint8Array
        ? `${Buffer.from(v).toString('latin1')}\n${Buffer.from(v).toString('utf8')}`
        : typeof v === 'object' && v !== null
          ? JSON.stringify(v)
          : String(v),
    )
    .join('\n');
}

for (const stack of ['embedded', 'scaleout'] as const) {
  describe(`API-key material (${stack})`, () => {
    let env: TestEnv;
    let app: FastifyInstance;
    let receiver: Awaited<ReturnType<typeof startRecordingReceiver>>;
    const logs: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const backgroundLogs: string[] = [];
    const logger = {
      info: (obj: object, msg?: string) => backgroundLogs.push(`${JSON.stringify(obj)} ${msg ?? ''}`),
      error: (obj: object, msg?: string) => backgroundLogs.push(`${JSON.stringify(obj)} ${msg ?? ''}`),
    };

    before(async () => {
      env = await startTestEnv({ stack, env: loopbackHooks });
      app = env.safekeep.createHttpApp({ level: 'trace', stream });
      await app.ready();
      // First call: the background (worker, deliverer) logs to this logger.
      env.safekeep.background(logger);
      receiver = await startRecordingReceiver();
    });

    after(async () => {
      await app.close();
      await receiver.close();
      await env.close();
    });

    it('never stores, logs, queues or sends a key after the answer that creates it', async () => {
      const answers: string[] = [];
      const call = async (
        method: string,
        url: string,
        key: string | undefined,
        body?: unknown,
        headers: Record<string, string> = {},
      ) => {
        const res = await app.inject({
          method: method as 'GET',
          url,
          headers: {
            ...(key !== undefined && { authorization: key }),
            ...(body !== undefined && { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(body !== undefined && { payload: JSON.stringify(body) }),
        });
        return { status: res.statusCode, body: res.json<any>(), text: res.body, headers: res.headers };
      };
      const answered = <T extends { text: string; headers: unknown }>(res: T): T => {
        answers.push(res.text, JSON.stringify(res.headers));
        return res;
      };

      const site = await call('POST', `${A}/sites`, env.adminKey, { name: 'Key material site' });
      assert.equal(site.status, 200, site.text);
      const siteId = site.body.site.id as string;
      const created = await call('POST', `${A}/api-keys`, env.adminKey, {
        name: 'everything',
        siteIds: [siteId],
        scopes: ['backups.manage', 'data.read', 'data.write', 'collections.manage', 'site.admin'],
      });
      assert.equal(created.status, 200, created.text);
      const key = created.body.secret as string;
      const minted = await call('POST', `${A}/api-keys`, `Bearer ${key}`, {
        name: 'reader',
        siteIds: [siteId],
        scopes: ['data.read'],
      });
      assert.equal(minted.status, 200, minted.text);
      const reader = minted.body.secret as string;
      const secrets = [env.adminKey, key, reader];

      // Use the keys everywhere a key can go, and in places it should not (a site header, a near miss).
      answered(
        await call('POST', `${D}/collections`, key, {
          collection: { id: 'Orders', fields: [{ key: 'note', type: 'TEXT' }] },
        }),
      );
      answered(
        await call('POST', `${D}/bulk/items/insert`, key, {
          dataCollectionId: 'Orders',
          dataItems: Array.from({ length: 30 }, (_, i) => ({ id: `o${i}`, data: { note: `order ${i}` } })),
        }),
      );
      answered(await call('POST', `${D}/items/query`, reader, { dataCollectionId: 'Orders' }));
      answered(await call('POST', `${D}/items/count`, `Bearer ${reader}`, { dataCollectionId: 'Orders' }));
      const hook = answered(
        await call('POST', `${A}/webhooks`, key, {
          siteId,
          url: receiver.url,
          eventTypes: [
            'wix.data.v2.backup_backup_state_changed',
            'wix.data.v2.backup_restoration_state_changed',
          ],
        }),
      );
      assert.equal(hook.status, 200, hook.text);
      const backup = answered(
        await call('POST', `${D}/backups`, key, {}, { 'idempotency-key': 'key-material-backup' }),
      );
      assert.equal(backup.status, 200, backup.text);
      const { worker, deliverer } = env.safekeep.background(logger);
      while (await worker.runOne(new AbortController().signal));
      const restore = answered(
        await call(
          'POST',
          `${D}/backups/${backup.body.backup.id}/restore`,
          key,
          {},
          {
            'idempotency-key': 'key-material-restore',
          },
        ),
      );
      assert.equal(restore.status, 200, restore.text);
      while (await worker.runOne(new AbortController().signal));
      for (let round = 0; round < 20 && (await deliverer.runOnce()) > 0; round++);
      assert.ok(receiver.requests.length >= 2, `${receiver.requests.length} webhook deliveries`);
      answered(await call('GET', `${A}/api-keys`, key));
      answered(await call('GET', `${A}/session`, reader));
      answered(
        await call('POST', `${D}/items/query`, `${key.slice(0, -1)}x`, { dataCollectionId: 'Orders' }),
      );
      // A key where no key belongs: the answers may echo what their caller sent, so only their status is
      // checked; the logs and the database must still not hold it.
      const asSite = await call(
        'POST',
        `${D}/items/query`,
        key,
        { dataCollectionId: 'Orders' },
        { 'wix-site-id': reader },
      );
      assert.equal(asSite.status, 404);
      const asId = await call('GET', `${D}/items/${encodeURIComponent(key)}?dataCollectionId=Orders`, key);
      assert.equal(asId.status, 404);
      answered(await call('DELETE', `${A}/api-keys/${minted.body.apiKey.id}`, key));
      answered(await call('POST', `${D}/items/count`, reader, { dataCollectionId: 'Orders' }));

      const hay = new Haystack();
      for (const text of answers) hay.add('answers', text);
      for (const line of logs) hay.add('http log', line);
      for (const line of backgroundLogs) hay.add('background log', line);
      for (const request of receiver.requests) {
        hay.add('webhook body', request.body);
        hay.add('webhook headers', JSON.stringify(request.headers));
        // The body is a signed JWT: its payload is base64url JSON, searched decoded too.
        for (const part of request.body.split('.'))
          hay.add('webhook payload', Buffer.from(part, 'base64url').toString('utf8'));
      }
      if (stack === 'embedded') {
        await sqliteRows(env, hay);
        for (const file of filesBelow(env.dataDir)) {
          hay.files += 1;
          hay.add(`file ${file.path.slice(env.dataDir.length)}`, file.bytes.toString('latin1'));
        }
      } else {
        await postgresRows(env, hay);
        for await (const blob of env.safekeep.blobs.list('')) {
          hay.files += 1;
          hay.add(
            `blob ${blob.key}`,
            (await env.safekeep.blobs.get(blob.key, 64 * 1024 * 1024)).toString('latin1'),
          );
        }
      }
      assert.ok(hay.rows > 0 && hay.jobRows > 0, `${hay.rows} rows, ${hay.jobRows} job rows`);
      // The background logs only failures and collections, so it may well have nothing to search.
      assert.ok(logs.length > 0, 'the HTTP log captured something');
      const findings = hay.findings(secrets);
      const figures =
        `${stack}: ${findings.length} occurrences of ${secrets.length} keys (3 forms each) in ${hay.rows} ` +
        `database rows (${hay.jobRows} job rows), ${hay.files} ${stack === 'embedded' ? 'files' : 'blobs'}, ` +
        `${(hay.bytes / 1e6).toFixed(1)} MB searched, ` +
        `${logs.length} HTTP log lines, ${backgroundLogs.length} background log lines, ` +
        `${receiver.requests.length} webhook deliveries`;
      console.log(`# ${figures}`);
      reportFigures({
        test: `7. Tenancy: key material (${stack})`,
        proves:
          'API-key secrets appear in no database row or file, log line, job payload, blob or webhook ' +
          'delivery; only in the answer that creates them.',
        ciSize: '3 keys, one backup and restore with webhooks',
        ran: '3 keys, one backup and restore with webhooks',
        figures,
      });
      assert.deepEqual(findings, []);
      // The search can find what it looks for: the creating answers themselves hold the secrets.
      const creating = new Haystack();
      creating.add('creating answer', created.text + minted.text);
      assert.equal(creating.findings([key, reader]).length, 6);
    });
  });
}
