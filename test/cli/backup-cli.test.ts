/**
 * `safekeep backup …` and `safekeep restoration …`, run as subprocesses against `safekeep serve` running
 * as a subprocess too: exactly what a user's shell does.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import zstdNapi from 'zstd-napi';
import { backupCommand } from '../../src/cli/commands/backup-commands.js';
import { formatElapsed, renderProgressLine } from '../../src/cli/progress-bar.js';

const bin = join(process.cwd(), 'bin', 'safekeep.js');
/** A command that hangs fails its test instead of the whole run. */
const cliTimeoutMs = 60_000;

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its end. */
function cli(args: string[], env: NodeJS.ProcessEnv): Run {
  return spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: cliTimeoutMs });
}

/** The environment without any SAFEKEEP_ or PORT setting of the machine running the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SAFEKEEP_') && name !== 'PORT') env[name] = value;
  }
  return { ...env, ...extra };
}

/** A `safekeep serve` on its own data directory and a free port, with one site. */
interface Server {
  readonly base: string;
  readonly dataDir: string;
  readonly siteId: string;
  readonly apiKey: string;
  readonly process: ChildProcessWithoutNullStreams;
  /** Runs the CLI against this server (configured through the environment). */
  run(...args: string[]): Run;
  /** The same, without blocking: for commands that wait. */
  start(...args: string[]): Promise<Run>;
  /** Calls the server's HTTP API with the site's key. */
  api(method: string, path: string, body?: unknown): Promise<any>;
  stop(): Promise<void>;
}

async function startServer(name: string, extra: Record<string, string> = {}): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-backup-cli-'));
  const serverEnv = cleanEnv({
    SAFEKEEP_DATA_DIR: dataDir,
    SAFEKEEP_LOG_LEVEL: 'warn',
    SAFEKEEP_WORKER_THREADS: '1',
    PORT: '0',
    ...extra,
  });
  const child = spawn(process.execPath, [bin, 'serve'], { env: serverEnv });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; i < 200 && !/listening on (http:\/\/\S+)/.test(output); i++)
    await new Promise((r) => setTimeout(r, 50));
  const base = /listening on (http:\/\/\S+)/.exec(output)?.[1] ?? '';
  assert.ok(base, output);
  const adminKey = /^\s+(sk_\S+)$/m.exec(output)?.[1];
  assert.ok(adminKey, `the admin key is printed on the first start: ${output}`);

  const created = cli(
    ['site', 'create', '--name', name, '--json'],
    cleanEnv({ SAFEKEEP_URL: base, SAFEKEEP_API_KEY: adminKey }),
  );
  assert.equal(created.status, 0, created.stderr);
  const { siteId, apiKey } = JSON.parse(created.stdout) as { siteId: string; apiKey: string };
  const clientEnv = cleanEnv({ SAFEKEEP_URL: base, SAFEKEEP_API_KEY: apiKey, SAFEKEEP_SITE_ID: siteId });

  return {
    base,
    dataDir,
    siteId,
    apiKey,
    process: child,
    run: (...args) => cli(args, clientEnv),
    start: (...args) =>
      new Promise((resolve) => {
        const cli = spawn(process.execPath, [bin, ...args], { env: clientEnv });
        let stdout = '';
        let stderr = '';
        cli.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        cli.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        cli.on('close', (status) => resolve({ status, stdout, stderr }));
      }),
    async api(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: apiKey,
          'wix-site-id': siteId,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      const json = await res.json();
      assert.equal(res.status, 200, JSON.stringify(json));
      return json;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Exactly one JSON document on stdout. */
function json(run: Run): any {
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON document, got: ${run.stdout}`);
  return JSON.parse(lines[0] ?? '');
}

describe('safekeep backup / restoration', () => {
  let server: Server;

  const titlesIn = async (collectionId: string): Promise<string[]> => {
    const res = await server.api('POST', '/wix-data/v2/items/query', {
      dataCollectionId: collectionId,
      query: { sort: [{ fieldName: 'title', order: 'ASC' }] },
    });
    return (res.dataItems as { data: { title: string } }[]).map((i) => i.data.title);
  };

  before(async () => {
    server = await startServer('CLI');
    for (const [id, titles] of [
      ['Books', ['Dune', 'Emma', 'Ulysses']],
      ['Authors', ['Austen', 'Herbert']],
    ] as const) {
      await server.api('POST', '/wix-data/v2/collections', {
        collection: { id, fields: [{ key: 'title', type: 'TEXT' }] },
      });
      for (const title of titles)
        await server.api('POST', '/wix-data/v2/items', {
          dataCollectionId: id,
          dataItem: { data: { title } },
        });
    }
  });

  after(() => server.stop());

  let backupId = '';

  it('backup create --wait --json prints only the READY backup', () => {
    const backup = json(server.run('backup', 'create', '--wait', '--json'));
    assert.equal(backup.status, 'READY');
    assert.equal(backup.type, 'ON_DEMAND');
    assert.equal(backup.itemCount, '5');
    assert.deepEqual(backup.collections.map((c: { id: string }) => c.id).sort(), ['Authors', 'Books']);
    backupId = backup.id;
  });

  it('backup create --wait without a terminal prints nothing until done, then the backup', () => {
    const run = server.run('backup', 'create', '--collections', 'Books', '--wait');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Backup [0-9a-f-]{36}\n/);
    assert.match(run.stdout, /status\s+READY/);
    assert.match(run.stdout, /collections\s+Books\n/);
    assert.ok(
      !/[\r]/.test(run.stdout) && !run.stdout.includes('\u001b'),
      'no progress bar drawn off a terminal',
    );
    assert.equal(run.stderr, '');
  });

  it('backup list and get show the backups, filtered', () => {
    const listed = json(server.run('backup', 'list', '--json'));
    assert.equal(listed.pagingMetadata.total, 2);
    assert.equal(listed.backups[1].id, backupId, 'newest first');
    const filtered = json(
      server.run('backup', 'list', '--status', 'READY', '--type', 'ON_DEMAND', '--limit', '1', '--json'),
    );
    assert.deepEqual(filtered.pagingMetadata, { count: 1, offset: 0, total: 2 });
    assert.equal(
      json(server.run('backup', 'list', '--status', 'CANCELED,FAILED', '--json')).backups.length,
      0,
    );

    const human = server.run('backup', 'list');
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^${backupId}  READY .* 5 items, `, 'm'));
    assert.match(human.stdout, /^2 backups$/m);

    const got = json(server.run('backup', 'get', backupId, '--json'));
    assert.equal(got.id, backupId);
    assert.equal(got.status, 'READY');
    const shown = server.run('backup', 'get', backupId);
    assert.match(shown.stdout, new RegExp(`^Backup ${backupId}\n  status +READY\n`));
  });

  it('backup verify --wait passes a healthy backup, and exits 1 naming the damage of a broken one', () => {
    const passed = server.run('backup', 'verify', backupId.slice(0, 8), '--wait', '--trial-restore');
    assert.equal(passed.status, 0, passed.stderr);
    assert.match(passed.stdout, /^Verification [0-9a-f-]{36}\n/);
    assert.match(passed.stdout, /status\s+PASSED/);
    assert.match(passed.stdout, /trial restore\s+yes/);
    const shown = server.run('backup', 'get', backupId);
    assert.match(shown.stdout, /verified\s+PASSED at /);

    const chunks = join(server.dataDir, 'blobs', 'sites', server.siteId, 'chunks');
    const victim = readdirSync(chunks, { recursive: true, withFileTypes: true }).find((e) => e.isFile());
    assert.ok(victim, 'a stored chunk');
    const path = join(victim.parentPath, victim.name);
    const original = readFileSync(path);
    rmSync(path);
    try {
      const failed = server.run('backup', 'verify', backupId, '--wait', '--json');
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /INTEGRITY_OBJECT_MISSING/);
      const verification = JSON.parse(failed.stdout.trim());
      assert.equal(verification.status, 'FAILED');
      const backup = json(server.run('backup', 'get', backupId, '--json'));
      assert.equal(backup.lastVerification.error.code, 'INTEGRITY_OBJECT_MISSING');
    } finally {
      writeFileSync(path, original);
    }
    const queued = server.run('backup', 'verify', backupId);
    assert.equal(queued.status, 0, queued.stderr);
    assert.match(queued.stdout, /status\s+PENDING/);
  });

  it('takes --url, --key and --site instead of the environment', () => {
    const run = cli(
      [
        'backup',
        'get',
        backupId,
        '--json',
        '--url',
        `${server.base}/`,
        '--key',
        server.apiKey,
        '--site',
        server.siteId,
      ],
      cleanEnv({}),
    );
    assert.equal(json(run).id, backupId);
  });

  it('backup restore --to restores into a new collection and waits for it', async () => {
    const restoration = json(
      server.run('backup', 'restore', backupId, '--to', 'Books:BooksCopy', '--yes', '--wait', '--json'),
    );
    assert.equal(restoration.status, 'COMPLETED');
    assert.equal(restoration.backup.id, backupId);
    assert.equal(restoration.restorationCollections.length, 1);
    assert.equal(restoration.restorationCollections[0].dataCollectionId, 'Books');
    assert.equal(restoration.restorationCollections[0].restoreDestination.dataCollectionId, 'BooksCopy');
    // A copy under a new id is named apart from its source (backups-api.md §6.1).
    assert.match(
      restoration.restorationCollections[0].restoreDestination.displayName,
      /^Books \(restored \d{4}-\d{2}-\d{2}\)$/,
    );
    assert.match(restoration.safetyBackupId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(await titlesIn('BooksCopy'), ['Dune', 'Emma', 'Ulysses']);
    const named = json(
      server.run(
        'backup',
        'restore',
        backupId,
        '--to',
        'Books:BooksNamed:My books',
        '--definitions',
        'backup',
        '--yes',
        '--wait',
        '--json',
      ),
    );
    assert.equal(named.status, 'COMPLETED');
    assert.deepEqual(named.restorationCollections[0].restoreDestination, {
      dataCollectionId: 'BooksNamed',
      displayName: 'My books',
    });
  });

  it('backup restore --collections restores in place, and a full restore undoes later writes', async () => {
    await server.api('POST', '/wix-data/v2/items', {
      dataCollectionId: 'Authors',
      dataItem: { data: { title: 'Later' } },
    });
    const partial = server.run('backup', 'restore', backupId, '--collections', 'Authors', '--yes', '--wait');
    assert.equal(partial.status, 0, partial.stderr);
    assert.match(partial.stdout, /status\s+COMPLETED/);
    assert.match(partial.stdout, /^ {4}Authors -> Authors$/m);
    assert.deepEqual(await titlesIn('Authors'), ['Austen', 'Herbert']);

    const started = json(server.run('backup', 'restore', backupId, '--yes', '--json'));
    assert.equal(started.status, 'PENDING');
    assert.equal(started.restorationCollections.length, 2);
  });

  it('restoration list and get show the restorations', async () => {
    // The full restore started above may still run; wait for it through the CLI.
    let listed = json(server.run('restoration', 'list', '--json'));
    for (
      let i = 0;
      i < 100 && listed.restorations.some((r: { status: string }) => r.status === 'PENDING');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
      listed = json(server.run('restoration', 'list', '--json'));
    }
    assert.equal(listed.pagingMetadata.total, 4);
    assert.deepEqual(
      listed.restorations.map((r: { status: string }) => r.status),
      ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'],
    );
    const newest = listed.restorations[0];
    assert.deepEqual(json(server.run('restoration', 'get', newest.id, '--json')), newest);
    const human = server.run('restoration', 'list', '--status', 'COMPLETED');
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /Books->BooksCopy/);
    assert.match(human.stdout, /^4 restorations$/m);
    const shown = server.run('restoration', 'get', newest.id);
    assert.match(shown.stdout, /safety backup +[0-9a-f-]{36} \(restore it to undo/);
  });

  it('backup restore asks first: refused without a terminal or --yes, and a "no" at the prompt does nothing', async () => {
    const before = json(server.run('restoration', 'list', '--json')).pagingMetadata.total;
    const refused = server.run('backup', 'restore', backupId, '--collections', 'Authors');
    assert.equal(refused.status, 2);
    assert.match(
      refused.stderr,
      /Restore backup .* into Authors\?.*\nrefused: standard input is not a terminal; pass --yes/s,
    );
    const questions: string[] = [];
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const env = {
      SAFEKEEP_URL: server.base,
      SAFEKEEP_API_KEY: server.apiKey,
      SAFEKEEP_SITE_ID: server.siteId,
    };
    const no = await backupCommand(['restore', backupId.slice(0, 6), '--to', 'Books:Elsewhere'], io, {
      env,
      confirm: (q) => Promise.resolve(questions.push(q) < 0),
    });
    assert.equal(no, 1);
    assert.match(questions[0] ?? '', new RegExp(`^Restore backup ${backupId} .* into Elsewhere\\?`));
    assert.ok(lines.includes('Nothing done.'));
    assert.equal(json(server.run('restoration', 'list', '--json')).pagingMetadata.total, before);
  });

  it('backup restore --to takes a display name; restoration undo (by short id) puts back what it replaced', async () => {
    const named = json(
      server.run(
        'backup',
        'restore',
        backupId,
        '--to',
        'Books:BooksNamed:Books (named copy)',
        '--yes',
        '--wait',
        '--json',
      ),
    );
    assert.deepEqual(named.restorationCollections[0].restoreDestination, {
      dataCollectionId: 'BooksNamed',
      displayName: 'Books (named copy)',
    });
    await server.api('POST', '/wix-data/v2/items', {
      dataCollectionId: 'Authors',
      dataItem: { data: { title: 'Newer' } },
    });
    const partial = json(
      server.run('backup', 'restore', backupId, '--collections', 'Authors', '--yes', '--wait', '--json'),
    );
    assert.deepEqual(await titlesIn('Authors'), ['Austen', 'Herbert']);
    const undone = json(
      server.run('restoration', 'undo', partial.id.slice(0, 8), '--yes', '--wait', '--json'),
    );
    assert.equal(undone.status, 'COMPLETED');
    assert.equal(undone.backup.id, partial.safetyBackupId);
    assert.deepEqual(await titlesIn('Authors'), ['Austen', 'Herbert', 'Newer']);
    const refused = server.run('restoration', 'undo', undone.id);
    assert.equal(refused.status, 2, 'undo asks too');
    assert.match(refused.stderr, /^Undo restoration /);
  });

  it('backup cancel of a backup that is not PENDING exits 1 with BACKUP_NOT_CANCELABLE', () => {
    const run = server.run('backup', 'cancel', backupId);
    assert.equal(run.status, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: .*READY.* \(BACKUP_NOT_CANCELABLE, HTTP 428\)$/m);
  });

  it('backup delete marks the backup DELETED, and it can no longer be restored', () => {
    const refused = server.run('backup', 'delete', backupId);
    assert.equal(refused.status, 2, 'no terminal to ask and no --yes: nothing is deleted');
    assert.match(refused.stderr, /Delete backup .*\nrefused: standard input is not a terminal; pass --yes/);
    assert.equal(json(server.run('backup', 'get', backupId, '--json')).status, 'READY');
    const run = server.run('backup', 'delete', backupId.slice(0, 8), '--yes');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`Deleted backup ${backupId}\\.`));
    assert.match(run.stdout, /Deleted backup/);
    const got = json(server.run('backup', 'get', backupId, '--json'));
    assert.equal(got.status, 'DELETED');
    assert.ok(got.deletedDate);
    assert.equal(server.run('backup', 'delete', backupId, '--yes').status, 0, 'deleting again is fine');
    const restore = server.run('backup', 'restore', backupId, '--yes', '--wait');
    assert.equal(restore.status, 1);
    assert.match(restore.stderr, /BACKUP_NOT_READY/);
  });

  it("prints the server's message and code and exits 1 when the API refuses", () => {
    const malformed = server.run('backup', 'get', 'not-a-guid');
    assert.equal(malformed.status, 2);
    assert.match(
      malformed.stderr,
      /"not-a-guid" is not a backup id: give the full id or at least its first 4/,
    );
    const missing = server.run('backup', 'get', '00000000-0000-4000-8000-000000000000', '--json');
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '', 'no JSON document when there is no entity');
    assert.match(missing.stderr, /\(BACKUP_NOT_FOUND, HTTP 404\)/);
    const unknownCollection = server.run('backup', 'create', '--collections', 'Nope');
    assert.match(unknownCollection.stderr, /WDE0025/);
    assert.equal(unknownCollection.status, 1);
    const badKey = cli(['backup', 'list', '--url', server.base, '--key', 'sk_wrong'], cleanEnv({}));
    assert.equal(badKey.status, 1);
    assert.match(badKey.stderr, /UNAUTHENTICATED/);
  });

  it('exits 1 with a clear message when no server answers', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const run = cli(['backup', 'list'], cleanEnv({ PORT: String(port), SAFEKEEP_API_KEY: 'sk_x' }));
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      new RegExp(`cannot reach safekeep at http://127\\.0\\.0\\.1:${port}/.*ECONNREFUSED`),
    );
  });

  it('collection deleted lists a deleted collection and collection restore brings it back', async () => {
    await server.api('POST', '/wix-data/v2/collections', {
      collection: { id: 'Scratch', displayName: 'Notes' },
    });
    await server.api('POST', '/wix-data/v2/items', {
      dataCollectionId: 'Scratch',
      dataItem: { data: { title: 'Kept' } },
    });
    assert.equal(
      server.run('collection', 'deleted').stdout.trim(),
      'No deleted collections can be restored.',
    );
    await server.api('DELETE', '/wix-data/v2/collections/Scratch');
    const listed = server.run('collection', 'deleted');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^Scratch {2}Notes {2}deleted \S+Z {2}restorable until \S+Z$/m);
    assert.deepEqual(
      json(server.run('collection', 'deleted', '--json')).map(
        (d: { collection: { id: string } }) => d.collection.id,
      ),
      ['Scratch'],
    );
    const restored = server.run('collection', 'restore', 'Scratch');
    assert.equal(restored.status, 0, restored.stderr);
    assert.match(restored.stdout, /Restored collection Scratch \(Notes\)/);
    assert.deepEqual(await titlesIn('Scratch'), ['Kept']);
    const again = server.run('collection', 'restore', 'Scratch');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /WDE0025/);
    const usage = server.run('collection', 'restore');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: safekeep collection restore ID/);
  });

  it('exits 2 on usage mistakes and configuration problems', () => {
    const cases: [string[], RegExp][] = [
      [['backup'], /usage:\n {2}safekeep backup create/],
      [['backup', 'frobnicate'], /unknown backup command "frobnicate"/],
      [['backup', 'get'], /usage: safekeep backup get ID/],
      [['backup', 'get', 'a', 'b'], /usage: safekeep backup get ID/],
      [['backup', 'get', backupId, '--wait'], /Unknown option '--wait'/],
      [['backup', 'list', '--status', 'NOPE'], /--status must be one of PENDING, READY/],
      [['backup', 'list', '--type', 'MANUAL'], /--type must be one of ON_DEMAND, AUTO/],
      [['backup', 'list', '--limit', 'many'], /--limit must be a whole number/],
      [['backup', 'create', '--collections', ','], /--collections needs at least one collection id/],
      [
        ['backup', 'restore', backupId, '--to', 'Books'],
        /--to takes source:destination\[:Display name\] pairs/,
      ],
      [['backup', 'get', 'ffffffff'], /no backup id starts with "ffffffff"/],
      [['restoration', 'undo'], /usage: safekeep restoration undo ID/],
      [['backup', 'restore', backupId, '--to', 'A:B,A:C'], /--to names A twice/],
      [['backup', 'restore', backupId, '--definitions', 'mine'], /--definitions takes merge or backup/],
      [['restoration'], /usage:\n {2}safekeep restoration list/],
      [['restoration', 'get'], /usage: safekeep restoration get ID/],
      [['backup', 'list', '--url', 'ftp://example.com'], /--url must be an http:\/\/ or https:\/\/ URL/],
    ];
    for (const [args, message] of cases) {
      const run = server.run(...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.equal(run.stdout, '', args.join(' '));
    }
    const noKey = cli(['backup', 'list'], cleanEnv({ PORT: 'eighty' }));
    assert.equal(noKey.status, 2);
    assert.match(noKey.stderr, /PORT must be an integer/);
    assert.match(noKey.stderr, /an API key is required: pass --key KEY or set SAFEKEEP_API_KEY/);
    const help = cli(['help'], cleanEnv({}));
    assert.match(
      help.stdout,
      /safekeep backup restore ID \[--collections a,b\] \[--to a:a2\[:Display name\],b:b2\] \[--definitions merge\|backup\]/,
    );
    assert.match(help.stdout, /\[--yes\] \[--wait\] \[--json\]/);
    assert.match(help.stdout, /safekeep restoration undo ID/);
    assert.match(help.stdout, /safekeep restoration get ID/);
  });

  it('backup download writes an archive (with a bar on a terminal) and backup upload imports it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-archive-cli-'));
    // The earlier backup was deleted above: a fresh one.
    const fresh = json(server.run('backup', 'create', '--wait', '--json')) as {
      id: string;
      itemCount: string;
    };
    const backupId = fresh.id;
    try {
      const file = join(dir, 'site.safekeep.zst');
      const downloaded = server.run('backup', 'download', backupId.slice(0, 8), '-o', file);
      assert.equal(downloaded.status, 0, downloaded.stderr);
      assert.match(
        downloaded.stdout,
        new RegExp(`^Downloaded backup ${backupId} to .*site\\.safekeep\\.zst`),
      );
      const bytes = readFileSync(file);
      assert.deepEqual([...bytes.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'a zstd frame');
      assert.ok(!existsSync(`${file}.partial`));

      // On a terminal, the bar shows the bytes received.
      const drawn: string[] = [];
      const terminal = { isTTY: true, columns: 100, write: (t: string) => drawn.push(t) };
      const lines: string[] = [];
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
      const env = {
        SAFEKEEP_URL: server.base,
        SAFEKEEP_API_KEY: server.apiKey,
        SAFEKEEP_SITE_ID: server.siteId,
      };
      const again = join(dir, 'again.zst');
      assert.equal(
        await backupCommand(['download', backupId, '-o', again], io, { env, terminal }),
        0,
        lines.join('\n'),
      );
      assert.ok(
        drawn.some((t) => t.includes(`download ${backupId.slice(0, 8)} (bytes)`)),
        drawn.join(''),
      );
      // The same archive again, but for the manifest's exportedDate.
      const body = (archive: Buffer) => zstdNapi.decompress(archive).toString('utf8').split('\n').slice(1);
      assert.deepEqual(body(readFileSync(again)), body(bytes), 'the same archive again');

      const uploaded = json(server.run('backup', 'upload', file, '--json'));
      assert.equal(uploaded.status, 'READY');
      assert.equal(uploaded.trigger, 'IMPORT');
      assert.equal(uploaded.itemCount, fresh.itemCount);

      const cut = join(dir, 'cut.zst');
      writeFileSync(cut, bytes.subarray(0, bytes.length - 20));
      const refused = server.run('backup', 'upload', cut);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /ARCHIVE_TRUNCATED/);
      assert.equal(server.run('backup', 'download', backupId).status, 2, 'download needs -o');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('safekeep backup against a server that runs no jobs', () => {
  let server: Server;

  before(async () => {
    server = await startServer('Idle', { SAFEKEEP_RUN_WORKER: 'false' });
  });
  after(() => server.stop());

  it('cancels a PENDING backup, and --wait then exits 1 printing the CANCELED backup', async () => {
    const waiting = server.start('backup', 'create', '--wait', '--json');
    let pending: { id: string } | undefined;
    for (let i = 0; i < 100 && !pending; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pending = json(server.run('backup', 'list', '--status', 'PENDING', '--json')).backups[0];
    }
    assert.ok(pending, 'the backup was created');
    const busy = server.run('backup', 'create');
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /BACKUP_ALREADY_IN_PROGRESS/);
    assert.match(busy.stderr, new RegExp(`the backup in progress: ${pending.id}`));

    const canceled = server.run('backup', 'cancel', pending.id);
    assert.equal(canceled.status, 0, canceled.stderr);
    assert.match(canceled.stdout, /Canceled backup/);

    const run = await waiting;
    assert.equal(run.status, 1, run.stderr);
    const backup = JSON.parse(run.stdout) as { id: string; status: string };
    assert.equal(backup.id, pending.id);
    assert.equal(backup.status, 'CANCELED');
    assert.match(run.stderr, new RegExp(`error: backup ${pending.id} ended CANCELED`));
  });
});

describe('the --wait progress line', () => {
  it('shows items done/total, percent and elapsed time within the terminal width', () => {
    const line = renderProgressLine(
      { label: 'backup 1234abcd', progress: { itemsDone: 1234, itemsTotal: 5000 }, elapsedMs: 72_500 },
      80,
    );
    assert.equal(line, 'backup 1234abcd [#########.............................] 1,234/5,000  24%  1:12');
    assert.equal(line.length, 79, 'the last column stays free');
    const narrow = renderProgressLine(
      { label: 'backup 1234abcd', progress: { itemsDone: 5, itemsTotal: 10 }, elapsedMs: 0 },
      40,
    );
    assert.ok(narrow.length <= 39, narrow);
    assert.match(narrow, /\[#+\.+\] 5\/10 {2}50% {2}0:00$/);
    const tiny = renderProgressLine({ label: 'backup 1234abcd', progress: null, elapsedMs: 0 }, 12);
    assert.equal(tiny, 'backup 1234');
    assert.match(
      renderProgressLine({ label: 'restoration x', progress: null, elapsedMs: 3_000 }, 80),
      /^restoration x \[\.+\] waiting {2}0:03$/,
    );
    assert.match(
      renderProgressLine({ label: 'b', progress: { itemsDone: 0, itemsTotal: 0 }, elapsedMs: 0 }, 80),
      /\[\.+\] 0\/0 {2}0%/,
    );
    assert.equal(formatElapsed(3_725_000), '1:02:05');
    assert.equal(formatElapsed(59_999), '0:59');
  });
});
