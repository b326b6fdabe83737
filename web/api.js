// The page's only way to the server: dockhand's session endpoints and limits (/c/…) and
// its Harbor-compatible admin API (/api/v2.0). Mutating calls carry the CSRF token handed out
// at sign-in; a 401 anywhere means the session is gone and the page goes back to sign-in.

const API = '/api/v2.0';

export const session = { username: null, csrf: null };

let onExpired = () => {};

// fn(message) is called once per lost session (401 from the API).
export function setExpiredHandler(fn) {
  onExpired = fn;
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(r) {
  let message = `${r.status} ${r.statusText || 'error'}`;
  let code;
  try {
    const body = await r.json();
    if (body && Array.isArray(body.errors) && body.errors.length) {
      message = body.errors.map((e) => e.message).filter(Boolean).join('; ') || message;
      code = body.errors[0].code;
    }
  } catch {
    // not JSON: keep the status line
  }
  if (r.status === 429) {
    const after = r.headers.get('Retry-After');
    if (after) message = `${message} (try again in ${after} s)`;
  }
  return new ApiError(r.status, message, code);
}

// One API call. Returns {body, total} (total from X-Total-Count when present).
export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Harbor-CSRF-Token'] = session.csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(API + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (r.status === 401) {
    const err = new ApiError(401, 'Your session has ended. Sign in again.', 'UNAUTHORIZED');
    forget();
    onExpired(err.message);
    throw err;
  }
  if (!r.ok) throw await errorOf(r);
  const text = await r.text();
  const total = r.headers.get('X-Total-Count');
  return { body: text ? JSON.parse(text) : null, total: total === null ? null : Number(total) };
}

export const get = (path) => call('GET', path).then((r) => r.body);
export const put = (path, body) => call('PUT', path, body).then((r) => r.body);
export const post = (path, body) => call('POST', path, body).then((r) => r.body);
export const patch = (path, body) => call('PATCH', path, body).then((r) => r.body);
export const del = (path) => call('DELETE', path).then((r) => r.body);

// A q= value: key=value pairs joined by commas. Each value is escaped twice: the query
// string is decoded once, then each q value once more (so ',' and '%' in a term survive).
export function qParam(pairs) {
  const q = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(',');
  return encodeURIComponent(q);
}

// Every item of a paged list (page_size 100 until X-Total-Count is reached).
export async function listAll(path) {
  const out = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let page = 1; ; page += 1) {
    const r = await call('GET', `${path}${sep}page=${page}&page_size=100`);
    out.push(...r.body);
    if (!r.body.length || r.total === null || out.length >= r.total) return out;
  }
}

// ---- session ----------------------------------------------------------------------------

async function sessionCall(method, path, body, headers) {
  let r;
  try {
    r = await fetch(path, { method, body, headers, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (!r.ok) throw await errorOf(r);
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

// Whether this browser signed in before (the cookie itself is HttpOnly): the page asks for
// the session only then, so a first visit makes no request bound to fail.
const MARK = 'dockhand.signedIn';

function forget() {
  session.username = null;
  session.csrf = null;
  localStorage.removeItem(MARK);
}

// The session this browser already has (after a reload), or null.
export async function resume() {
  if (!localStorage.getItem(MARK)) return null;
  try {
    const s = await sessionCall('GET', '/c/session');
    session.username = s.username;
    session.csrf = s.csrf_token;
    return s;
  } catch (e) {
    if (e.status === 401 || e.status === 404) {
      forget();
      return null;
    }
    throw e;
  }
}

export async function signIn(principal, password) {
  const form = new URLSearchParams({ principal, password });
  try {
    const s = await sessionCall('POST', '/c/login', form.toString(),
      { 'Content-Type': 'application/x-www-form-urlencoded' });
    session.username = s.username;
    session.csrf = s.csrf_token;
    localStorage.setItem(MARK, '1');
    return s;
  } catch (e) {
    if (e.status === 401) throw new ApiError(401, 'Invalid user name or password.');
    if (e.status === 403) throw new ApiError(403, 'Robot accounts cannot sign in. Use an administrator account.');
    throw e;
  }
}

// ---- limits ------------------------------------------------------------------------------

// What the server accepts (GET /c/limits, made of the constants the server checks with):
// name length and rule, description bytes, duration days, manual-secret policy, prefix
// length, token lifetime minutes. The page validates with these and holds no copy; filled by
// loadLimits() before any screen that validates is shown.
export const limits = {};
let limitsLoaded = false;

export async function loadLimits() {
  if (limitsLoaded) return limits;
  Object.assign(limits, await sessionCall('GET', '/c/limits', undefined, { Accept: 'application/json' }));
  limitsLoaded = true;
  return limits;
}

// Bytes of s in UTF-8: how the server counts descriptions and secrets.
export const utf8Length = (s) => new TextEncoder().encode(s).length;

export async function signOut() {
  try {
    await sessionCall('POST', '/c/log_out', undefined, { 'X-Harbor-CSRF-Token': session.csrf || '' });
  } finally {
    forget();
  }
}
