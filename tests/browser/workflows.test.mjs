// Every robot workflow of the page, each checked afterwards through the admin API (HTTP
// Basic as the administrator) and the token realm (the robot's own credentials).
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as L from './lib.mjs';

let fx;
let P;
let page;
const secrets = {}; // full name → current secret

describe('robot workflows', () => {
  before(async () => {
    fx = await L.setup();
    for (const p of ['alpha', 'beta', 'gamma']) await L.createProject(fx.server, p);
    P = await L.openPage(fx.browser, fx.server, { clipboard: true });
    page = P.page;
    await L.signIn(page, fx.server);
  });

  afterEach(() => L.closeDialogs(page)); // after a failure: the next test starts clean

  after(async () => {
    if (P) await P.close();
    if (fx) await fx.teardown();
  });

  const button = (name) => page.getByRole('button', { name, exact: true });
  const dialog = (name) => page.getByRole('dialog', { name });

  async function select(...names) {
    for (const n of names) await page.getByRole('checkbox', { name: `Select ${n}`, exact: true }).check();
  }

  async function action(item) {
    await button('Action').click();
    await page.getByRole('menuitem', { name: item, exact: true }).click();
  }

  // Clicks Export to file in the open secret dialog; returns the download's name and JSON.
  async function exportSecret(d) {
    const [download] = await Promise.all([page.waitForEvent('download'), d.getByRole('button', { name: 'Export to file' }).click()]);
    const text = await readFile(await download.path(), 'utf8');
    return { filename: download.suggestedFilename(), data: JSON.parse(text) };
  }

  async function realm(name, repo, actions) {
    const { status, actions: granted } = await L.token(fx.server, name, secrets[name], repo, actions);
    return { status, actions: granted };
  }

  test('create a system robot over chosen projects; the exported file logs in at the realm', async () => {
    await button('New robot account').click();
    const d = dialog('New robot account');
    await d.getByLabel('Name', { exact: true }).fill('sys1');
    await d.getByText('Full name: robot$sys1').waitFor();
    await d.getByLabel('Description').fill('CI for alpha and beta');
    await d.getByLabel('Select project alpha').check();
    await d.getByLabel('Select project beta').check();
    // beta: pull only (its picker, opened from the row)
    const beta = d.locator('tr[data-project="beta"]');
    await beta.locator('summary').click();
    await beta.getByLabel('Push artifacts').uncheck();
    await beta.getByText('Pull artifacts', { exact: true }).first().waitFor();
    await L.shot(page, 'robot-new');
    await d.getByRole('button', { name: 'Add' }).click();

    const s = dialog("Created 'robot$sys1'");
    await s.getByText('This is the only time the secret is shown').waitFor();
    await L.shot(page, 'secret-once');
    const { filename, data } = await exportSecret(s);
    assert.equal(filename, 'robot$sys1.json');
    assert.deepEqual(Object.keys(data).sort(), ['creation_time', 'expires_at', 'id', 'name', 'secret']);
    assert.equal(await s.getByLabel('Secret').inputValue(), data.secret);
    await s.getByRole('status').getByText('Exported to robot$sys1.json.').waitFor();
    await s.getByRole('button', { name: 'Close' }).click();
    await s.waitFor({ state: 'detached' });

    const robot = await L.robotByName(fx.server, 'robot$sys1');
    assert.equal(data.id, robot.id);
    assert.equal(data.name, robot.name);
    assert.equal(data.creation_time, robot.creation_time);
    assert.equal(data.expires_at, robot.expires_at);
    assert.equal(robot.level, 'system');
    assert.equal(robot.description, 'CI for alpha and beta');
    assert.equal(robot.duration, 30);
    const perms = Object.fromEntries(robot.permissions.map((p) => [p.namespace, p.access.map((a) => `${a.resource}:${a.action}`).sort()]));
    assert.deepEqual(perms, { alpha: ['repository:pull', 'repository:push'], beta: ['repository:pull'] });

    secrets['robot$sys1'] = data.secret;
    assert.deepEqual(await realm('robot$sys1', 'alpha/x'), { status: 200, actions: ['pull', 'push'] });
    assert.deepEqual(await realm('robot$sys1', 'beta/x'), { status: 200, actions: ['pull'] });
    assert.deepEqual(await realm('robot$sys1', 'gamma/x'), { status: 200, actions: [] });
    await page.getByRole('cell', { name: 'robot$sys1', exact: true }).waitFor();
    await L.shot(page, 'robot-list');
    P.check();
  });

  test('create a cover-all robot: Copy puts the secret on the clipboard; a project made later is covered', async () => {
    await button('New robot account').click();
    const d = dialog('New robot account');
    await d.getByLabel('Name', { exact: true }).fill('all1');
    await d.getByLabel('Cover all projects').check();
    // the project table is disabled while cover-all is on
    assert.equal(await d.locator('section.projects').evaluate((el) => el.inert), true);
    await d.getByRole('button', { name: 'Add' }).click();
    const s = dialog("Created 'robot$all1'");
    await s.getByRole('button', { name: 'Copy' }).click();
    await s.getByRole('status').getByText('Secret copied to the clipboard.').waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(clip, await s.getByLabel('Secret').inputValue());
    assert.match(clip, /^[A-Za-z0-9]{32}$/);
    await s.getByRole('button', { name: 'Close' }).click();
    await s.waitFor({ state: 'detached' });
    secrets['robot$all1'] = clip;

    const robot = await L.robotByName(fx.server, 'robot$all1');
    assert.deepEqual(robot.permissions.map((p) => p.namespace), ['*']);
    await page.getByRole('row', { name: /robot\$all1/ }).getByText('All projects · 2 permissions').waitFor();
    await L.createProject(fx.server, 'later');
    assert.deepEqual(await realm('robot$all1', 'later/app'), { status: 200, actions: ['pull', 'push'] });
    P.check();
  });

  test('edit a robot: description, expiration and projects change', async () => {
    await select('robot$sys1');
    await action('Edit');
    const d = dialog('Edit robot$sys1');
    assert.equal(await d.getByLabel('Name', { exact: true }).getAttribute('readonly'), '');
    await d.getByText(/^Expires at /).waitFor();
    await d.getByLabel('Description').fill('now with gamma');
    await d.getByLabel('Expiration time').selectOption('never');
    assert.equal(await d.getByLabel('Days').inputValue(), '-1');
    await d.getByText('Never expires.', { exact: true }).waitFor();
    await d.getByLabel('Select project gamma').check();
    await L.shot(page, 'robot-edit');
    await d.getByRole('button', { name: 'Save' }).click();
    await d.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('robot$sys1 saved.').waitFor();

    const robot = await L.robotByName(fx.server, 'robot$sys1');
    assert.equal(robot.description, 'now with gamma');
    assert.equal(robot.duration, -1);
    assert.equal(robot.expires_at, -1);
    assert.deepEqual(robot.permissions.map((p) => p.namespace).sort(), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await realm('robot$sys1', 'gamma/x'), { status: 200, actions: ['pull', 'push'] });
    await page.getByRole('row', { name: /robot\$sys1/ }).getByText('Never expires').waitFor();
    P.check();
  });

  test('disable and enable ask first; a disabled robot is refused at the realm', async () => {
    await select('robot$sys1');
    await action('Disable');
    const c = dialog('Disable robot account');
    await c.getByText('Disable robot$sys1?').waitFor();
    await L.shot(page, 'confirm-disable');
    await c.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('status').getByText('robot$sys1 disabled.').waitFor();
    assert.equal((await L.robotByName(fx.server, 'robot$sys1')).disable, true);
    assert.equal((await realm('robot$sys1', 'alpha/x')).status, 401);
    // PUT kept everything else
    const robot = await L.robotByName(fx.server, 'robot$sys1');
    assert.equal(robot.description, 'now with gamma');
    assert.equal(robot.permissions.length, 3);
    await page.getByRole('row', { name: /robot\$sys1/ }).getByText('Disabled').waitFor();

    await select('robot$sys1');
    await action('Enable');
    const e = dialog('Enable robot account');
    await e.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('status').getByText('robot$sys1 enabled.').waitFor();
    assert.equal((await L.robotByName(fx.server, 'robot$sys1')).disable, false);
    assert.deepEqual(await realm('robot$sys1', 'alpha/x'), { status: 200, actions: ['pull', 'push'] });
    P.check();
  });

  test('edit a robot: allowed networks and a federation rule are saved, shown after a reload, and removed', async () => {
    const networksOf = () => L.api(fx.server, 'GET', `/robots/${id}/networks`);
    const rulesOf = () => L.api(fx.server, 'GET', `/robots/${id}/federation`);
    const { id } = await L.robotByName(fx.server, 'robot$sys1');
    await select('robot$sys1');
    await action('Edit');
    let d = dialog('Edit robot$sys1');
    const nets = d.getByLabel('Allowed networks');
    // The field is made with the dialog and enabled once the robot's networks are read.
    await nets.waitFor();
    await page.waitForFunction(() => {
      const t = document.querySelector('dialog textarea[placeholder^="10.0.0.0/8"]');
      return t && !t.disabled;
    });
    // a bad network: the API's message, in the dialog, which stays open; nothing saved
    P.allow(/status of 400/);
    await nets.fill('10.0.0.1/8');
    await d.getByRole('button', { name: 'Save' }).click();
    await d.getByRole('alert').getByText(/networks\[0\] must be an IPv4 or IPv6 network/).waitFor();
    assert.deepEqual(await networksOf(), []);
    // good ones, and a rule
    await nets.fill('10.0.0.0/8\n127.0.0.1');
    const fed = d.getByRole('region', { name: 'Federation' });
    await fed.getByText('No federation rules.').waitFor();
    await fed.getByRole('button', { name: 'Add rule' }).click();
    await fed.getByText("Enter the issuer's https:// URL.").waitFor();
    await fed.getByLabel('Issuer').fill('https://token.actions.githubusercontent.com');
    await fed.getByLabel('Subject').fill('repo:acme/app:*');
    await fed.getByLabel('Claims').fill('repository=acme/app\nref=refs/heads/main');
    await fed.getByRole('button', { name: 'Add rule' }).click();
    await fed.getByText(/^1\. https:\/\/token\.actions\.githubusercontent\.com · subject repo:acme\/app:\*/).waitFor();
    await L.shot(page, 'robot-edit-federation');
    await d.getByRole('button', { name: 'Save' }).click();
    await d.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('robot$sys1 saved.').last().waitFor();
    assert.deepEqual(await networksOf(), ['10.0.0.0/8', '127.0.0.1/32']);
    assert.deepEqual(await rulesOf(), [{ issuer: 'https://token.actions.githubusercontent.com',
      subject: 'repo:acme/app:*', claims: { ref: 'refs/heads/main', repository: 'acme/app' } }]);
    assert.equal((await realm('robot$sys1', 'alpha/x')).status, 200); // the test runs on 127.0.0.1

    // after a reload the dialog shows both; remove them again
    await page.reload();
    await page.getByRole('heading', { name: 'Robot accounts', level: 1 }).waitFor();
    await select('robot$sys1');
    await action('Edit');
    d = dialog('Edit robot$sys1');
    await page.waitForFunction(() => document.querySelector('dialog textarea[placeholder^="10.0.0.0/8"]').value !== '');
    assert.equal(await d.getByLabel('Allowed networks').inputValue(), '10.0.0.0/8\n127.0.0.1/32');
    const fed2 = d.getByRole('region', { name: 'Federation' });
    await fed2.getByText(/repository=acme\/app/).waitFor();
    await fed2.getByRole('button', { name: 'Remove rule 1' }).click();
    await fed2.getByText('No federation rules.').waitFor();
    await d.getByLabel('Allowed networks').fill('');
    await d.getByRole('button', { name: 'Save' }).click();
    await d.waitFor({ state: 'detached' });
    assert.deepEqual(await networksOf(), []);
    assert.deepEqual(await rulesOf(), []);
    P.check();
  });

  test('refresh a secret at random: the new one logs in, the old one fails', async () => {
    const old = secrets['robot$sys1'];
    await select('robot$sys1');
    await action('Refresh secret');
    const d = dialog('Refresh secret of robot$sys1');
    await L.shot(page, 'refresh-secret');
    await d.getByRole('button', { name: 'Refresh' }).click();
    const s = dialog('Secret refreshed');
    const { filename, data } = await exportSecret(s);
    assert.equal(filename, 'robot$sys1.json');
    assert.notEqual(data.secret, old);
    const robot = await L.robotByName(fx.server, 'robot$sys1');
    assert.deepEqual({ id: data.id, name: data.name, creation_time: data.creation_time, expires_at: data.expires_at },
      { id: robot.id, name: robot.name, creation_time: robot.creation_time, expires_at: robot.expires_at });
    await s.getByRole('button', { name: 'Close' }).click();
    await s.waitFor({ state: 'detached' });
    secrets['robot$sys1'] = data.secret;
    assert.equal((await realm('robot$sys1', 'alpha/x')).status, 200);
    assert.equal((await L.token(fx.server, 'robot$sys1', old, 'alpha/x')).status, 401);
    P.check();
  });

  test('refresh a secret manually: the two fields must agree; the new one logs in, the old one fails', async () => {
    const old = secrets['robot$sys1'];
    const manual = 'Manual-Secret-42';
    await select('robot$sys1');
    await action('Refresh secret');
    const d = dialog('Refresh secret of robot$sys1');
    await d.getByLabel('Set the secret manually').check();
    await d.getByLabel('New secret').fill(manual);
    await d.getByLabel('Confirm secret').fill(`${manual}x`);
    await d.getByText('The two secrets differ.').waitFor();
    assert.equal(await d.getByRole('button', { name: 'Refresh' }).isDisabled(), true);
    await d.getByLabel('Confirm secret').fill(manual);
    await d.getByRole('button', { name: 'Refresh' }).click();
    await d.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('The secret of robot$sys1 was changed.').waitFor();
    secrets['robot$sys1'] = manual;
    assert.equal((await realm('robot$sys1', 'alpha/x')).status, 200);
    assert.equal((await L.token(fx.server, 'robot$sys1', old, 'alpha/x')).status, 401);
    P.check();
  });

  test('closing the secret dialog without copying or exporting asks first', async () => {
    await button('New robot account').click();
    const d = dialog('New robot account');
    await d.getByLabel('Name', { exact: true }).fill('gone1');
    await d.getByLabel('Select project alpha').check();
    await d.getByRole('button', { name: 'Add' }).click();
    const s = dialog("Created 'robot$gone1'");
    await s.getByRole('button', { name: 'Close' }).click();
    const c = dialog('Close without saving the secret?');
    await L.shot(page, 'secret-close-confirm');
    await c.getByRole('button', { name: 'Go back' }).click();
    await c.waitFor({ state: 'detached' });
    assert.equal(await s.isVisible(), true);
    await page.keyboard.press('Escape'); // Esc asks too
    await c.getByRole('button', { name: 'Close anyway' }).click();
    await s.waitFor({ state: 'detached' });
    P.check();
  });

  test('delete one robot, then several: the confirmation names them', async () => {
    await select('robot$gone1');
    await action('Delete');
    const c = dialog('Delete robot account');
    await c.getByRole('listitem').getByText('robot$gone1', { exact: true }).waitFor();
    await c.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText('Deleted 1 robot account.').waitFor();
    const left = (await L.api(fx.server, 'GET', '/robots?page_size=100')).map((r) => r.name).sort();
    assert.deepEqual(left, ['robot$all1', 'robot$sys1']);

    await page.getByRole('cell', { name: 'robot$gone1', exact: true }).waitFor({ state: 'detached' });
    await select('robot$sys1', 'robot$all1');
    await action('Delete');
    const c2 = dialog('Delete robot accounts');
    assert.deepEqual((await c2.getByRole('listitem').allTextContents()).sort(), ['robot$all1', 'robot$sys1']);
    await L.shot(page, 'confirm-delete');
    await c2.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText('Deleted 2 robot accounts.').waitFor();
    assert.deepEqual(await L.api(fx.server, 'GET', '/robots'), []);
    assert.equal((await realm('robot$sys1', 'alpha/x')).status, 401);
    await page.getByText('No robot accounts yet.').waitFor();
    P.check();
  });

  test('a delete of several reports every failure, not just the last', async () => {
    const ids = {};
    for (const n of ['f1', 'f2', 'f3']) {
      ids[n] = (await L.api(fx.server, 'POST', '/robots', { name: n, level: 'system',
        permissions: [{ kind: 'project', namespace: 'alpha', access: [{ resource: 'repository', action: 'pull' }] }] })).id;
    }
    P.allow(/status of (409|500)/);
    // two of the three deletes fail, each its own way
    await page.route(`**/api/v2.0/robots/${ids.f1}`, (route) => route.fulfill({ status: 409, contentType: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'CONFLICT', message: 'robot is busy' }] }) }));
    await page.route(`**/api/v2.0/robots/${ids.f3}`, (route) => route.fulfill({ status: 500, contentType: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'INTERNAL', message: 'internal server error' }] }) }));
    await button('Refresh list').click();
    await select('robot$f1', 'robot$f2', 'robot$f3');
    await action('Delete');
    await dialog('Delete robot accounts').getByRole('button', { name: 'Delete' }).click();
    const r = dialog('Some robot accounts were not deleted');
    await r.getByRole('alert').getByText('2 robot accounts could not be deleted.').waitFor();
    assert.deepEqual((await r.getByRole('listitem').allTextContents()).sort(),
      ['robot$f1: robot is busy', 'robot$f3: internal server error']);
    await L.shot(page, 'delete-failures');
    await r.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('status').getByText('Deleted 1 robot account.').last().waitFor();
    await page.unroute(`**/api/v2.0/robots/${ids.f1}`);
    await page.unroute(`**/api/v2.0/robots/${ids.f3}`);
    const left = (await L.api(fx.server, 'GET', '/robots?page_size=100')).map((x) => x.name).sort();
    assert.deepEqual(left, ['robot$f1', 'robot$f3']);
    P.check();
  });
});
