/**
 * The collections page's bin, in a real browser (Debian's Chromium driven by playwright-core, as the
 * dashboard e2e suite does) against the in-process server: a deleted collection is listed with its dates
 * and comes back with "Restore"; a key without `collections.manage` sees no button.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SafekeepClient } from '../../src/sdk/index.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const CHROMIUM = '/usr/bin/chromium';
/** A guard against a hung browser, not a speed requirement. */
const HANG_GUARD_MS = 90_000;

describe('dashboard: deleted collections with "Restore"', () => {
  let env: TestEnv;
  let site: TestSite;
  let base = '';
  let browser: Browser;
  let api: SafekeepClient;
  const scriptErrors: string[] = [];

  const signIn = async (key: string): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(HANG_GUARD_MS);
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('main h1').filter({ hasNotText: 'Sign in' }).waitFor();
    await page.goto(`${base}/#/collections`);
    await page.locator('main h1').filter({ hasText: 'Collections' }).waitFor();
    return page;
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    env = await startTestEnv();
    site = await env.createSite('Bin');
    base = `http://127.0.0.1:${await env.listen()}`;
    api = new SafekeepClient({ baseUrl: base, apiKey: site.apiKey, siteId: site.siteId });
    await api.collections.create({ id: 'Kept', displayName: 'Kept' });
    await api.collections.create({ id: 'Books', displayName: 'My books' });
    await api.items.bulkInsert('Books', [{ title: 'Dune' }, { title: 'Emma' }]);
    await api.collections.delete('Books');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  });

  after(async () => {
    await browser?.close();
    await env.close();
  });

  it('lists the deleted collection and restores it with its items', async () => {
    const page = await signIn(site.apiKey);
    const bin = page.getByRole('table', { name: 'Deleted collections' });
    await bin.waitFor();
    const row = bin.getByRole('row').filter({ hasText: 'Books' });
    assert.match(await row.innerText(), /My books/);
    await page.getByRole('button', { name: 'Restore collection Books' }).click();
    await page
      .getByRole('table', { name: 'Collections' })
      .getByRole('link', { name: '2 live items in Books' })
      .waitFor();
    await bin.waitFor({ state: 'detached' });
    assert.equal((await api.collections.get('Books')).displayName, 'My books');
    assert.equal(await api.items.count('Books'), 2);
    assert.deepEqual(await api.collections.listDeleted(), []);
    await page.close();
  });

  it('offers no "Restore" to a key that may not manage collections', async () => {
    await api.collections.delete('Kept');
    const reader = await env.safekeep.services.admin.createApiKey({
      name: 'reader',
      siteIds: [site.siteId],
      scopes: ['data.read'],
    });
    const page = await signIn(reader.secret);
    const bin = page.getByRole('table', { name: 'Deleted collections' });
    await bin.getByRole('row').filter({ hasText: 'Kept' }).waitFor();
    assert.equal(await page.getByRole('button', { name: /^Restore/ }).count(), 0);
    await page.close();
    assert.deepEqual(scriptErrors, []);
  });
});
