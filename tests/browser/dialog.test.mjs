// The New robot account and Refresh secret dialogs: every validation message, the project
// table, server errors inside the dialog, Esc, and creating a robot with the keyboard alone.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as L from './lib.mjs';

const PROJECTS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta']; // + "p"
const TEN = ['Push artifacts', 'Pull artifacts', 'Delete artifacts', 'Read Helm charts', 'Create a Helm chart version',
  'Delete a Helm chart version', 'Create a tag', 'Delete a tag', 'Create artifact labels', 'Create a scan'];
const RULE = "Use lower-case letters and digits; '.', '_' and '-' may only stand alone between them (for example ci-build.1).";
const DAYS = 'Enter -1 (never expires) or a whole number of days from 1 to 36500.';
const PUSH = 'Push artifacts needs Pull artifacts too: the registry asks for both to upload.';

let fx;
let P;
let page;

describe('the dialogs', () => {
  before(async () => {
    fx = await L.setup();
    for (const p of PROJECTS) await L.createProject(fx.server, p);
    await L.api(fx.server, 'POST', '/robots', { name: 'taken', level: 'system',
      permissions: [{ kind: 'project', namespace: 'alpha', access: [{ resource: 'repository', action: 'pull' }] }] });
    P = await L.openPage(fx.browser, fx.server);
    page = P.page;
    await L.signIn(page, fx.server);
  });

  afterEach(() => L.closeDialogs(page)); // after a failure: the next test starts clean

  after(async () => {
    if (P) await P.close();
    if (fx) await fx.teardown();
  });

  async function openNew() {
    await page.getByRole('button', { name: 'New robot account' }).click();
    const d = page.getByRole('dialog', { name: 'New robot account' });
    await d.waitFor();
    return d;
  }

  async function closeDialog(d) {
    await d.getByRole('button', { name: 'Cancel' }).click();
    await d.waitFor({ state: 'detached' });
  }

  const nameError = (d) => d.locator('.field', { has: page.getByLabel('Name', { exact: true }) }).locator('.field-error');

  test('name: each rule has its message; live preview; live duplicate check', async () => {
    const d = await openNew();
    const add = d.getByRole('button', { name: 'Add' });
    const name = d.getByLabel('Name', { exact: true });
    assert.equal(await add.isDisabled(), true);
    await d.getByText('Enter a name.').waitFor();
    for (const bad of ['Ci', 'a..b', '-a', 'a-', 'ci build', 'robot$ci', 'a+b']) {
      await name.fill(bad);
      await nameError(d).getByText(RULE, { exact: true }).waitFor();
      assert.equal(await name.getAttribute('aria-invalid'), 'true');
      assert.equal(await add.isDisabled(), true);
    }
    await name.fill('x'.repeat(256));
    await nameError(d).getByText('At most 255 characters.').waitFor();
    await name.fill('');
    await nameError(d).getByText('Enter a name.').waitFor();
    await name.fill('taken');
    await d.getByText('Full name: robot$taken').waitFor();
    await nameError(d).getByText('A robot account named robot$taken already exists.').waitFor();
    await L.shot(page, 'dialog-validation');
    await name.fill('fresh.name_1-x');
    await d.getByText('Full name: robot$fresh.name_1-x').waitFor();
    await d.getByLabel('Select project eta').check();
    await add.waitFor({ state: 'attached' });
    await page.waitForFunction(() => !document.querySelector('dialog .dialog-buttons .btn.primary').disabled);
    assert.equal(await nameError(d).isHidden(), true);
    await closeDialog(d);
    P.check();
  });

  test('expiration: the select and the number box stay in step; bad numbers are refused', async () => {
    const d = await openNew();
    const select = d.getByLabel('Expiration time');
    const days = d.getByLabel('Days');
    assert.deepEqual(await select.locator('option').allTextContents(), ['30 days (default)', 'Custom', 'Never']);
    assert.equal(await select.inputValue(), 'default');
    assert.equal(await days.inputValue(), '30');
    await select.selectOption('never');
    assert.equal(await days.inputValue(), '-1');
    await select.selectOption('custom');
    assert.equal(await days.inputValue(), '');
    await days.fill('7');
    assert.equal(await select.inputValue(), 'custom');
    await days.fill('30');
    assert.equal(await select.inputValue(), 'default');
    await days.fill('-1');
    assert.equal(await select.inputValue(), 'never');
    await d.getByLabel('Name', { exact: true }).fill('exp');
    await d.getByLabel('Select project eta').check();
    for (const bad of ['0', '-2', 'abc', '1.5', '36501', '']) {
      await days.fill(bad);
      await d.getByText(DAYS, { exact: true }).waitFor();
      assert.equal(await d.getByRole('button', { name: 'Add' }).isDisabled(), true, bad);
    }
    await days.fill('36500');
    await d.getByText(DAYS, { exact: true }).waitFor({ state: 'hidden' });
    await closeDialog(d);
    P.check();
  });

  test('permissions: a project or cover-all, a permission for each, push needs pull; the ten names', async () => {
    const d = await openNew();
    const why = d.locator('.why');
    await d.getByLabel('Name', { exact: true }).fill('perm');
    await why.getByText('Select at least one project, or cover all projects.').waitFor();
    await d.getByLabel('Select project eta').check();
    const row = d.locator('tr[data-project="eta"]');
    await row.locator('summary').click();
    const labels = await row.locator('.picker-list label').allTextContents();
    for (const n of TEN) assert.ok(labels.includes(n), `${n} in ${labels}`);
    await row.getByRole('button', { name: 'Unselect all', exact: true }).click();
    await row.getByText('No permissions').waitFor();
    await why.getByText('Choose at least one permission for eta.').waitFor();
    assert.equal(await d.getByRole('button', { name: 'Add' }).isDisabled(), true);
    await row.getByLabel('Push artifacts').check();
    await why.getByText(`${PUSH} (eta)`).waitFor();
    assert.equal(await d.getByRole('button', { name: 'Add' }).isDisabled(), true);
    await row.getByLabel('Pull artifacts').check();
    await why.waitFor({ state: 'hidden' });
    await row.getByRole('button', { name: 'Select all', exact: true }).click();
    await row.getByText('All 11 permissions').waitFor();

    await d.getByLabel('Cover all projects').check();
    assert.equal(await d.locator('section.projects').evaluate((el) => el.inert), true);
    const cover = d.locator('section.cover');
    await cover.locator('summary').click();
    await cover.getByRole('button', { name: 'Unselect all', exact: true }).click();
    await why.getByText('Choose at least one permission for all projects.').waitFor();
    await cover.getByLabel('Push artifacts').check();
    await why.getByText(PUSH).waitFor();
    await cover.getByLabel('Pull artifacts').check();
    await why.waitFor({ state: 'hidden' });
    assert.equal(await d.getByRole('button', { name: 'Add' }).isDisabled(), false);
    await L.shot(page, 'dialog-cover-all');
    await closeDialog(d);
    P.check();
  });

  test('project table: paging 5/15/25, sort by creation time, filter, Select all follows the filter, Reset permissions', async () => {
    const d = await openNew();
    const t = d.locator('section.projects');
    const names = () => t.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.project));
    assert.deepEqual(await t.getByLabel('Projects per page').locator('option').allTextContents(), ['5', '15', '25']);
    await t.getByText('1 – 5 of 8').waitFor();
    const newestFirst = [...PROJECTS].reverse().concat('p');
    assert.deepEqual(await names(), newestFirst.slice(0, 5));
    assert.equal(await t.getByRole('columnheader', { name: 'Created' }).getAttribute('aria-sort'), 'descending');
    await t.getByRole('button', { name: 'Next projects page' }).click();
    await t.getByText('6 – 8 of 8').waitFor();
    await t.getByLabel('Projects per page').selectOption('15');
    await t.getByText('1 – 8 of 8').waitFor();
    await t.getByRole('columnheader', { name: 'Created' }).getByRole('button').click();
    assert.equal(await t.getByRole('columnheader', { name: 'Created' }).getAttribute('aria-sort'), 'ascending');
    assert.deepEqual(await names(), ['p', ...PROJECTS]);

    await t.getByRole('searchbox', { name: 'Filter projects by name' }).fill('eta');
    assert.deepEqual(await names(), ['beta', 'zeta', 'eta']);
    await t.getByRole('button', { name: 'Select all', exact: true }).click();
    await t.getByRole('button', { name: 'Unselect all', exact: true }).waitFor();
    await t.getByText('3 projects selected').waitFor();
    await t.getByRole('button', { name: 'Reset permissions' }).click();
    const r = page.getByRole('dialog', { name: 'Reset permissions' });
    await r.getByText('These permissions replace those of all 8 projects, including 5 hidden by the filter.').waitFor();
    await r.getByLabel('Push artifacts').uncheck();
    await L.shot(page, 'dialog-reset-permissions');
    await r.getByRole('button', { name: 'Apply to all 8 projects' }).click();
    await r.waitFor({ state: 'detached' });
    await t.getByRole('searchbox', { name: 'Filter projects by name' }).fill('');
    await t.getByRole('button', { name: 'Select all', exact: true }).waitFor(); // 3 of 8 selected
    assert.deepEqual(await t.locator('tbody .picker-summary').allTextContents(), Array(8).fill('Pull artifacts'));
    await t.getByRole('button', { name: 'Select all', exact: true }).click();
    await t.getByText('8 projects selected').waitFor();
    await t.getByRole('button', { name: 'Unselect all', exact: true }).click();
    await t.getByText('0 projects selected').waitFor();
    await closeDialog(d);
    P.check();
  });

  test('a server error shows inside the dialog, which stays open', async () => {
    const d = await openNew();
    await d.getByLabel('Name', { exact: true }).fill('race');
    await d.getByLabel('Select project eta').check();
    await page.waitForFunction(() => !document.querySelector('dialog .dialog-buttons .btn.primary').disabled);
    // someone else takes the name between the check and the click
    const body = { name: 'race', level: 'system', permissions: [{ kind: 'project', namespace: 'alpha', access: [{ resource: 'repository', action: 'pull' }] }] };
    await L.api(fx.server, 'POST', '/robots', body);
    const again = await L.apiCall(fx.server, 'POST', '/robots', body);
    assert.equal(again.status, 409);
    P.allow(/status of 409/);
    await d.getByRole('button', { name: 'Add' }).click();
    await d.getByRole('alert').getByText(again.body.errors[0].message).waitFor();
    assert.equal(await d.isVisible(), true);
    await L.shot(page, 'dialog-server-error');
    await closeDialog(d);
    P.check();
  });

  test('refresh secret: every rule of a manual secret has its message', async () => {
    await page.getByRole('checkbox', { name: 'Select robot$taken', exact: true }).check();
    await page.getByRole('button', { name: 'Action' }).click();
    await page.getByRole('menuitem', { name: 'Refresh secret' }).click();
    const d = page.getByRole('dialog', { name: 'Refresh secret of robot$taken' });
    await d.getByLabel('Set the secret manually').check();
    const s = d.getByLabel('New secret');
    const c = d.getByLabel('Confirm secret');
    const cases = [
      ['Ab1', 'Use 8 to 128 characters.'],
      [`Ab1${'x'.repeat(126)}`, 'Use 8 to 128 characters.'],
      ['Has space 1', 'No spaces.'],
      ['alllowercase1', 'Use at least one upper-case letter, one lower-case letter and one digit.'],
      ['ALLUPPERCASE1', 'Use at least one upper-case letter, one lower-case letter and one digit.'],
      ['NoDigitsHere', 'Use at least one upper-case letter, one lower-case letter and one digit.'],
    ];
    for (const [value, message] of cases) {
      await s.fill(value);
      await d.getByText(message, { exact: true }).waitFor();
      assert.equal(await d.getByRole('button', { name: 'Refresh' }).isDisabled(), true, value);
    }
    await s.fill('Good-Secret-1');
    await c.fill('Good-Secret-2');
    await d.getByText('The two secrets differ.').waitFor();
    assert.equal(await d.getByRole('button', { name: 'Refresh' }).isDisabled(), true);
    await c.fill('Good-Secret-1');
    await d.getByText('The two secrets differ.').waitFor({ state: 'hidden' });
    assert.equal(await d.getByRole('button', { name: 'Refresh' }).isDisabled(), false);
    await page.keyboard.press('Escape'); // Esc cancels: nothing changed
    await d.waitFor({ state: 'detached' });
    P.check();
  });

  test('edit: the date the robot expires, and a warning once it has expired', async () => {
    const r = await L.api(fx.server, 'POST', '/robots', { name: 'stale', level: 'system', duration: 1,
      permissions: [{ kind: 'project', namespace: 'alpha', access: [{ resource: 'repository', action: 'pull' }] }] });
    await L.psql(fx.server, `UPDATE robots SET expires_at = extract(epoch FROM now())::bigint - 60 WHERE id = ${r.id}`);
    await page.getByRole('button', { name: 'Refresh list' }).click();
    await page.getByRole('row', { name: /robot\$stale/ }).getByText('Expired', { exact: true }).waitFor();
    await page.getByRole('checkbox', { name: 'Select robot$stale', exact: true }).check();
    await page.getByRole('button', { name: 'Action' }).click();
    await page.getByRole('menuitem', { name: 'Edit' }).click();
    const d = page.getByRole('dialog', { name: 'Edit robot$stale' });
    await d.getByText('This robot account has expired: it cannot get tokens. Choose a longer expiration to revive it.').waitFor();
    await d.getByText(/^Expires at /).waitFor();
    await L.shot(page, 'robot-edit-expired');
    await d.getByLabel('Expiration time').selectOption('never');
    await d.getByText('Never expires.', { exact: true }).waitFor();
    assert.equal(await d.locator('.warning').isHidden(), true);
    await d.getByRole('button', { name: 'Save' }).click();
    await d.waitFor({ state: 'detached' });
    await page.getByRole('row', { name: /robot\$stale/ }).getByText('Never expires').waitFor();
    assert.equal((await L.api(fx.server, 'GET', `/robots/${r.id}`)).expires_at, -1);
    P.check();
  });

  // Presses Tab until the focused element matches; fails after max presses.
  async function tabTo(label, { back = false, max = 80 } = {}) {
    for (let i = 0; i < max; i += 1) {
      await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
      const here = await page.evaluate(() => {
        const el = document.activeElement;
        return el ? (el.getAttribute('aria-label') || el.textContent || '').trim() : '';
      });
      if (here === label) return;
    }
    assert.fail(`Tab never reached ${label}`);
  }

  test('keyboard alone: Esc cancels; a robot is created, its secret exported, the dialog closed', async () => {
    await page.locator('body').focus();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await tabTo('New robot account');
    await page.keyboard.press('Enter');
    const d = page.getByRole('dialog', { name: 'New robot account' });
    await d.waitFor();
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });

    await page.keyboard.press('Enter'); // focus went back to the button
    await d.waitFor();
    await page.keyboard.type('keys1'); // the Name box has the focus
    await tabTo('Select project gamma');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => !document.querySelector('dialog .dialog-buttons .btn.primary').disabled);
    await tabTo('Add');
    await page.keyboard.press('Enter');
    const s = page.getByRole('dialog', { name: "Created 'robot$keys1'" });
    await s.waitFor();
    await tabTo('Export to file');
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.equal(download.suggestedFilename(), 'robot$keys1.json');
    await tabTo('Close');
    await page.keyboard.press('Enter');
    await s.waitFor({ state: 'detached' });
    const robot = await L.robotByName(fx.server, 'robot$keys1');
    assert.deepEqual(robot.permissions.map((p) => p.namespace), ['gamma']);

    // the Action menu by keyboard: select the row, open the menu with ArrowDown, Disable
    await page.getByRole('cell', { name: 'robot$keys1', exact: true }).waitFor();
    await tabTo('Select robot$keys1');
    await page.keyboard.press('Space');
    await tabTo('Action', { back: true });
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown'); // Edit → Refresh secret
    await page.keyboard.press('ArrowDown'); // → Disable
    await page.keyboard.press('Enter');
    const c = page.getByRole('dialog', { name: 'Disable robot account' });
    await c.waitFor();
    await tabTo('Disable');
    await page.keyboard.press('Enter');
    await page.getByRole('status').getByText('robot$keys1 disabled.').waitFor();
    assert.equal((await L.robotByName(fx.server, 'robot$keys1')).disable, true);
    P.check();
  });
  test('the limits are the server\'s: other values from /c/limits change every check and message', async () => {
    // A page of its own whose /c/limits answer is the server's with every value changed: a
    // limit the page held a copy of would not follow.
    const Q = await L.openPage(fx.browser, fx.server);
    const q = Q.page;
    const asked = [];
    await q.route('**/c/limits', async (route) => {
      asked.push(route.request().method());
      const real = await (await route.fetch()).json();
      assert.equal(real.name.max_length, 255); // the test changes each known value
      const other = {
        ...real,
        name: { max_length: 10, pattern: '^[a-z]+$' },
        description: { max_bytes: 5 },
        duration: { min: 1, max: 90, never: -1 },
        secret: { min_bytes: 10, max_bytes: 12, classes: ['digit'] },
        name_prefix: { max_length: 4 },
        token_expiration: { min: 1, max: 60 },
      };
      await route.fulfill({ response: await route.fetch(), json: other });
    });
    try {
      await L.signIn(q, fx.server);
      assert.deepEqual(asked, ['GET']);
      await q.getByRole('button', { name: 'New robot account' }).click();
      const d = q.getByRole('dialog', { name: 'New robot account' });
      await d.getByText('Lower-case letters and digits, with ., _ or - between them; at most 10 characters.').waitFor();
      const name = d.getByLabel('Name', { exact: true });
      await name.fill('abcdefghijk');
      await d.getByText('At most 10 characters.', { exact: true }).waitFor();
      await name.fill('ab1');
      await d.getByText(RULE, { exact: true }).waitFor();
      await name.fill('abc');
      await d.getByText(RULE, { exact: true }).waitFor({ state: 'hidden' });
      await d.getByLabel('Days').fill('91');
      await d.getByText('Enter -1 (never expires) or a whole number of days from 1 to 90.', { exact: true }).waitFor();
      await d.getByLabel('Description').fill('abcdé');
      await d.getByText('At most 5 bytes (now 6).', { exact: true }).waitFor();
      await d.getByRole('button', { name: 'Cancel' }).click();
      await d.waitFor({ state: 'detached' });

      await q.getByRole('checkbox', { name: 'Select robot$taken', exact: true }).check();
      await q.getByRole('button', { name: 'Action' }).click();
      await q.getByRole('menuitem', { name: 'Refresh secret' }).click();
      const r = q.getByRole('dialog', { name: 'Refresh secret of robot$taken' });
      await r.getByLabel('Set the secret manually').check();
      await r.getByText('10 to 12 characters with a digit; no spaces.').waitFor();
      const s = r.getByLabel('New secret');
      for (const [value, message] of [['Abcdefgh1', 'Use 10 to 12 characters.'], ['abcdefghijklm', 'Use 10 to 12 characters.'],
        ['abcdefghij', 'Use at least one digit.']]) {
        await s.fill(value);
        await r.getByText(message, { exact: true }).waitFor();
      }
      await s.fill('abcdefghi1'); // no upper-case letter: this server does not ask for one
      await r.getByLabel('Confirm secret').fill('abcdefghi1');
      assert.equal(await r.getByRole('button', { name: 'Refresh' }).isDisabled(), false);
      await r.getByRole('button', { name: 'Cancel' }).click();
      await r.waitFor({ state: 'detached' });

      await q.getByRole('link', { name: 'Settings' }).click();
      const minutes = q.getByLabel('Token lifetime (minutes)', { exact: true });
      await q.waitForFunction(() => !document.querySelector('input[name=token_expiration]').disabled);
      await minutes.fill('61');
      await q.getByText('Enter a whole number of minutes from 1 to 60.', { exact: true }).waitFor();
      await q.getByLabel('Robot token expiration (days)', { exact: true }).fill('91');
      await q.getByText('Enter a whole number of days from 1 to 90.', { exact: true }).waitFor();
      await q.getByLabel('Robot name prefix', { exact: true }).fill('bot-x');
      await q.getByText('At most 4 characters.', { exact: true }).waitFor();
      assert.deepEqual(asked, ['GET']); // once per page load
      Q.check();
    } finally {
      await Q.close();
    }
  });
});
