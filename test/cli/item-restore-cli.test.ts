/**
 * `safekeep backup restore ID --collection C --items a,b | --only-missing` (item restores,
 * README "Restoring only some items"), run in-process against a listening server, and the typed SDK option it uses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backupCommand, restorationCommand } from '../../src/cli/commands/backup-commands.js';
import { UsageError, type CliIo } from '../../src/cli/cli-io.js';
import { SafekeepClient } from '../../src/sdk/index.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';

function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('safekeep backup restore --items / --only-missing', () => {
  let env: TestEnv;
  let site: TestSite;
  let cliEnv: NodeJS.ProcessEnv;
  let backupId: string;
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });
  const ids = async () =>
    (
      (
        await call('POST', `${P}/items/query`, {
          dataCollectionId: 'Books',
          query: { paging: { limit: 100 } },
        })
      ).body.dataItems as { id: string; data: { title: string } }[]
    )
      .map((i) => `${i.id}:${i.data.title}`)
      .sort();

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    const port = await env.listen();
    cliEnv = {
      SAFEKEEP_URL: `http://127.0.0.1:${port}`,
      SAFEKEEP_API_KEY: site.apiKey,
      SAFEKEEP_SITE_ID: site.siteId,
    };
    await call('POST', `${P}/collections`, { collection: { id: 'Books', fields: [] } });
    await call('POST', `${P}/bulk/items/insert`, {
      dataCollectionId: 'Books',
      dataItems: ['b1', 'b2', 'b3', 'b4'].map((id) => ({ id, data: { title: `old ${id}` } })),
    });
    backupId = (await call('POST', `${P}/backups`, {})).body.backup.id as string;
    await runJobs(env);
    await call('POST', `${P}/items/update`, {
      dataCollectionId: 'Books',
      dataItem: { id: 'b1', data: { _id: 'b1', title: 'new b1' } },
    });
    await call('POST', `${P}/items/update`, {
      dataCollectionId: 'Books',
      dataItem: { id: 'b2', data: { _id: 'b2', title: 'new b2' } },
    });
    await call('POST', `${P}/items/remove`, { dataCollectionId: 'Books', dataItemId: 'b3' });
    await call('POST', `${P}/items/remove`, { dataCollectionId: 'Books', dataItemId: 'b4' });
  });
  after(async () => {
    await env.close();
  });

  it('--items restores only the listed items; restoration undo puts them back', async () => {
    const io = capture();
    const code = await backupCommand(
      ['restore', backupId.slice(0, 8), '--collection', 'Books', '--items', 'b1,b3', '--yes', '--json'],
      io,
      { env: cliEnv },
    );
    assert.equal(code, 0, io.errors.join('\n'));
    const restoration = JSON.parse(io.lines.join('\n'));
    assert.equal(restoration.restorationCollections[0].restoreMode, 'RESTORE_ITEMS');
    assert.deepEqual(restoration.restorationCollections[0].itemIds, ['b1', 'b3']);
    await runJobs(env);
    assert.deepEqual(await ids(), ['b1:old b1', 'b2:new b2', 'b3:old b3']);
    const shown = capture();
    assert.equal(await restorationCommand(['get', restoration.id], shown, { env: cliEnv }), 0);
    assert.match(shown.lines.join('\n'), /Books -> Books \[RESTORE_ITEMS: 2 items\]/);
    const undone = capture();
    assert.equal(
      await restorationCommand(['undo', restoration.id, '--yes', '--json'], undone, { env: cliEnv }),
      0,
      undone.errors.join('\n'),
    );
    await runJobs(env);
    assert.deepEqual(await ids(), ['b1:new b1', 'b2:new b2']);
  });

  it('--only-missing brings back the deleted items and nothing else', async () => {
    const io = capture();
    const code = await backupCommand(
      ['restore', backupId, '--collection', 'Books', '--only-missing', '--yes'],
      io,
      { env: cliEnv },
    );
    assert.equal(code, 0, io.errors.join('\n'));
    assert.match(io.lines.join('\n'), /\[ONLY_MISSING\]/);
    await runJobs(env);
    assert.deepEqual(await ids(), ['b1:new b1', 'b2:new b2', 'b3:old b3', 'b4:old b4']);
  });

  it('refuses mixed or incomplete options as usage errors', async () => {
    const run = (...args: string[]) =>
      backupCommand(['restore', backupId, ...args], capture(), { env: cliEnv });
    await assert.rejects(run('--items', 'b1', '--yes'), UsageError);
    await assert.rejects(run('--collection', 'Books', '--yes'), UsageError);
    await assert.rejects(run('--collection', 'Books', '--items', 'b1', '--collections', 'Books'), UsageError);
    const io = capture();
    const missing = await backupCommand(
      ['restore', backupId, '--collection', 'Nowhere', '--only-missing', '--yes'],
      io,
      { env: cliEnv },
    );
    assert.equal(missing, 1);
  });

  it('the SDK restores items through restoreBackupItems', async () => {
    await call('POST', `${P}/items/remove`, { dataCollectionId: 'Books', dataItemId: 'b4' });
    const client = new SafekeepClient({
      baseUrl: cliEnv.SAFEKEEP_URL as string,
      apiKey: site.apiKey,
      siteId: site.siteId,
    });
    const restoration = await client.restoreBackupItems(backupId, 'Books', {
      itemIds: ['b4'],
      onlyMissing: true,
    });
    assert.equal(restoration.restorationCollections[0]?.restoreMode, 'ONLY_MISSING');
    await runJobs(env);
    assert.deepEqual(await ids(), ['b1:new b1', 'b2:new b2', 'b3:old b3', 'b4:old b4']);
  });
});
