// Settings (Save sends only what changed, every message, Cancel and leaving ask) checked at
// the realm; a project's robot page (project robots only, <prefix><project>+<name>,
// create and edit one); legacy robots marked and read-only.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as L from './lib.mjs';

let fx;
let P;
let page;
let cfg; // a robot created through the API: {name, secret}
const pull = [{ resource: 'repository', action: 'pull' }];

describe('settings and project robots', () => {
  before(async () => {
    fx = await L.setup();
    for (const p of ['alpha', 'beta']) await L.createProject(fx.server, p);
    cfg = await L.api(fx.server, 'POST', '/robots', { name: 'cfg', level: 'system', permissions: [{ kind: 'project', namespace: 'alpha', access: pull }] });
    await L.api(fx.server, 'POST', '/robots', { name: 'old', level: 'project', permissions: [{ kind: 'project', namespace: 'alpha', access: pull }] });
    await L.api(fx.server, 'POST', '/robots', { name: 'other', level: 'project', permissions: [{ kind: 'project', namespace: 'beta', access: pull }] });
    P = await L.openPage(fx.browser, fx.server);
    page = P.page;
    await L.signIn(page, fx.server);
  });

  afterEach(() => L.closeDialogs(page));

  after(async () => {
    if (P) await P.close();
    if (fx) await fx.teardown();
  });

  const field = (label) => page.getByLabel(label, { exact: true });

  test('settings: every message; Save sends only what changed; the realm follows', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const prefix = field('Robot name prefix');
    const days = field('Robot token expiration (days)');
    const minutes = field('Token lifetime (minutes)');
    const save = page.getByRole('button', { name: 'Save' });
    await page.waitForFunction(() => document.querySelector('input[name=robot_name_prefix]').value === 'robot$');
    assert.equal(await days.inputValue(), '30');
    assert.equal(await minutes.inputValue(), '30');
    assert.equal(await save.isDisabled(), true);
    await L.shot(page, 'settings');

    const cases = [
      [prefix, '', 'The prefix must not be empty or hold spaces.'],
      [prefix, 'a b', 'The prefix must not be empty or hold spaces.'],
      [days, '0', 'Enter a whole number of days from 1 to 36500.'],
      [days, '-1', 'Enter a whole number of days from 1 to 36500.'],
      [days, 'ten', 'Enter a whole number of days from 1 to 36500.'],
      [minutes, '0', 'Enter a whole number of minutes from 1 to 1440.'],
      [minutes, '1441', 'Enter a whole number of minutes from 1 to 1440.'],
    ];
    for (const [input, value, message] of cases) {
      const before = await input.inputValue();
      await input.fill(value);
      await page.getByText(message, { exact: true }).waitFor();
      assert.equal(await input.getAttribute('aria-invalid'), 'true');
      assert.equal(await save.isDisabled(), true);
      await input.fill(before);
    }

    await prefix.fill('bot-');
    await minutes.fill('15');
    const [put] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith('/api/v2.0/configurations')),
      save.click(),
    ]);
    assert.deepEqual(put.postDataJSON(), { robot_name_prefix: 'bot-', token_expiration: 15 });
    await page.getByRole('status').getByText('Settings saved.').waitFor();
    const config = await L.api(fx.server, 'GET', '/configurations');
    assert.equal(config.robot_name_prefix.value, 'bot-');
    assert.equal(config.token_expiration.value, 15);
    assert.equal(config.robot_token_duration.value, 30);
    const t = await L.token(fx.server, 'bot-cfg', cfg.secret, 'alpha/x', 'pull');
    assert.equal(t.status, 200);
    assert.deepEqual(t.actions, ['pull']);
    assert.equal(t.expiresIn, 900);
    assert.equal((await L.token(fx.server, 'robot$cfg', cfg.secret, 'alpha/x', 'pull')).status, 401);
    await page.waitForFunction(() => document.querySelector('input[name=robot_name_prefix]').value === 'bot-');
    assert.equal(await save.isDisabled(), true);
    P.check();
  });

  test('settings: Cancel and leaving the screen ask before discarding', async () => {
    const days = field('Robot token expiration (days)');
    await days.fill('10');
    await page.getByRole('button', { name: 'Cancel' }).click();
    const d = page.getByRole('dialog', { name: 'Discard changes?' });
    await d.getByRole('button', { name: 'Keep editing' }).click();
    assert.equal(await days.inputValue(), '10');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await d.getByRole('button', { name: 'Discard' }).click();
    assert.equal(await days.inputValue(), '30');
    assert.equal(await page.getByRole('button', { name: 'Cancel' }).isDisabled(), true);

    await days.fill('10');
    await page.getByRole('link', { name: 'Robot accounts' }).click();
    await d.getByRole('button', { name: 'Keep editing' }).click();
    await d.waitFor({ state: 'detached' });
    assert.equal(await days.inputValue(), '10');
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith('/api/v2.0/configurations')),
      page.getByRole('button', { name: 'Save' }).click(),
    ]);
    await page.getByRole('status').getByText('Settings saved.').last().waitFor();
    assert.equal((await L.api(fx.server, 'GET', '/configurations')).robot_token_duration.value, 10);

    // the new default reaches the dialog and the robot list uses the new prefix
    await page.getByRole('link', { name: 'Robot accounts' }).click();
    await page.getByRole('cell', { name: 'bot-cfg', exact: true }).waitFor();
    await page.getByRole('button', { name: 'New robot account' }).click();
    const n = page.getByRole('dialog', { name: 'New robot account' });
    assert.equal(await n.getByLabel('Expiration time').locator('option:checked').textContent(), '10 days (default)');
    await n.getByLabel('Name', { exact: true }).fill('x1');
    await n.getByText('Full name: bot-x1').waitFor();
    await n.getByRole('button', { name: 'Cancel' }).click();
    await L.api(fx.server, 'PUT', '/configurations', { robot_name_prefix: 'robot$' });
    P.check();
  });

  test("a project's robots: only its project robots, named <prefix><project>+<name>; create and edit one", async () => {
    await page.getByRole('link', { name: 'Projects' }).click();
    const queries = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/v2.0/robots' && u.searchParams.get('q')) queries.push(u.searchParams.get('q'));
    });
    await page.getByRole('row', { name: /alpha\s+Private/ }).waitFor();
    await L.shot(page, 'projects');
    await page.getByRole('link', { name: 'alpha', exact: true }).click();
    await page.getByRole('heading', { name: 'Robot accounts of project alpha' }).waitFor();
    await page.getByRole('cell', { name: 'robot$alpha+old', exact: true }).waitFor();
    const alpha = (await L.api(fx.server, 'GET', '/projects?name=alpha'))[0];
    assert.ok(queries.includes(`Level=project,ProjectID=${alpha.project_id}`), queries.join(' '));
    assert.deepEqual(await page.locator('table.robots tbody td.name').allTextContents(), ['robot$alpha+old']);

    await page.getByRole('button', { name: 'New robot account' }).click();
    const d = page.getByRole('dialog', { name: 'New robot account for project alpha' });
    await d.getByLabel('Name', { exact: true }).fill('old');
    await d.getByText('A robot account named robot$alpha+old already exists.').waitFor();
    await d.getByLabel('Name', { exact: true }).fill('deploy');
    await d.getByText('Full name: robot$alpha+deploy').waitFor();
    await d.getByLabel('Push artifacts').uncheck();
    await L.shot(page, 'project-robot-new');
    await d.getByRole('button', { name: 'Add' }).click();
    const s = page.getByRole('dialog', { name: "Created 'robot$alpha+deploy'" });
    const [download] = await Promise.all([page.waitForEvent('download'), s.getByRole('button', { name: 'Export to file' }).click()]);
    assert.equal(download.suggestedFilename(), 'robot$alpha+deploy.json');
    const exported = JSON.parse(await readFile(await download.path(), 'utf8'));
    await s.getByRole('button', { name: 'Close' }).click();
    const robot = await L.robotByName(fx.server, 'robot$alpha+deploy');
    assert.equal(robot.level, 'project');
    assert.deepEqual(robot.permissions, [{ kind: 'project', namespace: 'alpha', access: pull }]);
    assert.deepEqual(await L.token(fx.server, exported.name, exported.secret, 'alpha/x').then((t) => t.actions), ['pull']);
    assert.deepEqual(await L.token(fx.server, exported.name, exported.secret, 'beta/x').then((t) => t.actions), []);
    await page.getByRole('row', { name: /robot\$alpha\+deploy/ }).getByText('Pull artifacts').waitFor();
    await L.shot(page, 'project-robots');

    await page.getByRole('checkbox', { name: 'Select robot$alpha+deploy' }).check();
    await page.getByRole('button', { name: 'Action' }).click();
    await page.getByRole('menuitem', { name: 'Edit' }).click();
    const e = page.getByRole('dialog', { name: 'Edit robot$alpha+deploy' });
    await e.getByLabel('Push artifacts').check();
    await e.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('robot$alpha+deploy saved.').waitFor();
    assert.deepEqual(await L.token(fx.server, exported.name, exported.secret, 'alpha/x').then((t) => t.actions), ['pull', 'push']);
    P.check();
  });

  test('legacy robots are marked "Legacy" and cannot be selected', async () => {
    const robot = await L.robotByName(fx.server, 'robot$alpha+old');
    await L.psql(fx.server, `UPDATE robots SET legacy = true WHERE id = ${robot.id}`);
    await page.getByRole('button', { name: 'Refresh list' }).click();
    const row = page.getByRole('row', { name: /robot\$alpha\+old/ });
    await row.getByText('Legacy', { exact: true }).waitFor();
    assert.equal(await row.getByRole('checkbox').isDisabled(), true);
    await page.getByRole('checkbox', { name: 'Select all robot accounts on this page' }).check();
    await page.getByRole('button', { name: 'Action' }).click();
    // only the other robot is selected: the menu acts on it, never on the legacy one
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    const c = page.getByRole('dialog', { name: 'Delete robot account' });
    assert.deepEqual(await c.getByRole('listitem').allTextContents(), ['robot$alpha+deploy']);
    await c.getByRole('button', { name: 'Cancel' }).click();

    // the list of every robot marks it too (the README's picture is taken here)
    const other = await L.robotByName(fx.server, 'robot$beta+other');
    await L.api(fx.server, 'PUT', `/robots/${other.id}`, { ...other, disable: true, description: 'paused while beta moves' });
    const cfgRobot = await L.robotByName(fx.server, 'robot$cfg');
    await L.api(fx.server, 'PUT', `/robots/${cfgRobot.id}`, { ...cfgRobot, description: 'CI of the alpha team', duration: 3 });
    await L.api(fx.server, 'POST', '/robots', { name: 'release', level: 'system', duration: -1, description: 'release pipeline',
      permissions: [{ kind: 'project', namespace: '*', access: [...pull, { resource: 'repository', action: 'push' }] }] });
    await page.getByRole('link', { name: 'Robot accounts' }).click();
    const legacyRow = page.getByRole('row', { name: /robot\$alpha\+old/ });
    await legacyRow.getByText('Legacy', { exact: true }).waitFor();
    assert.equal(await legacyRow.getByRole('checkbox').isDisabled(), true);
    await page.getByRole('row', { name: /robot\$beta\+other/ }).getByText('Disabled').waitFor();
    await page.getByRole('row', { name: /robot\$release/ }).getByText('All projects · 2 permissions').waitFor();
    await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
    await page.setViewportSize({ width: 1280, height: 420 });
    await L.shot(page, 'robots-overview');
    await page.setViewportSize({ width: 1360, height: 900 });
    P.check();
  });
});
