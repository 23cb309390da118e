/**
 * The dashboard end to end, in a real browser (Debian's Chromium driven by playwright-core) against
 * `safekeep serve` run as a subprocess, exactly as `npm start` runs it. Data is set up and checked
 * through the SDK; everything a site owner does goes through the page. Screenshots of every page, at
 * desktop width and at 360 px, go to test-artifacts/e2e/.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SafekeepApiError, SafekeepClient } from '../../src/sdk/index.js';

// What page.evaluate runs is evaluated in the page, not in Node: these are the page's globals.
declare const document: any, window: any, sessionStorage: any;

const CHROMIUM = '/usr/bin/chromium';
const bin = join(process.cwd(), 'bin', 'safekeep.js');
const artifacts = join(process.cwd(), 'test-artifacts', 'e2e');
/** A guard against a hung browser or server, not a speed requirement. */
const HANG_GUARD_MS = 90_000;

describe('dashboard in a browser', () => {
  let server: ChildProcessWithoutNullStreams;
  let dataDir: string;
  let base = '';
  let adminKey = '';
  let browser: Browser;
  let page: Page;
  let siteId = '';
  let siteKey = '';
  let api: SafekeepClient;
  const scriptErrors: string[] = [];

  const shoot = async (name: string) => {
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  };
  const heading = () => page.locator('main h1');
  const go = async (hash: string, title: string | RegExp) => {
    await page.goto(`${base}/${hash}`);
    await heading().filter({ hasText: title }).waitFor();
  };
  const titles = async (collectionId: string) =>
    (await api.items.query(collectionId, { sort: [{ fieldName: '_id', order: 'ASC' }] })).dataItems.map((i) =>
      String(i.data.title ?? i.data.name),
    );

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    mkdirSync(artifacts, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'safekeep-e2e-'));
    server = spawn(process.execPath, [bin, 'serve'], {
      env: {
        ...process.env,
        SAFEKEEP_DATA_DIR: dataDir,
        PORT: '0',
        SAFEKEEP_LOG_LEVEL: 'warn',
        SAFEKEEP_WORKER_THREADS: '1',
      },
    });
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 400 && !/listening on (http:\/\/\S+)/.test(output); i++)
      await new Promise((r) => setTimeout(r, 50));
    base = /listening on (http:\/\/\S+)/.exec(output)?.[1] ?? '';
    adminKey = /^\s+(sk_\S+)$/m.exec(output)?.[1] ?? '';
    assert.ok(base && adminKey, output);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(HANG_GUARD_MS);
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    page.on('console', (message) => {
      // Refused requests are logged by the browser too; the page shows them itself (tested below).
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        scriptErrors.push(message.text());
    });
  });

  // Any script error fails the test during which it happened.
  afterEach(() => assert.deepEqual(scriptErrors.splice(0), []));

  after(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.on('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in with the keyboard alone, and shows the API’s message for a wrong key', async () => {
    await page.goto(`${base}/`);
    await heading().filter({ hasText: 'Sign in' }).waitFor();
    await shoot('sign-in-desktop');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'apiKey');
    await page.keyboard.type('sk_wrong');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /A valid API key is required\./);
    assert.match(await alert.innerText(), /UNAUTHENTICATED · HTTP 401/);
    assert.equal(await page.evaluate(() => document.activeElement.name), 'apiKey');

    await page.keyboard.press('Control+A');
    await page.keyboard.type(adminKey);
    await page.keyboard.press('Enter');
    await heading().filter({ hasText: 'Backups' }).waitFor();
    assert.equal(
      await page.evaluate(() => document.activeElement?.tagName),
      'H1',
      'focus moves to the new page',
    );
    assert.ok(!page.url().includes('sk_'), 'the key is not in the address');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('safekeep.apiKey')), adminKey);
    await page.getByText('There is no site to show yet').waitFor();
  });

  it('creates a site, sets its schedule, creates a key shown once, and manages webhooks', async () => {
    await page.getByRole('link', { name: 'Sites' }).click();
    await heading().filter({ hasText: 'Sites' }).waitFor();
    await page.getByLabel('New site name').fill('Shop');
    await page.getByRole('button', { name: 'Create site' }).click();
    await heading().filter({ hasText: 'Site Shop' }).waitFor();
    siteId = (await page.locator('main p code.id').innerText()).trim();
    assert.match(siteId, /^[0-9a-f-]{36}$/);

    await page.getByLabel('Days between automatic backups').fill('3');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    const adminApi = new SafekeepClient({ baseUrl: base, apiKey: adminKey });
    assert.equal((await adminApi.sites.getSettings(siteId)).autoBackupIntervalDays, 3);

    await page.getByLabel('Key name').fill('owner');
    for (const scope of ['backups.manage', 'data.write', 'collections.manage', 'site.admin'])
      await page.getByLabel(scope, { exact: true }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.locator('input.secret');
    await secret.waitFor();
    siteKey = await secret.inputValue();
    assert.match(siteKey, /^sk_/);
    await page.getByText('it is shown only this once').waitFor();
    await page.getByRole('cell', { name: /^owner/ }).waitFor();
    await shoot('site-desktop');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal(await secret.count(), 0, 'the secret is gone once dismissed');

    await page.getByLabel('Receiver URL').fill('https://example.com/safekeep-events');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByText('https://example.com/safekeep-events').waitFor();
    assert.equal((await adminApi.webhooks.list(siteId)).length, 1);
    await page
      .getByRole('button', { name: 'Remove subscription https://example.com/safekeep-events' })
      .click();
    await page.getByText('No subscriptions.').waitFor();

    await go('#/sites', 'Sites');
    await page.getByRole('link', { name: 'Shop', exact: true }).waitFor();
    await shoot('sites-desktop');
  });

  it('shows collections with live and sandbox counts, and pages through items in either environment', async () => {
    api = new SafekeepClient({ baseUrl: base, apiKey: siteKey, siteId });
    for (const id of ['Books', 'Authors', 'Notes']) await api.collections.create({ id, displayName: id });
    await api.items.bulkInsert(
      'Books',
      ['Dune', 'Emma', 'Ulysses', 'Beloved', 'Middlemarch'].map((title, i) => ({ _id: `b${i}`, title })),
    );
    for (let i = 0; i < 21; i++)
      await api.items.insert('Notes', { _id: `n${String(i).padStart(2, '0')}`, title: `Note ${i}` });
    await api.items.bulkInsert('Authors', [
      { _id: 'a1', name: 'Austen' },
      { _id: 'a2', name: 'Herbert' },
    ]);
    await api.items.insert('Books', { _id: 'draft', title: 'Draft' }, { environment: 'SANDBOX' });

    await go('#/collections', 'Collections');
    const books = page.getByRole('row').filter({ hasText: 'Books' });
    await books.waitFor();
    assert.deepEqual(
      await books
        .getByRole('cell')
        .allInnerTexts()
        .then((c) => c.slice(0, 4)),
      ['Books', 'Books', '5', '1'],
    );
    await shoot('collections-desktop');

    await page.getByRole('link', { name: 'Notes', exact: true }).click();
    await heading().filter({ hasText: 'Items of Notes' }).waitFor();
    await page.getByText('Items 1–20 of 21').waitFor();
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.getByText('Items 21–21 of 21').waitFor();
    await go('#/collection?id=Books&env=LIVE&page=0', 'Items of Books');
    await page.getByLabel('Sandbox').check();
    await page.getByText('Items 1–1 of 1').waitFor();
    await page.getByRole('cell', { name: 'draft' }).waitFor();
    await shoot('items-desktop');
  });

  let backupId = '';

  it('backs up from the keyboard and shows it reach READY without reloading', async () => {
    await go('#/backups', 'Backups');
    await page.getByText(/Next automatic backup:/).waitFor();
    await page.evaluate(() => Object.assign(window, { e2eMarker: 'same page' }));
    // Tab from the focused heading to "Back up now", and press it.
    for (let i = 0; i < 10; i++) {
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Back up now') break;
      await page.keyboard.press('Tab');
    }
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Back up now');
    await page.keyboard.press('Enter');
    const status = page.locator('[data-backup-id][data-status]');
    await status.first().waitFor();
    assert.match(String(await status.first().getAttribute('data-status')), /^(PENDING|READY)$/);
    await page.locator('[data-status="READY"]').waitFor();
    assert.equal(await page.evaluate(() => window.e2eMarker), 'same page');
    backupId = String(await page.locator('[data-status="READY"]').getAttribute('data-backup-id'));
    const backup = await api.getBackup(backupId);
    assert.equal(backup.status, 'READY');
    assert.equal(backup.itemCount, '28');
    const row = page.getByRole('row').filter({ has: page.locator(`[data-backup-id="${backupId}"]`) });
    assert.match(await row.innerText(), /On demand[\s\S]*READY[\s\S]*28[\s\S]*Authors, Books, Notes/);
    // Verify it: the row then says it is intact, and when; the page shows the storage and the health.
    await page.getByRole('button', { name: `Verify backup ${backupId}` }).click();
    await row.locator('[data-verified="PASSED"]').waitFor();
    assert.match(await row.innerText(), /Intact, /);
    assert.equal((await api.getBackup(backupId)).lastVerification?.result, 'PASSED');
    assert.match(await page.locator('.backup-storage').innerText(), /^Stored: .* for \d+ READY backups?/);
    assert.match(await page.locator('.backup-health').innerText(), /Backups on time/);
    await shoot('backups-desktop');
  });

  it('restores two collections from the wizard, one into a new destination, after showing what will change', async () => {
    // Change the data after the backup.
    await api.items.bulkRemove('Books', ['b0', 'b1']);
    await api.items.insert('Books', { _id: 'b9', title: 'Added later' });
    await api.items.update('Authors', { _id: 'a1', name: 'Jane Austen' });
    await api.items.insert('Notes', { _id: 'n99', title: 'Kept' });

    const row = page.getByRole('row').filter({ has: page.locator(`[data-backup-id="${backupId}"]`) });
    await row.getByRole('link', { name: 'Restore…' }).click();
    await heading().filter({ hasText: 'Restore a backup' }).waitFor();
    await page.getByLabel('Restore Notes').uncheck();
    // A plan the server refuses: its message is shown as it is.
    await page.getByLabel('Destination id for Authors').fill('Books');
    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'Two collections would be restored into Books.' })
      .waitFor();

    await page.getByLabel('Destination id for Authors').fill('AuthorsRestored');
    await page.getByLabel('Destination name for Authors').fill('Authors (restored)');
    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page.getByRole('heading', { name: '2. Review what will change' }).waitFor();
    const review = page.getByRole('table', { name: 'What the restoration changes, per destination' });
    assert.deepEqual(
      await review
        .getByRole('row')
        .allInnerTexts()
        .then((rows) => rows.slice(1).map((r) => r.replace(/\s+/g, ' ').trim())),
      ['Authors AuthorsRestored (Authors (restored)) new 0 2', 'Books Books 4 5'],
    );
    await page.getByText('safekeep takes a safety backup of everything it replaces').waitFor();
    await shoot('restore-review-desktop');

    await page.getByRole('button', { name: 'Restore now' }).click();
    await page.getByRole('heading', { name: '3. Restored' }).waitFor();
    await page.locator('[data-restoration-id][data-status="COMPLETED"]').waitFor();
    await shoot('restore-done-desktop');

    assert.deepEqual(await titles('Books'), ['Dune', 'Emma', 'Ulysses', 'Beloved', 'Middlemarch']);
    assert.deepEqual(await titles('AuthorsRestored'), ['Austen', 'Herbert']);
    assert.equal((await api.collections.get('AuthorsRestored')).displayName, 'Authors (restored)');
    assert.deepEqual(
      await titles('Authors'),
      ['Jane Austen', 'Herbert'],
      'the source collection is left alone',
    );
    assert.equal(await api.items.count('Notes'), 22, 'a collection not chosen is left alone');
  });

  it('undoes the restoration, putting back exactly what it replaced', async () => {
    const restored = await page.locator('[data-restoration-id]').getAttribute('data-restoration-id');
    await page.getByRole('button', { name: 'Undo this restoration' }).click();
    const dialog = page.getByRole('dialog', { name: 'Undo this restoration?' });
    await dialog.waitFor();
    await shoot('undo-dialog-desktop');
    await dialog.getByRole('button', { name: 'Undo restoration' }).click();
    await page.locator(`[data-restoration-id]:not([data-restoration-id="${restored}"])`).waitFor();
    await page.locator('[data-restoration-id][data-status="COMPLETED"]').waitFor();
    await page.getByRole('heading', { name: '3. Restored' }).waitFor();
    const restorations = await api.listRestorations();
    assert.equal(restorations.restorations.length, 2);
    const [undo, first] = restorations.restorations;
    assert.equal(undo?.backup.id, first?.safetyBackupId, 'the undo restores the safety backup');
    assert.deepEqual(
      (await api.items.query('Books', { sort: [{ fieldName: '_id', order: 'ASC' }] })).dataItems.map(
        (i) => i.id,
      ),
      ['b2', 'b3', 'b4', 'b9'],
    );
    assert.deepEqual(await titles('Books'), ['Ulysses', 'Beloved', 'Middlemarch', 'Added later']);
    // The undo deletes the collection the restoration created (backups-api.md §6.6).
    await assert.rejects(
      api.collections.get('AuthorsRestored'),
      (e: unknown) => e instanceof SafekeepApiError && e.status === 404,
      'the new destination is gone again',
    );
  });

  it('shows every state in the lists, and filters backups', async () => {
    await go('#/restorations', 'Restorations');
    // The heading shows before the list has loaded: wait for the rows the earlier tests made.
    const rows = page.locator('[data-restoration-id][data-status]');
    await rows.nth(1).waitFor();
    const states = await rows.evaluateAll((cells) => cells.map((c) => c.getAttribute('data-status')));
    assert.deepEqual(states, ['COMPLETED', 'COMPLETED']);
    assert.equal(await page.getByRole('button', { name: /^Undo restoration/ }).count(), 2);
    await shoot('restorations-desktop');

    await go('#/backups', 'Backups');
    const row = page.getByRole('row').filter({ has: page.locator(`[data-backup-id="${backupId}"]`) });
    await row.getByRole('button', { name: `Delete backup ${backupId}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete backup' }).click();
    await page.locator(`[data-backup-id="${backupId}"][data-status="DELETED"]`).waitFor();
    const kinds = await page.getByRole('row').allInnerTexts();
    assert.equal(
      kinds.filter((k) => k.includes('Safety (before a restore)')).length,
      2,
      'two safety backups',
    );

    await page.getByLabel('READY', { exact: true }).check();
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/#\/backups\?status=READY$/);
    await page.locator('[data-status]').first().waitFor();
    const filtered = await page
      .locator('[data-backup-id][data-status]')
      .evaluateAll((cells) => cells.map((c) => c.getAttribute('data-status')));
    assert.deepEqual(filtered, ['READY', 'READY']);
    await page.getByLabel('Type').selectOption('ON_DEMAND');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No backup matches the filters.').waitFor();
  });

  /** The Restore page's backup picker: its chosen value and every option's value and text. */
  const picker = async () => {
    const select = page.getByLabel('Backup to restore');
    await select.waitFor();
    return {
      value: await select.inputValue(),
      options: await select
        .locator('option')
        .evaluateAll((options) =>
          options.map((o) => ({ value: String(o.value), text: String(o.textContent) })),
        ),
    };
  };
  /** Opens the Restore page from the menu, from another page (the wizard keeps the same address). */
  const openRestorePage = async () => {
    await go('#/restorations', 'Restorations');
    await page.getByRole('link', { name: 'Restore', exact: true }).click();
    await heading().filter({ hasText: 'Restore a backup' }).waitFor();
  };

  it('preselects no safety backup: with only safety backups READY, it asks which to restore', async () => {
    const [undo, first] = (await api.listRestorations()).restorations;
    assert.ok(undo?.safetyBackupId && first?.safetyBackupId);
    await openRestorePage();
    const { value, options } = await picker();
    assert.equal(value, '', 'nothing is preselected');
    await page
      .getByText('Choose the backup to restore above. Every READY backup is a safety backup')
      .waitFor();
    assert.equal(await page.getByRole('button', { name: 'Review the changes' }).count(), 0);
    for (const r of [undo, first]) {
      const option = options.find((o) => o.value === r.safetyBackupId);
      assert.ok(option, `safety backup of ${r.id} is offered`);
      assert.match(option.text, new RegExp(`Safety backup before restoration ${r.id.slice(0, 8)} · `));
      assert.match(option.text, new RegExp(` · id ${String(r.safetyBackupId).slice(0, 8)}$`));
    }
    await shoot('restore-only-safety-desktop');
  });

  let crateBackupId = '';
  let firstRestorationId = '';

  it('restores twice with the default choice, which is never the safety backup of the restore before', async () => {
    await api.collections.create({ id: 'Crates', displayName: 'Crates' });
    await api.items.bulkInsert(
      'Crates',
      Array.from({ length: 300 }, (_, i) => ({ _id: `c${String(i).padStart(3, '0')}`, title: `Crate ${i}` })),
    );
    crateBackupId = (await api.createBackup()).id;
    assert.equal((await api.waitForBackup(crateBackupId, { intervalMs: 100 })).status, 'READY');
    await api.items.truncate('Crates');
    assert.equal(await api.items.count('Crates'), 0, 'broken');

    await openRestorePage();
    assert.equal((await picker()).value, crateBackupId);
    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page.getByRole('button', { name: 'Restore now' }).click();
    await page.getByRole('heading', { name: '3. Restored' }).waitFor();
    assert.equal(await api.items.count('Crates'), 300, 'the first restore repaired it');
    const restoration = (await api.listRestorations()).restorations[0];
    assert.equal(restoration?.backup.id, crateBackupId);
    firstRestorationId = restoration.id;
    const safetyBackupId = String(restoration.safetyBackupId);
    const newestReady = (await api.listBackups({ status: ['READY'] })).backups[0];
    assert.equal(newestReady?.id, safetyBackupId, 'the safety backup (Crates empty) is the newest READY one');
    await page.getByText(`Safety backup (restore it to undo): ${safetyBackupId}`).waitFor();

    // The second visit: the default is the on-demand backup again, not the safety backup just taken.
    await openRestorePage();
    const { value, options } = await picker();
    assert.equal(value, crateBackupId);
    assert.notEqual(value, safetyBackupId);
    const chosen = options.find((o) => o.value === crateBackupId);
    assert.match(
      String(chosen?.text),
      new RegExp(` · On demand · [\\d,]+ items · id ${crateBackupId.slice(0, 8)}$`),
    );
    const safety = options.find((o) => o.value === safetyBackupId);
    assert.match(
      String(safety?.text),
      new RegExp(`Safety backup before restoration ${restoration.id.slice(0, 8)} · `),
    );
    await page.locator('.chosen-backup').getByText(crateBackupId).waitFor();
    await shoot('restore-picker-desktop');

    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page.getByRole('button', { name: 'Restore now' }).click();
    await page.getByRole('heading', { name: '3. Restored' }).waitFor();
    const second = (await api.listRestorations()).restorations[0];
    assert.equal(second?.backup.id, crateBackupId, 'the default restored the on-demand backup');
    assert.equal(await api.items.count('Crates'), 300, 'the collection keeps its 300 items');
    assert.deepEqual((await titles('Crates')).slice(0, 2), ['Crate 0', 'Crate 1']);
  });

  it('links safety backups and restorations both ways, with whole ids to copy and one date format', async () => {
    const [second, first] = (await api.listRestorations()).restorations;
    assert.equal(first?.id, firstRestorationId);
    const safetyBackupId = String(first.safetyBackupId);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });

    await go('#/backups', 'Backups');
    const safetyRow = page
      .getByRole('row')
      .filter({ has: page.locator(`[data-backup-id="${safetyBackupId}"]`) });
    assert.match(
      await safetyRow.innerText(),
      new RegExp(`Safety \\(before a restore\\)\\s*before restoration\\s*${first.id}`),
    );
    // The id shows short, yet the element holds all of it.
    const idCode = safetyRow.locator('code.id').first();
    assert.equal(await idCode.innerText(), safetyBackupId);
    assert.equal(await idCode.getAttribute('title'), safetyBackupId);
    assert.ok(await idCode.evaluate((e) => e.scrollWidth > e.clientWidth), 'shown short');
    await safetyRow.getByRole('button', { name: `Copy id ${safetyBackupId}` }).click();
    await page.getByRole('status').filter({ hasText: 'Id copied.' }).waitFor();
    assert.equal(await page.evaluate(() => window.navigator.clipboard.readText()), safetyBackupId);
    const crateRow = page
      .getByRole('row')
      .filter({ has: page.locator(`[data-backup-id="${crateBackupId}"]`) });
    const listDate = await crateRow.locator('time').first().innerText();
    assert.match(listDate, /\d{1,2}:\d{2}:\d{2}/, 'with seconds');
    await shoot('backups-linked-desktop');

    // Backup → its restoration, marked and focused.
    await safetyRow.getByRole('link', { name: first.id }).click();
    await page.waitForURL(new RegExp(`#/restorations\\?id=${first.id}$`));
    const linked = page.locator('tr.linked');
    await linked.locator(`[data-restoration-id="${first.id}"]`).waitFor();
    assert.equal(await linked.count(), 1);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-current')), 'true');
    const fromCell = linked.locator('td[data-label="From backup"]');
    assert.equal(await fromCell.locator('time').innerText(), listDate, 'one date format');
    await shoot('restorations-linked-desktop');
    // The undo-able second restoration's row names its own safety backup.
    const secondRow = page
      .getByRole('row')
      .filter({ has: page.locator(`[data-restoration-id="${second?.id}"]`) });
    await secondRow.getByRole('link', { name: String(second?.safetyBackupId) }).waitFor();

    // Restoration → its safety backup, marked and focused.
    await linked
      .locator('td[data-label="Safety backup"]')
      .getByRole('link', { name: safetyBackupId })
      .click();
    await page.waitForURL(new RegExp(`#/backups\\?id=${safetyBackupId}$`));
    await page.locator(`tr.linked [data-backup-id="${safetyBackupId}"]`).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-current')), 'true');

    // The picker writes dates the same way.
    await openRestorePage();
    const { options } = await picker();
    assert.ok(
      options.find((o) => o.value === crateBackupId)?.text.startsWith(`${listDate} · `),
      'the picker and the list write dates alike',
    );
  });

  /** The review step's Restore button, and whether it may be pressed. */
  const restoreNow = () => page.getByRole('button', { name: 'Restore now' });
  /** Shoots the page at 360 px too, then goes back to desktop width. */
  const shootBoth = async (name: string) => {
    await shoot(`${name}-desktop`);
    await page.setViewportSize({ width: 360, height: 780 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} is ${overflow}px wider than the screen`);
    await shoot(`${name}-360`);
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  it('warns, in the review, when a destination is another collection that already exists', async () => {
    await api.collections.create({ id: 'Books2', displayName: 'Books2' });
    await api.items.bulkInsert('Books2', [
      { _id: 'x1', title: 'Other 1' },
      { _id: 'x2', title: 'Other 2' },
      { _id: 'x3', title: 'Other 3' },
    ]);
    await go(`#/restore?backup=${crateBackupId}`, 'Restore a backup');
    await page.getByLabel('All collections').uncheck();
    await page.getByLabel('Restore Books').check();
    await page.getByLabel('Destination id for Books').fill('Books2');
    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page.getByRole('heading', { name: '2. Review what will change' }).waitFor();
    const warning = page.locator('.notice.warning[data-overwrite-warning]');
    assert.match(
      await warning.innerText(),
      /Books2 already exists: its 3 live items will be replaced by Books from the backup\./,
    );
    // All three live items would leave live data (more than half): the id must be typed first.
    assert.match(
      await page.locator('[data-lost-items="Books2"]').innerText(),
      /Books2: 3 items live now are not in the backup and will leave live data[\s\S]*x1, x2, x3/,
    );
    assert.equal(await restoreNow().isEnabled(), false, 'more than half would go: the id is typed first');
    await page.getByLabel('Type Books2 to confirm').fill('Books');
    assert.equal(await restoreNow().isEnabled(), false, 'only the exact id unlocks it');
    await page.getByLabel('Type Books2 to confirm').fill('Books2');
    assert.equal(await restoreNow().isEnabled(), true, 'a warning does not block the restore');
    await shootBoth('restore-review-overwrite');

    // Into itself, or into a new collection, there is nothing to warn about.
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByLabel('All collections').uncheck();
    await page.getByLabel('Restore Books').check();
    await page.getByLabel('Destination id for Books').fill('Books3');
    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page.getByRole('heading', { name: '2. Review what will change' }).waitFor();
    await page.locator('[data-definition-for="Books3"]').waitFor();
    assert.equal(await page.locator('[data-overwrite-warning]').count(), 0);
    assert.match(
      await page.locator('[data-definition-for="Books3"]').innerText(),
      /^Books3: Created from the backup’s definition/,
    );
    assert.equal(await api.items.count('Books2'), 3, 'a review changes nothing');
  });

  it('shows a definition conflict, refuses to restore it as MERGE, and restores it with the backup’s definition', async () => {
    await api.collections.create({ id: 'Conf', displayName: 'Conf', fields: [{ key: 'n', type: 'NUMBER' }] });
    await api.items.insert('Conf', { _id: 'c1', n: 7 });
    const confBackupId = (await api.createBackup({ collections: ['Conf'] })).id;
    assert.equal((await api.waitForBackup(confBackupId, { intervalMs: 100 })).status, 'READY');
    const live = await api.collections.get('Conf');
    await api.collections.update({ ...live, fields: [{ key: 'n', type: 'TEXT' }] });
    const typeOfN = async () => (await api.collections.get('Conf')).fields.find((f) => f.key === 'n')?.type;
    assert.equal(await typeOfN(), 'TEXT');

    await go(`#/restore?backup=${confBackupId}`, 'Restore a backup');
    await page.getByRole('button', { name: 'Review the changes' }).click();
    await page.getByRole('heading', { name: '2. Review what will change' }).waitFor();
    const conflicts = page.locator('[data-definition-conflicts]');
    assert.match(
      await conflicts.innerText(),
      /Definition conflicts[\s\S]*Conf: field n has another type or referenced collection there than in the backup\./,
    );
    assert.equal(await conflicts.getAttribute('role'), 'alert', 'shown prominently');
    assert.match(await page.locator('[data-definition-for="Conf"]').innerText(), /^Conf: Conflict on n/);
    assert.equal(await restoreNow().isEnabled(), false, 'Restore is off while MERGE conflicts remain');
    assert.match(String(await restoreNow().getAttribute('title')), /definition conflicts/);
    await shootBoth('restore-review-conflict');

    await page.getByRole('button', { name: 'Take the backup’s definition (BACKUP)' }).click();
    await page.locator('[data-definition-mode="BACKUP"]').waitFor();
    assert.equal(await page.locator('[data-definition-conflicts]').count(), 0);
    assert.match(
      await page.locator('[data-definition-for="Conf"]').innerText(),
      /^Conf: Fields changed: n\./,
    );
    assert.equal(await restoreNow().isEnabled(), true);
    await shootBoth('restore-review-backup-mode');
    await restoreNow().click();
    await page.getByRole('heading', { name: '3. Restored' }).waitFor();
    assert.equal(await typeOfN(), 'NUMBER', 'the field has the backup’s type again');
    assert.equal((await api.listRestorations()).restorations[0]?.backup.id, confBackupId);
    assert.deepEqual(
      (await api.items.query('Conf')).dataItems.map((i) => i.data.n),
      [7],
    );
  });

  it('offers a key with only backups.read the lists, without any action', async () => {
    const adminApi = new SafekeepClient({ baseUrl: base, apiKey: adminKey });
    const { secret } = await adminApi.apiKeys.create({
      name: 'reader',
      siteIds: [siteId],
      scopes: ['backups.read'],
    });
    // A tab of its own: the key lives in the tab's sessionStorage, so the admin's tab stays signed in.
    const reader = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    reader.setDefaultTimeout(HANG_GUARD_MS);
    reader.on('pageerror', (error) => scriptErrors.push(error.message));
    try {
      await reader.goto(`${base}/`);
      await reader.getByLabel('API key').fill(secret);
      await reader.getByRole('button', { name: 'Sign in' }).click();
      await reader.locator('main h1').filter({ hasText: 'Backups' }).waitFor();
      await reader.locator('[data-backup-id][data-status="READY"]').first().waitFor();
      assert.ok((await reader.locator('[data-backup-id]').count()) >= 3, 'the backups are listed');
      for (const name of ['Back up now', /^Delete backup/, /^Cancel backup/])
        assert.equal(await reader.getByRole('button', { name }).count(), 0, `no ${String(name)} button`);
      assert.equal(await reader.getByRole('link', { name: 'Restore…' }).count(), 0);
      assert.equal(await reader.getByRole('columnheader', { name: 'Actions' }).count(), 0);
      assert.match(
        await reader.locator('.scope-note').innerText(),
        /cannot back up or cancel \(needs backups\.create\), delete backups \(needs backups\.delete\), restore \(needs backups\.restore\)/,
      );
      const menu = await reader.getByRole('navigation', { name: 'Main' }).innerText();
      assert.doesNotMatch(menu, /\bRestore\b/, 'no Restore in the menu');
      assert.doesNotMatch(menu, /\bSites\b/, 'no Sites in the menu');
      await reader.screenshot({ path: join(artifacts, 'backups-read-only-desktop.png'), fullPage: true });
      await reader.setViewportSize({ width: 360, height: 780 });
      await reader.screenshot({ path: join(artifacts, 'backups-read-only-360.png'), fullPage: true });
      await reader.setViewportSize({ width: 1280, height: 900 });

      await reader.goto(`${base}/#/restorations`);
      await reader.locator('main h1').filter({ hasText: 'Restorations' }).waitFor();
      await reader.locator('[data-restoration-id][data-status="COMPLETED"]').first().waitFor();
      assert.equal(await reader.getByRole('button', { name: /^Undo/ }).count(), 0);
      assert.equal(await reader.getByRole('link', { name: 'Restore a backup…' }).count(), 0);

      // Reached by its address, the wizard says why it cannot be used.
      await reader.goto(`${base}/#/restore`);
      await reader.locator('main h1').filter({ hasText: 'Restore a backup' }).waitFor();
      await reader
        .getByText('This key cannot restore backups: that needs the backups.restore scope')
        .waitFor();
      assert.equal(await reader.getByRole('button', { name: 'Review the changes' }).count(), 0);
      await reader.goto(`${base}/#/sites`);
      await reader.getByText('This key cannot manage sites: that needs the site.admin scope').waitFor();
    } finally {
      await reader.close();
    }
  });

  it('fits every page into 360 px without sideways scrolling', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    const pages: [string, string | RegExp, string][] = [
      ['#/backups', 'Backups', 'backups'],
      ['#/restore', 'Restore a backup', 'restore'],
      ['#/restorations', 'Restorations', 'restorations'],
      ['#/collections', 'Collections', 'collections'],
      ['#/collection?id=Books&env=LIVE&page=0', 'Items of Books', 'items'],
      ['#/sites', 'Sites', 'sites'],
      [`#/site?id=${siteId}`, 'Site Shop', 'site'],
    ];
    for (const [hash, title, name] of pages) {
      await go(hash, title);
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} is ${overflow}px wider than the screen`);
      await shoot(`${name}-360`);
    }
    await page.goto(`${base}/docs`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the docs are ${overflow}px wider than the screen`);
    await shoot('docs-360');
    await page.setViewportSize({ width: 1280, height: 900 });
    await shoot('docs-desktop');

    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading().filter({ hasText: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('safekeep.apiKey')), null);
    await page.setViewportSize({ width: 360, height: 780 });
    await shoot('sign-in-360');

    // A site key needs no site chosen: the session names its one site.
    await page.getByLabel('API key').fill(siteKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading().filter({ hasText: 'Backups' }).waitFor();
    await page.getByText('Site: Shop').waitFor();
    await page.locator('[data-backup-id][data-status]').first().waitFor();
  });
});
