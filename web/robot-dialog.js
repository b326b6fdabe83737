// The New / Edit robot account dialog (Harbor 2.2–2.9's single dialog).
import * as api from './api.js';
import { h, clear, modal, field, setError, formatTime, plural, uid } from './dom.js';
import { picker, toAccess, key, DEFAULT_SET, PUSH, PULL } from './permissions.js';
import { secretDialog } from './secret.js';
import { robotAccess } from './robot-access.js';

// The limits are the server's (api.limits, from GET /c/limits): no copy here.
const TABLE_SIZES = [5, 15, 25];
const CHECK_DELAY_MS = 300;

export function nameError(name) {
  const { max_length: max, pattern } = api.limits.name;
  if (!name) return 'Enter a name.';
  if (name.length > max) return `At most ${max} characters.`;
  if (!new RegExp(pattern).test(name)) {
    return "Use lower-case letters and digits; '.', '_' and '-' may only stand alone between them (for example ci-build.1).";
  }
  return '';
}

export function durationError(text) {
  const { min, max, never } = api.limits.duration;
  const n = Number(text);
  if (/^-?\d+$/.test(text.trim()) && (n === never || (n >= min && n <= max))) return '';
  return `Enter ${never} (never expires) or a whole number of days from ${min} to ${max}.`;
}

const pushWithoutPull = (keys) => keys.has(PUSH) && !keys.has(PULL);
const PUSH_MESSAGE = 'Push artifacts needs Pull artifacts too: the registry asks for both to upload.';

// robot: null to create; project: the project page's project (a project robot) or null.
export function robotDialog({ ctx, robot, project, onSaved }) {
  const editing = !!robot;
  const level = editing ? robot.level : project ? 'project' : 'system';
  const perms = editing ? robot.permissions || [] : [];
  const projectName = level === 'project'
    ? (project ? project.name : (perms.find((p) => p.kind === 'project') || {}).namespace)
    : null;
  const storedName = (n) => (level === 'project' ? `${projectName}+${n}` : n);

  // ---- name ----
  const nameInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: !editing,
    readonly: editing, value: editing ? robot.name : '' });
  const name = field('Name', nameInput,
    editing ? 'A robot account keeps its name.'
      : `Lower-case letters and digits, with ., _ or - between them; at most ${api.limits.name.max_length} characters.`);
  const preview = h('output', { class: 'preview', 'aria-live': 'polite', for: nameInput.id });
  let nameState = editing ? 'free' : 'empty'; // empty | invalid | checking | free | taken | error
  let nameTouched = false;
  let checkTimer = null;
  let checkSeq = 0;

  // ---- expiration ----
  const def = ctx.duration;
  const expSelect = h('select', {},
    h('option', { value: 'default' }, `${def} days (default)`),
    h('option', { value: 'custom' }, 'Custom'),
    h('option', { value: 'never' }, 'Never'));
  const expNumber = h('input', { type: 'text', inputmode: 'numeric', value: String(editing ? robot.duration : def) });
  const exp = field('Expiration time', expSelect);
  const days = field('Days', expNumber, '-1 means never expires.');
  const expiresAt = h('p', { class: 'hint expires-at' });
  const expiredWarn = h('p', { class: 'warning', hidden: true });

  // ---- description ----
  const desc = field('Description', h('textarea', { rows: '2', value: editing ? robot.description || '' : '' }));

  // ---- permissions ----
  const cat = ctx.cat;
  const onChange = () => validate();
  let coverBox = null;
  let coverKeys = null;
  let coverPicker = null;
  let single = null; // project level: {keys, picker}
  let table = null;
  if (level === 'project') {
    const keys = new Set(editing ? (perms[0] ? perms[0].access : []).map(key) : DEFAULT_SET);
    single = { keys, picker: picker(cat, keys, { label: `Permissions on ${projectName}`, onChange, open: true }) };
  } else {
    const all = perms.find((p) => p.kind === 'project' && p.namespace === '*');
    coverKeys = new Set(all ? all.access.map(key) : DEFAULT_SET);
    coverBox = h('input', { type: 'checkbox', id: uid('cover'), checked: !!all });
    coverPicker = picker(cat, coverKeys, { label: 'Permissions on all projects', onChange });
    table = projectTable(ctx, perms, onChange);
  }

  // ---- allowed networks and federation (editing only: they belong to a robot that exists) ----
  const access = editing ? robotAccess(robot, () => validate()) : null;

  const why = h('p', { class: 'why', 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const submit = h('button', { type: 'submit', class: 'btn primary', disabled: true }, editing ? 'Save' : 'Add');
  const form = h('form', { novalidate: true, id: uid('robot-form') },
    name.row,
    level === 'project' ? null : preview,
    level === 'project' ? preview : null,
    h('div', { class: 'row-2' }, exp.row, days.row),
    editing ? expiresAt : null,
    editing ? expiredWarn : null,
    desc.row,
    level === 'project'
      ? h('section', { class: 'perms' }, h('h3', {}, `Permissions on project ${projectName}`), single.picker.el)
      : [
        h('section', { class: 'perms cover' },
          h('div', { class: 'check' }, coverBox, h('label', { for: coverBox.id }, 'Cover all projects')),
          h('p', { class: 'hint' }, 'The permissions below apply to all current and future projects.'),
          coverPicker.el),
        table.el,
      ],
    access ? access.el : null,
    why);
  submit.setAttribute('form', form.id);

  const title = editing ? `Edit ${robot.name}` : level === 'project' ? `New robot account for project ${projectName}` : 'New robot account';
  const d = modal({ title, body: form, buttons: [cancel, submit], wide: level !== 'project' });
  d.dialog.classList.add('robot-dialog');
  cancel.addEventListener('click', () => d.close());

  // ---- behaviour ----
  function updatePreview() {
    const n = editing ? '' : nameInput.value.trim();
    preview.textContent = editing ? `Full name: ${robot.name}` : `Full name: ${ctx.prefix}${storedName(n || '…')}`;
  }

  function checkName() {
    clearTimeout(checkTimer);
    const n = nameInput.value.trim();
    const err = nameError(n);
    if (err) {
      nameState = n ? 'invalid' : 'empty';
      setError(name, nameTouched ? err : '');
      validate();
      return;
    }
    nameState = 'checking';
    setError(name, '');
    validate();
    const seq = ++checkSeq;
    checkTimer = setTimeout(async () => {
      try {
        const found = await api.get(`/robots?page_size=1&q=${api.qParam([['name', storedName(n)]])}`);
        if (seq !== checkSeq) return;
        nameState = found.length ? 'taken' : 'free';
        setError(name, found.length ? `A robot account named ${ctx.prefix}${storedName(n)} already exists.` : '');
      } catch (e) {
        if (seq !== checkSeq) return;
        nameState = 'error';
        setError(name, `Could not check the name: ${e.message}`);
      }
      validate();
    }, CHECK_DELAY_MS);
  }

  function expirationSync(fromSelect) {
    if (fromSelect) {
      if (expSelect.value === 'default') expNumber.value = String(def);
      else if (expSelect.value === 'never') expNumber.value = '-1';
      else if (expNumber.value.trim() === String(def) || expNumber.value.trim() === '-1') {
        expNumber.value = '';
        expNumber.focus();
      }
    } else {
      const v = expNumber.value.trim();
      expSelect.value = v === String(def) ? 'default' : v === '-1' ? 'never' : 'custom';
    }
    if (editing) {
      const n = Number(expNumber.value);
      if (!durationError(expNumber.value)) {
        // The robot's own expiry while its duration is unchanged; else what the new one gives.
        const created = Date.parse(robot.creation_time);
        let at = n === -1 ? null : created + n * 86400000;
        if (n === robot.duration) at = robot.expires_at === -1 ? null : robot.expires_at * 1000;
        expiresAt.textContent = at === null ? 'Never expires.' : `Expires at ${formatTime(at)}.`;
        expiredWarn.hidden = !(at !== null && at <= Date.now());
        expiredWarn.textContent = 'This robot account has expired: it cannot get tokens. Choose a longer expiration to revive it.';
      }
    }
  }

  // Every reason Add/Save is disabled, in order; [] when the form can be sent.
  function problems() {
    const out = [];
    if (!editing) {
      if (nameState === 'empty') out.push('Enter a name.');
      else if (nameState === 'invalid') out.push('The name does not follow the rule.');
      else if (nameState === 'checking') out.push('Checking whether the name is free…');
      else if (nameState === 'taken') out.push('The name is taken.');
      else if (nameState === 'error') out.push('The name could not be checked.');
    }
    const de = durationError(expNumber.value);
    setError(days, de);
    if (de) out.push('The expiration is not valid.');
    const dl = api.utf8Length(desc.input.value);
    const dmax = api.limits.description.max_bytes;
    setError(desc, dl > dmax ? `At most ${dmax} bytes (now ${dl}).` : '');
    if (dl > dmax) out.push('The description is too long.');
    if (single) {
      if (!single.keys.size) out.push('Choose at least one permission.');
      if (pushWithoutPull(single.keys)) out.push(PUSH_MESSAGE);
    } else if (coverBox.checked) {
      if (!coverKeys.size) out.push('Choose at least one permission for all projects.');
      if (pushWithoutPull(coverKeys)) out.push(PUSH_MESSAGE);
    } else {
      const chosen = table.selected();
      if (!chosen.length) out.push('Select at least one project, or cover all projects.');
      const empty = chosen.filter((r) => !r.keys.size).map((r) => r.project.name);
      if (empty.length) out.push(`Choose at least one permission for ${empty.join(', ')}.`);
      const bad = chosen.filter((r) => pushWithoutPull(r.keys)).map((r) => r.project.name);
      if (bad.length) out.push(`${PUSH_MESSAGE} (${bad.join(', ')})`);
    }
    return out;
  }

  function validate() {
    const p = problems();
    submit.disabled = p.length > 0;
    why.textContent = p.join(' ');
    why.hidden = !p.length;
  }

  function permissionsBody() {
    if (single) return [{ kind: 'project', namespace: projectName, access: toAccess(cat, single.keys) }];
    const chosen = coverBox.checked
      ? [{ kind: 'project', namespace: '*', access: toAccess(cat, coverKeys) }]
      : table.selected().map((r) => ({ kind: 'project', namespace: r.project.name, access: toAccess(cat, r.keys) }));
    // A system permission the robot holds (catalog read) is kept: this dialog does not show it.
    return chosen.concat(perms.filter((p) => p.kind === 'system'));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    validate();
    if (submit.disabled) return;
    submit.disabled = true;
    d.showError('');
    const body = {
      name: editing ? robot.name : nameInput.value.trim(),
      level,
      description: desc.input.value,
      duration: Number(expNumber.value),
      disable: editing ? robot.disable : false,
      permissions: permissionsBody(),
    };
    try {
      if (editing) {
        await access.save();
        await api.put(`/robots/${robot.id}`, body);
        d.close();
        onSaved(`${robot.name} saved.`);
      } else {
        const created = await api.post('/robots', body);
        d.close();
        onSaved();
        secretDialog({ title: `Created '${created.name}'`, record: created });
      }
    } catch (e) {
      if (e.status === 401) return;
      d.showError(e.message);
      validate();
    }
  });

  nameInput.addEventListener('input', () => {
    nameTouched = true;
    updatePreview();
    checkName();
  });
  nameInput.addEventListener('blur', () => {
    if (!editing && nameInput.value) {
      nameTouched = true;
      setError(name, nameError(nameInput.value.trim()));
    }
  });
  expSelect.addEventListener('change', () => {
    expirationSync(true);
    validate();
  });
  expNumber.addEventListener('input', () => {
    expirationSync(false);
    validate();
  });
  desc.input.addEventListener('input', validate);
  if (coverBox) {
    const applyCover = () => {
      table.setDisabled(coverBox.checked);
      coverPicker.setDisabled(!coverBox.checked);
      validate();
    };
    coverBox.addEventListener('change', applyCover);
    applyCover();
  }

  expirationSync(false);
  updatePreview();
  validate();
  (editing ? expSelect : nameInput).focus();
  if (access) {
    access.load().catch((e) => {
      if (e.status !== 401) d.showError(`Could not read the allowed networks and federation rules: ${e.message}`);
    });
  }
  return d;
}

// The project table of a system robot: filter, sort by creation time, paging, a picker per
// row, Select all / Unselect all (following the filter) and Reset permissions.
function projectTable(ctx, perms, onChange) {
  const held = new Map(perms.filter((p) => p.kind === 'project' && p.namespace !== '*')
    .map((p) => [p.namespace, p.access.map(key)]));
  const rows = ctx.projects.map((project) => ({
    project,
    selected: held.has(project.name),
    keys: new Set(held.get(project.name) || DEFAULT_SET),
  }));
  const st = { filter: '', sortDesc: true, page: 1, size: TABLE_SIZES[0] };

  const filter = h('input', { type: 'search', 'aria-label': 'Filter projects by name', placeholder: 'Filter projects' });
  const toggleAll = h('button', { type: 'button', class: 'btn small' });
  const reset = h('button', { type: 'button', class: 'btn small' }, 'Reset permissions');
  const sortBtn = h('button', { type: 'button', class: 'sort' }, 'Created', h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
  const sortTh = h('th', { scope: 'col', 'aria-sort': 'descending' }, sortBtn);
  const tbody = h('tbody', {});
  const size = h('select', { 'aria-label': 'Projects per page' }, TABLE_SIZES.map((n) => h('option', { value: String(n) }, String(n))));
  const range = h('span', { class: 'range' });
  const prev = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Previous projects page' }, '‹');
  const next = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Next projects page' }, '›');
  const count = h('span', { class: 'hint selected-count' });
  const section = h('section', { class: 'perms projects', 'aria-label': 'Projects' },
    h('h3', {}, 'Projects'),
    h('div', { class: 'toolbar' }, filter, toggleAll, reset, h('span', { class: 'spacer' }), count),
    h('table', { class: 'grid compact' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'check-col' }, h('span', { class: 'visually-hidden' }, 'Selected')),
        h('th', { scope: 'col' }, 'Project'), sortTh, h('th', { scope: 'col' }, 'Permissions'))),
      tbody),
    h('div', { class: 'pager' }, h('label', {}, 'Page size ', size), range, prev, next));

  const visible = () => {
    const f = st.filter.toLowerCase();
    const list = rows.filter((r) => r.project.name.toLowerCase().includes(f));
    list.sort((a, b) => {
      const c = Date.parse(a.project.creation_time) - Date.parse(b.project.creation_time) || a.project.project_id - b.project.project_id;
      return st.sortDesc ? -c : c;
    });
    return list;
  };

  function render() {
    const list = visible();
    const pages = Math.max(1, Math.ceil(list.length / st.size));
    st.page = Math.min(st.page, pages);
    const start = (st.page - 1) * st.size;
    const shown = list.slice(start, start + st.size);
    if (!shown.length) {
      clear(tbody, h('tr', { class: 'empty' }, h('td', { colspan: '4' }, rows.length ? 'No project matches the filter.' : 'No projects yet.')));
    } else {
      clear(tbody, shown.map((r) => {
        const box = h('input', { type: 'checkbox', checked: r.selected, 'aria-label': `Select project ${r.project.name}` });
        box.addEventListener('change', () => {
          r.selected = box.checked;
          header();
          onChange();
        });
        const p = picker(ctx.cat, r.keys, { label: `Permissions on ${r.project.name}`, onChange });
        return h('tr', { dataset: { project: r.project.name } },
          h('td', { class: 'check-col' }, box),
          h('td', {}, r.project.name),
          h('td', {}, formatTime(r.project.creation_time)),
          h('td', {}, p.el));
      }));
    }
    range.textContent = `${list.length ? start + 1 : 0} – ${Math.min(list.length, start + st.size)} of ${list.length}`;
    prev.disabled = st.page <= 1;
    next.disabled = st.page >= pages;
    sortTh.setAttribute('aria-sort', st.sortDesc ? 'descending' : 'ascending');
    header();
  }

  function header() {
    const list = visible();
    const allOn = list.length > 0 && list.every((r) => r.selected);
    toggleAll.textContent = allOn ? 'Unselect all' : 'Select all';
    toggleAll.disabled = !list.length;
    count.textContent = `${plural(rows.filter((r) => r.selected).length, 'project')} selected`;
  }

  filter.addEventListener('input', () => {
    st.filter = filter.value.trim();
    st.page = 1;
    render();
  });
  toggleAll.addEventListener('click', () => {
    const list = visible();
    const on = !list.every((r) => r.selected);
    for (const r of list) r.selected = on;
    render();
    onChange();
  });
  sortBtn.addEventListener('click', () => {
    st.sortDesc = !st.sortDesc;
    render();
  });
  size.addEventListener('change', () => {
    st.size = Number(size.value);
    st.page = 1;
    render();
  });
  prev.addEventListener('click', () => {
    st.page -= 1;
    render();
  });
  next.addEventListener('click', () => {
    st.page += 1;
    render();
  });
  reset.addEventListener('click', () => resetDialog());

  function resetDialog() {
    const keys = new Set(DEFAULT_SET);
    const hidden = rows.length - visible().length;
    const apply = h('button', { type: 'button', class: 'btn primary' }, `Apply to all ${plural(rows.length, 'project')}`);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const p = picker(ctx.cat, keys, { label: 'Permissions for every project', open: true, onChange: () => {
      apply.disabled = !keys.size;
    } });
    const d = modal({
      title: 'Reset permissions',
      body: [
        h('p', {}, hidden
          ? `These permissions replace those of all ${plural(rows.length, 'project')}, including ${hidden} hidden by the filter.`
          : `These permissions replace those of all ${plural(rows.length, 'project')}.`),
        p.el,
      ],
      buttons: [cancel, apply],
    });
    cancel.addEventListener('click', () => d.close());
    apply.addEventListener('click', () => {
      for (const r of rows) r.keys = new Set(keys);
      d.close();
      render();
      onChange();
    });
    cancel.focus();
  }

  render();
  return {
    el: section,
    selected: () => rows.filter((r) => r.selected),
    setDisabled(disabled) {
      section.inert = disabled;
      section.classList.toggle('disabled', disabled);
    },
  };
}
