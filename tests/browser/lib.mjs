// What every browser test file uses: its own PostgreSQL + dockhand (server.py), Debian's
// chromium driven by playwright-core, console-error collection, screenshots, and the checks
// made outside the browser (admin API with HTTP Basic, the token realm, psql).
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

export const CHROMIUM = process.env.DOCKHAND_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = process.env.DOCKHAND_SCREENSHOTS || join(here, '..', '..', 'build', 'tests', 'screenshots');
// Generous: another build may share this machine's two cores.
export const TIMEOUT = Number(process.env.DOCKHAND_BROWSER_TIMEOUT || 30000);

// ---- the server --------------------------------------------------------------------------

// Starts tests/browser/server.py; resolves to its JSON (url, admin, password, dsn, …) plus
// stop(), which closes its stdin and waits for a clean exit.
export async function startServer() {
  const child = spawn('/usr/bin/python3', [join(here, 'server.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server.py exited with ${code} before it was ready`)));
  });
  const info = JSON.parse(first);
  if (info.error) throw new Error(`server.py: ${info.error}`);
  info.stop = async () => {
    child.stdin.end();
    const code = await exited;
    assert.equal(code, 0, 'server.py (dockhand, PostgreSQL) did not stop cleanly');
  };
  return info;
}

// ---- the browser -------------------------------------------------------------------------

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// A fresh context (no cookies) and page. Console errors and page errors are collected:
// check() fails on any that allow(re) did not expect. Pass grant: true for clipboard access.
export async function openPage(browser, server, { clipboard = false, viewport } = {}) {
  const context = await browser.newContext({
    baseURL: server.url,
    acceptDownloads: true,
    viewport: viewport || { width: 1360, height: 900 },
    permissions: clipboard ? ['clipboard-read', 'clipboard-write'] : [],
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const errors = [];
  const allowed = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    // An error the test provokes on purpose (e.g. the 401 a wrong password gets).
    allow(re) {
      allowed.push(re);
    },
    check() {
      const bad = errors.filter((e) => !allowed.some((re) => re.test(e)));
      errors.length = 0;
      assert.deepEqual(bad, [], 'the page logged errors');
    },
    async close() {
      await context.close();
    },
  };
}

export async function signIn(page, server, user = server.admin, password = server.password) {
  await page.goto('/');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Robot accounts', level: 1 }).waitFor();
}

// Removes dialogs a failed test left open, so that one failure does not fail the rest.
export async function closeDialogs(page) {
  if (page) await page.evaluate(() => document.querySelectorAll('dialog').forEach((d) => d.remove()));
}

export async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

// ---- outside the browser -----------------------------------------------------------------

// The admin API with HTTP Basic as the administrator: {status, body, headers}.
export async function apiCall(server, method, path, body) {
  const auth = Buffer.from(`${server.admin}:${server.password}`).toString('base64');
  const r = await fetch(`${server.url}/api/v2.0${path}`, {
    method,
    headers: { Authorization: `Basic ${auth}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

export async function api(server, method, path, body) {
  const r = await apiCall(server, method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function robotByName(server, fullName) {
  const all = await api(server, 'GET', '/robots?page_size=100');
  const r = all.find((x) => x.name === fullName);
  assert.ok(r, `no robot ${fullName} in ${all.map((x) => x.name)}`);
  return api(server, 'GET', `/robots/${r.id}`);
}

export async function createProject(server, name) {
  await api(server, 'POST', '/projects', { project_name: name });
}

// GET /service/token with Basic robot credentials and one repository scope; returns
// {status, actions, expiresIn} (actions granted on that repository, [] when none).
export async function token(server, user, secret, repo, actions = 'pull,push') {
  const url = new URL('/service/token', server.url);
  url.searchParams.set('service', server.service);
  url.searchParams.set('scope', `repository:${repo}:${actions}`);
  const r = await fetch(url, { headers: { Authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` } });
  const body = await r.json();
  if (r.status !== 200) return { status: r.status, actions: [], expiresIn: null };
  const claims = JSON.parse(Buffer.from(body.token.split('.')[1], 'base64url').toString());
  const entry = (claims.access || []).find((a) => a.type === 'repository' && a.name === repo);
  return { status: 200, actions: entry ? [...entry.actions].sort() : [], expiresIn: body.expires_in };
}

export async function psql(server, sql) {
  const { stdout } = await run(server.psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', server.dsn, '-c', sql]);
  return stdout.trim();
}

// One file's fixture: server + browser, stopped in after().
export async function setup() {
  const server = await startServer();
  const browser = await launch();
  return {
    server,
    browser,
    async teardown() {
      await browser.close();
      await server.stop();
    },
  };
}
