// The robot list: paging (remembered size), sorting (aria-sort), the debounced search, the
// Projects column, loading / empty / error states, and Expires in recomputed every minute.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as L from './lib.mjs';

let fx;
let P;
let page;
const pull = [{ resource: 'repository', action: 'pull' }];
const names = []; // stored names in creation order

function body(name, perms, extra = {}) {
  return { name, level: 'system', permissions: perms, ...extra };
}

describe('the robot list', () => {
  before(async () => {
    fx = await L.setup();
    const s = fx.server;
    for (const p of ['alpha', 'beta']) await L.createProject(s, p);
    for (let i = 0; i < 30; i += 1) {
      const n = `r${String(i).padStart(2, '0')}`;
      await L.api(s, 'POST', '/robots', body(n, [{ kind: 'project', namespace: 'alpha', access: pull }]));
      names.push(n);
    }
    await L.api(s, 'POST', '/robots', body('findme-a', [
      { kind: 'project', namespace: 'alpha', access: pull },
      { kind: 'project', namespace: 'beta', access: [...pull, { resource: 'repository', action: 'push' }] }]));
    await L.api(s, 'POST', '/robots', body('findme-b', [{ kind: 'project', namespace: 'beta', access: pull }]));
    await L.api(s, 'POST', '/robots', body('cover', [{ kind: 'project', namespace: '*', access: [...pull,
      { resource: 'repository', action: 'push' }, { resource: 'tag', action: 'create' }] }]));
    await L.api(s, 'POST', '/robots', body('soon', [{ kind: 'project', namespace: 'alpha', access: pull }], { duration: 3 }));
    names.push('findme-a', 'findme-b', 'cover', 'soon');
    P = await L.openPage(fx.browser, s);
    page = P.page;
    await L.signIn(page, s);
  });

  after(async () => {
    if (P) await P.close();
    if (fx) await fx.teardown();
  });

  const rowNames = () => page.locator('table.robots tbody td.name').allTextContents();
  const range = () => page.locator('.pager .range').first();
  const header = (name) => page.getByRole('columnheader', { name });

  async function waitRange(text) {
    await page.locator('.pager .range', { hasText: text }).first().waitFor();
    await page.locator('table.robots[aria-busy]').waitFor({ state: 'detached' });
  }

  test('paging: 15 a page by default, "1 – 15 of N", other sizes, and the size is remembered', async () => {
    await waitRange('1 – 15 of 34');
    assert.equal((await rowNames()).length, 15);
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitRange('16 – 30 of 34');
    assert.equal(await page.getByText('Page 2 of 3').count(), 1);
    await page.getByRole('button', { name: 'Last page' }).click();
    await waitRange('31 – 34 of 34');
    assert.equal((await rowNames()).length, 4);
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await page.getByRole('button', { name: 'First page' }).click();
    await waitRange('1 – 15 of 34');
    const select = page.getByLabel('Robot accounts per page');
    assert.deepEqual(await select.locator('option').allTextContents(), ['15', '25', '50', '100']);
    await select.selectOption('25');
    await waitRange('1 – 25 of 34');
    await page.reload();
    await waitRange('1 – 25 of 34');
    assert.equal(await page.getByLabel('Robot accounts per page').inputValue(), '25');
    assert.equal((await rowNames()).length, 25);
    P.check();
  });

  test('sorting by name and by creation time, with aria-sort on the column', async () => {
    const all = names.map((n) => `robot$${n}`);
    const byName = [...all].sort();
    assert.equal(await header('Created').getAttribute('aria-sort'), 'descending');
    assert.deepEqual(await rowNames(), [...all].reverse().slice(0, 25));
    await header('Name').getByRole('button').click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Name' }).waitFor();
    await waitRange('1 – 25 of 34');
    assert.equal(await header('Created').getAttribute('aria-sort'), 'none');
    assert.deepEqual(await rowNames(), byName.slice(0, 25));
    await L.shot(page, 'robot-list-sorted');
    await header('Name').getByRole('button').click();
    await page.locator('th[aria-sort="descending"]', { hasText: 'Name' }).waitFor();
    await waitRange('1 – 25 of 34');
    assert.deepEqual(await rowNames(), [...byName].reverse().slice(0, 25));
    await header('Created').getByRole('button').click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Created' }).waitFor();
    await waitRange('1 – 25 of 34');
    assert.deepEqual(await rowNames(), all.slice(0, 25));
    P.check();
  });

  test('search: one request 500 ms after the typing stops, by name without prefix, back to page 1', async () => {
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitRange('26 – 34 of 34');
    const searches = [];
    const onRequest = (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/v2.0/robots' && u.searchParams.get('q')) searches.push({ q: u.searchParams.get('q'), page: u.searchParams.get('page'), at: Date.now() });
    };
    page.on('request', onRequest);
    const box = page.getByRole('searchbox', { name: 'Search by name, without prefix' });
    await box.pressSequentially('findme', { delay: 60 });
    const typed = Date.now();
    await waitRange('1 – 2 of 2');
    assert.deepEqual((await rowNames()).sort(), ['robot$findme-a', 'robot$findme-b']);
    assert.equal(searches.length, 1, JSON.stringify(searches));
    assert.equal(searches[0].q, 'name=~findme');
    assert.equal(searches[0].page, '1');
    assert.ok(searches[0].at - typed >= 400, `searched ${searches[0].at - typed} ms after the last key`);

    await box.fill('nomatch');
    await page.getByText('No robot accounts match "nomatch".').waitFor();
    await waitRange('0 – 0 of 0');
    await L.shot(page, 'robot-list-empty');
    await box.fill('');
    await waitRange('1 – 25 of 34');
    page.off('request', onRequest);
    P.check();
  });

  test('the Projects column: "N projects" opens the list of projects with permissions; cover-all says so', async () => {
    await page.getByRole('searchbox', { name: 'Search by name, without prefix' }).fill('o');
    await page.getByRole('row', { name: /robot\$cover/ }).getByText('All projects · 3 permissions').waitFor();
    await page.getByRole('row', { name: /robot\$soon/ }).getByRole('button', { name: '1 project' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search by name, without prefix' }).fill('findme-a');
    await page.getByRole('row', { name: /robot\$findme-a/ }).getByRole('button', { name: '2 projects' }).click();
    const d = page.getByRole('dialog', { name: 'Projects of robot$findme-a' });
    await d.getByRole('row', { name: /alpha\s+Pull artifacts/ }).waitFor();
    await d.getByRole('row', { name: /beta\s+Push artifacts, Pull artifacts/ }).waitFor();
    await L.shot(page, 'robot-projects');
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    await page.getByRole('searchbox', { name: 'Search by name, without prefix' }).fill('');
    await waitRange('1 – 25 of 34');
    P.check();
  });

  test('loading and error states; Retry recovers', async () => {
    let release;
    const gate = new Promise((r) => { release = r; });
    await page.route('**/api/v2.0/robots?*', async (route) => {
      await gate;
      await route.fallback();
    });
    await page.getByRole('button', { name: 'Refresh list' }).click();
    await page.getByText('Loading robot accounts…').waitFor();
    assert.equal(await page.locator('table.robots').getAttribute('aria-busy'), 'true');
    release();
    await waitRange('1 – 25 of 34');
    await page.unroute('**/api/v2.0/robots?*');

    P.allow(/status of 500/);
    await page.route('**/api/v2.0/robots?*', (route) => route.fulfill({
      status: 500, contentType: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'INTERNAL', message: 'internal server error' }] }),
    }));
    await page.getByRole('button', { name: 'Refresh list' }).click();
    await page.getByText('Could not load robot accounts: internal server error').waitFor();
    await L.shot(page, 'robot-list-error');
    await page.unroute('**/api/v2.0/robots?*');
    await page.getByRole('button', { name: 'Retry' }).click();
    await waitRange('1 – 25 of 34');
    P.check();
  });

  test('Expires in: Xd Yh Zm, amber under 7 days, recomputed every minute, "Expired" in red', async () => {
    const Q = await L.openPage(fx.browser, fx.server);
    try {
      const p = Q.page;
      await p.clock.install();
      await L.signIn(p, fx.server);
      await p.getByRole('searchbox', { name: 'Search by name, without prefix' }).fill('soon');
      const cell = p.getByRole('row', { name: /robot\$soon/ }).locator('.expires');
      await cell.waitFor();
      await p.clock.pauseAt(Date.now() + 2000);
      const robot = await L.robotByName(fx.server, 'robot$soon');
      const expect = async () => {
        const left = robot.expires_at - Math.floor(await p.evaluate(() => Date.now()) / 1000);
        return `${Math.floor(left / 86400)}d ${Math.floor((left % 86400) / 3600)}h ${Math.floor((left % 3600) / 60)}m`;
      };
      await p.clock.fastForward('01:00');
      assert.equal(await cell.textContent(), await expect());
      assert.match(await cell.getAttribute('class'), /\bsoon\b/);
      const before = await cell.textContent();
      await p.clock.fastForward('10:00');
      assert.equal(await cell.textContent(), await expect());
      assert.notEqual(await cell.textContent(), before);
      await p.clock.fastForward(72 * 3600 * 1000);
      await p.clock.fastForward('01:00');
      assert.equal(await cell.textContent(), 'Expired');
      assert.match(await cell.getAttribute('class'), /\bexpired\b/);
      assert.equal(await p.getByRole('row', { name: /robot\$soon/ }).locator('.expires').evaluate((el) => getComputedStyle(el).color), 'rgb(179, 38, 30)');
      Q.check();
    } finally {
      await Q.close();
    }
  });
});
