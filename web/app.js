// Entry point: sign-in, the header, and the screens behind the location hash
// (#/robots, #/projects, #/projects/<id>/robots, #/settings).
import * as api from './api.js';
import { h, clear, field, setError } from './dom.js';
import { robotsScreen } from './robots.js';
import { projectsScreen, projectRobotsScreen } from './projects.js';
import { settingsScreen } from './settings.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
let current = null; // the screen shown: {destroy()}

function closeDialogs() {
  for (const d of document.querySelectorAll('dialog')) {
    d.close();
    d.remove();
  }
}

function leaveScreen() {
  if (current && current.destroy) current.destroy();
  current = null;
}

// ---- sign-in ----------------------------------------------------------------------------

function showSignIn(message) {
  leaveScreen();
  closeDialogs();
  topbar.hidden = true;
  document.title = 'Sign in · dockhand';
  const user = field('Username', h('input', { type: 'text', name: 'principal', autocomplete: 'username', required: true }));
  const pass = field('Password', h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true }));
  const alert = h('div', { class: 'alert', role: 'alert', hidden: !message }, message || '');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Log in');
  const form = h('form', { class: 'signin', novalidate: true },
    h('h1', {}, 'dockhand'),
    h('p', { class: 'hint' }, 'Administrators sign in here. Robot accounts cannot sign in.'),
    alert, user.row, pass.row, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError(user, user.input.value.trim() ? '' : 'Enter your user name.');
    setError(pass, pass.input.value ? '' : 'Enter your password.');
    if (!user.input.value.trim() || !pass.input.value) return;
    submit.disabled = true;
    alert.hidden = true;
    try {
      await api.signIn(user.input.value.trim(), pass.input.value);
      await api.loadLimits();
      pass.input.value = '';
      showApp();
    } catch (e) {
      alert.textContent = e.message;
      alert.hidden = false;
      pass.input.value = '';
      pass.input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  clear(main, form);
  user.input.focus();
}

// ---- the signed-in page -------------------------------------------------------------------

function buildTopbar() {
  const link = (href, text) => h('a', { href, 'data-nav': href }, text);
  const signOut = h('button', { type: 'button', class: 'btn link' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    try {
      await api.signOut();
    } catch {
      // the session is gone either way
    }
    history.replaceState(null, '', '#/robots');
    showSignIn('You have signed out.');
  });
  clear(topbar,
    h('span', { class: 'brand' }, 'dockhand'),
    h('nav', { 'aria-label': 'Main' },
      link('#/robots', 'Robot accounts'), link('#/projects', 'Projects'), link('#/settings', 'Settings')),
    h('span', { class: 'user' }, h('span', { class: 'visually-hidden' }, 'Signed in as '), api.session.username),
    signOut);
}

function route() {
  if (!api.session.csrf) return;
  leaveScreen();
  closeDialogs();
  const hash = location.hash || '#/robots';
  for (const a of topbar.querySelectorAll('a[data-nav]')) {
    if (hash.startsWith(a.dataset.nav)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let m;
  if ((m = hash.match(/^#\/projects\/(\d+)\/robots$/))) {
    current = projectRobotsScreen(main, Number(m[1]));
  } else if (hash === '#/projects') {
    current = projectsScreen(main);
  } else if (hash === '#/settings') {
    current = settingsScreen(main);
  } else {
    current = robotsScreen(main);
  }
}

function showApp() {
  buildTopbar();
  topbar.hidden = false;
  route();
}

window.addEventListener('hashchange', () => {
  if (!api.session.csrf) return;
  // Settings with unsaved changes ask first (see settings.js).
  if (current && current.confirmLeave) {
    current.confirmLeave().then((ok) => {
      if (ok) route();
      else history.replaceState(null, '', '#/settings');
    });
    return;
  }
  route();
});

api.setExpiredHandler((message) => {
  if (!topbar.hidden) showSignIn(message);
});

async function start() {
  try {
    const s = await api.resume();
    if (s) {
      await api.loadLimits();
      showApp();
    } else {
      showSignIn();
    }
  } catch (e) {
    showSignIn(e.message);
  }
}

start();
