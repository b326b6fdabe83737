// Sign-in, the session cookie, sign-out, robot credentials refused, and a session that ends
// (deleted or aged in PostgreSQL) sending every screen back to sign-in.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as L from './lib.mjs';

let fx;

describe('sign-in and sessions', () => {
  before(async () => {
    fx = await L.setup();
  });

  after(async () => {
    if (fx) await fx.teardown();
  });

  async function withPage(fn) {
    const P = await L.openPage(fx.browser, fx.server);
    try {
      await fn(P, P.page);
      P.check();
    } finally {
      await P.close();
    }
  }

  async function fillSignIn(page, user, password) {
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  test('a first visit shows the sign-in form and asks the server nothing bound to fail', async () => {
    await withPage(async (P, page) => {
      const requests = [];
      page.on('request', (r) => requests.push(new URL(r.url()).pathname));
      const r = await page.goto('/');
      assert.match(r.headers()['content-security-policy'], /script-src 'self'/);
      await page.getByRole('button', { name: 'Log in' }).waitFor();
      await L.shot(page, 'signin');
      assert.deepEqual(requests.filter((p) => p.startsWith('/c/') || p.startsWith('/api/')), []);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByText('Enter your user name.').waitFor();
      await page.getByText('Enter your password.').waitFor();
    });
  });

  test('a wrong password is refused with a message', async () => {
    await withPage(async (P, page) => {
      P.allow(/status of 401/);
      await page.goto('/');
      await fillSignIn(page, fx.server.admin, 'not-the-password');
      await page.getByRole('alert').getByText('Invalid user name or password.').waitFor();
      assert.equal(await page.getByLabel('Password').inputValue(), '');
      await L.shot(page, 'signin-refused');
    });
  });

  test("a robot's credentials are refused at sign-in", async () => {
    const created = await L.api(fx.server, 'POST', '/robots', { name: 'cannot', level: 'system',
      permissions: [{ kind: 'project', namespace: 'p', access: [{ resource: 'repository', action: 'pull' }] }] });
    assert.equal((await L.token(fx.server, created.name, created.secret, 'p/x')).status, 200);
    await withPage(async (P, page) => {
      P.allow(/status of 403/);
      await page.goto('/');
      await fillSignIn(page, created.name, created.secret);
      await page.getByRole('alert').getByText('Robot accounts cannot sign in. Use an administrator account.').waitFor();
      assert.equal(await page.getByRole('heading', { name: 'Robot accounts', level: 1 }).count(), 0);
    });
  });

  test('sign in: an HttpOnly SameSite=Strict cookie; the session survives a reload; sign-out ends it', async () => {
    await withPage(async (P, page) => {
      await L.signIn(page, fx.server);
      await page.getByText('Signed in as').waitFor({ state: 'attached' });
      const cookie = (await P.context.cookies()).find((c) => c.name === 'dockhand_session');
      assert.ok(cookie, 'no dockhand_session cookie');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.equal(await page.evaluate(() => document.cookie), '');
      // mutating calls carry the CSRF header the page got at sign-in
      await page.getByRole('link', { name: 'Settings' }).click();
      await page.getByLabel('Token lifetime (minutes)').fill('31');
      const [put] = await Promise.all([
        page.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith('/api/v2.0/configurations')),
        page.getByRole('button', { name: 'Save' }).click(),
      ]);
      assert.ok((await put.allHeaders())['x-harbor-csrf-token'], 'no CSRF header');
      await page.getByRole('status').getByText('Settings saved.').waitFor();

      await page.reload();
      await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Log in' }).count(), 0);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('alert').getByText('You have signed out.').waitFor();
      const r = await page.request.get('/c/session');
      assert.equal(r.status(), 401);
      await page.reload();
      await page.getByRole('button', { name: 'Log in' }).waitFor();
      // the configuration change went through, as the administrator
      assert.equal((await L.api(fx.server, 'GET', '/configurations')).token_expiration.value, 31);
    });
  });

  test('a session that ends sends the page back to sign-in, from a screen and from a dialog', async () => {
    await withPage(async (P, page) => {
      P.allow(/status of 401/);
      await L.signIn(page, fx.server);
      // deleted (signed out elsewhere, swept): the next call fails
      await L.psql(fx.server, 'DELETE FROM sessions');
      // The next call fails: ours, or one the page was making anyway (then the button is
      // gone before our click lands, which is the same outcome): the alert decides.
      const ended = page.getByRole('alert').getByText('Your session has ended. Sign in again.');
      if (!(await ended.isVisible())) {
        await page.getByRole('button', { name: 'Refresh list' }).click({ timeout: 5000 })
          .catch(() => {});
      }
      await ended.waitFor();
      await L.shot(page, 'signin-session-ended');

      // aged past the idle timeout while a dialog is open
      await fillSignIn(page, fx.server.admin, fx.server.password);
      await page.getByRole('button', { name: 'New robot account' }).click();
      const d = page.getByRole('dialog', { name: 'New robot account' });
      await d.waitFor();
      await L.psql(fx.server, "UPDATE sessions SET last_seen = now() - interval '1 day', created_at = now() - interval '2 days'");
      await d.getByLabel('Name', { exact: true }).fill('late'); // the live duplicate check
      await page.getByRole('alert').getByText('Your session has ended. Sign in again.').waitFor();
      await d.waitFor({ state: 'detached' });
      assert.equal(await page.locator('dialog').count(), 0);
      await fillSignIn(page, fx.server.admin, fx.server.password);
      await page.getByRole('heading', { name: 'Robot accounts', level: 1 }).waitFor();
    });
  });
});
