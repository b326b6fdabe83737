// The robot list: toolbar (New, Action, search, Refresh), the table, paging. Used for all
// robots (#/robots) and for one project's robots (#/projects/<id>/robots).
import * as api from './api.js';
import { h, clear, modal, confirmDialog, toast, formatTime, expiresIn, plural, uid } from './dom.js';
import { catalogue, accessNames } from './permissions.js';
import { robotDialog } from './robot-dialog.js';
import { refreshDialog } from './secret.js';

const PAGE_SIZES = [15, 25, 50, 100];
const PAGE_SIZE_KEY = 'dockhand.robots.pageSize';
const SEARCH_DELAY_MS = 500;

// What the dialogs need: settings, the permission catalogue, every project.
export async function loadContext() {
  const [config, perms, projects] = await Promise.all([
    api.get('/configurations'),
    api.get('/permissions'),
    api.listAll('/projects'),
  ]);
  return {
    prefix: config.robot_name_prefix.value,
    duration: config.robot_token_duration.value,
    cat: catalogue(perms),
    projects,
    projectsByName: new Map(projects.map((p) => [p.name, p])),
  };
}

function savedPageSize() {
  const n = Number(localStorage.getItem(PAGE_SIZE_KEY));
  return PAGE_SIZES.includes(n) ? n : PAGE_SIZES[0];
}

// "All projects · N permissions", "N projects" or "None" for one robot.
function projectsOf(robot) {
  const perms = robot.permissions || [];
  const all = perms.find((p) => p.kind === 'project' && p.namespace === '*');
  const projects = perms.filter((p) => p.kind === 'project' && p.namespace !== '*');
  return { all, projects };
}

function projectsDialog(robot, ctx) {
  const { projects } = projectsOf(robot);
  const rows = projects.map((p) => {
    const proj = ctx && ctx.projectsByName.get(p.namespace);
    return h('tr', {},
      h('td', {}, p.namespace),
      h('td', {}, accessNames(p.access)),
      h('td', {}, proj ? formatTime(proj.creation_time) : ''));
  });
  const close = h('button', { type: 'button', class: 'btn primary' }, 'Close');
  const d = modal({
    title: `Projects of ${robot.name}`,
    wide: true,
    body: h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Project'), h('th', { scope: 'col' }, 'Permissions'),
        h('th', { scope: 'col' }, 'Project created'))),
      h('tbody', {}, rows)),
    buttons: [close],
  });
  close.addEventListener('click', () => d.close());
  close.focus();
}

// project: null (every robot) or a project object (that project's robots, project level).
export function robotList(main, { project = null, title = 'Robot accounts', intro = null } = {}) {
  const state = {
    page: 1,
    pageSize: savedPageSize(),
    sort: '-creation_time',
    term: '',
    rows: [],
    total: 0,
    selected: new Map(), // id → robot
    ctx: null,
    seq: 0,
  };
  let searchTimer = null;

  // ---- toolbar ----
  const newBtn = h('button', { type: 'button', class: 'btn primary', disabled: true }, 'New robot account');
  const actionBtn = h('button', { type: 'button', class: 'btn', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    id: uid('action') }, 'Action');
  const menu = h('ul', { class: 'menu', role: 'menu', 'aria-labelledby': actionBtn.id, hidden: true });
  const item = (label, fn) => {
    const b = h('button', { type: 'button', role: 'menuitem', tabindex: '-1' }, label);
    b.addEventListener('click', () => {
      closeMenu(true); // a dialog opened by the item gives the focus back to Action
      fn();
    });
    menu.append(h('li', { role: 'none' }, b));
    return b;
  };
  const editItem = item('Edit', () => edit());
  const refreshItem = item('Refresh secret', () => refreshSecret());
  const toggleItem = item('Disable', () => toggleEnabled());
  const deleteItem = item('Delete', () => removeSelected());
  const search = h('input', { type: 'search', placeholder: 'search by name, without prefix',
    'aria-label': 'Search by name, without prefix' });
  const refreshBtn = h('button', { type: 'button', class: 'btn icon', 'aria-label': 'Refresh list', title: 'Refresh list' },
    h('span', { 'aria-hidden': 'true' }, '⟳'));

  // ---- table ----
  const sortButtons = {};
  const sortable = (label, field) => {
    const b = h('button', { type: 'button', class: 'sort' }, label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
    b.addEventListener('click', () => {
      state.sort = state.sort === field ? `-${field}` : field;
      state.page = 1;
      load();
    });
    const th = h('th', { scope: 'col', 'aria-sort': 'none' }, b);
    sortButtons[field] = th;
    return th;
  };
  const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all robot accounts on this page' });
  const tbody = h('tbody', {});
  const table = h('table', { class: 'grid robots' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'check-col' }, selectAll),
      sortable('Name', 'name'),
      h('th', { scope: 'col' }, 'Enabled'),
      h('th', { scope: 'col' }, project ? 'Permissions' : 'Projects'),
      sortable('Created', 'creation_time'),
      h('th', { scope: 'col' }, 'Expires in'),
      h('th', { scope: 'col' }, 'Description'),
      h('th', { scope: 'col' }, 'Last used'))),
    tbody);

  // ---- pager ----
  const sizeSelect = h('select', { 'aria-label': 'Robot accounts per page' },
    PAGE_SIZES.map((n) => h('option', { value: String(n) }, String(n))));
  sizeSelect.value = String(state.pageSize);
  const range = h('span', { class: 'range', 'aria-live': 'polite' });
  const first = h('button', { type: 'button', class: 'btn small', 'aria-label': 'First page' }, '«');
  const prev = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Previous page' }, '‹');
  const pageInfo = h('span', { class: 'page-info' });
  const next = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Next page' }, '›');
  const last = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Last page' }, '»');
  const pages = () => Math.max(1, Math.ceil(state.total / state.pageSize));
  first.addEventListener('click', () => goTo(1));
  prev.addEventListener('click', () => goTo(state.page - 1));
  next.addEventListener('click', () => goTo(state.page + 1));
  last.addEventListener('click', () => goTo(pages()));
  sizeSelect.addEventListener('change', () => {
    state.pageSize = Number(sizeSelect.value);
    localStorage.setItem(PAGE_SIZE_KEY, String(state.pageSize));
    state.page = 1;
    load();
  });

  clear(main,
    h('h1', {}, title),
    intro,
    h('div', { class: 'toolbar' },
      newBtn,
      h('div', { class: 'menu-wrap' }, actionBtn, menu),
      h('span', { class: 'spacer' }),
      search, refreshBtn),
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'pager' },
      h('label', {}, 'Page size ', sizeSelect), range, first, prev, pageInfo, next, last));

  // ---- behaviour ----
  function goTo(p) {
    state.page = Math.min(Math.max(1, p), pages());
    load();
  }

  function updateToolbar() {
    const sel = [...state.selected.values()];
    const one = sel.length === 1 ? sel[0] : null;
    const writable = sel.every((r) => !r.legacy);
    editItem.disabled = !one || !writable || !state.ctx;
    refreshItem.disabled = !one || !writable;
    toggleItem.disabled = !one || !writable;
    toggleItem.textContent = one && one.disable ? 'Enable' : 'Disable';
    deleteItem.disabled = sel.length === 0 || !writable;
    const boxes = state.rows.filter((r) => !r.legacy);
    selectAll.checked = boxes.length > 0 && boxes.every((r) => state.selected.has(r.id));
    selectAll.indeterminate = !selectAll.checked && boxes.some((r) => state.selected.has(r.id));
    selectAll.disabled = boxes.length === 0;
  }

  function messageRow(text, cls, extra) {
    return h('tr', { class: cls }, h('td', { colspan: '8' }, h('span', {}, text), extra));
  }

  function expiresCell(r) {
    const e = expiresIn(r.expires_at);
    return h('span', { class: `expires ${e.cls}`, dataset: { expiresAt: String(r.expires_at) } }, e.text);
  }

  function tick() {
    for (const el of tbody.querySelectorAll('.expires')) {
      const e = expiresIn(Number(el.dataset.expiresAt));
      el.textContent = e.text;
      el.className = `expires ${e.cls}`;
    }
  }

  function projectsCell(r) {
    if (project) {
      const p = (r.permissions || []).find((x) => x.namespace === project.name) || (r.permissions || [])[0];
      return p ? accessNames(p.access) : 'None';
    }
    const { all, projects } = projectsOf(r);
    if (all) return `All projects · ${plural((all.access || []).length, 'permission')}`;
    if (!projects.length) return 'None';
    const b = h('button', { type: 'button', class: 'btn link' }, plural(projects.length, 'project'));
    b.addEventListener('click', () => projectsDialog(r, state.ctx));
    return b;
  }

  function row(r) {
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${r.name}`, checked: state.selected.has(r.id),
      disabled: !!r.legacy });
    box.addEventListener('change', () => {
      if (box.checked) state.selected.set(r.id, r);
      else state.selected.delete(r.id);
      updateToolbar();
    });
    const enabled = !r.disable;
    return h('tr', { dataset: { id: String(r.id) }, class: enabled ? null : 'disabled-robot' },
      h('td', { class: 'check-col' }, box),
      h('td', { class: 'name' }, r.name, r.legacy ? h('span', { class: 'badge' }, 'Legacy') : null),
      h('td', {}, h('span', { class: enabled ? 'state on' : 'state off', 'aria-hidden': 'true' }, enabled ? '✔' : '✖'),
        h('span', { class: 'visually-hidden' }, enabled ? 'Enabled' : 'Disabled')),
      h('td', {}, projectsCell(r)),
      h('td', {}, formatTime(r.creation_time)),
      h('td', {}, expiresCell(r)),
      h('td', { class: 'description' }, r.description || ''),
      h('td', {}, r.last_used ? formatTime(r.last_used) : 'Never'));
  }

  function render() {
    if (!state.rows.length) {
      clear(tbody, messageRow(state.term ? `No robot accounts match "${state.term}".` : 'No robot accounts yet.', 'empty'));
    } else {
      clear(tbody, state.rows.map(row));
    }
    const from = state.total ? (state.page - 1) * state.pageSize + 1 : 0;
    const to = Math.min(state.total, state.page * state.pageSize);
    range.textContent = `${from} – ${to} of ${state.total}`;
    pageInfo.textContent = `Page ${state.page} of ${pages()}`;
    first.disabled = prev.disabled = state.page <= 1;
    next.disabled = last.disabled = state.page >= pages();
    for (const [field, th] of Object.entries(sortButtons)) {
      const s = state.sort === field ? 'ascending' : state.sort === `-${field}` ? 'descending' : 'none';
      th.setAttribute('aria-sort', s);
    }
    updateToolbar();
  }

  async function load() {
    const seq = ++state.seq;
    const q = [];
    if (project) q.push(['Level', 'project'], ['ProjectID', String(project.project_id)]);
    if (state.term) q.push(['name', `~${state.term}`]);
    let path = `/robots?page=${state.page}&page_size=${state.pageSize}&sort=${encodeURIComponent(state.sort)}`;
    if (q.length) path += `&q=${api.qParam(q)}`;
    table.setAttribute('aria-busy', 'true');
    clear(tbody, messageRow('Loading robot accounts…', 'loading'));
    state.selected.clear();
    updateToolbar();
    try {
      const r = await api.call('GET', path);
      if (seq !== state.seq) return;
      state.rows = r.body;
      state.total = r.total === null ? r.body.length : r.total;
      if (!state.rows.length && state.total > 0 && state.page > 1) {
        state.page = pages();
        load();
        return;
      }
      render();
    } catch (e) {
      if (seq !== state.seq || e.status === 401) return;
      const retry = h('button', { type: 'button', class: 'btn small' }, 'Retry');
      retry.addEventListener('click', load);
      clear(tbody, messageRow(`Could not load robot accounts: ${e.message}`, 'error', retry));
    } finally {
      if (seq === state.seq) table.removeAttribute('aria-busy');
    }
  }

  function saved(message) {
    if (message) toast(message);
    load();
  }

  function only() {
    return [...state.selected.values()][0];
  }

  async function current(r) {
    return api.get(`/robots/${r.id}`);
  }

  async function edit() {
    try {
      const robot = await current(only());
      robotDialog({ ctx: state.ctx, robot, project, onSaved: saved });
    } catch (e) {
      if (e.status !== 401) toast(`Could not open ${only().name}: ${e.message}`, 'error');
    }
  }

  function refreshSecret() {
    refreshDialog(only(), { onDone: load });
  }

  async function toggleEnabled() {
    const r = only();
    const enable = !!r.disable;
    const ok = await confirmDialog({
      title: enable ? 'Enable robot account' : 'Disable robot account',
      message: enable
        ? `Enable ${r.name}? It can get registry tokens again.`
        : `Disable ${r.name}? It gets no registry tokens until it is enabled again.`,
      ok: enable ? 'Enable' : 'Disable',
      danger: !enable,
    });
    if (!ok) return;
    try {
      const cur = await current(r);
      await api.put(`/robots/${r.id}`, {
        name: cur.name,
        level: cur.level,
        description: cur.description,
        duration: cur.duration,
        disable: !enable,
        permissions: cur.permissions,
      });
      toast(`${r.name} ${enable ? 'enabled' : 'disabled'}.`);
    } catch (e) {
      if (e.status !== 401) toast(`Could not ${enable ? 'enable' : 'disable'} ${r.name}: ${e.message}`, 'error');
    }
    load();
  }

  async function removeSelected() {
    const robots = [...state.selected.values()];
    const names = robots.map((r) => r.name);
    const ok = await confirmDialog({
      title: robots.length === 1 ? 'Delete robot account' : 'Delete robot accounts',
      message: [
        h('p', {}, robots.length === 1 ? 'Delete this robot account? It cannot be undone.'
          : `Delete these ${robots.length} robot accounts? It cannot be undone.`),
        h('ul', { class: 'names' }, names.map((n) => h('li', {}, n))),
      ],
      ok: 'Delete',
      danger: true,
    });
    if (!ok) return;
    const failures = [];
    for (const r of robots) {
      try {
        await api.del(`/robots/${r.id}`);
      } catch (e) {
        if (e.status === 401) return;
        failures.push(`${r.name}: ${e.message}`);
      }
    }
    const done = robots.length - failures.length;
    if (done) toast(`Deleted ${plural(done, 'robot account')}.`);
    if (failures.length) {
      const close = h('button', { type: 'button', class: 'btn primary' }, 'Close');
      const d = modal({
        title: 'Some robot accounts were not deleted',
        body: h('ul', { class: 'names' }, failures.map((f) => h('li', {}, f))),
        buttons: [close],
      });
      d.showError(`${plural(failures.length, 'robot account')} could not be deleted.`);
      close.addEventListener('click', () => d.close());
      close.focus();
    }
    load();
  }

  // ---- the Action menu ----
  function openMenu() {
    menu.hidden = false;
    actionBtn.setAttribute('aria-expanded', 'true');
    const items = [...menu.querySelectorAll('[role=menuitem]:not(:disabled)')];
    if (items.length) items[0].focus();
  }
  function closeMenu(focusButton) {
    if (menu.hidden) return;
    menu.hidden = true;
    actionBtn.setAttribute('aria-expanded', 'false');
    if (focusButton) actionBtn.focus();
  }
  actionBtn.addEventListener('click', () => (menu.hidden ? openMenu() : closeMenu()));
  actionBtn.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      openMenu();
    }
  });
  menu.addEventListener('keydown', (ev) => {
    const items = [...menu.querySelectorAll('[role=menuitem]:not(:disabled)')];
    const i = items.indexOf(document.activeElement);
    if (ev.key === 'Escape') {
      ev.preventDefault();
      closeMenu(true);
    } else if (ev.key === 'ArrowDown' && items.length) {
      ev.preventDefault();
      items[(i + 1) % items.length].focus();
    } else if (ev.key === 'ArrowUp' && items.length) {
      ev.preventDefault();
      items[(i - 1 + items.length) % items.length].focus();
    } else if (ev.key === 'Tab') {
      closeMenu();
    }
  });
  const outside = (ev) => {
    if (!menu.hidden && !menu.contains(ev.target) && ev.target !== actionBtn) closeMenu();
  };
  document.addEventListener('click', outside);

  selectAll.addEventListener('change', () => {
    for (const r of state.rows) {
      if (r.legacy) continue;
      if (selectAll.checked) state.selected.set(r.id, r);
      else state.selected.delete(r.id);
    }
    for (const box of tbody.querySelectorAll('input[type=checkbox]:not(:disabled)')) box.checked = selectAll.checked;
    updateToolbar();
  });

  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      const term = search.value.trim();
      if (term === state.term) return;
      state.term = term;
      state.page = 1;
      load();
    }, SEARCH_DELAY_MS);
  });
  refreshBtn.addEventListener('click', () => load());
  newBtn.addEventListener('click', () => robotDialog({ ctx: state.ctx, robot: null, project, onSaved: saved }));

  const timer = setInterval(tick, 60000);
  load();
  loadContext().then((ctx) => {
    state.ctx = ctx;
    newBtn.disabled = false;
    updateToolbar();
  }, (e) => {
    if (e.status !== 401) toast(`Could not load projects and permissions: ${e.message}`, 'error');
  });

  return {
    destroy() {
      clearInterval(timer);
      clearTimeout(searchTimer);
      document.removeEventListener('click', outside);
      state.seq += 1;
    },
  };
}

export function robotsScreen(main) {
  return robotList(main, {});
}
